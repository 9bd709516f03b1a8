"""The explicit contexts handlers and jobs receive. Nothing in them is optional.

`Services` is what every piece of work may use: the running platforms, the database, the
settings and clock, the activity log, the watches, the outbox and the languages readers
read; its platforms speak through a `Voice` (`bot.languages`), taking catalog messages. A
handler gets a `Context`: the same, plus the platform the event came from, the router and
the event's sender (member and roles, resolved once by the pipeline). A job gets a `JobContext`: the
services plus the timetable, for a feature whose jobs follow its own rows (prompt
schedules). Functions that commands and jobs share take `Services`."""

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
    from bot.jobs import Timetable
    from bot.languages import Languages
    from bot.outbox import Outbox
    from bot.router import Router
    from bot.watch import Watch, Watches


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Services:
    """What every handler and job may use."""

    platforms: Mapping[str, Platform]
    db: Database
    settings: Settings
    activity: ActivityLog
    watches: Watches
    outbox: Outbox
    languages: Languages
    clock: Callable[[], datetime] = utc_now

    def now(self) -> datetime:
        return self.clock()

    def watch(self, watch: Watch, platform: str, key: str) -> None:
        """Tell this process's listeners to wait for `key` (after the rows holding it are
        committed)."""
        self.watches.add(watch, platform, key)

    def unwatch(self, watch: Watch, platform: str, key: str) -> None:
        """Stop waiting for `key` in this process (what it stood for has ended)."""
        self.watches.discard(watch, platform, key)

    async def permalink(self, channel: ChannelRef, message_id: str | None) -> str | None:
        """A link that opens a message, where its platform runs and can give one."""
        if not message_id or channel.platform not in self.platforms:
            return None
        return await self.platforms[channel.platform].permalink(channel, message_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class Context(Services):
    """What a handler receives while handling one event."""

    platform: Platform
    router: Router
    sender: Sender

    def on(self, platform_name: str) -> Context:
        """The same context, speaking through another running platform."""
        return replace(self, platform=self.platforms[platform_name])


@dataclass(frozen=True, slots=True, kw_only=True)
class JobContext(Services):
    """What a job receives when it runs."""

    timetable: Timetable
