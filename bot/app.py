"""The running bot: platforms, database, activity log, scheduler, and the dispatch of every
inbound event through the one router."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from bot import claims, roles
from bot.activity import ActivityLog, Recent, kind_of
from bot.commands import command_body, split_words
from bot.context import Context, utc_now
from bot.db import Database, describe
from bot.platform import Platform
from bot.router import Listener, Router
from bot.settings import Settings
from bot.types import Event, Message, SlashCommand

log = logging.getLogger(__name__)


def build_router() -> Router:
    from handlers import all_routers

    return Router().include(*all_routers())


class Convener:
    def __init__(
        self,
        settings: Settings,
        *,
        router: Router | None = None,
        clock: Callable[[], datetime] = utc_now,
        database: Database | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.db = database or Database(settings.database_url)
        self.router = router or build_router()
        self.platforms: dict[str, Platform] = {}
        self.activity = ActivityLog(self.db, settings, clock)
        self.scheduler = None
        self._tasks: set[asyncio.Task] = set()
        self._names: dict[str, tuple] = {}
        self._done_for = Recent(500_000)

    def add_platform(self, platform: Platform) -> None:
        self.platforms[platform.name] = platform

    def context(self, platform: Platform | None = None) -> Context:
        if platform is None:
            platform = next(iter(self.platforms.values()))
        return Context(
            platform=platform,
            platforms=self.platforms,
            db=self.db,
            settings=self.settings,
            clock=self.clock,
            activity=self.activity,
            router=self.router,
        )

    async def start(self, *, migrate: bool = True, schedule: bool = True) -> None:
        if migrate:
            await asyncio.to_thread(self.db.upgrade)
        async with self.db.sessions() as session:
            granted = await roles.grant_configured(session, self.settings)
            await session.commit()
        if granted:
            log.info("granted %d configured roles", granted)
        self.activity.start()
        if schedule and self.platforms:
            from schedules import start_scheduler

            self.scheduler = await start_scheduler(self)
        log.info(
            "Convener started: platforms %s, database %s",
            ", ".join(self.platforms) or "none",
            describe(self.settings.database_url),
        )

    async def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.activity.close()
        await self.db.dispose()

    def _bot_names(self, platform: Platform) -> tuple[str, ...]:
        user = platform.bot_user
        names = self._names.get(platform.name)
        if names is None or names[0] != user:
            found = tuple(n for n in (user.name, user.id) if n) if user else ()
            names = self._names[platform.name] = (user, (*found, "convener"))
        return names[1]

    def _listeners(self, event: Event) -> list[Listener]:
        return [
            listener
            for listener in self.router.listeners_for(event)
            if not (
                listener.once_per_user
                and (id(listener), event.platform, event.user.id) in self._done_for
            )
        ]

    async def handle(self, event: Event) -> None:
        """Handle one inbound event: log it once, and act on it once across retries,
        restarts and replicas. Never raises; errors are logged with their context."""
        try:
            await self._handle(event)
        except Exception:
            log.exception(
                "could not handle %s %s from %s:%s in %s",
                type(event).__name__,
                event.event_id,
                event.platform,
                event.user.id,
                event.channel.id,
            )

    async def _handle(self, event: Event) -> None:
        platform = self.platforms[event.platform]
        if event.user.is_bot or (platform.bot_user is not None and event.user == platform.bot_user):
            return
        body: str | None = None
        reply_token = None
        if isinstance(event, SlashCommand):
            body, reply_token = event.text.strip() or "help", event.reply_token
        elif isinstance(event, Message):
            body = command_body(event.text, self._bot_names(platform))
            if body is None and event.mentions_bot:
                body = event.text.strip() or "help"
        if not await self.activity.record(event, kind_of(event, is_command=body is not None)):
            log.debug("duplicate %s %s ignored", event.platform, event.event_id)
            return
        listeners = [] if body is not None else self._listeners(event)
        direct_text = body is None and isinstance(event, Message) and event.channel.is_direct
        if body is None and not listeners and not direct_text:
            return
        if body is None and not await claims.claim(
            self.db, event.platform, event.event_id, self.clock()
        ):
            log.debug("event %s %s already handled elsewhere", event.platform, event.event_id)
            return
        log.debug(
            "handling %s %s from %s:%s in %s",
            type(event).__name__,
            event.event_id,
            event.platform,
            event.user.id,
            event.channel.id,
        )
        await self.activity.settle()
        ctx = self.context(platform)
        try:
            if body is not None:
                await self.router.run_command(ctx, event, body, reply_token, claim=True)
                return
            for listener in listeners:
                consumed = await listener.func(ctx, event)
                if listener.once_per_user:
                    self._done_for.add((id(listener), event.platform, event.user.id))
                if consumed:
                    return
            if direct_text:
                await self._direct_message(ctx, event)
        except Exception:
            await claims.release(self.db, event.platform, event.event_id)
            raise

    async def _direct_message(self, ctx: Context, event: Message) -> None:
        """A direct message nobody consumed: a bare command (`help`) works, else a hint."""
        words = split_words(event.text)
        if words and self.router.is_command_word(words[0]):
            await self.router.run_command(ctx, event, event.text)
        elif words:
            await ctx.platform.send(
                event.channel, "I'm Convener, a bot. Type `help` to see what I can do."
            )
