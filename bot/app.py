"""The running bot: platforms, database, activity log, the pipeline and its bounded processor,
and the scheduler, started and stopped in order.

It is given its routers and its scheduler; it imports no feature, job or adapter (the
composition root in `bot.cli` picks them).

Start: migrate, grant configured roles, start the activity writer; adapters start and report
ready; then `start_scheduler()`. Stop (`stop(grace)`), the other way: intake is already
stopped by the adapters; in-flight handlers finish (bounded), running jobs finish, the
activity log is flushed, the database closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable, Mapping
from datetime import datetime
from typing import Any, Protocol

from bot import roles
from bot.activity import ActivityLog
from bot.claims import Sender
from bot.context import Context, Services, utc_now
from bot.db import Database, describe
from bot.forms import Forms
from bot.languages import Languages, Voice, Voices
from bot.leader import Lease
from bot.metrics import Metrics
from bot.outbox import Outbox, for_notices
from bot.pacing import Pacer
from bot.pipeline import Pipeline
from bot.platform import UNLIMITED, Budget, Platform
from bot.processor import Processor
from bot.router import Router
from bot.settings import Settings
from bot.types import Event, FormView, UserRef
from bot.watch import Watches

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10.0


class Jobs(Protocol):
    async def stop(self, grace: float) -> None: ...


SchedulerStart = Callable[["Convener"], Awaitable[Jobs]]


class Convener:
    def __init__(
        self,
        settings: Settings,
        *,
        router: Router,
        scheduler: SchedulerStart | None = None,
        clock: Callable[[], datetime] = utc_now,
        database: Database | None = None,
        concurrency: int = 32,
        backlog: int = 1000,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.db = database or Database(settings.database_url)
        self.router = router
        self.platforms: dict[str, Platform] = {}
        self.activity = ActivityLog(self.db, settings, clock)
        self.languages = Languages(self.db, settings.language)
        self.forms = Forms(router, self.db, settings, self.languages, clock)
        self.processor = Processor(concurrency, backlog)
        self.metrics = Metrics()
        self.watches = Watches(self.db, clock, router.watches, settings.watch_refresh_seconds)
        pacer = Pacer(  # on the app's clock, as the rows' times
            lambda name: for_notices(self._budget(name)), lambda: clock().timestamp()
        )
        self.outbox = Outbox(
            self.db, self.platforms, clock, self.metrics, pacer, router.on_delivered, self.watches
        )
        self.pipeline = Pipeline(
            router, self.activity, self.db, settings, clock, self.platforms, self._context,
            self.watches, self.metrics,
        )  # fmt: skip
        self._start_scheduler = scheduler
        self.jobs: Jobs | None = None
        self.scheduler_lease: Lease | None = None
        self._jobs_grace = STOP_GRACE_SECONDS

    def add_platform(self, platform: Platform) -> None:
        self.platforms[platform.name] = platform

    def _context(self, platform: Platform, sender: Sender) -> Context:
        def voice(raw: Platform) -> Voice:
            return Voice(raw, self.languages, sender)

        return Context(
            platform=voice(platform),
            platforms=Voices(self.platforms, voice),
            db=self.db,
            settings=self.settings,
            clock=self.clock,
            activity=self.activity,
            router=self.router,
            sender=sender,
            watches=self.watches,
            outbox=self.outbox,
            languages=self.languages,
        )

    def scheduler_health(self) -> str:
        """`ok` when the scheduler runs here, `standby: ...` when another replica holds it."""
        if self._start_scheduler is None or self.jobs is not None:
            return "ok"
        lease = self.scheduler_lease
        if lease is not None and not lease.held:
            return "standby: another replica runs the scheduler"
        return "not running"

    def services(self) -> Services:
        """What jobs, scripts and tests use outside the handling of an event."""
        return Services(
            platforms=Voices(self.platforms, lambda raw: Voice(raw, self.languages, None)),
            db=self.db,
            settings=self.settings,
            clock=self.clock,
            activity=self.activity,
            watches=self.watches,
            outbox=self.outbox,
            languages=self.languages,
        )

    def _budget(self, platform: str) -> Budget:
        """How fast `platform` lets the bot send: the deployment's figure
        (`CONVENER_SEND_RATES`), else the adapter's own."""
        stated = self.settings.send_budgets().get(platform)
        if stated is not None:
            return stated
        return getattr(self.platforms.get(platform), "send_budget", UNLIMITED)

    # Lifecycle ----------------------------------------------------------------------------

    async def start(self, *, migrate: bool = True) -> None:
        if migrate:
            await asyncio.to_thread(self.db.upgrade)
        granted, revoked = await self.db.unit(roles.reconcile, self.settings, self.clock())
        if granted or revoked:
            log.info("roles from the settings: %d granted, %d revoked", granted, revoked)
        await self.watches.load()
        self.watches.start(replicas=not self.db.is_sqlite)
        await self.languages.load()
        self.languages.start(replicas=not self.db.is_sqlite)
        self.activity.start()
        names = ", ".join(self.platforms) or "none"
        log.info("Convener started: platforms %s, database %s", names,
                 describe(self.settings.database_url))  # fmt: skip

    async def ready(self) -> None:
        """Every adapter is ready: the outbox starts sending (on every replica) and the
        scheduler starts (on one)."""
        self.outbox.start()
        await self.start_scheduler()

    async def start_scheduler(self) -> None:
        """Start the jobs on the one replica holding the `scheduler` lease (at once on
        SQLite), only once every adapter is ready, since catching up posts. Another replica
        takes the lease over when this one dies (`bot.leader`)."""
        if self._start_scheduler is None or not self.platforms or self.scheduler_lease is not None:
            return
        self.scheduler_lease = Lease(
            self.db.url, "scheduler", on_acquired=self._take_scheduler,
            on_lost=self._drop_scheduler,
        )  # fmt: skip
        await self.scheduler_lease.start()

    async def _take_scheduler(self) -> None:
        assert self._start_scheduler is not None
        self.jobs = await self._start_scheduler(self)
        self.metrics.leader.labels("scheduler").set(1)
        log.info("this replica runs the scheduler")

    async def _drop_scheduler(self) -> None:
        self.metrics.leader.labels("scheduler").set(0)
        jobs, self.jobs = self.jobs, None
        if jobs is not None:
            await jobs.stop(self._jobs_grace)

    async def finish(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """The input ended by itself (a console script's last line), not a signal: handle
        the events in hand and deliver the notices they queued, within `grace` seconds, so
        that a script's run shows everything it caused. What is left waits for the next
        start, as at SIGTERM."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        await self.processor.drain(grace)
        await self.outbox.stop(max(0.0, deadline - loop.time()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.outbox.deliver_all(), max(0.0, deadline - loop.time()))

    def stopping(self) -> None:
        """Shutdown has begun (SIGTERM): the outbox takes no more rows, so notices not yet
        being sent wait in it for the next start or another replica."""
        self.outbox.halt()

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Finish in-flight work (up to `grace` seconds), stop jobs, flush, close."""
        self.stopping()
        self.processor.close()
        if not await self.processor.drain(grace):
            log.warning("%d events still in hand after %.0f s; stopping them",
                        self.processor.pending, grace)  # fmt: skip
            await self.processor.cancel()
        if self.scheduler_lease is not None:
            self._jobs_grace = grace
            await self.scheduler_lease.stop()  # on_lost stops the jobs, then the lock goes
            self.scheduler_lease = None
        await self.outbox.stop(grace)
        await self.watches.stop()
        await self.languages.stop()
        try:
            await self.activity.close()
            log.info("activity: %d events recorded, %d rows written, %d dead-lettered",
                     self.activity.recorded, self.activity.written,
                     self.activity.dead_lettered)  # fmt: skip
        finally:
            await self.db.dispose()

    close = stop

    # Intake -------------------------------------------------------------------------------

    async def submit(self, event: Event, *, key: Hashable | None = None,
                     durable: bool = False) -> None:  # fmt: skip
        """What adapters call for every inbound event: record it (with `durable`, return only
        once it is stored, so the platform may be told it was received), then handle it in
        the bounded processor; events with the same `key` are handled in order."""
        work = await self.pipeline.accept(event, durable=durable)
        if work is None:
            return
        try:
            await self.processor.submit(lambda: self.pipeline.handle(work), key)
        except BaseException:  # not handed over: a redelivery must not count as a duplicate
            self.activity.unsee(work.event)
            raise

    async def persisted(self) -> None:
        """Return once every event submitted so far is stored."""
        await self.activity.persisted()

    async def open_form(self, user: UserRef, command: str) -> FormView | None:
        """The form `command` opens for `user`, to draw at once (`bot.forms.Forms.open`)."""
        return await self.forms.open(user, command)

    async def check_form(
        self, user: UserRef, name: str, values: Mapping[str, Any]
    ) -> dict[str, str]:
        """A submission's errors by field, nothing stored (`bot.forms.Forms.check`)."""
        return await self.forms.check(user, name, values)

    async def handle(self, event: Event) -> None:
        """Record and handle one event now, in the caller's task (the console and tests).
        Never raises; errors are logged with their context."""
        try:
            work = await self.pipeline.accept(event)
            if work is not None:
                await self.pipeline.handle(work)
        except Exception:
            log.exception("could not handle %s %s from %s:%s in %s", type(event).__name__,
                          event.event_id, event.platform, event.user.id,
                          event.channel.id)  # fmt: skip
