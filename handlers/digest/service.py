"""The facilitators' weekly digest: what needs attention, for the 7 days up to a moment.

Every figure is an SQL aggregate; the definitions are the engagement report's (bots
excluded, "posting" is a message, reply or reaction, a new member first joined in the week,
a prompt response is a reply in a prompt run's thread), and where the report has the query,
the digest uses it (from `handlers.reports`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from bot.activity import POSTING_KINDS
from bot.commands import excerpt
from bot.context import Context
from bot.i18n import Day, Message, Number, _, join, lines, n_, verbatim
from bot.models import Activity, Member, Notice, Question
from bot.models.notices import FAILED
from bot.outbox import NO_ACCOUNT
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
    undelivered: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
    undelivered_total: int = 0


def week_to(now: datetime, timezone: str) -> Period:
    """The 7 days up to `now` (end exclusive), with their first and last days in the
    community's timezone for the heading."""
    zone = ZoneInfo(timezone)
    start = now - WEEK
    return Period(start, now, start.astimezone(zone).date(), now.astimezone(zone).date())


async def build(ctx: Context, now: datetime) -> Message:
    """The digest for the 7 days up to `now`, as Markdown (a message: each reader reads it in
    their language)."""
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
        (subject, kind, name or channel, error)
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
    return [found.get(member_id) or "" for member_id in member_ids]  # "" is "a member"


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


def render(figures: Figures, period: Period, now: datetime, settings: Settings) -> Message:
    """The digest in the reader's language (rendered for each facilitator by the outbox)."""
    zone = ZoneInfo(settings.timezone)
    heading = _("**Weekly digest** for {community}: {start} to {end}",
                community=settings.community_name, start=_day(period.start.astimezone(zone)),
                end=_day(now.astimezone(zone)))  # fmt: skip
    body = lines(
        _new(figures),
        _silent(figures),
        _overdue(figures, now, settings.question_sla_hours),
        _prompts(figures, zone),
        _busiest(figures),
        _undelivered(figures, zone),
    )
    return lines(heading, body, sep="\n\n")


def _new(figures: Figures) -> Message:
    if not figures.new_total:
        return _("**New members:** none this week.")
    return _("**New members ({total}):** {names}", total=Number(figures.new_total),
             names=_more(figures.new, figures.new_total))  # fmt: skip


def _silent(figures: Figures) -> Message:
    if not figures.silent_total:
        return _("**Joined over a week ago, not posted yet:** nobody.")
    return _("**Joined over a week ago, not posted yet ({total}):** {names}",
             total=Number(figures.silent_total),
             names=_more(figures.silent, figures.silent_total))  # fmt: skip


def _overdue(figures: Figures, now: datetime, sla_hours: float) -> Message:
    sla = format(sla_hours, "g")
    if not figures.overdue_total:
        return _("**Open questions past their {sla} h SLA:** none.", sla=sla)
    return lines(
        _("**Open questions past their {sla} h SLA ({total}):**", sla=sla,
          total=Number(figures.overdue_total)),
        *(
            _("• #{id} · {asker} · {age} — {text}", id=question_id,
              asker=asker or _("a member"), age=_age(now - asked_at), text=excerpt(text, 60))
            for question_id, asker, asked_at, text in figures.overdue
        ),
        _and_more(figures.overdue_total - len(figures.overdue)),
    )  # fmt: skip


def _prompts(figures: Figures, zone: ZoneInfo) -> Message:
    if not figures.prompts:
        return _("**Prompts this week:** none posted.")
    several = len({row[1] for row in figures.prompts}) > 1
    return lines(
        _("**Prompts this week ({total}):**", total=Number(len(figures.prompts))),
        *(_prompt(row, zone, several) for row in figures.prompts[:SHOWN]),
        _and_more(len(figures.prompts) - SHOWN),
    )


