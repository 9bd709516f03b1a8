"""The facilitators' weekly digest: what needs attention, for the 7 days up to a moment.

Every figure is an SQL aggregate; the definitions are the engagement report's (bots
excluded, "posting" is a message, reply or reaction, a new member first joined in the week,
a prompt response is a reply in a prompt run's thread), and where the report has the query,
the digest uses it (from `handlers.reports`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from bot.activity import POSTING_KINDS
from bot.commands import excerpt
from bot.context import Context
from bot.models import Activity, Member, Notice, Question
from bot.models.notices import FAILED
from bot.settings import Settings
from handlers.questions import OPEN
from handlers.reports import Period, channels, new_members, prompts

_UNDELIVERED = (Notice.subject, Notice.kind, Member.display_name, Notice.channel_name, Notice.error)
SHOWN = 10  # names or lines shown per section, then "and N more"
CHANNELS = 5  # the busiest channels shown
WEEK = timedelta(days=7)


@dataclass
class Figures:
    """What the digest says, gathered in one unit of work."""

    new: list[str] = field(default_factory=list)
    new_total: int = 0
    silent: list[str] = field(default_factory=list)
    silent_total: int = 0
    overdue: list[tuple[int, str, datetime, str]] = field(default_factory=list)
    overdue_total: int = 0
    prompts: list[tuple[datetime, str, str | None, str, int, int]] = field(default_factory=list)
    channels: list[tuple[str, str | None, int, int, int]] = field(default_factory=list)
    undelivered: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    undelivered_total: int = 0


def week_to(now: datetime, timezone: str) -> Period:
    """The 7 days up to `now` (end exclusive), with their first and last days in the
    community's timezone for the heading."""
    zone = ZoneInfo(timezone)
    start = now - WEEK
    return Period(start, now, start.astimezone(zone).date(), now.astimezone(zone).date())


async def build(ctx: Context, now: datetime) -> str:
    """The digest for the 7 days up to `now`, as Markdown."""
    await ctx.activity.flush()  # what happened a moment ago counts
    period = week_to(now, ctx.settings.timezone)
    sla = timedelta(hours=ctx.settings.question_sla_hours)
    async with ctx.db() as session:
        figures = await session.run_sync(gather, period, now, sla)
    return render(figures, period, now, ctx.settings)


def gather(session: Session, period: Period, now: datetime, sla: timedelta) -> Figures:
    conn = session.connection()
    figures = Figures()

    newcomers = sorted(new_members(conn, period), key=lambda row: row[1], reverse=True)
    figures.new_total = len(newcomers)
    figures.new = _names(session, [member_id for member_id, _ in newcomers[:SHOWN]])

    silent = _never_posted(period)
    figures.silent_total = session.scalar(select(func.count()).select_from(silent.subquery()))
    figures.silent = list(
        session.scalars(
            silent.with_only_columns(Member.display_name)
            .order_by(Member.joined_at.desc().nulls_last(), Member.id.desc())
            .limit(SHOWN)
        )
    )

    overdue = select(Question).where(
        Question.status == OPEN,
        Question.first_response_at.is_(None),
        Question.asked_at <= now - sla,
    )
    figures.overdue_total = session.scalar(select(func.count()).select_from(overdue.subquery()))
    figures.overdue = [
        tuple(row)
        for row in session.execute(
            overdue.with_only_columns(
                Question.id, Member.display_name, Question.asked_at, Question.text
            )
            .join(Member, Member.id == Question.asker_id)
            .order_by(Question.asked_at, Question.id)
            .limit(SHOWN)
        )
    ]

    figures.prompts = [tuple(row[:6]) for row in prompts(conn, period)]

    busiest = [
        (platform, name, messages or 0, replies or 0, people or 0)
        for platform, name, people, messages, replies, _reactions, _joins in channels(conn, period)
        if (messages or 0) + (replies or 0) > 0
    ]
    busiest.sort(key=lambda row: (-(row[2] + row[3]), -row[4], row[1] or ""))
    figures.channels = busiest[:CHANNELS]

    failed = select(Notice).where(
        Notice.state == FAILED, Notice.due_at >= period.start, Notice.due_at < period.end
    )
    figures.undelivered_total = session.scalar(select(func.count()).select_from(failed.subquery()))
    figures.undelivered = [
        (subject, kind, name or channel or "a channel", error)
        for subject, kind, name, channel, error in session.execute(
            failed.with_only_columns(*_UNDELIVERED)
            .outerjoin(Member, Member.id == Notice.member_id)
            .order_by(Notice.due_at, Notice.id)
            .limit(SHOWN)
        )
    ]
    return figures


