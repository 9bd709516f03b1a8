"""The `Platform` protocol: the few outbound operations every adapter implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bot.types import ChannelRef, OutboundFile, Sent, UserRef


@runtime_checkable
class Platform(Protocol):
    """What the core may ask of a chat platform. Text is Markdown; the adapter converts it.

    A platform that lacks a capability degrades inside the adapter (for example, a private
    reply becomes a direct message where there are no ephemeral messages).
    """

    name: str
    bot_user: UserRef | None

    async def send(self, channel: ChannelRef, text: str, thread_id: str | None = None) -> Sent:
        """Post to a channel, or into a thread of it when `thread_id` is given."""
        ...

    async def send_dm(self, user: UserRef, text: str) -> Sent:
        """Write to a member directly, opening (or reusing) a direct chat."""
        ...

    async def send_private(
        self,
        user: UserRef,
        text: str,
        channel: ChannelRef | None = None,
        reply_token: str | None = None,
    ) -> Sent:
        """Answer one person only: ephemeral in `channel` where the platform can, else a DM."""
        ...

    async def send_file(self, user: UserRef, file: OutboundFile, text: str = "") -> Sent:
        """Send a file to a member by direct message."""
        ...

    def user_from_mention(self, text: str) -> UserRef | None:
        """The user a mention written in this platform's syntax refers to, if it is one."""
        ...

    async def display_name(self, user: UserRef) -> str:
        """The member's name as the platform shows it (falls back to the id)."""
        ...
