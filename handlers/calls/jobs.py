"""The calls job, run by the scheduler every minute: the reminders in a call's channel 7 days
and 1 day before its deadline, one DM to each member who offers one of its topics, and at
the deadline the closing (a note in the channel, and the list of interest as a workbook to
each facilitator and coordinator), and the choice offered with the announcement closes (a
Matrix poll ends). Every message is queued once in the outbox (`bot.outbox`; the workbook, a
file, and the closing of the choice go through `notices.once`), so each happens exactly once
across reruns, restarts and replicas."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from bot import direct, i18n, notices, outbox, roles
from bot.context import Services
from bot.i18n import ENGLISH, Message, _, n_
from bot.models import Call, CallInterest, CallTopic, Channel, Expertise, Member, Notice
from bot.router import Router
from bot.types import ChannelRef, OutboundFile
from bot.workbook import XLSX, Column, Sheet, Text, cell_format, day_pattern, new_book, to_bytes
from handlers.calls import service

router = Router()

log = logging.getLogger(__name__)

REMINDERS = (("1d", timedelta(days=1)), ("7d", timedelta(days=7)))  # latest first
GRACE = timedelta(days=7)  # a call that closed longer ago than this gets no closing notices
COLUMNS: list[Column] = [  # and "When", formatted in the reader's conventions (`workbook`)
    (_("Name"), 28, None),
    (_("City"), 18, None),
    (_("Organisation"), 28, None),
    (_("Role"), 24, None),
    (_("Note"), 60, None),
]


@router.every("calls", minutes=1)
async def follow_up(ctx: Services) -> int:
    """Messages sent this run."""
    now = ctx.now()
    sent = 0
    async with ctx.db() as session:
        rows = (
            await session.execute(
                select(Call, Channel)
                .join(Channel, Channel.id == Call.channel_id)
                .where(Call.deadline > now - GRACE)
                .order_by(Call.deadline, Call.id)
            )
        ).all()
        done = {
            (n.subject, n.kind, n.member_id)
            for n in await session.scalars(
                select(Notice).where(Notice.subject.in_([service.subject(c.id) for c, _ch in rows]))
            )
        }
    for call, channel in rows:
        where = ChannelRef(channel.platform, channel.channel_id, channel.name)
        try:
            if call.deadline > now:
                sent += await _remind(ctx, call, where, now, done)
                sent += await _topic_dms(ctx, call, where, done)
            else:
                sent += await _close(ctx, call, where, now, done)
        except Exception:
            log.exception("call #%s: follow-up failed; the next run tries again", call.id)
    await _close_old(ctx, now)
    return sent


async def _remind(ctx: Services, call: Call, where: ChannelRef, now: datetime, done) -> int:
    """The latest reminder that is due and came after the call was announced; an earlier
    one that was missed is not posted late."""
    subject = service.subject(call.id)
    for kind, before in REMINDERS:
        moment = call.deadline - before
        if moment <= now and moment > call.created_at:
            if (subject, kind, outbox.CHANNEL) in done:
                return 0
            text = _reminder(call, kind, ctx.settings.timezone)
            return int(await outbox.post(ctx, subject, kind, where, text))
    return 0


def _reminder(call: Call, kind: str, zone: str) -> Message:
    said = {"id": call.id, "title": call.title, "deadline": service.deadline(call, zone)}
    if kind == "1d":
        return _("⏰ **Call #{id}: {title}** closes in one day: it is open until {deadline}. "
                 "Express interest with `interest {id} <a short note>`; type `calls` to see "
                 "every open call.", **said)  # fmt: skip
    return _("⏰ **Call #{id}: {title}** closes in one week: it is open until {deadline}. "
             "Express interest with `interest {id} <a short note>`; type `calls` to see "
             "every open call.", **said)  # fmt: skip


async def _topic_dms(ctx: Services, call: Call, where: ChannelRef, done) -> int:
    """One DM to each member who offers one of the call's topics, and has not expressed
    interest yet."""
    subject = service.subject(call.id)
    async with ctx.db() as session:
        offering = list(
            await session.scalars(
                select(Expertise.member_id)
                .join(CallTopic, CallTopic.topic_id == Expertise.topic_id)
                .where(CallTopic.call_id == call.id, Expertise.kind == "offers")
                .distinct()
                .order_by(Expertise.member_id)
            )
        )
        if not offering:
            return 0
        interested = set(
            await session.scalars(
                select(CallInterest.member_id).where(CallInterest.call_id == call.id)
            )
        )
        names = await service.topic_names(session, call.id)
    zone = ctx.settings.timezone
    text = _(
        "A call that matches what you offer ({topics}): **#{id} {title}**, open until "
        "{deadline}. If it is for you, answer `interest {id} <a short note>`.",
        topics=", ".join(names), id=call.id, title=call.title,
        deadline=service.deadline(call, zone),
    )  # fmt: skip
    sent = 0
    for member_id in offering:
        if (
            member_id == call.created_by
            or member_id in interested
            or (subject, "topics", member_id) in done
        ):
            continue
        if await outbox.dm(ctx, subject, "topics", member_id, text, where.platform):
            sent += 1
    return sent


async def _close(ctx: Services, call: Call, where: ChannelRef, now: datetime, done) -> int:
    subject = service.subject(call.id)
    async with ctx.db() as session:
        if call.closed_at is None:  # whoever gets here first closes it
            await session.execute(
                update(Call)
                .where(Call.id == call.id, Call.closed_at.is_(None))
                .values(closed_at=now)
            )
            await session.commit()
        holders = await roles.holders(session, ctx.settings)
        count = await session.scalar(
            select(func.count())
            .select_from(CallInterest)
            .where(CallInterest.call_id == call.id, CallInterest.withdrawn_at.is_(None))
        )
    if (subject, service.CHOICES, outbox.CHANNEL) not in done:
        await _close_choices(ctx, call, where)
    zone = ctx.settings.timezone
    sent = 0
    if (subject, "closed", outbox.CHANNEL) not in done:
        text = n_(
            "🔒 **Call #{id}: {title}** closed at the end of {day} ({zone}), with {n} "
            "expression of interest. Thank you! The facilitators and coordinators have the list.",
            "🔒 **Call #{id}: {title}** closed at the end of {day} ({zone}), with {n} "
            "expressions of interest. Thank you! The facilitators and coordinators have the "
            "list.",
            count, id=call.id, title=call.title, day=service.show_day(call, zone), zone=zone,
        )  # fmt: skip
        sent += int(await outbox.post(ctx, subject, "closed", where, text))
    recipients: dict[int, Member] = {}
    for role in (roles.FACILITATOR, roles.COORDINATOR):
        for member in holders.get(role, []):
            recipients.setdefault(member.id, member)
    waiting = [m for m in recipients if (subject, "list", m) not in done]
    if not waiting:
        return sent
    interests = await _interests(ctx, call.id)
    books: dict[str, bytes] = {}  # the list in each recipient's language, made once each
    filename = f"call-{call.id}-interest.xlsx"
    message = n_(
        "Call #{id} ({title}) has closed: {n} expression of interest, attached.",
        "Call #{id} ({title}) has closed: {n} expressions of interest, attached.",
        count, id=call.id, title=call.title,
    )  # fmt: skip
    for member_id in waiting:
        user = await direct.account_of(ctx, member_id, where.platform)
        if user is None:
            continue
        platform = ctx.platforms[user.platform]
        language = await ctx.languages.of_user(user)
        if language not in books:
            books[language] = await asyncio.to_thread(workbook, interests, zone, language)
        title = i18n.render(_("Call #{id}: interest", id=call.id), language)
        file = OutboundFile(filename, books[language], title, XLSX)
        try:
            if await notices.once(
                ctx, subject, "list", member_id, partial(platform.send_file, user, file, message)
            ):
                sent += 1
        except Exception as exc:
            log.warning("call #%s: could not send the list to %s: %s", call.id, member_id, exc)
    return sent


async def _close_choices(ctx: Services, call: Call, where: ChannelRef) -> None:
    """Close the choice offered with the announcement (a Matrix poll ends), once; a failure
    is logged and the next run tries again."""
    platform = ctx.platforms.get(where.platform)
    if not call.message_id or platform is None:
        return
    close = partial(platform.close_choices, where, call.message_id)
    try:
        await notices.once(ctx, service.subject(call.id), service.CHOICES, outbox.CHANNEL, close)
    except Exception as exc:
        log.warning("call #%s: could not close its poll (%s: %s); the next run tries again",
                    call.id, type(exc).__name__, str(exc)[:200])  # fmt: skip


async def _close_old(ctx: Services, now: datetime) -> None:
    """Calls whose deadline passed beyond the grace (the bot was down) close quietly."""
    async with ctx.db() as session:
        await session.execute(
            update(Call)
            .where(Call.closed_at.is_(None), Call.deadline <= now - GRACE)
            .values(closed_at=now)
        )
        await session.commit()


async def _interests(ctx: Services, call_id: int) -> list[tuple]:
    async with ctx.db() as session:
        return list(
            (
                await session.execute(
                    select(
                        Member.display_name,
                        CallInterest.city,
                        CallInterest.org,
                        CallInterest.role_title,
                        CallInterest.note,
                        CallInterest.updated_at,
                    )
                    .join(Member, Member.id == CallInterest.member_id)
                    .where(CallInterest.call_id == call_id, CallInterest.withdrawn_at.is_(None))
                    .order_by(CallInterest.updated_at, Member.id)
                )
            ).all()
        )


def workbook(rows: list[tuple], zone: str, language: str = ENGLISH) -> bytes:
    """The list of interest, in `language`: one row per member; everything people typed is
    text."""
    book = new_book()
    when = cell_format(day_pattern(language, time=True))
    sheet = Sheet(book, _("Interest"), [*COLUMNS, (_("When"), 18, when)], language=language)
    tz = ZoneInfo(zone)
    for name, city, org, role, note, at in rows:
        sheet.append(
            [
                Text(name),
                Text(city or ""),
                Text(org or ""),
                Text(role or ""),
                Text(note),
                at.astimezone(tz).replace(tzinfo=None),
            ]
        )
    sheet.finish()
    return to_bytes(book)
