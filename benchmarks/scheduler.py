"""Scheduler: 10,000 weekly prompt schedules in the database. Measures the time to load them
on start (registering them with APScheduler), and how late the prompts of the slots that fall
due during the run are posted (queued by their jobs, then sent by the outbox). No baseline:
absolute figures.

Size: 10,000 schedules (`BENCH_SCHEDULES`), 1,000 in quick mode; 100 prompts due at once.
The slot is the first minute that begins at least `LEAD` seconds after the start (time to
seed and load the schedules), so a run waits up to a minute for it."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from benchmarks.common import Result, emit, fresh_sqlite, median, percentile, quick, runs, size
from benchmarks.latency import Recorder
from bot.app import Convener
from bot.cli import build
from bot.models import Channel, Prompt, PromptRun, PromptSchedule
from bot.settings import Settings
from schedules import start_scheduler

SCHEDULES = size("BENCH_SCHEDULES", 10_000, 1_000)
DUE = 100
LEAD = 6 if quick() else 15  # seconds
ZONES = ("UTC", "Africa/Nairobi", "Asia/Seoul", "America/Mexico_City", "Europe/Madrid")


class TimedRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.posted: list[datetime] = []
        self.all_posted = asyncio.Event()

    async def send(self, channel, text, thread_id=None, actions=()):
        self.posted.append(datetime.now(UTC))
        if len(self.posted) >= DUE:
            self.all_posted.set()
        return await super().send(channel, text, thread_id, actions)


def near(due_at: datetime, weekday: int, hour: int, minute: int, zone: str) -> bool:
    """Whether a weekly slot (in its own zone) falls within two hours of `due_at`."""
    local = due_at.astimezone(ZoneInfo(zone))
    day = local.date() + timedelta(days=(weekday - local.weekday() + 3) % 7 - 3)
    slot = datetime.combine(day, time_of_day(hour, minute), ZoneInfo(zone))
    return abs(slot - due_at) < timedelta(hours=2)


async def seed(app: Convener, due_at: datetime) -> None:
    """Schedules spread over the week, and DUE of them at `due_at` (UTC minute)."""
    now = datetime.now(UTC)
    async with app.db.sessions() as session:
        await session.execute(
            insert(Channel),
            [
                {"platform": "console", "channel_id": f"c{i}", "name": f"#c{i}", "is_direct": False}
                for i in range(50)
            ],
        )
        await session.execute(
            insert(Prompt),
            [
                {"text": f"Prompt {i}: what did your city learn this week?", "created_at": now}
                for i in range(DUE + 50)
            ],
        )
        rows = []
        for i in range(SCHEDULES):
            if i < DUE:
                weekday, at, zone = due_at.weekday(), due_at.strftime("%H:%M"), "UTC"
            else:
                weekday, zone = i % 7, ZONES[i % len(ZONES)]
                hour, minute = (i // 7) % 24, (i * 7) % 60
                if near(due_at, weekday, hour, minute, zone):  # keep the others out of the run
                    hour = (hour + 12) % 24
                at = f"{hour:02d}:{minute:02d}"
            rows.append(
                {
                    "channel_id": i % 50 + 1,
                    "weekday": weekday,
                    "time_of_day": at,
                    "timezone": zone,
                    "created_at": now,
                    "active": True,
                }
            )
        await session.execute(insert(PromptSchedule), rows)
        await session.commit()


async def measure(url: str) -> tuple[float, list[float]]:
    app = build(Settings(_env_file=None, database_url=url), schedule=False)
    platform = TimedRecorder()
    app.add_platform(platform)
    await app.start(migrate=False)
    now = datetime.now(UTC)
    due_at = (now + timedelta(seconds=LEAD + 60)).replace(second=0, microsecond=0)
    if (due_at - now).total_seconds() >= LEAD + 60:
        due_at -= timedelta(minutes=1)
    await seed(app, due_at)
    app.outbox.start()  # as `convener run` does once the adapters are ready
    started = time.perf_counter()
    scheduler = await start_scheduler(app, app.router.jobs)
    load_seconds = time.perf_counter() - started
    wait = (due_at - datetime.now(UTC)).total_seconds() + 30
    try:
        await asyncio.wait_for(platform.all_posted.wait(), wait)
    except TimeoutError:
        pass
    await asyncio.sleep(0.5)  # anything posted twice would show up now
    scheduler.shutdown(wait=False)
    lateness = [(posted - due_at).total_seconds() for posted in platform.posted]
    async with app.db.sessions() as session:
        from sqlalchemy import func, select

        runs_stored = await session.scalar(select(func.count()).select_from(PromptRun))
    await app.close()
    if runs_stored != DUE or len(lateness) != DUE:
        raise SystemExit(f"expected {DUE} posts, got {len(lateness)} ({runs_stored} runs)")
    return load_seconds, lateness


def main() -> None:
    loads, p50s, p99s = [], [], []
    for i in range(runs(1)):  # each run waits for a minute boundary
        url, path = fresh_sqlite(f"scheduler-{i}")
        load, lateness = asyncio.run(measure(url))
        loads.append(load)
        p50s.append(percentile(lateness, 50))
        p99s.append(percentile(lateness, 99))
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
    emit(
        [
            Result(
                "scheduler",
                f"start with {SCHEDULES:,} prompt schedules",
                median(loads),
                "s (lower is better)",
                target="< 2 s",
                met=median(loads) < 2,
            ),
            Result(
                "scheduler",
                f"lateness p50 ({DUE} prompts due at once, {SCHEDULES:,} schedules)",
                median(p50s),
                "s (lower is better)",
            ),
            Result(
                "scheduler",
                f"lateness p99 ({DUE} prompts due at once, {SCHEDULES:,} schedules)",
                median(p99s),
                "s (lower is better)",
                target="p99 < 1 s",
                met=median(p99s) < 1,
            ),
        ]
    )


if __name__ == "__main__":
    main()
