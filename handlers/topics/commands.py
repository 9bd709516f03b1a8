"""The community's topics: `topics`, and for facilitators `topic add <name>[: keyword, ...]`
and `topic remove <name>`."""

from __future__ import annotations

from sqlalchemy import case, func, select

from bot import roles, topics
from bot.arguments import Rest, TopicName
from bot.commands import Command
from bot.context import Context
from bot.errors import CommandError, UsageError
from bot.models import Expertise, Topic
from bot.router import Router

router = Router()

MAX_LISTED = 100


@router.command(
    "topics",
    extra="`topics` lists them all; to find people, type `experts <topic>`.",
    summary="the community's topics",
)
async def list_topics(ctx: Context, cmd: Command) -> str:
    async with ctx.db() as session:
        rows = (
            await session.execute(
                select(
                    Topic,
                    func.count(case((Expertise.kind == "offers", 1))),
                    func.count(case((Expertise.kind == "wants", 1))),
                )
                .outerjoin(Expertise, Expertise.topic_id == Topic.id)
                .group_by(Topic.id)
                .order_by(Topic.key)
            )
        ).all()
    if not rows:
        return (
            "No topics yet. Members add them with `expertise add <topic>`; "
            "facilitators with `topic add <name>`."
        )
    lines = [f"Topics ({len(rows)}):"]
    for topic, offers, wants in rows[:MAX_LISTED]:
        figures = [f"{offers} can help"] + ([f"{wants} want to learn"] if wants else [])
        keywords = topics.keywords_of(topic)
        also = f"; keywords: {', '.join(keywords)}" if keywords else ""
        lines.append(f"• {topic.name} ({', '.join(figures)}{also})")
    if len(rows) > MAX_LISTED:
        lines.append(f"… and {len(rows) - MAX_LISTED} more.")
    lines.append("Type `experts <topic>` to see who can help.")
    return "\n".join(lines)


def _parse_topic_add(text: str) -> tuple[str, list[str]]:
    """`name: keyword, keyword` as (name, keywords)."""
    name_part, colon, keyword_part = text.partition(":")
    name = topics.clean_name(name_part)
    keywords = topics.split_names(keyword_part) if colon and keyword_part.strip() else []
    if colon and not keywords:
        raise UsageError("Give keywords after the colon, or leave the colon out.")
    return name, keywords


@router.command(
    "topic add",
    args=[Rest("name", label="<name>[: keyword, ...]", missing="Which topic?")],
    summary="add a topic, or keywords to one",
    example="topic add Budgeting: budget, PFM, MTEF",
    roles=[roles.FACILITATOR],
)
async def add_topic(ctx: Context, cmd: Command) -> str:
    name, keywords = _parse_topic_add(cmd.values.name)
    async with ctx.db() as session:
        topic = await topics.exact(session, name)
        if topic is None:
            similar = ", ".join(t.name for t in await topics.closest(session, name))
            topic = await topics.create(session, name, ctx.now(), keywords)
            await session.commit()
            with_keywords = f" with keywords {', '.join(keywords)}" if keywords else ""
            near = f" Similar topics already exist: {similar}." if similar else ""
            return f"Added topic {topic.name}{with_keywords}.{near}"
        known = topics.keywords_of(topic)
        known_keys = {topics.key_of(k) for k in known}
        new = [k for k in keywords if topics.key_of(k) not in known_keys]
        if not new:
            listed = f" (keywords: {', '.join(known)})" if known else ""
            return f"Topic {topic.name} already exists{listed}."
        topic.keywords = ", ".join([*known, *new])
        await session.commit()
    return f"Topic {topic.name} already existed; its keywords are now: {topic.keywords}."


@router.command(
    "topic remove",
    args=[TopicName("name", missing="Which topic?")],
    summary="remove a topic (members' expertise in it goes too)",
    example="topic remove Procurement",
    roles=[roles.FACILITATOR],
)
async def remove_topic(ctx: Context, cmd: Command) -> str:
    name = cmd.values.name
    async with ctx.db() as session:
        topic = await topics.exact(session, name)
        if topic is None:
            raise CommandError(await topics.unknown(session, name) + " Nothing was removed.")
        holders = await session.scalar(
            select(func.count(func.distinct(Expertise.member_id))).where(
                Expertise.topic_id == topic.id
            )
        )
        await session.delete(topic)
        await session.commit()
    held = f" It was on {holders} member profile{'s' if holders != 1 else ''}." if holders else ""
    return f"Removed topic {topic.name}.{held}"
