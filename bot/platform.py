"""The `Platform` protocol (the few outbound operations every adapter implements) and the
`Adapter` protocol (its lifecycle), with the `Intake` adapters hand inbound events to."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from bot.types import (
    Action,
    ChannelRef,
    Event,
    FormView,
    Home,
    OutboundFile,
    Sent,
    ThreadMessage,
    UserRef,
)


class RateLimited(Exception):
    """The platform said "slow down" (HTTP 429, `M_LIMIT_EXCEEDED`): try again after
    `retry_after` seconds. Adapters raise it from a send they did not make."""

    def __init__(self, retry_after: float, detail: str = "") -> None:
        super().__init__(detail or f"rate limited; retry after {retry_after:.1f} s")
        self.retry_after = max(0.0, retry_after)


class Undeliverable(Exception):
    """A send that can never succeed as asked (the account is gone or deactivated, the bot
    was removed from the channel): not retried. The message says why."""


@dataclass(frozen=True, slots=True)
class Budget:
    """How fast a platform lets the bot send: `per_second` sustained with bursts of `burst`
    for the whole bot, and at least `per_channel_seconds` between two sends in one channel
    (0: no spacing). An adapter declares its platform's (`send_budget`); settings may state
    a deployment's own."""

    per_second: float
    burst: int = 1
    per_channel_seconds: float = 0.0


UNLIMITED = Budget(0.0, 1, 0.0)


@runtime_checkable
class Platform(Protocol):
    """What the core may ask of a chat platform. Text is Markdown; the adapter converts it.

    A platform that lacks a capability degrades inside the adapter (for example, a private
    reply becomes a direct message where there are no ephemeral messages).
    """

    name: str
    bot_user: UserRef | None

    async def send(
        self,
        channel: ChannelRef,
        text: str,
        thread_id: str | None = None,
        actions: Sequence[Action] = (),
    ) -> Sent:
        """Post to a channel, or into a thread of it when `thread_id` is given; `actions`
        become buttons where the platform has them."""
        ...

    async def send_dm(self, user: UserRef, text: str, actions: Sequence[Action] = ()) -> Sent:
        """Write to a member directly, opening (or reusing) a direct chat."""
        ...

    async def permalink(self, channel: ChannelRef, message_id: str) -> str | None:
        """A link that opens a message (None where the platform has no links, or it failed)."""
        ...

    async def thread(self, channel: ChannelRef, root_id: str) -> list[ThreadMessage]:
        """The replies in a thread as they stand now (edited text, deleted ones left out),
        oldest first, without the root; bots' replies are marked (`user.is_bot`). Raises if
        the platform cannot be asked."""
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

    async def post_file(
        self,
        channel: ChannelRef,
        file: OutboundFile,
        text: str = "",
        thread_id: str | None = None,
    ) -> Sent:
        """Post a file in a channel (in `thread_id`), with `text` beside it."""
        ...

    async def open_group(self, users: Sequence[UserRef], key: str) -> ChannelRef:
        """A conversation of `users` (all on this platform) with Convener: a Slack group
        DM, a new Matrix room with each invited, a shared view in the console. Asked again
        with the same `key`, the platform gives the same conversation where it can (so a
        retry makes no second room). Raises `Undeliverable` when it cannot be opened."""
        ...

    def user_from_mention(self, text: str) -> UserRef | None:
        """The user a mention written in this platform's syntax refers to, if it is one."""
        ...

    async def display_name(self, user: UserRef) -> str:
        """The member's name as the platform shows it (falls back to the id)."""
        ...

    async def locale(self, user: UserRef) -> str | None:
        """The language the member set on the platform (`fr-FR`), where it says one."""
        ...

    async def close_choices(self, channel: ChannelRef, message_id: str) -> None:
        """Close the choices offered with a message Convener sent (a Matrix poll ends);
        nothing where the platform keeps no open choice (buttons stay, and the command they
        stand for says when it is too late)."""
        ...

    async def publish_home(self, user: UserRef, home: Home) -> bool:
        """Show `home` on the member's own page in the platform (Slack's Home tab); False
        where the platform has none (the `home` command shows the same as text)."""
        ...


class Intake(Protocol):
    """Where an adapter hands inbound events (the running `Convener`)."""

    async def submit(
        self, event: Event, *, key: Hashable | None = None, durable: bool = False
    ) -> None:
        """Record the event (with `durable`, return only once it is stored: acknowledge the
        delivery after this), then handle it in the bounded processor; events sharing a `key`
        are handled in order. Waits while the processor's backlog is full."""
        ...

    async def persisted(self) -> None:
        """Return once every event submitted so far is stored."""
        ...

    async def handle(self, event: Event) -> None:
        """Record and handle one event now, in the caller's task (for an adapter that takes
        one event at a time, such as the console)."""
        ...

    async def open_form(self, user: UserRef, command: str) -> FormView | None:
        """The form `command` opens (`form <name>`, or a command that has one, typed without
        arguments) for `user`, in their language and prefilled; None when it opens none or
        is not theirs to use (the command then answers as typed). Quick, for an adapter that
        must draw it at once (`bot.forms`)."""
        ...

    async def check_form(
        self, user: UserRef, name: str, values: Mapping[str, Any]
    ) -> dict[str, str]:
        """An error, in `user`'s language, for each field of a submission of form `name`
        that does not fit; none: hand it over as a `FormSubmitted`. Quick, and stores
        nothing."""
        ...


@runtime_checkable
class Adapter(Platform, Protocol):
    """A platform's connection, with a small lifecycle the composition root drives:
    `start`, then `ready` (the scheduler starts only after every adapter is ready), then,
    at shutdown, `stop(grace)` (no more intake), and once the core has finished the work in
    hand, `close()`. `wait_closed` returns when the adapter ends on its own (the console at
    the end of its input) and raises if it failed."""

    async def start(self, intake: Intake) -> None:
        """Connect and begin handing events to `intake`; raise if it cannot (bad credentials,
        a port in use)."""
        ...

    async def ready(self) -> None:
        """Return once events flow and the outbound operations work."""
        ...

    async def wait_closed(self) -> None:
        """Return when the adapter has ended on its own; raise what made it fail."""
        ...

    async def stop(self, grace: float) -> None:
        """Stop intake and give deliveries in hand up to `grace` seconds to be submitted;
        sending keeps working, for the handlers the core is still finishing."""
        ...

    async def close(self) -> None:
        """Disconnect, after the core has finished its work."""
        ...
