"""The knowledge library: entries (solved questions with their answers, resources curated by
facilitators) and the one search over them, on the database's own full-text index (SQLite
FTS5, PostgreSQL's tsvector with a GIN index) over each entry's words stemmed in its own
language (`bot.stemming`): "presupuestos" finds "presupuesto participativo", "budgets"
finds "budgeting", "financiacion" finds "financiación". A searched word is stemmed in every
language, so a search finds the entries that match in any of them. Ranked by relevance,
then recency."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot import stemming
from bot.context import Context
from bot.errors import CommandError, UsageError
from bot.i18n import Message, _, lines, n_
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
        raise UsageError(
            _("`{url}` is not a web link; give one starting with https://.", url=url[:40])
        )
    return url


def plain_title(title: str) -> str:
    """A title as text: no markup characters, one line, bounded."""
    cleaned = " ".join(_MARKUP.sub("", title).split())
    if not cleaned:
        raise UsageError(_("Give the resource a title after its link."))
    if len(cleaned) > MAX_TITLE:
        raise CommandError(
            n_(
                "That title is too long (at most {n} character).",
                "That title is too long (at most {n} characters).",
                MAX_TITLE,
            )
        )
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
    language: str | None = None,
) -> KnowledgeEntry:
    """A new entry (flushed, not committed); the full-text index follows by itself. Its
    language is the one its words clearly tell, else `language` (the asker's or adder's),
    else English."""
    title = title[:300]
    default = stemming.supported(language) or stemming.DEFAULT
    entry = KnowledgeEntry(
        title=title, body=body, url=url, question_id=question_id, channel_id=channel_id,
        message_id=message_id, created_by=created_by, created_at=now, shown=0, answered=0,
        language=stemming.detect(f"{title}\n{body}", default),
    )  # fmt: skip
    session.add(entry)
    await session.flush()
    session.add_all(KnowledgeTopic(entry_id=entry.id, topic_id=t) for t in set(topic_ids))
    await session.flush()
    return entry


def _terms(words: str) -> tuple[list[str], list[str]]:
    """(phrases in quotes, other words) of a search; common words are not searched for."""
    phrases = [" ".join(p.split()) for p in _PHRASE.findall(words) if stemming.words(p)]
    rest = _PHRASE.sub(" ", words).replace('"', " ")
    return phrases, stemming.content_words(rest)


@dataclass(frozen=True, slots=True)
class Query:
    """A search as index terms: each phrase as its variants (one must appear), and every
    form of the other words (one must appear). An entry's terms are all in its language
    (tagged with it), so it can only match the terms of its language."""

    phrases: list[list[str]]
    forms: list[str]

    @classmethod
    def of(cls, phrases: list[str], words: list[str]) -> Query:
        variants = [found for phrase in phrases if (found := stemming.phrase_forms(phrase))]
        forms = {form for word in words for form in stemming.query_forms(word)}
        return cls(variants, sorted(forms))

    def sqlite(self) -> str:
        """An FTS5 MATCH expression (the terms are letters and digits only)."""
        groups = [*self.phrases, *([self.forms] if self.forms else [])]
        return " AND ".join("(" + " OR ".join(f'"{t}"' for t in group) + ")" for group in groups)

    def tsquery(self) -> str:
        """A `to_tsquery` call on a literal (the terms are letters and digits only, and the
        literal's quotes are doubled all the same)."""
        parts = ["(" + " | ".join(" <-> ".join(f"'{t}'" for t in v.split()) for v in variants)
                 + ")" for variants in self.phrases]  # fmt: skip
        if self.forms:
            parts.append("(" + " | ".join(f"'{t}'" for t in self.forms) + ")")
        literal = " & ".join(parts).replace("'", "''")
        return f"to_tsquery('simple', '{literal}')"

    def postgres(self) -> str | None:
        """The condition an entry matching in its own language meets (one small tsquery to
        test per entry, not one with the terms of every language); None: none can."""
        arms = [
            f"(language = '{language}' AND search @@ {part.tsquery()})"
            for language in stemming.LANGUAGES
            if (part := self.only(language)) is not None
        ]
        return " OR ".join(arms) or None

    def only(self, language: str) -> Query | None:
        """The terms an entry in `language` can match (None: it cannot match)."""
        tag = stemming.tag(language)
        phrases = [[v for v in variants if v.startswith(tag)] for variants in self.phrases]
        forms = [form for form in self.forms if form.startswith(tag)]
        return Query(phrases, forms) if all(phrases) and (phrases or forms) else None

    def wanted(self, language: str) -> set[str]:
        """The terms that show an entry in `language` matched (for its excerpt)."""
        part = self.only(language)
        if part is None:
            return set()
        found = {term for variants in part.phrases for v in variants for term in v.split()}
        return found | set(part.forms)


def search(session: Session, words: str, limit: int = 5) -> list[Hit]:
    """The best entries for `words`: every phrase in quotes must appear, and at least one of
    the other words; ranked by relevance, then recency (among the newest `RANKED` matches,
    so that a word found in most entries costs no more than a rarer one)."""
    terms = Query.of(*_terms(words))
    if not terms.phrases and not terms.forms:
        return []
    if session.bind.dialect.name == "postgresql":
        # Written out where it is used, with the terms in it (`Query.postgres`): the planner
        # sees how common they are, and finds rare ones through the index and common ones by
        # reading the newest entries. Through a CTE, or as a bound parameter (a prepared
        # statement comes to a generic plan), it cannot see them and sorts every match by id.
        # Ranked with every term, so that ranks compare across languages.
        matching = terms.postgres()
        if matching is None:
            return []
        sql = text(
            f"WITH recent AS (SELECT id, search FROM knowledge_entries WHERE {matching} "
            "ORDER BY id DESC LIMIT :window), "
            f"top AS (SELECT id, ts_rank(recent.search, {terms.tsquery()}) AS r FROM recent "
            "ORDER BY r DESC, id DESC LIMIT :limit) "
            f"SELECT {_COLUMNS} FROM top JOIN knowledge_entries e ON e.id = top.id "
            "ORDER BY top.r DESC, e.id DESC"
        )
        params: dict[str, object] = {}
        options = {"compiled_cache": None}  # a new statement every time: not worth keeping
    else:
        sql = text(
            f"SELECT {_COLUMNS} FROM (SELECT rowid AS id, bm25(knowledge_fts, 2.0, 1.0) AS r "
            "FROM knowledge_fts WHERE knowledge_fts MATCH :match AND rowid >= ("
            "SELECT min(rowid) FROM (SELECT rowid FROM knowledge_fts WHERE knowledge_fts "
            "MATCH :match ORDER BY rowid DESC LIMIT :window)) "
            "ORDER BY r, rowid DESC LIMIT :limit) AS top "
            "JOIN knowledge_entries e ON e.id = top.id ORDER BY top.r, e.id DESC"
        )
        params = {"match": terms.sqlite()}
        options = {}
    query = select(KnowledgeEntry).from_statement(sql)
    params |= {"window": RANKED, "limit": limit}
    found = list(session.scalars(query, params, execution_options=options))
    if not found:
        return []
    names = topic_names(session, [entry.id for entry in found])
    return [Hit(e, excerpt(e, terms.wanted(e.language)), names.get(e.id, [])) for e in found]


def similar(session: Session, question: str, limit: int = 3) -> list[Hit]:
    """Entries that may already answer a question: among the best matches, those holding at
    least half of its content words (in the entry's language)."""
    wanted = stemming.content_words(question)
    if not wanted:
        return []
    hits = search(session, " ".join(wanted), limit=10)
    close = [h for h in hits if _share(h.entry, wanted) >= SIMILAR]
    return close[:limit]


def _share(entry: KnowledgeEntry, words: list[str]) -> float:
    """The share of `words` an entry holds."""
    held = set(entry.title_terms.split()) | set(entry.body_terms.split())
    return sum(bool(stemming.forms(w, entry.language) & held) for w in words) / len(words)


async def link(ctx: Context, entry: KnowledgeEntry) -> str | None:
    """Where an entry is read: a resource's URL, or a link to a kept question's thread."""
    if entry.url:
        return entry.url
    channel = await _channel(ctx, entry)
    if channel is None:
        return None
    ref = ChannelRef(channel.platform, channel.channel_id, channel.name)
    return await ctx.permalink(ref, entry.message_id)


async def place(ctx: Context, entry: KnowledgeEntry) -> str | None:
    """The name of the channel a kept thread is in, for when no link can be given (a
    platform that is not running, or has no links)."""
    channel = await _channel(ctx, entry)
    return (channel.name or channel.channel_id) if channel is not None else None


async def _channel(ctx: Context, entry: KnowledgeEntry) -> Channel | None:
    if entry.channel_id is None:
        return None
    async with ctx.db() as session:
        return await session.get(Channel, entry.channel_id)


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


def excerpt(entry: KnowledgeEntry, wanted: set[str]) -> str:
    """The first line of the entry beyond its title that holds a searched term (`wanted`, in
    the entry's language), else its first line (for a kept question: an answer), else the
    title."""
    found = [line.strip() for line in entry.body.splitlines() if line.strip()]
    found = [line for line in found if line != entry.title.strip()] or [entry.title]
    chosen = next(
        (line for line in found if wanted & set(stemming.terms(line, entry.language).split())),
        found[0],
    )
    line = " ".join(chosen.split())
    return line if len(line) <= EXCERPT else line[: EXCERPT - 1].rstrip() + "…"


async def for_learning(session: AsyncSession, member_id: int, limit: int = 5) -> Message | None:
    """The resources on the topics a member wants to learn, as lines to end onboarding with
    (None when there are none)."""
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
        return None
    return lines(
        _("To start learning, from the community's library:"),
        *(_("• {title} — {url}", title=title, url=url) for title, url in rows),
    )
