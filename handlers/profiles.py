"""Profiles and expertise: `profile`, `profile city|org|role|timezone`, `expertise`,
`expertise add|remove`, `experts`.

Expertise rows are `offers` (can help with) or `wants` (wants to learn). `expertise add`
declares offers; the welcome conversation fills both. `expertise remove` takes a topic off a
profile altogether (offers and wants), so a member can tidy either with one command.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import members, timezones
from bot.commands import Command, a
from bot.context import Context
from bot.errors import CommandError, UsageError
from bot.models import Expertise, Identity, Member, Topic
from bot.router import Router
from handlers.topics import service as topics

router = Router()

OFFERS = "offers"
WANTS = "wants"
CLEAR = "-"
MAX_EXPERTS_SHOWN = 10


@dataclass(frozen=True, slots=True)
class TextField:
    attribute: str
    label: str
    limit: int


TEXT_FIELDS = {
    "city": TextField("city", "city", 80),
    "org": TextField("org", "organisation", 120),
    "role": TextField("role_title", "role", 120),
}


def set_text_field(member: Member, field: str, value: str) -> str | None:
    """Set (or, with `-`, clear) a free-text profile field; returns the stored value. Raises
    UsageError for an empty or too long value."""
    spec = TEXT_FIELDS[field]
    value = " ".join(value.split())
    if not value:
        raise UsageError(f"What is your {spec.label}?")
    if value == CLEAR:
        setattr(member, spec.attribute, None)
        return None
    if len(value) > spec.limit:
        raise UsageError(f"That is too long for {a(spec.label)} (at most {spec.limit} characters).")
    setattr(member, spec.attribute, value)
    return value


async def expertise_of(session: AsyncSession, member_id: int) -> dict[str, list[str]]:
    """The topic names a member offers and wants, alphabetically."""
    rows = await session.execute(
        select(Expertise.kind, Topic.name)
        .join(Topic, Topic.id == Expertise.topic_id)
        .where(Expertise.member_id == member_id)
        .order_by(Topic.key)
    )
    found: dict[str, list[str]] = {OFFERS: [], WANTS: []}
    for kind, name in rows:
        found.setdefault(kind, []).append(name)
    return found


async def add_expertise(
    session: AsyncSession, member_id: int, names: list[str], kind: str, now: datetime
) -> tuple[list[str], list[str]]:
    """Add topics to a member's offers or wants (creating topics nobody has declared yet);
    returns (topic names as stored, the ones that are new topics). Flushes, never commits."""
    stored, created = [], []
    for name in names:
        topic, is_new = await topics.ensure(session, name, now)
        if topic.name in stored:
            continue
        stored.append(topic.name)
        if is_new:
            created.append(topic.name)
        if await session.get(Expertise, (member_id, topic.id, kind)) is None:
            session.add(
                Expertise(member_id=member_id, topic_id=topic.id, kind=kind, created_at=now)
            )
    await session.flush()
    return stored, created


_WORDING = {  # kind: (the list, what the member does)
    OFFERS: ("what you can help with", "offer"),
    WANTS: ("what you want to learn", "want to learn"),
}


async def declare(
    session: AsyncSession, member_id: int, names: list[str], kind: str, now: datetime
) -> str:
    """Add topics to a member's offers or wants (`add_expertise`) and say what was
    added and what was there already. Flushes, never commits."""
    before = set((await expertise_of(session, member_id))[kind])
    stored, created = await add_expertise(session, member_id, names, kind, now)
    listed, verb = _WORDING[kind]
    added = [name for name in stored if name not in before]
    already = [name for name in stored if name in before]
    parts = []
    if added:
        new = f" (new topic: {', '.join(created)})" if created else ""
        parts.append(f"Added to {listed}: {', '.join(added)}{new}.")
    if already:
        parts.append(f"You already {verb} {', '.join(already)}.")
    return " ".join(parts)


def _where(member: Member) -> str:
    parts = [p for p in (member.city, member.org) if p]
    return f" ({', '.join(parts)})" if parts else ""


async def render_profile(session: AsyncSession, member: Member, own: bool) -> str:
    known = await expertise_of(session, member.id)
    lines = [
        f"**{member.display_name}**",
        f"City: {member.city or 'not set'}",
        f"Organisation: {member.org or 'not set'}",
        f"Role: {member.role_title or 'not set'}",
        f"Timezone: {member.timezone or 'not set'}",
        f"Can help with: {', '.join(known[OFFERS]) or 'nothing listed yet'}",
        f"Wants to learn: {', '.join(known[WANTS]) or 'nothing listed yet'}",
    ]
    if member.is_away:
        lines.append("Away at the moment.")
    if own:
        platforms = sorted(
            set(
                await session.scalars(
                    select(Identity.platform).where(Identity.member_id == member.id)
                )
            )
        )
        lines.append(f"Accounts: {', '.join(platforms)}")
        lines.append(
            "Change it with `profile city|org|role|timezone <value>` and `expertise add <topic>`."
        )
    return "\n".join(lines)


@router.command(
    "profile",
    usage="profile [@user]",
    summary="show your profile or someone else's",
    example="profile @amina",
)
async def show_profile(ctx: Context, cmd: Command) -> str:
    async with ctx.db() as session:
        me = await ctx.sender.load(session)
        if not cmd.args:
            member = me
        else:
            try:
                member = await members.from_mention(session, ctx.platform, cmd.args)
            except CommandError as exc:
                raise UsageError(
                    f"{exc} To change your own profile: `profile city|org|role|timezone <value>`."
                ) from exc
        text = await render_profile(session, member, own=member.id == me.id)
        await session.commit()
    return text


def _text_field_command(field: str, placeholder: str, example: str) -> None:
    label = TEXT_FIELDS[field].label

    async def set_field(ctx: Context, cmd: Command) -> str:
        async with ctx.db() as session:
            member = await ctx.sender.load(session)
            value = set_text_field(member, field, cmd.args)
            await session.commit()
        return f"Saved: your {label} is {value}." if value else f"Cleared your {label}."

    router.command(
        f"profile {field}",
        usage=f"profile {field} <{placeholder}>",
        summary=f"set your {label} (`-` clears it)",
        example=f"profile {field} {example}",
    )(set_field)


_text_field_command("city", "city", "Nairobi")
_text_field_command("org", "organisation", "City of Nairobi")
_text_field_command("role", "role", "Budget officer")


@router.command(
    "profile timezone",
    usage="profile timezone <Area/City>",
    summary="set your timezone (`-` clears it)",
    example="profile timezone Africa/Nairobi",
)
async def set_timezone(ctx: Context, cmd: Command) -> str:
    value = None if cmd.args.strip() == CLEAR else timezones.name(cmd.args)
    async with ctx.db() as session:
        member = await ctx.sender.load(session)
        member.timezone = value
        await session.commit()
    return f"Saved: your timezone is {value}." if value else "Cleared your timezone."


@router.command("expertise", usage="expertise", summary="what you can help with and want to learn")
async def list_expertise(ctx: Context, cmd: Command) -> str:
    if cmd.args:
        raise UsageError(
            "Use `expertise add|remove <topic>` (what you can help with) or "
            "`expertise learn|unlearn <topic>` (what you want to learn)."
        )
    async with ctx.db() as session:
        known = await expertise_of(session, ctx.sender.member_id)
    if not known[OFFERS] and not known[WANTS]:
        return "You have not listed any topics yet. Add some: `expertise add budgeting, audit`."
    lines = [f"You can help with: {', '.join(known[OFFERS]) or 'nothing listed yet'}"]
    if known[WANTS]:
        lines.append(f"You want to learn: {', '.join(known[WANTS])}")
    return "\n".join(lines)


@router.command(
    "expertise add",
    usage="expertise add <topic>[, <topic>...]",
    summary="say what you can help with",
    example="expertise add budgeting, procurement",
)
async def add_offers(ctx: Context, cmd: Command) -> str:
    names = topics.split_names(cmd.args)
    async with ctx.db() as session:
        answer = await declare(session, ctx.sender.member_id, names, OFFERS, ctx.now())
        await session.commit()
    return answer


@router.command(
    "expertise remove",
    usage="expertise remove <topic>[, <topic>...]",
    summary="take topics off your profile",
    example="expertise remove procurement",
)
async def remove_expertise(ctx: Context, cmd: Command) -> str:
    names = topics.split_names(cmd.args)
    async with ctx.db() as session:
        mine = {
            topic.id: topic
            for topic in await session.scalars(
                select(Topic)
                .join(Expertise, Expertise.topic_id == Topic.id)
                .where(Expertise.member_id == ctx.sender.member_id)
            )
        }
        removed = []
        for name in names:
            topic = await topics.find(session, name)
            if topic is None or topic.id not in mine:
                listed = ", ".join(sorted(t.name for t in mine.values())) or "nothing yet"
                raise CommandError(
                    f"`{name[:40]}` is not on your profile, so nothing was removed. "
                    f"Your topics: {listed}."
                )
            removed.append(topic)
        await session.execute(
            delete(Expertise).where(
                Expertise.member_id == ctx.sender.member_id,
                Expertise.topic_id.in_([t.id for t in removed]),
            )
        )
        await session.commit()
    return f"Removed from your profile: {', '.join(t.name for t in removed)}."


@router.command(
    "experts",
    usage="experts <topic>",
    summary="who can help with a topic",
    example="experts budgeting",
)
async def experts(ctx: Context, cmd: Command) -> str:
    if not cmd.args.strip():
        raise UsageError("Which topic? For example: experts budgeting")
    name = topics.clean_name(cmd.args)
    async with ctx.db() as session:
        topic = await topics.find(session, name)
        if topic is None:
            close = await topics.closest(session, name)
            raise CommandError(
                f"Nobody has declared a topic like `{name[:40]}` yet."
                + (topics.did_you_mean(close) or " Type `topics` to see them all.")
            )
        helpers = (
            await session.scalars(
                select(Member)
                .join(Expertise, Expertise.member_id == Member.id)
                .where(
                    Expertise.topic_id == topic.id,
                    Expertise.kind == OFFERS,
                    Member.is_bot.is_(False),
                )
                .order_by(Member.is_away, Member.display_name)
            )
        ).all()
    if not helpers:
        return f"Nobody has said they can help with {topic.name} yet."
    shown = [
        f"• {m.display_name}{_where(m)}{' (away)' if m.is_away else ''}"
        for m in helpers[:MAX_EXPERTS_SHOWN]
    ]
    more = len(helpers) - MAX_EXPERTS_SHOWN
    if more > 0:
        shown.append(f"… and {more} more.")
    return f"Who can help with {topic.name}:\n" + "\n".join(shown)
