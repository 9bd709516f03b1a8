"""The one place topic names are understood: cleaning, splitting lists, and finding a topic by
a name a person typed.

Matching (`match`, through `find` for every topic command) ignores case, punctuation and
accents and also accepts a topic's keywords. It ranks an exact name first, then whole words
("debt" finds "Debt management"; common endings are forgiven: "audits" finds "Audit"), then
word prefixes ("proc" finds "Procurement"), then small misspellings ("procurment"); within a
rank, names with fewer words left over fit better. When several topics fit equally well, the
person is asked to choose. A member who declares a topic that matches none is given a new one
(see `ensure`), so the community's vocabulary grows with its members; facilitators tidy it
with `topic add` (keywords) and `topic remove`.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.db import upsert
from bot.errors import CommandError, UsageError
from bot.i18n import Message, _, lines
from bot.models import Topic

MAX_NAME = 60
MAX_TOPICS_AT_ONCE = 10
MATCH_CUTOFF = 0.85
CLOSE_CUTOFF = 0.5
MIN_PREFIX = 3
MAX_CHOICES = 5
EXACT, WORDS, PREFIX, FUZZY, NO_FIT = range(5)

_SEPARATORS = re.compile(r"[,;\n]+")
_NOT_WORD = re.compile(r"[^\w]+")
_SUFFIXES = ("ations", "ation", "ings", "ing", "ments", "ment", "ies", "es", "s")


def key_of(name: str) -> str:
    """The comparable form of a name: lower case, no accents or punctuation, single spaces."""
    text = unicodedata.normalize("NFKD", name.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(_NOT_WORD.sub(" ", text).replace("_", " ").split())


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _stemmed(key: str) -> str:
    return " ".join(_stem(word) for word in key.split())


STOPWORDS = frozenset(
    "a an and are as at be by can do does for from has have how i in is it its of on or our "
    "that the their there these this to was we what when where which who why will with would "
    "you your any anyone other others about into than then them they us my me".split()
)


def stems(text: str) -> set[str]:
    """The content words of a text, stemmed as topic names are (for comparing two texts)."""
    return {word for word in _stemmed(key_of(text)).split() if word not in STOPWORDS}


def similarity(a: str, b: str) -> float:
    """How alike two names are, from 0 to 1 (1: the same topic)."""
    ka, kb = _stemmed(key_of(a)), _stemmed(key_of(b))
    if not ka or not kb:
        return 0.0
    if ka == kb:
        return 1.0
    return difflib.SequenceMatcher(None, ka, kb).ratio()


def clean_name(text: str) -> str:
    """A topic name as it will be stored; raises UsageError when there is none or it is too
    long."""
    name = " ".join(text.split()).strip(" \t\"'`#*_.:-")
    if not key_of(name):
        raise UsageError(_("A topic needs a name with letters or digits."))
    if len(name) > MAX_NAME:
        raise UsageError(_("`{name}…` is too long for a topic (at most {most} characters).",
                           name=name[:30], most=MAX_NAME))  # fmt: skip
    return name


def split_names(text: str) -> list[str]:
    """Topic names from a comma-separated list, cleaned, duplicates dropped, in order."""
    parts = [part for part in _SEPARATORS.split(text) if part.strip()]
    if not parts:
        raise UsageError(_("Which topic? For example: budgeting, procurement"))
    if len(parts) > MAX_TOPICS_AT_ONCE:
        raise UsageError(_("At most {most} topics at once, please.", most=MAX_TOPICS_AT_ONCE))
    names: dict[str, str] = {}
    for part in parts:
        name = clean_name(part)
        names.setdefault(key_of(name), name)
    return list(names.values())


async def every_label(session: AsyncSession) -> list:
    """Every topic's id, name and keywords, as light rows for `mentioned_in`."""
    return list(
        (
            await session.execute(select(Topic.id, Topic.name, Topic.keywords).order_by(Topic.id))
        ).all()
    )


def keywords_of(topic: Topic) -> list[str]:
    return [k.strip() for k in (topic.keywords or "").split(",") if k.strip()]


@dataclass(frozen=True, slots=True)
class Scored:
    topic: Topic
    score: float


