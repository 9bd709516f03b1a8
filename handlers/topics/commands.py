"""The community's topics: `topics`, and for facilitators `topic add <name>[: keyword, ...]`
and `topic remove <name>`."""

from __future__ import annotations

from sqlalchemy import case, func, select

from bot import roles, topics
from bot.arguments import Rest, TopicName
from bot.commands import Command
from bot.context import Context
from bot.errors import CommandError, UsageError
from bot.i18n import Message, _, lines, n_
from bot.models import Expertise, Topic
from bot.router import Router

router = Router()

MAX_LISTED = 100
WHICH_TOPIC = _("Which topic?")


@router.command(
    "topics",
    extra=_("`topics` lists them all; to find people, type `experts <topic>`."),
    summary="the community's topics",
)
async def list_topics(ctx: Context, cmd: Command) -> Message:
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
        return _(
            "No topics yet. Members add them with `expertise add <topic>`; "
            "facilitators with `topic add <name>`."
        )
    more = len(rows) - MAX_LISTED
    return lines(
        _("Topics ({n}):", n=len(rows)),
        *(_listed(topic, offers, wants) for topic, offers, wants in rows[:MAX_LISTED]),
        n_("… and {n} more.", "… and {n} more.", more) if more > 0 else None,
        _("Type `experts <topic>` to see who can help."),
    )


def _listed(topic: Topic, offers: int, wants: int) -> Message:
    """`• Budgeting (3 can help, 1 want to learn; keywords: budget, PFM)`."""
    figures = lines(
        n_("{n} can help", "{n} can help", offers),
        n_("{n} want to learn", "{n} want to learn", wants) if wants else None,
        sep=", ",
    )
    keywords = topics.keywords_of(topic)
    if keywords:
        return _("• {topic} ({figures}; keywords: {keywords})", topic=topic.name,
                 figures=figures, keywords=", ".join(keywords))  # fmt: skip
    return _("• {topic} ({figures})", topic=topic.name, figures=figures)


def _parse_topic_add(text: str) -> tuple[str, list[str]]:
    """`name: keyword, keyword` as (name, keywords)."""
    name_part, colon, keyword_part = text.partition(":")
    name = topics.clean_name(name_part)
    keywords = topics.split_names(keyword_part) if colon and keyword_part.strip() else []
    if colon and not keywords:
        raise UsageError(_("Give keywords after the colon, or leave the colon out."))
    return name, keywords


@router.command(
    "topic add",
    args=[Rest("name", label="<name>[: keyword, ...]", missing=WHICH_TOPIC)],
    summary="add a topic, or keywords to one",
    example="topic add Budgeting: budget, PFM, MTEF",
    roles=[roles.FACILITATOR],
)
async def add_topic(ctx: Context, cmd: Command) -> Message:
    name, keywords = _parse_topic_add(cmd.values.name)
    async with ctx.db() as session:
        topic = await topics.exact(session, name)
        if topic is None:
            similar = ", ".join(t.name for t in await topics.closest(session, name))
            topic = await topics.create(session, name, ctx.now(), keywords)
            await session.commit()
            if keywords:
                added = _("Added topic {topic} with keywords {keywords}.", topic=topic.name,
                          keywords=", ".join(keywords))  # fmt: skip
            else:
                added = _("Added topic {topic}.", topic=topic.name)
            near = _("Similar topics already exist: {names}.", names=similar) if similar else None
            return lines(added, near, sep=" ")
        known = topics.keywords_of(topic)
        known_keys = {topics.key_of(k) for k in known}
        new = [k for k in keywords if topics.key_of(k) not in known_keys]
        if not new:
            if known:
                return _("Topic {topic} already exists (keywords: {keywords}).",
                         topic=topic.name, keywords=", ".join(known))  # fmt: skip
            return _("Topic {topic} already exists.", topic=topic.name)
        topic.keywords = ", ".join([*known, *new])
        await session.commit()
    return _("Topic {topic} already existed; its keywords are now: {keywords}.",
             topic=topic.name, keywords=topic.keywords)  # fmt: skip


@router.command(
    "topic remove",
    args=[TopicName("name", missing=WHICH_TOPIC)],
    summary="remove a topic (members' expertise in it goes too)",
    example="topic remove Procurement",
    roles=[roles.FACILITATOR],
)
async def remove_topic(ctx: Context, cmd: Command) -> Message:
    name = cmd.values.name
    async with ctx.db() as session:
        topic = await topics.exact(session, name)
        if topic is None:
            unknown = await topics.unknown(session, name)
            raise CommandError(lines(unknown, _("Nothing was removed."), sep=" "))
        holders = await session.scalar(
            select(func.count(func.distinct(Expertise.member_id))).where(
                Expertise.topic_id == topic.id
            )
        )
        await session.delete(topic)
        await session.commit()
    if not holders:
        return _("Removed topic {topic}.", topic=topic.name)
    return n_("Removed topic {topic}. It was on {n} member profile.",
              "Removed topic {topic}. It was on {n} member profiles.", holders,
              topic=topic.name)  # fmt: skip
