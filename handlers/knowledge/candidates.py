"""Library candidates: past threads that look like answered questions, found while history
was imported (`bot.models.LibraryCandidate`), offered to facilitators. `library candidates`
lists them, `library keep <n>` keeps one as a solved question is kept (`keeping.keep`:
attributed to its asker, linked to its thread, with its answers and their authors' names),
`library drop <n>` lets it go. A candidate's text stays only until it is kept or dropped,
and at most `KEPT_FOR`: the hourly job (and every one of these commands, first) lets it go."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import i18n, roles, topics
from bot.arguments import Number
from bot.commands import Command, excerpt
from bot.context import Context, Services
from bot.errors import CommandError
from bot.i18n import Day, Message, _, lines, n_
from bot.models import Channel, LibraryCandidate, Member
from bot.moments import own_zone
from bot.router import Router
from bot.types import ChannelRef
from handlers.knowledge import keeping

router = Router()

OPEN, KEPT, DROPPED, EXPIRED = "open", "kept", "dropped", "expired"
KEPT_FOR = timedelta(days=30)
LISTED = 15
EXCERPT = 80
WHICH_TO_KEEP = _("Which candidate? For example: library keep 3")
WHICH_TO_DROP = _("Which candidate? For example: library drop 3")


@dataclass(frozen=True, slots=True)
class AskedOn:
    """The day a past question was asked, in the reader's own time zone when they have one,
    else the community's, in the reader's conventions."""

    at: datetime
    zone: str

    def render(self, language: str) -> str:
        shown = own_zone(i18n.reader_zone()) or ZoneInfo(self.zone)
        return Day(self.at.astimezone(shown).date(), "dd MMM y").render(language)


@router.command(
    "library candidates",
    extra=_("Just `library candidates`."),
    summary="answered threads from imported history, waiting to be kept in the library",
    example="library candidates",
    roles=[roles.FACILITATOR],
)
async def candidates(ctx: Context, cmd: Command) -> Message:
    await expire(ctx)
    waiting = LibraryCandidate.status == OPEN
    async with ctx.db() as session:
        total = await session.scalar(
            select(func.count()).select_from(LibraryCandidate).where(waiting)
        )
        rows = (
            await session.execute(
                select(LibraryCandidate, Channel, Member.display_name)
                .join(Channel, Channel.id == LibraryCandidate.channel_id)
                .outerjoin(Member, Member.id == LibraryCandidate.asked_by)
                .where(waiting)
                .order_by(LibraryCandidate.asked_at, LibraryCandidate.id)
                .limit(LISTED)
            )
        ).all()
    if not rows:
        return _(
            "No library candidates are waiting. When past history is imported, the answered "
            "threads found in it wait here for a facilitator to keep or drop."
        )
    links = await asyncio.gather(
        *(ctx.permalink(_ref(channel), candidate.message_id) for candidate, channel, _n in rows)
    )
    more = total - len(rows)
    heading = n_(
        "{n} answered thread from imported history is waiting for the library:",
        "{n} answered threads from imported history are waiting for the library:",
        total,
    )
    return lines(
        heading,
        *(_line(ctx, *row, link) for row, link in zip(rows, links, strict=True)),
        n_("… and {n} more.", "… and {n} more.", more) if more > 0 else None,
        _("Keep one with `library keep <n>`, or let it go with `library drop <n>`."),
    )


def _line(
    ctx: Context, candidate: LibraryCandidate, channel: Channel, asker: str | None, link: str | None
) -> Message:
    said = {
        "id": candidate.id,
        "question": excerpt(candidate.question or "", EXCERPT),
        "asker": asker or _("someone"),
        "day": AskedOn(candidate.asked_at, ctx.settings.timezone),
        "answers": n_("{n} answer", "{n} answers", len(candidate.answers or [])),
        "channel": channel.name or channel.channel_id,
    }
    if link:
        return _("• #{id} {question} — {asker}, {day} · {answers} · {channel} · {link}",
                 link=link, **said)  # fmt: skip
    return _("• #{id} {question} — {asker}, {day} · {answers} · {channel}", **said)


@router.command(
    "library keep",
    args=[Number("n", missing=WHICH_TO_KEEP)],
    extra=WHICH_TO_KEEP,
    summary="keep a library candidate in the library, as a solved question",
    example="library keep 3",
    roles=[roles.FACILITATOR],
)
async def keep(ctx: Context, cmd: Command) -> Message:
    number = cmd.values.n
    await expire(ctx)
    async with ctx.db() as session:
        row = (
            await session.execute(
                select(LibraryCandidate, Channel)
                .join(Channel, Channel.id == LibraryCandidate.channel_id)
                .where(LibraryCandidate.id == number)
            )
        ).first()
        if row is None:
            raise CommandError(_no_such(number))
        candidate, channel = row
        if candidate.status != OPEN:
            raise CommandError(_decided(candidate))
        if not await _claim(ctx, session, number, status=KEPT):
            raise CommandError(await _decided_now(session, number))
        await session.commit()
    question = candidate.question or ""
    try:
        async with ctx.db() as session:
            said = await _said(session, candidate.answers or [], ctx.languages.default)
            found = topics.mentioned_in(await topics.every_label(session), question)
        entry = await keeping.keep(
            ctx, _ref(channel), candidate.message_id, question, said,
            author_id=candidate.asked_by, topic_ids=[s.topic.id for s in found],
            channel_id=channel.id,
        )  # fmt: skip
    except BaseException:
        await _release(ctx, number)
        raise
    async with ctx.db() as session:
        await session.execute(
            update(LibraryCandidate)
            .where(LibraryCandidate.id == number)
            .values(entry_id=entry.id, question=null(), answers=null())
        )
        await session.commit()
    return _("Kept candidate #{id} in the library as #{entry} ({title}). Anyone finds it with "
             "`search`.", id=number, entry=entry.id, title=entry.title)  # fmt: skip


@router.command(
    "library drop",
    args=[Number("n", missing=WHICH_TO_DROP)],
    extra=WHICH_TO_DROP,
    summary="let a library candidate go, with its text",
    example="library drop 3",
    roles=[roles.FACILITATOR],
)
async def drop(ctx: Context, cmd: Command) -> Message:
    number = cmd.values.n
    await expire(ctx)
    async with ctx.db() as session:
        if not await _claim(ctx, session, number, status=DROPPED, question=null(), answers=null()):
            raise CommandError(await _decided_now(session, number))
        await session.commit()
    return _("Dropped candidate #{id}; its text is gone.", id=number)


async def _claim(ctx: Context, session: AsyncSession, number: int, **values: object) -> bool:
    """Decide an open candidate, if it is still open (flushed, not committed): of two
    facilitators deciding it at once, one does."""
    done = await session.execute(
        update(LibraryCandidate)
        .where(LibraryCandidate.id == number, LibraryCandidate.status == OPEN)
        .values(decided_at=ctx.now(), decided_by=ctx.sender.member_id, **values)
    )
    return done.rowcount == 1


async def _release(ctx: Services, number: int) -> None:
    """Open a candidate again whose keeping failed."""
    async with ctx.db() as session:
        await session.execute(
            update(LibraryCandidate)
            .where(
                LibraryCandidate.id == number,
                LibraryCandidate.status == KEPT,
                LibraryCandidate.entry_id.is_(None),
            )
            .values(status=OPEN, decided_at=None, decided_by=None)
        )
        await session.commit()


async def _said(session: AsyncSession, answers: list[dict], language: str) -> list[str]:
    """The answers as `name: text` lines, oldest first, under their authors' names now (an
    erased member's is the neutral one erasure gave)."""
    ids = {answer["member_id"] for answer in answers}
    found = await session.execute(select(Member.id, Member.display_name).where(Member.id.in_(ids)))
    names = {member_id: name for member_id, name in found}
    unknown = i18n.render(_("someone"), language)
    return [
        f"{names.get(answer['member_id']) or unknown}: {' '.join(answer['text'].split())}"
        for answer in answers
        if answer["text"].strip()
    ]


