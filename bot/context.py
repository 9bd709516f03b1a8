"""The explicit context every handler and job receives."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.db import Database
from bot.platform import Platform
from bot.settings import Settings
from bot.types import ChannelRef

if TYPE_CHECKING:
    from bot.activity import ActivityLog
    from bot.claims import Sender
    from bot.router import Router
    from bot.watch import Watch, Watches


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Context:
    """What a handler may use: the platform the event came from, every running platform
    (a job posts to a channel on its own platform), the database, settings and the clock,
    and, while handling an event, its sender (member and roles, resolved once)."""

    platform: Platform
    platforms: Mapping[str, Platform]
    db: Database
    settings: Settings
    clock: Callable[[], datetime] = utc_now
    activity: ActivityLog | None = None
    router: Router | None = None
    sender: Sender | None = None
    watches: Watches | None = None

    def watch(self, watch: Watch, platform: str, key: str) -> None:
        """Tell this process's listeners to wait for `key` (after the rows holding it are
        committed); a no-op where nothing listens (jobs run from scripts)."""
        if self.watches is not None:
            self.watches.add(watch, platform, key)

    def unwatch(self, watch: Watch, platform: str, key: str) -> None:
        """Stop waiting for `key` in this process (what it stood for has ended)."""
        if self.watches is not None:
            self.watches.discard(watch, platform, key)

    def on(self, platform_name: str) -> Context:
        """The same context, speaking through another running platform."""
        return replace(self, platform=self.platforms[platform_name])

    def now(self) -> datetime:
        return self.clock()

    async def permalink(self, channel: ChannelRef, message_id: str | None) -> str | None:
        """A link that opens a message, where its platform runs and can give one."""
        if not message_id or channel.platform not in self.platforms:
            return None
        return await self.platforms[channel.platform].permalink(channel, message_id)
