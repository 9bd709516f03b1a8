"""Commands: `search <words>`, `resources [<topic>]`, and for facilitators `resource add` and
`resource remove`."""

from __future__ import annotations

from sqlalchemy import select

from bot import roles, topics
from bot.arguments import Number, Rest, TopicName, Word
from bot.commands import Command
from bot.context import Context
from bot.errors import CommandError
from bot.models import KnowledgeEntry, KnowledgeTopic
from bot.router import Router
from handlers.knowledge import library

router = Router()

LISTED = 15
LINK_AND_TITLE = "Give a link and a title."
WHICH_RESOURCE = "Which resource? For example: resource remove 4"


@router.command(
    "search",
    args=[Rest("words", missing="What should I look for? For example: search budget forecasting")],
    summary='solved questions and resources that match, best first ("quotes" for a phrase)',
    example="search multi-year budget",
)
async def search(ctx: Context, cmd: Command) -> str:
    words = cmd.values.words
    hits = await ctx.db.read(library.search, words)
    async with ctx.db() as session:
        await library.shown(session, hits)
        await session.commit()
    if not hits:
        return f"Nothing in the library matches {words[:60]}. Ask the community with `ask`."
    lines = [f"The library on {words[:60]}:"]
    for hit in hits:
        lines.append(await line(ctx, hit))
    return "\n".join(lines)


async def line(ctx: Context, hit: library.Hit) -> str:
    """One result: number, title, excerpt, topics and a link."""
    entry = hit.entry
    topics_ = f" · {', '.join(hit.topics)}" if hit.topics else ""
    where = await library.link(ctx, entry) or f"question #{entry.question_id}"
    excerpt = f" — {hit.excerpt}" if hit.excerpt and hit.excerpt != entry.title else ""
    return f"• #{entry.id} {entry.title}{excerpt}{topics_} · {where}"


@router.command(
    "resources",
    args=[TopicName(optional=True)],
    summary="guides, toolkits and recordings (for a topic)",
    example="resources budgeting",
)
async def resources(ctx: Context, cmd: Command) -> str:
    name = cmd.values.topic
    query = select(KnowledgeEntry).where(KnowledgeEntry.url.is_not(None))
    async with ctx.db() as session:
        topic = None
        if name is not None:
            topic = await topics.known(session, name)
            query = query.join(KnowledgeTopic, KnowledgeTopic.entry_id == KnowledgeEntry.id).where(
                KnowledgeTopic.topic_id == topic.id
            )
        rows = list(
            await session.scalars(query.order_by(KnowledgeEntry.created_at.desc()).limit(LISTED))
        )
        names = await session.run_sync(library.topic_names, [r.id for r in rows])
    if not rows:
        where = f" on {topic.name}" if topic else ""
        return f"No resources{where} yet. Facilitators add them with `resource add <url> <title>`."
    lines = [f"Resources{f' on {topic.name}' if topic else ''}:"]
    for row in rows:
        tags = f" · {', '.join(names[row.id])}" if names.get(row.id) else ""
        lines.append(f"• #{row.id} {row.title} — {row.url}{tags}")
    return "\n".join(lines)


@router.command(
    "resource add",
    args=[
        Word("url", missing=LINK_AND_TITLE),
        Rest("title", label="<title>[: topic, ...]", missing=LINK_AND_TITLE),
    ],
    summary="add a knowledge note, toolkit, guide or recording to the library",
    example="resource add https://example.org/mtef.pdf Multi-year budgeting toolkit: budgeting",
    roles=[roles.FACILITATOR],
)
async def add(ctx: Context, cmd: Command) -> str:
    url = library.check_url(cmd.values.url)
    text = cmd.values.title
    title, colon, tail = text.rpartition(":") if ":" in text else (text, "", "")
    async with ctx.db() as session:
        named = await topics.known_all(session, topics.split_names(tail) if colon else [])
        topic_ids = [topic.id for topic in named]
        entry = await library.add(
            session, title=library.plain_title(title), body="", url=url, now=ctx.now(),
            topic_ids=topic_ids, created_by=ctx.sender.member_id,
        )  # fmt: skip
        await session.commit()
    return f"Added resource #{entry.id}: {entry.title}."


@router.command(
    "resource remove",
    args=[Number("id", "resource", missing=WHICH_RESOURCE)],
    extra=WHICH_RESOURCE,
    summary="take a resource out of the library",
    example="resource remove 4",
    roles=[roles.FACILITATOR],
)
async def remove(ctx: Context, cmd: Command) -> str:
    resource_id = cmd.values.id
    async with ctx.db() as session:
        entry = await session.get(KnowledgeEntry, resource_id)
        if entry is None or entry.url is None:
            raise CommandError(
                f"There is no resource #{resource_id}. Type `resources` to see them."
            )
        await session.delete(entry)
        await session.commit()
    return f"Removed resource #{resource_id} ({entry.title})."
