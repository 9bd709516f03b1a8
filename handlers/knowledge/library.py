"""The knowledge library: entries (solved questions with their answers, resources curated by
facilitators) and the one search over them, on the database's own full-text index: SQLite
FTS5 with porter stemming ("budgets" finds "budgeting"), PostgreSQL's tsvector with a GIN
index. Ranked by relevance, then recency."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot import topics
from bot.context import Context
from bot.errors import CommandError, UsageError
from bot.models import Channel, KnowledgeEntry, KnowledgeTopic, Topic
from bot.types import ChannelRef

MAX_URL = 2000
MAX_TITLE = 200
EXCERPT = 120
RANKED = 1000  # a word in most entries ranks only the newest this many: recency is a tie-break
SIMILAR = 0.5  # share of a question's content words an entry must hold to be offered at `ask`
_COLUMNS = ", ".join(f"e.{column.name}" for column in KnowledgeEntry.__table__.columns)
_PHRASE = re.compile(r'"([^"]+)"')
_MARKUP = re.compile(r"[<>*_`~|\[\]]")


@dataclass(frozen=True, slots=True)
class Hit:
    entry: KnowledgeEntry
    excerpt: str
    topics: list[str]


def check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or len(url) > MAX_URL:
        raise UsageError(f"`{url[:40]}` is not a web link; give one starting with https://.")
    return url


def plain_title(title: str) -> str:
    """A title as text: no markup characters, one line, bounded."""
    cleaned = " ".join(_MARKUP.sub("", title).split())
    if not cleaned:
        raise UsageError("Give the resource a title after its link.")
    if len(cleaned) > MAX_TITLE:
        raise CommandError(f"That title is too long (at most {MAX_TITLE} characters).")
    return cleaned


async def add(
    session: AsyncSession,
    *,
    title: str,
    body: str,
    now: datetime,
    topic_ids: list[int],
    url: str | None = None,
    question_id: int | None = None,
    channel_id: int | None = None,
    message_id: str | None = None,
    created_by: int | None = None,
) -> KnowledgeEntry:
    """A new entry (flushed, not committed); the full-text index follows by itself."""
    entry = KnowledgeEntry(
        title=title[:300], body=body, url=url, question_id=question_id, channel_id=channel_id,
        message_id=message_id, created_by=created_by, created_at=now, shown=0, answered=0,
    )  # fmt: skip
    session.add(entry)
    await session.flush()
    session.add_all(KnowledgeTopic(entry_id=entry.id, topic_id=t) for t in set(topic_ids))
    await session.flush()
    return entry


def _terms(words: str) -> tuple[list[str], list[str]]:
    """(phrases in quotes, other words) of a search."""
    phrases = [" ".join(p.split()) for p in _PHRASE.findall(words) if p.split()]
    rest = _PHRASE.sub(" ", words).replace('"', " ")
    found = [w for w in re.findall(r"\w+", rest.casefold()) if w not in topics.STOPWORDS]
    return phrases, list(dict.fromkeys(found))[:20]


def _sqlite_match(phrases: list[str], words: list[str]) -> str:
    quoted = [f'"{p.replace(chr(34), "")}"' for p in phrases]
    anyword = " OR ".join(f'"{w}"' for w in words)
    parts = quoted + ([f"({anyword})"] if anyword else [])
    return " AND ".join(parts)


def search(session: Session, words: str, limit: int = 5) -> list[Hit]:
    """The best entries for `words`: every phrase in quotes must appear, and at least one of
    the other words; ranked by relevance, then recency (among the newest `RANKED` matches,
    so that a word found in most entries costs no more than a rarer one)."""
    phrases, plain = _terms(words)
    if not phrases and not plain:
        return []
    if session.bind.dialect.name == "postgresql":
        parts = [f"phraseto_tsquery('english', :p{n})" for n in range(len(phrases))]
        if plain:
            parts.append("(" + " || ".join(
                f"plainto_tsquery('english', :w{n})" for n in range(len(plain))
            ) + ")")  # fmt: skip
        query = "(" + " && ".join(parts) + ")"  # written out where it is used: in a CTE the
        sql = text(  # planner cannot see how common the words are, and sorts every match by id
            f"WITH recent AS (SELECT id, search FROM knowledge_entries WHERE search @@ {query} "
            "ORDER BY id DESC LIMIT :window), "
            f"top AS (SELECT id, ts_rank(recent.search, {query}) AS r FROM recent "
            "ORDER BY r DESC, id DESC LIMIT :limit) "
            f"SELECT {_COLUMNS} FROM top JOIN knowledge_entries e ON e.id = top.id "
            "ORDER BY top.r DESC, e.id DESC"
        )
        params = {f"p{n}": p for n, p in enumerate(phrases)}
        params.update({f"w{n}": w for n, w in enumerate(plain)})
    else:
        sql = text(
            f"SELECT {_COLUMNS} FROM (SELECT rowid AS id, bm25(knowledge_fts, 2.0, 1.0) AS r "
            "FROM knowledge_fts WHERE knowledge_fts MATCH :match AND rowid >= ("
            "SELECT min(rowid) FROM (SELECT rowid FROM knowledge_fts WHERE knowledge_fts "
            "MATCH :match ORDER BY rowid DESC LIMIT :window)) "
            "ORDER BY r, rowid DESC LIMIT :limit) AS top "
            "JOIN knowledge_entries e ON e.id = top.id ORDER BY top.r, e.id DESC"
        )
        params = {"match": _sqlite_match(phrases, plain)}
    params["window"] = RANKED
    query = select(KnowledgeEntry).from_statement(sql)
    found = list(session.scalars(query, {**params, "limit": limit}))
    if not found:
        return []
    names = topic_names(session, [entry.id for entry in found])
    return [Hit(e, excerpt(e, phrases + plain), names.get(e.id, [])) for e in found]


def similar(session: Session, question: str, limit: int = 3) -> list[Hit]:
    """Entries that may already answer a question: among the best matches, those holding at
    least half of its content words."""
    wanted = topics.stems(question)
    if not wanted:
        return []
    hits = search(session, " ".join(sorted(wanted)), limit=10)
    close = [
        h for h in hits
        if len(wanted & topics.stems(f"{h.entry.title} {h.entry.body}")) / len(wanted) >= SIMILAR
    ]  # fmt: skip
    return close[:limit]


async def link(ctx: Context, entry: KnowledgeEntry) -> str | None:
    """Where an entry is read: a resource's URL, or a link to a kept question's thread."""
    if entry.url:
        return entry.url
    if entry.channel_id is None:
        return None
    async with ctx.db() as session:
        channel = await session.get(Channel, entry.channel_id)
    if channel is None:
        return None
    ref = ChannelRef(channel.platform, channel.channel_id, channel.name)
    return await ctx.permalink(ref, entry.message_id)


async def shown(session: AsyncSession, hits: list[Hit]) -> None:
    if hits:
        await session.execute(
            update(KnowledgeEntry)
            .where(KnowledgeEntry.id.in_([h.entry.id for h in hits]))
            .values(shown=KnowledgeEntry.shown + 1)
        )


def topic_names(session: Session, ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    rows = session.execute(
        select(KnowledgeTopic.entry_id, Topic.name)
        .join(Topic, Topic.id == KnowledgeTopic.topic_id)
        .where(KnowledgeTopic.entry_id.in_(bindparam("ids", expanding=True)))
        .order_by(Topic.name),
        {"ids": ids},
    )
    for entry_id, name in rows:
        found.setdefault(entry_id, []).append(name)
    return found


def excerpt(entry: KnowledgeEntry, terms: list[str]) -> str:
    """The first line of the entry beyond its title that holds a searched word, else its
    first such line (for a kept question: an answer), else the title."""
    lines = [line.strip() for line in entry.body.splitlines() if line.strip()]
    lines = [line for line in lines if line != entry.title.strip()] or [entry.title]
    wanted = topics.stems(" ".join(terms))
    chosen = next((line for line in lines if wanted & topics.stems(line)), lines[0])
    line = " ".join(chosen.split())
    return line if len(line) <= EXCERPT else line[: EXCERPT - 1].rstrip() + "…"


async def for_learning(session: AsyncSession, member_id: int, limit: int = 5) -> str:
    """The resources on the topics a member wants to learn, as lines to end onboarding with
    (empty when there are none)."""
    from bot.models import Expertise

    rows = (
        await session.execute(
            select(KnowledgeEntry.title, KnowledgeEntry.url)
            .join(KnowledgeTopic, KnowledgeTopic.entry_id == KnowledgeEntry.id)
            .join(Expertise, Expertise.topic_id == KnowledgeTopic.topic_id)
            .where(
                Expertise.member_id == member_id,
                Expertise.kind == "wants",
                KnowledgeEntry.url.is_not(None),
            )
            .group_by(KnowledgeEntry.id, KnowledgeEntry.title, KnowledgeEntry.url)
            .order_by(KnowledgeEntry.answered.desc(), KnowledgeEntry.id.desc())
            .limit(limit)
        )
    ).all()
    if not rows:
        return ""
    return "\n".join(
        ["To start learning, from the community's library:"]
        + [f"• {title} — {url}" for title, url in rows]
    )
