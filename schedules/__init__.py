"""Jobs that run on time. APScheduler keeps the time; what to do and when it was last done
lives in the database, so jobs survive restarts and every replica sees the same ones.

Feature modules add jobs by appending a `JobSpec` to `JOBS`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.context import Context
from handlers.calls import jobs as calls_jobs
from handlers.digest import jobs as digest_jobs
from handlers.events import jobs as events_jobs
from handlers.questions import jobs as questions
from schedules import prompts, retention

if TYPE_CHECKING:
    from bot.app import Convener
    from bot.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    """A job: `trigger` and `trigger_args` as APScheduler takes them."""

    id: str
    func: Callable[[Context], Awaitable[object]]
    trigger: str
    trigger_args: dict = field(default_factory=dict)


JOBS: list[JobSpec] = [
    JobSpec("retention", retention.purge_old_activity, "cron", {"hour": 3, "minute": 17}),
    JobSpec("prune-claims", retention.prune_claims, "cron", {"hour": 3, "minute": 29}),
    JobSpec("questions", questions.follow_up, "interval", {"minutes": 1}),
    JobSpec("calls", calls_jobs.follow_up, "interval", {"minutes": 1}),
    JobSpec("events", events_jobs.remind, "interval", {"minutes": 1}),
]


class Scheduler:
    """APScheduler's asyncio scheduler, with the jobs that are running tracked, so that
    `stop()` lets them finish (APScheduler's own shutdown cancels them)."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        self.aps = AsyncIOScheduler(timezone="UTC")
        self.running: set[asyncio.Task] = set()
        self.metrics = metrics
        if metrics is not None:
            self.aps.add_listener(self._submitted, EVENT_JOB_SUBMITTED)

    def _submitted(self, event: JobSubmissionEvent) -> None:
        """Count a run, and how late it starts after its scheduled time."""
        assert self.metrics is not None
        job = (
            "prompt"
            if event.job_id.startswith("prompt-") and event.job_id[7:].isdigit()
            else event.job_id
        )
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


async def start_scheduler(app: Convener, jobs: list[JobSpec] | None = None) -> Scheduler:
    """Register the fixed jobs and every prompt schedule, start, and post missed slots."""
    scheduler = Scheduler(app.metrics)
    for spec in jobs if jobs is not None else JOBS:
        scheduler.add_job(
            _run,
            spec.trigger,
            args=(app, spec),
            id=spec.id,
            replace_existing=True,
            misfire_grace_time=3600,
            coalesce=True,
            max_instances=1,
            **spec.trigger_args,
        )
    count = await prompts.load(app, scheduler)
    digest_jobs.register(app, scheduler)
    scheduler.add_job(
        prompts.sync, "interval", args=(app, scheduler), id="prompt-sync", minutes=1,
        replace_existing=True, misfire_grace_time=60, coalesce=True, max_instances=1,
    )  # fmt: skip
    scheduler.start()
    try:
        posted = await prompts.catch_up(app)
    except BaseException:
        scheduler.shutdown(wait=False)
        raise
    try:
        await digest_jobs.catch_up(app)
    except Exception:  # a digest that fails never keeps the scheduler from running
        log.exception("catching up the weekly digest failed")
    except BaseException:
        scheduler.shutdown(wait=False)
        raise
    log.info("scheduler started: %d prompt schedules, %d missed slots posted", count, posted)
    return scheduler


async def _run(app: Convener, spec: JobSpec) -> None:
    try:
        result = await spec.func(app.context())
        log.debug("job %s done: %s", spec.id, result)
    except Exception:
        log.exception("job %s failed", spec.id)
