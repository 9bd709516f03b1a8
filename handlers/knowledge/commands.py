"""Commands: `search <words>`, `resources [<topic>]`, and for facilitators `resource add` and
`resource remove`."""

from __future__ import annotations

from sqlalchemy import select

from bot import roles, topics
from bot.arguments import Number, Rest, TopicName, Word
from bot.commands import Command
from bot.context import Context
from bot.errors import CommandError
from bot.i18n import Message, _, lines
from bot.models import KnowledgeEntry, KnowledgeTopic
from bot.router import Router
from handlers.knowledge import library

router = Router()

LISTED = 15
LINK_AND_TITLE = _("Give a link and a title.")
WHICH_RESOURCE = _("Which resource? For example: resource remove 4")
WHAT_TO_LOOK_FOR = _("What should I look for? For example: search budget forecasting")


@router.command(
    "search",
    args=[Rest("words", missing=WHAT_TO_LOOK_FOR)],
    summary="solved questions and resources",
    example="search multi-year budget",
)
async def search(ctx: Context, cmd: Command) -> Message:
    words = cmd.values.words
    hits = await ctx.db.read(library.search, words)
    async with ctx.db() as session:
        await library.shown(session, hits)
        await session.commit()
    if not hits:
        return _(
            "Nothing in the library matches {words}. Ask the community with `ask`.",
            words=words[:60],
        )
    found = [await line(ctx, hit) for hit in hits]
    return lines(_("The library on {words}:", words=words[:60]), *found)


async def line(ctx: Context, hit: library.Hit) -> Message:
    """One result: number, title, excerpt, topics and a link."""
    entry = hit.entry
    where = await library.link(ctx, entry)
    if where is None:  # no link: the question's number, or the thread's channel
        if entry.question_id is not None:
            where = _("question #{id}", id=entry.question_id)
        else:
            where = await library.place(ctx, entry) or ""
    said = {"id": entry.id, "title": entry.title, "where": where}
    excerpt = hit.excerpt if hit.excerpt and hit.excerpt != entry.title else None
    topics_ = ", ".join(hit.topics)
    if excerpt and topics_:
        return _("• #{id} {title} — {excerpt} · {topics} · {where}", excerpt=excerpt,
                 topics=topics_, **said)  # fmt: skip
    if excerpt:
        return _("• #{id} {title} — {excerpt} · {where}", excerpt=excerpt, **said)
    if topics_:
        return _("• #{id} {title} · {topics} · {where}", topics=topics_, **said)
    return _("• #{id} {title} · {where}", **said)


@router.command(
    "resources",
    args=[TopicName(optional=True)],
    summary="guides, toolkits and recordings (for a topic)",
    example="resources budgeting",
)
async def resources(ctx: Context, cmd: Command) -> Message:
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
    if not rows and topic is not None:
        return _(
            "No resources on {topic} yet. Facilitators add them with `resource add <url> <title>`.",
            topic=topic.name,
        )
    if not rows:
        return _("No resources yet. Facilitators add them with `resource add <url> <title>`.")
    heading = _("Resources on {topic}:", topic=topic.name) if topic else _("Resources:")
    return lines(heading, *(listed(row, names.get(row.id, [])) for row in rows))


def listed(row: KnowledgeEntry, names: list[str]) -> Message:
    if names:
        return _("• #{id} {title} — {url} · {topics}", id=row.id, title=row.title, url=row.url,
                 topics=", ".join(names))  # fmt: skip
    return _("• #{id} {title} — {url}", id=row.id, title=row.title, url=row.url)


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
async def add(ctx: Context, cmd: Command) -> Message:
    url = library.check_url(cmd.values.url)
    text = cmd.values.title
    title, colon, tail = text.rpartition(":") if ":" in text else (text, "", "")
    async with ctx.db() as session:
        named = await topics.known_all(session, topics.split_names(tail) if colon else [])
        topic_ids = [topic.id for topic in named]
        entry = await library.add(
            session, title=library.plain_title(title), body="", url=url, now=ctx.now(),
            topic_ids=topic_ids, created_by=ctx.sender.member_id,
            language=ctx.languages.of_member(ctx.sender.member),
        )  # fmt: skip
        await session.commit()
    return _("Added resource #{id}: {title}.", id=entry.id, title=entry.title)


@router.command(
    "resource remove",
    args=[Number("id", "resource", missing=WHICH_RESOURCE)],
    extra=WHICH_RESOURCE,
    summary="take a resource out of the library",
    example="resource remove 4",
    roles=[roles.FACILITATOR],
)
async def remove(ctx: Context, cmd: Command) -> Message:
    resource_id = cmd.values.id
    async with ctx.db() as session:
        entry = await session.get(KnowledgeEntry, resource_id)
        if entry is None or entry.url is None:
            raise CommandError(
                _("There is no resource #{id}. Type `resources` to see them.", id=resource_id)
            )
        await session.delete(entry)
        await session.commit()
    return _("Removed resource #{id} ({title}).", id=resource_id, title=entry.title)