async def _ranked(session: AsyncSession, name: str) -> list[Scored]:
    """Every topic with its best similarity to `name` (over its name and keywords)."""
    topics = (await session.scalars(select(Topic).order_by(Topic.id))).all()
    ranked = []
    for topic in topics:
        score = max(similarity(name, label) for label in [topic.name, *keywords_of(topic)])
        ranked.append(Scored(topic, score))
    ranked.sort(key=lambda s: (-s.score, s.topic.id))
    return ranked


async def exact(session: AsyncSession, name: str) -> Topic | None:
    """The topic with this name, ignoring case and punctuation only."""
    key = key_of(name)
    if not key:
        return None
    return await session.scalar(select(Topic).where(Topic.key == key[:80]))


@lru_cache(maxsize=8192)
def _parts(name: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """A name's key, its words and their stems."""
    key = key_of(name)
    words = tuple(key.split())
    return key, words, tuple(_stem(word) for word in words)


def _fit(typed: str, label: str) -> tuple[int, int] | None:
    """How well a typed name fits a topic's name or keyword, lower is better: (EXACT, WORDS,
    PREFIX or FUZZY: the loosest fit of any typed word; the label's words left over), or None."""
    (key, words, stems), (label_key, label_words, label_stems) = _parts(typed), _parts(label)
    if not key or not label_key:
        return None
    if key == label_key:
        return EXACT, 0

    def rank(word: str, stem: str) -> int:
        if stem in label_stems:
            return WORDS
        if len(word) >= MIN_PREFIX and any(other.startswith(word) for other in label_words):
            return PREFIX
        return FUZZY if any(_close(stem, other) for other in label_stems) else NO_FIT

    loosest = max(rank(word, stem) for word, stem in zip(words, stems, strict=True))
    if loosest < NO_FIT:
        return loosest, max(len(label_words) - len(words), 0)
    return (FUZZY, 0) if _alike(" ".join(stems), " ".join(label_stems)) else None


def _choices(name: str, tied: list[Topic]) -> Message:
    names = sorted((t.name for t in tied), key=key_of)
    if len(names) > MAX_CHOICES:
        listed = _("{some} or {count} more", some=", ".join(names[:MAX_CHOICES]),
                   count=len(names) - MAX_CHOICES)  # fmt: skip
    else:
        listed = _("{some} or {last}", some=", ".join(names[:-1]), last=names[-1])
    return _("`{name}` could mean {listed}: which one?", name=name[:40], listed=listed)


def match(candidates: Iterable[Topic], name: str) -> Topic | None:
    """The topic among `candidates` that `name` means (see the module's docstring), or None.
    Raises UsageError listing the choices when several fit equally well."""
    fits = []
    for topic in candidates:
        found = [fit for label in (topic.name, *keywords_of(topic)) if (fit := _fit(name, label))]
        if found:
            fits.append((min(found), topic))
    if not fits:
        return None
    best = min(fit for fit, _ in fits)
    tied = [topic for fit, topic in fits if fit == best]
    if len(tied) > 1:
        raise UsageError(_choices(name, tied))
    return tied[0]


async def find(session: AsyncSession, name: str) -> Topic | None:
    """The topic a person means by `name`: the one with this exact name, else the best `match`
    among all topics (UsageError when several fit equally well), else None."""
    topic = await exact(session, name)
    if topic is not None:
        return topic
    return match(await session.scalars(select(Topic).order_by(Topic.id)), name)


async def closest(session: AsyncSession, name: str, n: int = 3) -> list[Topic]:
    """The topics most like `name`, best first, for a "did you mean" line."""
    ranked = await _ranked(session, name)
    return [s.topic for s in ranked[:n] if s.score >= CLOSE_CUTOFF]


def did_you_mean(topics: list[Topic]) -> Message | None:
    """`Closest: a, b.` or None."""
    if not topics:
        return None
    return _("Closest: {names}.", names=", ".join(t.name for t in topics))


async def unknown(session: AsyncSession, name: str) -> Message:
    """The one line a person reads when no topic fits what they typed."""
    close = await closest(session, name)
    return lines(
        _("I don't know the topic `{name}`.", name=name[:40]),
        did_you_mean(close) or _("Type `topics` to see them all."),
        sep=" ",
    )


async def known(session: AsyncSession, name: str) -> Topic:
    """The topic a person means (`find`), or CommandError with the closest ones."""
    topic = await find(session, name)
    if topic is None:
        raise CommandError(await unknown(session, name))
    return topic


async def known_all(session: AsyncSession, names: Iterable[str]) -> list[Topic]:
    """The topics a person means, each once, in the order named (`known`)."""
    chosen: dict[int, Topic] = {}
    for name in names:
        topic = await known(session, name)
        chosen.setdefault(topic.id, topic)
    return list(chosen.values())


async def create(
    session: AsyncSession, name: str, now: datetime, keywords: list[str] | None = None
) -> Topic:
    """A new topic (or the one someone else created meanwhile with this key); the caller has
    checked that none has it. Never commits. No savepoint: on SQLite, releasing one that
    began the transaction would commit it, and a later error could not undo the topic."""
    key = key_of(name)[:80]
    await session.execute(
        upsert(session, Topic)
        .values(name=name, key=key, keywords=", ".join(keywords or []), created_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return (await session.scalars(select(Topic).where(Topic.key == key))).one()


async def ensure(session: AsyncSession, name: str, now: datetime) -> tuple[Topic, bool]:
    """The topic a member means (`find`), created if nothing matches; returns (topic,
    created). Raises UsageError for a bad name, or one several topics fit equally well."""
    name = clean_name(name)
    topic = await find(session, name)
    if topic is not None:
        return topic, False
    return await create(session, name, now), True


def _close(word: str, other: str) -> bool:
    """A small misspelling of a word of five letters or more ("procurment")."""
    return len(word) >= 5 and abs(len(word) - len(other)) <= 2 and _alike(word, other)


def _alike(a: str, b: str) -> bool:
    """At least MATCH_CUTOFF alike (as `similarity` measures), trying the cheap bounds first."""
    matcher = difflib.SequenceMatcher(None, a, b)
    return all(
        ratio() >= MATCH_CUTOFF
        for ratio in (matcher.real_quick_ratio, matcher.quick_ratio, matcher.ratio)
    )


class _Text:
    """A text's stemmed words, as a phrase and grouped by first letter for fuzzy lookups."""

    def __init__(self, text: str) -> None:
        stemmed = _stemmed(key_of(text))
        self.phrase = f" {stemmed} "
        self.words = set(stemmed.split())
        self.by_initial: dict[str, list[str]] = {}
        for word in self.words:
            self.by_initial.setdefault(word[0], []).append(word)

    def has(self, word: str) -> bool:
        return word in self.words or any(
            _close(word, other) for other in self.by_initial.get(word[0], ())
        )

    def score(self, label: tuple[str, ...]) -> float:
        if not label:
            return 0.0
        if f" {' '.join(label)} " in self.phrase:
            return 1.0
        return 0.8 if all(self.has(word) for word in label) else 0.0


def mentioned_in(all_topics: Sequence[Topic], text: str) -> list[Scored]:
    """The topics a text is about, best first: a topic's name or one of its keywords appears
    in it (1.0), or appears with a small misspelling or in another order (0.8). Plurals and
    common endings are forgiven on both sides."""
    words = _Text(text)
    found = []
    for topic in all_topics:
        labels = [topic.name, *keywords_of(topic)]
        score = max(words.score(_parts(label)[2]) for label in labels)
        if score:
            found.append(Scored(topic, score))
    found.sort(key=lambda s: (-s.score, s.topic.id))
    return found


async def names_by(
    session: AsyncSession,
    owner: InstrumentedAttribute,
    topic: InstrumentedAttribute,
    ids: list[int],
) -> dict[int, list[str]]:
    """The topic names of each of several things (events, calls, questions, library entries),
    alphabetically, read from their link table: `owner` and `topic` are its two columns
    (`EventTopic.event_id`, `EventTopic.topic_id`)."""
    found: dict[int, list[str]] = {key: [] for key in ids}
    if not ids:
        return found
    rows = await session.execute(
        select(owner, Topic.name)
        .join(Topic, Topic.id == topic)
        .where(owner.in_(ids))
        .order_by(Topic.name)
    )
    for key, name in rows:
        found[key].append(name)
    return found
