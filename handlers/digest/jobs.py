"""Sending the weekly digest: a job at CONVENER_DIGEST_WEEKDAY / CONVENER_DIGEST_TIME in the
community's timezone (`off` disables it), and a catch-up on start for a slot missed while the
bot was down, when still within CONVENER_DIGEST_GRACE_HOURS.

Each facilitator's digest for a slot is a `digest_runs` row, claimed before it is sent and
deleted again if sending fails or is cancelled (`bot.notices.claim_then_send`): it goes out
once per week across restarts and replicas, and a failed one is sent by the next run for
that slot.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete

from bot import roles, timezones
from bot.context import Services
from bot.db import upsert
from bot.direct import dm_member
from bot.errors import UsageError
from bot.jobs import MIN_GRACE, Slot
from bot.models import DigestRun
from bot.notices import claim_then_send
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
    except UsageError as exc:
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
    built: list[str] = []

    async def send(member_id: int) -> None:
        if not built:
            built.append(await service.build(ctx, now))
        if not await dm_member(ctx, member_id, built[0]):
            raise LookupError("no account on a running platform")

    sent = 0
    for member in facilitators:
        if member.is_bot:
            continue
        try:
            told, _ = await claim_then_send(
                lambda m=member.id: _claim(ctx, due, m, now),
                send,
                lambda m: _give_back(ctx, due, m),
            )
        except Exception as exc:  # given back: the next run for this slot tries again
            log.warning("weekly digest: could not send to member %s: %s", member.id, exc)
            continue
        sent += told
    if not facilitators:
        log.warning("weekly digest: there is no facilitator to send it to")
    return sent


async def _claim(ctx: Services, due: datetime, member_id: int, now: datetime) -> int | None:
    """The member's digest row for this slot, or None when it was sent already."""
    async with ctx.db() as session:
        claimed = await session.scalar(
            upsert(session, DigestRun)
            .values(slot=due, member_id=member_id, sent_at=now)
            .on_conflict_do_nothing()
            .returning(DigestRun.member_id)
        )
        await session.commit()
    return claimed


async def _give_back(ctx: Services, due: datetime, member_id: int) -> None:
    async with ctx.db() as session:
        await session.execute(
            delete(DigestRun).where(DigestRun.slot == due, DigestRun.member_id == member_id)
        )
        await session.commit()
