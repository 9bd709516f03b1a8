"""Jobs that run on time. APScheduler keeps the time; what to do and when it was last done
lives in the database, so jobs survive restarts and every replica sees the same ones.

Feature modules add jobs by appending a `JobSpec` to `JOBS`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.context import Context
from schedules import prompts, retention

if TYPE_CHECKING:
    from bot.app import Convener

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
]


async def start_scheduler(app: Convener, jobs: list[JobSpec] | None = None) -> AsyncIOScheduler:
    """Register the fixed jobs and every prompt schedule, start, and post missed slots."""
    scheduler = AsyncIOScheduler(timezone="UTC")
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
    scheduler.start()
    posted = await prompts.catch_up(app)
    log.info("scheduler started: %d prompt schedules, %d missed slots posted", count, posted)
    return scheduler


async def _run(app: Convener, spec: JobSpec) -> None:
    try:
        result = await spec.func(app.context())
        log.debug("job %s done: %s", spec.id, result)
    except Exception:
        log.exception("job %s failed", spec.id)
