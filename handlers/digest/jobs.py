"""Sending the weekly digest: a job at CONVENER_DIGEST_WEEKDAY / CONVENER_DIGEST_TIME in the
community's timezone (`off` disables it), and a catch-up on start for a slot missed while the
bot was down, when still within CONVENER_DIGEST_GRACE_HOURS.

Each facilitator's digest for a slot is a `digest_runs` row, written in the transaction that
queues it in the outbox (`bot.outbox`, which delivers it once and tries again while it
fails): it goes out once per week across restarts and replicas.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot import outbox, roles, timezones
from bot.context import Services
from bot.db import upsert
from bot.errors import UsageError
from bot.jobs import MIN_GRACE, Slot
from bot.models import DigestRun
from bot.router import Router
from bot.settings import Settings
from handlers.digest import service

log = logging.getLogger(__name__)

router = Router()
OFF = "off"


def slot(settings: Settings) -> Slot | None:
    """(weekday, "HH:MM", zone) from the settings; None when the digest is off. Raises
    UsageError when a setting cannot be read."""
    if OFF in (settings.digest_weekday.strip().lower(), settings.digest_time.strip().lower()):
        return None
    try:
        day = timezones.weekday(settings.digest_weekday)
        at = timezones.time_of_day(settings.digest_time)
    except UsageError as exc:  # for the log (the scheduler's), in English: no reader
        raise UsageError(
            f"weekly digest: CONVENER_DIGEST_WEEKDAY={settings.digest_weekday!r}, "
            f"CONVENER_DIGEST_TIME={settings.digest_time!r}: {exc} Use a weekday such as "
            "monday, a time such as 08:00, or off."
        ) from None
    return day, at, settings.timezone


def grace(settings: Settings) -> timedelta:
    return timedelta(hours=settings.digest_grace_hours)


@router.weekly("digest", slot=slot, grace=grace)
async def run(ctx: Services) -> int:
    """At the digest's time."""
    sent = await send_weekly(ctx)
    log.info("weekly digest sent to %d facilitators", sent)
    return sent


@router.at_start("digest-catch-up")
async def catch_up(ctx: Services) -> int:
    """On start: send this week's digest if its slot was missed while down (within grace)."""
    return await send_weekly(ctx)


async def send_weekly(ctx: Services) -> int:
    """Send the current slot's digest to every facilitator who has not had it; returns how
    many were sent. Nothing when the digest is off or the slot is older than the grace."""
    try:
        found = slot(ctx.settings)
    except UsageError:
        return 0  # logged when the job was (not) registered
    if found is None:
        return 0
    now = ctx.now()
    due = timezones.last_slot(*found, now)
    late = now - due
    if late > max(grace(ctx.settings), MIN_GRACE):
        log.info(
            "weekly digest: its last slot (%s) was %.1f h ago, past the %g h grace; "
            "nothing sent now",
            due.isoformat(), late.total_seconds() / 3600, ctx.settings.digest_grace_hours,
        )  # fmt: skip
        return 0
    await ctx.activity.flush()  # a facilitator seen a moment ago is a member
    async with ctx.db() as session:
        facilitators = (await roles.holders(session, ctx.settings))[roles.FACILITATOR]
        had = set(await session.scalars(select(DigestRun.member_id).where(DigestRun.slot == due)))
    waiting = [m.id for m in facilitators if not m.is_bot and m.id not in had]
    if not facilitators:
        log.warning("weekly digest: there is no facilitator to send it to")
    if not waiting:
        return 0
    text = await service.build(ctx, now)  # rendered in each facilitator's language when queued
    sent = 0
    for member_id in waiting:
        async with ctx.db() as session:
            claimed = await session.scalar(
                upsert(session, DigestRun)
                .values(slot=due, member_id=member_id, sent_at=now)
                .on_conflict_do_nothing()
                .returning(DigestRun.member_id)
            )
            if claimed is not None:
                await outbox.dm(ctx, subject(due), "digest", member_id, text, session=session)
            await session.commit()
        sent += claimed is not None
    return sent


def subject(due: datetime) -> str:
    """The outbox subject of one week's digest."""
    return f"digest:{due.astimezone(UTC):%Y-%m-%dT%H:%M}"
