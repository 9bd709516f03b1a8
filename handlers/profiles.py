"""Profiles and expertise: `profile`, `profile city|org|role|timezone`, `expertise`,
`expertise add|remove`, `experts`.

Expertise rows are `offers` (can help with) or `wants` (wants to learn). `expertise add`
declares offers; the welcome conversation fills both. `expertise remove` takes a topic off a
profile altogether (offers and wants), so a member can tidy either with one command.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import expertise, members, timezones, topics
from bot.arguments import Rest, TopicName, TopicNames, Zone
from bot.commands import Command
from bot.context import Context
from bot.errors import CommandError, UsageError
from bot.models import Expertise, Identity, Member, Topic
from bot.router import Router

router = Router()

CLEAR = members.CLEAR
MAX_EXPERTS_SHOWN = 10
WHICH_TOPICS = "Which topic? For example: budgeting, procurement"
EXPERTISE_COMMANDS = (
    "Use `expertise add|remove <topic>` (what you can help with) or "
    "`expertise learn|unlearn <topic>` (what you want to learn)."
)


@dataclass(frozen=True)
class _ZoneOrClear(Zone):
    """A time zone, or `-` to clear it (None)."""

    def parse(self, word: str) -> str | None:
        return None if word == CLEAR else super().parse(word)


def _where(member: Member) -> str:
    parts = [p for p in (member.city, member.org) if p]
    return f" ({', '.join(parts)})" if parts else ""


async def render_profile(session: AsyncSession, member: Member, own: bool) -> str:
    known = await expertise.expertise_of(session, member.id)
    lines = [
        f"**{member.display_name}**",
        f"City: {member.city or 'not set'}",
        f"Organisation: {member.org or 'not set'}",
        f"Role: {member.role_title or 'not set'}",
        f"Timezone: {member.timezone or 'not set'}",
        f"Can help with: {', '.join(known[expertise.OFFERS]) or 'nothing listed yet'}",
        f"Wants to learn: {', '.join(known[expertise.WANTS]) or 'nothing listed yet'}",
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
    args=[Rest("member", default="", label="@user")],
    summary="show your profile or someone else's",
    example="profile @amina",
)
async def show_profile(ctx: Context, cmd: Command) -> str:
    async with ctx.db() as session:
        me = await ctx.sender.load(session)
        if not cmd.values.member:
            member = me
        else:
            try:
                member = await members.from_mention(session, ctx.platform, cmd.values.member)
            except CommandError as exc:
                raise UsageError(
                    f"{exc} To change your own profile: `profile city|org|role|timezone <value>`."
                ) from exc
        text = await render_profile(session, member, own=member.id == me.id)
        await session.commit()
    return text


def _text_field_command(field: str, placeholder: str, example: str) -> None:
    label = members.TEXT_FIELDS[field].label

    async def set_field(ctx: Context, cmd: Command) -> str:
        async with ctx.db() as session:
            member = await ctx.sender.load(session)
            value = members.set_text_field(member, field, cmd.values.value)
            await session.commit()
        return f"Saved: your {label} is {value}." if value else f"Cleared your {label}."

    router.command(
        f"profile {field}",
        args=[Rest("value", label=f"<{placeholder}>", missing=f"What is your {label}?")],
        summary=f"set your {label} (`-` clears it)",
        example=f"profile {field} {example}",
    )(set_field)


_text_field_command("city", "city", "Nairobi")
_text_field_command("org", "organisation", "City of Nairobi")
_text_field_command("role", "role", "Budget officer")


@router.command(
    "profile timezone",
    args=[_ZoneOrClear(label="<Area/City>", missing=f"Which timezone? {timezones.EXAMPLE}")],
    extra=f"Give one timezone. {timezones.EXAMPLE}",
    summary="set your timezone (`-` clears it)",
    example="profile timezone Africa/Nairobi",
)
async def set_timezone(ctx: Context, cmd: Command) -> str:
    value = cmd.values.zone
    async with ctx.db() as session:
        member = await ctx.sender.load(session)
        member.timezone = value
        await session.commit()
    return f"Saved: your timezone is {value}." if value else "Cleared your timezone."


@router.command(
    "expertise", extra=EXPERTISE_COMMANDS, summary="what you can help with and want to learn"
)
async def list_expertise(ctx: Context, cmd: Command) -> str:
    async with ctx.db() as session:
        known = await expertise.expertise_of(session, ctx.sender.member_id)
    if not known[expertise.OFFERS] and not known[expertise.WANTS]:
        return "You have not listed any topics yet. Add some: `expertise add budgeting, audit`."
    lines = [f"You can help with: {', '.join(known[expertise.OFFERS]) or 'nothing listed yet'}"]
    if known[expertise.WANTS]:
        lines.append(f"You want to learn: {', '.join(known[expertise.WANTS])}")
    return "\n".join(lines)


@router.command(
    "expertise add",
    args=[TopicNames(missing=WHICH_TOPICS)],
    summary="say what you can help with",
    example="expertise add budgeting, procurement",
)
async def add_offers(ctx: Context, cmd: Command) -> str:
    return await expertise.declare_now(
        ctx, ctx.sender.member_id, cmd.values.topics, expertise.OFFERS
    )


@router.command(
    "expertise remove",
    args=[TopicNames(missing=WHICH_TOPICS)],
    summary="take topics off your profile",
    example="expertise remove procurement",
)
async def remove_expertise(ctx: Context, cmd: Command) -> str:
    names = cmd.values.topics
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
    args=[TopicName(missing="Which topic? For example: experts budgeting")],
    summary="who can help with a topic",
    example="experts budgeting",
)
async def experts(ctx: Context, cmd: Command) -> str:
    async with ctx.db() as session:
        topic = await topics.known(session, cmd.values.topic)
        helpers = (
            await session.scalars(
                select(Member)
                .join(Expertise, Expertise.member_id == Member.id)
                .where(
                    Expertise.topic_id == topic.id,
                    Expertise.kind == expertise.OFFERS,
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