def _names(session: Session, member_ids: list[int]) -> list[str]:
    if not member_ids:
        return []
    found = dict(
        session.execute(
            select(Member.id, Member.display_name).where(Member.id.in_(member_ids))
        ).all()
    )
    return [found.get(member_id) or "a member" for member_id in member_ids]


def _never_posted(period: Period):
    """Humans who joined before the week (their first activity when no join was seen, as the
    report counts joining) and have never posted. Each test is an indexed lookup of the
    member's own activity, so no aggregate runs over the whole log."""
    mine = Activity.member_id == Member.id
    posted = exists().where(mine, Activity.kind.in_(POSTING_KINDS))
    seen_before = exists().where(mine, Activity.ts < period.start)
    return select(Member.id).where(
        Member.is_bot.is_(False),
        or_(
            Member.joined_at < period.start,
            and_(Member.joined_at.is_(None), seen_before),
        ),
        ~posted,
    )


# text -------------------------------------------------------------------------------------


def render(figures: Figures, period: Period, now: datetime, settings: Settings) -> str:
    zone = ZoneInfo(settings.timezone)
    lines = [
        f"**Weekly digest** for {settings.community_name}: "
        f"{_day(period.start.astimezone(zone))} to {_day(now.astimezone(zone))}"
    ]

    lines.append("")
    if figures.new_total:
        lines.append(
            f"**New members ({figures.new_total}):** " + _more(figures.new, figures.new_total)
        )
    else:
        lines.append("**New members:** none this week.")

    if figures.silent_total:
        lines.append(
            f"**Joined over a week ago, not posted yet ({figures.silent_total}):** "
            + _more(figures.silent, figures.silent_total)
        )
    else:
        lines.append("**Joined over a week ago, not posted yet:** nobody.")

    sla = f"{settings.question_sla_hours:g} h"
    if figures.overdue_total:
        lines.append(f"**Open questions past their {sla} SLA ({figures.overdue_total}):**")
        for question_id, asker, asked_at, text in figures.overdue:
            lines.append(
                f"• #{question_id} · {asker or 'a member'} · {_age(now - asked_at)} — "
                f"{excerpt(text, 60)}"
            )
        if figures.overdue_total > len(figures.overdue):
            lines.append(f"… and {figures.overdue_total - len(figures.overdue)} more.")
    else:
        lines.append(f"**Open questions past their {sla} SLA:** none.")

    if figures.prompts:
        several = len({row[1] for row in figures.prompts}) > 1
        lines.append(f"**Prompts this week ({len(figures.prompts)}):**")
        for posted_at, platform, channel, text, responses, responders in figures.prompts[:SHOWN]:
            where = _channel(platform, channel, several)
            lines.append(
                f"• {_day(posted_at.astimezone(zone))} in {where} · {_count(responses, 'reply')}"
                + (f" from {_count(responders, 'member')}" if responses else "")
                + f" — {excerpt(text, 60)}"
            )
        if len(figures.prompts) > SHOWN:
            lines.append(f"… and {len(figures.prompts) - SHOWN} more.")
    else:
        lines.append("**Prompts this week:** none posted.")

    if figures.channels:
        several = len({row[0] for row in figures.channels}) > 1
        lines.append("**Busiest channels:**")
        for platform, channel, messages, replies, people in figures.channels:
            lines.append(
                f"• {_channel(platform, channel, several)} · {_count(messages, 'message')}, "
                f"{_count(replies, 'reply')} · {_count(people, 'member')} active"
            )
    else:
        lines.append("**Busiest channels:** no posts this week.")

    if figures.undelivered_total:
        lines.append(f"**Notices I could not deliver ({figures.undelivered_total}):**")
        for subject, kind, to, error in figures.undelivered:
            lines.append(f"• {subject} ({kind}) to {to}: {error or 'no reason given'}")
        if figures.undelivered_total > len(figures.undelivered):
            lines.append(f"… and {figures.undelivered_total - len(figures.undelivered)} more.")
    return "\n".join(lines)


def _more(names: list[str], total: int) -> str:
    shown = ", ".join(name or "a member" for name in names)
    return shown + (f" and {total - len(names)} more" if total > len(names) else "")


def _day(moment: datetime) -> str:
    return f"{moment:%a} {moment.day} {moment:%b}"


def _age(waited: timedelta) -> str:
    hours = int(waited.total_seconds() // 3600)
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


def _count(number: int, noun: str) -> str:
    if number == 1:
        return f"1 {noun}"
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{number} {plural}"


def _channel(platform: str, name: str | None, several_platforms: bool) -> str:
    label = name or "a channel"
    return f"{label} ({platform.capitalize()})" if several_platforms else label