def _prompt(row: tuple, zone: ZoneInfo, several: bool) -> Message:
    posted_at, platform, channel, text, responses, responders = row
    said = {
        "day": _day(posted_at.astimezone(zone)),
        "where": _channel(platform, channel, several),
        "text": excerpt(text, 60),
        "n": Number(responses),
    }
    if not responses:
        return n_("• {day} in {where} · {n} reply — {text}",
                  "• {day} in {where} · {n} replies — {text}", responses, **said)  # fmt: skip
    return n_(
        "• {day} in {where} · {n} reply from {members} — {text}",
        "• {day} in {where} · {n} replies from {members} — {text}",
        responses, **said,
        members=n_("{n} member", "{n} members", responders, n=Number(responders)),
    )  # fmt: skip


def _busiest(figures: Figures) -> Message:
    if not figures.channels:
        return _("**Busiest channels:** no posts this week.")
    several = len({row[0] for row in figures.channels}) > 1
    return lines(
        _("**Busiest channels:**"),
        *(
            _("• {channel} · {messages}, {replies} · {members}",
              channel=_channel(platform, channel, several),
              messages=n_("{n} message", "{n} messages", messages, n=Number(messages)),
              replies=n_("{n} reply", "{n} replies", replies, n=Number(replies)),
              members=n_("{n} member active", "{n} members active", people, n=Number(people)))
            for platform, channel, messages, replies, people in figures.channels
        ),
    )  # fmt: skip


def _undelivered(figures: Figures, zone: ZoneInfo) -> Message | None:
    if not figures.undelivered_total:
        return None
    return lines(
        _("**Notices I could not deliver ({total}):**", total=Number(figures.undelivered_total)),
        *(
            _("• {subject} ({kind}) to {to}: {reason}", subject=_subject(subject, zone),
              kind=kind, to=to or _("a channel"), reason=_reason(error))
            for subject, kind, to, error in figures.undelivered
        ),
        _and_more(figures.undelivered_total - len(figures.undelivered)),
    )  # fmt: skip


def _subject(subject: str, zone: ZoneInfo) -> Message:
    """What a notice was about, as a reader reads it: `question:12` is question #12."""
    feature, _sep, key = subject.partition(":")
    if feature == "question":
        return _("question #{id}", id=key)
    if feature == "event":
        return _("event #{id}", id=key)
    if feature == "call":
        return _("call #{id}", id=key)
    if feature == "offer":
        return _("offer #{id}", id=key)
    if feature == "prompt":
        return _("prompt posting #{id}", id=key)
    if feature == "schedule":  # `schedule:3@20260302T0900`: a slot with the queue empty
        return _("prompt schedule #{id}", id=key.partition("@")[0])
    if feature == "digest":  # `digest:2026-03-02T08:00`, in UTC
        try:
            due = datetime.fromisoformat(key).replace(tzinfo=UTC)
        except ValueError:
            return verbatim(subject)
        return _("weekly digest of {day}", day=_day(due.astimezone(zone)))
    return verbatim(subject)


def _reason(error: str | None) -> Message:
    """Why a notice did not go: the outbox's own words in the reader's language, else the
    platform's as it gave them."""
    if not error:
        return _("no reason given")
    if error == NO_ACCOUNT:
        return _("no account on a running platform")
    return verbatim(error)


def _and_more(more: int) -> Message | None:
    return n_("… and {n} more.", "… and {n} more.", more, n=Number(more)) if more > 0 else None


def _more(names: list[str], total: int) -> Message:
    shown = join((verbatim(name) if name else _("a member") for name in names), ", ")
    more = total - len(names)
    if more <= 0:
        return shown
    return n_("{names} and {n} more", "{names} and {n} more", more, names=shown, n=Number(more))


def _day(moment: datetime) -> Day:
    return Day(moment, "EEE d MMM")


def _age(waited: timedelta) -> Message:
    hours = int(waited.total_seconds() // 3600)
    if hours < 48:
        return n_("{n} h", "{n} h", hours)
    return n_("{n} day", "{n} days", hours // 24)


def _channel(platform: str, name: str | None, several_platforms: bool) -> Message | str:
    label = name or _("a channel")
    if several_platforms:
        return _("{channel} ({platform})", channel=label, platform=platform.capitalize())
    return label