def _ref(channel: Channel) -> ChannelRef:
    return ChannelRef(channel.platform, channel.channel_id, channel.name)


def _no_such(number: int) -> Message:
    return _("There is no library candidate #{id}. Type `library candidates` to see them.",
             id=number)  # fmt: skip


def _decided(candidate: LibraryCandidate) -> Message:
    """Why a candidate that is no longer open cannot be decided."""
    if candidate.status == KEPT and candidate.entry_id is not None:
        return _("Candidate #{id} is already in the library as #{entry}.", id=candidate.id,
                 entry=candidate.entry_id)  # fmt: skip
    if candidate.status == KEPT:
        return _("Candidate #{id} is being kept in the library already.", id=candidate.id)
    if candidate.status == EXPIRED:
        return n_(
            "Candidate #{id} waited more than {n} day, so its text was let go.",
            "Candidate #{id} waited more than {n} days, so its text was let go.",
            KEPT_FOR.days, id=candidate.id,
        )  # fmt: skip
    return _("Candidate #{id} was dropped already.", id=candidate.id)


async def _decided_now(session: AsyncSession, number: int) -> Message:
    """Why a candidate could not be claimed: it is not there, or someone decided it."""
    await session.rollback()
    candidate = await session.get(LibraryCandidate, number, populate_existing=True)
    return _no_such(number) if candidate is None else _decided(candidate)


@router.every("library-candidates", minutes=60)
async def expire(ctx: Services) -> int:
    """Let go of the text of candidates found more than `KEPT_FOR` ago: those still open
    expire (and are no longer offered), and a keeping cut short loses its text too. Returns
    how many expired."""
    now = ctx.now()
    old = LibraryCandidate.found_at <= now - KEPT_FOR
    async with ctx.db() as session:
        done = await session.execute(
            update(LibraryCandidate)
            .where(old, LibraryCandidate.status == OPEN)
            .values(status=EXPIRED, decided_at=now, question=null(), answers=null())
        )
        await session.execute(
            update(LibraryCandidate)
            .where(
                old,
                or_(LibraryCandidate.question.is_not(None), LibraryCandidate.answers.is_not(None)),
            )
            .values(question=null(), answers=null())
        )
        await session.commit()
    return done.rowcount
