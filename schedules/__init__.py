"""The scheduler engine: APScheduler keeps the time; what to do and when it was last done lives
in the database, so jobs survive restarts and every replica sees the same ones.

It imports no feature. Features declare their jobs on their routers (`bot.jobs`); the
composition root hands the merged list to `start_scheduler`, which registers them, starts
paused, runs the catch-up jobs (`at_start`) in the order declared, then resumes (so the jobs
a catch-up adds, one per prompt schedule, are woken for once). Every run gets a
`JobContext`; a job that fails is logged and runs again at its next time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.context import JobContext
from bot.errors import UsageError
from bot.jobs import MIN_GRACE, AtStart, Daily, Every, Job, JobFunc, Slot, Weekly

if TYPE_CHECKING:
    from bot.app import Convener
    from bot.metrics import Metrics

log = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EVERY_GRACE_SECONDS = 3600


class Scheduler:
    """APScheduler's asyncio scheduler, with the jobs that are running tracked, so that
    `stop()` lets them finish (APScheduler's own shutdown cancels them)."""

    def __init__(self, app: Convener | None = None, metrics: Metrics | None = None) -> None:
        self.aps = AsyncIOScheduler(timezone="UTC")
        self.running: set[asyncio.Task] = set()
        self.app = app
        self.metrics = metrics
        self._triggers: dict[tuple[int, str, str], CronTrigger] = {}
        if metrics is not None:
            self.aps.add_listener(self._submitted, EVENT_JOB_SUBMITTED)

    def _submitted(self, event: JobSubmissionEvent) -> None:
        """Count a run, and how late it starts after its scheduled time."""
        assert self.metrics is not None
        job = event.job_id.rstrip("0123456789").rstrip("-") or event.job_id
        self.metrics.scheduled_runs.labels(job).inc()
        if event.scheduled_run_times:
            late = (datetime.now(UTC) - max(event.scheduled_run_times)).total_seconds()
            self.metrics.lateness.labels(job).observe(max(late, 0.0))

    def add_job(self, func: Callable[..., Awaitable[object]], trigger, **kwargs) -> None:
        self.aps.add_job(self._tracked(func), trigger, **kwargs)

    def _tracked(self, func: Callable[..., Awaitable[object]]):
        @functools.wraps(func)
        async def job(*args, **kwargs):
            task = asyncio.current_task()
            if task is not None:
                self.running.add(task)
            try:
                return await func(*args, **kwargs)
            finally:
                self.running.discard(task)

        return job

    def get_job(self, job_id: str):
        return self.aps.get_job(job_id)

    def remove_job(self, job_id: str) -> None:
        self.aps.remove_job(job_id)

    def start(self) -> None:
        self.aps.start()

    def shutdown(self, wait: bool = False) -> None:
        self.aps.shutdown(wait=wait)

    async def stop(self, grace: float) -> None:
        """Start nothing new, give running jobs up to `grace` seconds, then shut down."""
        self.aps.pause()
        if self.running:
            _, left = await asyncio.wait(set(self.running), timeout=grace)
            if left:
                log.warning("%d jobs still running at shutdown; stopping them", len(left))
        self.aps.shutdown(wait=False)

    # The timetable a job may use (`bot.jobs.Timetable`) --------------------------------------

    def context(self) -> JobContext:
        assert self.app is not None
        services = self.app.services()
        shared = {f.name: getattr(services, f.name) for f in dataclasses.fields(services)}
        return JobContext(**shared, timetable=self)

    def weekly(self, job_id: str, slot: Slot, func: JobFunc, grace: timedelta) -> None:
        self.add_job(
            self._run, self._trigger(slot), args=(job_id, func), id=job_id,
            replace_existing=True, misfire_grace_time=_seconds(grace), coalesce=True,
            max_instances=1,
        )  # fmt: skip

    def remove(self, job_id: str) -> None:
        if self.aps.get_job(job_id) is not None:
            self.aps.remove_job(job_id)

    def ids(self, prefix: str) -> set[str]:
        return {job.id for job in self.aps.get_jobs() if job.id.startswith(prefix)}

    def _trigger(self, slot: Slot) -> CronTrigger:
        """One CronTrigger per distinct slot: jobs at the same time share it."""
        trigger = self._triggers.get(slot)
        if trigger is None:
            weekday, at, zone = slot
            hour, minute = at.split(":")
            trigger = self._triggers[slot] = CronTrigger(
                day_of_week=WEEKDAYS[weekday], hour=int(hour), minute=int(minute), timezone=zone
            )
        return trigger

    async def _run(self, job_id: str, func: JobFunc) -> None:
        try:
            result = await func(self.context())
            log.debug("job %s done: %s", job_id, result)
        except Exception:
            log.exception("job %s failed", job_id)

    def declare(self, job: Job) -> bool:
        """Register a declared job that runs on time; False for a catch-up job or a weekly
        job switched off (or misconfigured: logged, and the bot runs without it)."""
        common = {"args": (job.id, job.func), "id": job.id, "replace_existing": True,
                  "coalesce": True, "max_instances": 1}  # fmt: skip
        when = job.when
        if isinstance(when, Every):
            self.add_job(self._run, "interval", seconds=when.seconds,
                         misfire_grace_time=EVERY_GRACE_SECONDS, **common)  # fmt: skip
        elif isinstance(when, Daily):
            self.add_job(self._run, "cron", hour=when.hour, minute=when.minute,
                         misfire_grace_time=EVERY_GRACE_SECONDS, **common)  # fmt: skip
        elif isinstance(when, Weekly):
            assert self.app is not None
            try:
                slot = when.slot(self.app.settings)
            except UsageError as exc:
                log.error("job %s not scheduled: %s", job.id, exc)
                return False
            if slot is None:
                log.info("job %s is switched off in the settings", job.id)
                return False
            self.weekly(job.id, slot, job.func, when.grace(self.app.settings))
        else:
            return False
        return True


def _seconds(grace: timedelta) -> int:
    return max(int(grace.total_seconds()), int(MIN_GRACE.total_seconds()))


def starter(jobs: Sequence[Job]) -> Callable[[Convener], Awaitable[Scheduler]]:
    """What the app calls to start the scheduler with these jobs (on the replica that holds
    the scheduler lease)."""
    return functools.partial(start_scheduler, jobs=jobs)


async def start_scheduler(app: Convener, jobs: Sequence[Job]) -> Scheduler:
    """Register the jobs that run on time, start paused, run the catch-up jobs in order (one
    that fails is logged; the others and the scheduler still run), then resume."""
    scheduler = Scheduler(app, app.metrics)
    timed = [job.id for job in jobs if scheduler.declare(job)]
    scheduler.aps.start(paused=True)  # jobs added while catching up wake it once, on resume
    for job in jobs:
        if not isinstance(job.when, AtStart):
            continue
        try:
            result = await job.func(scheduler.context())
            log.debug("catch-up %s done: %s", job.id, result)
        except Exception:
            log.exception("catch-up %s failed", job.id)
        except BaseException:
            scheduler.shutdown(wait=False)
            raise
    scheduler.aps.resume()
    log.info("scheduler started: %d jobs (%s)", len(timed), ", ".join(timed))
    return scheduler
