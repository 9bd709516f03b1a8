"""Question routing: choosing the experts to ask about a question among 10,000 members
offering 200 topics, with 20,000 earlier questions behind them. One route is what `ask` and
`tell_experts` do to choose experts: load every topic, find the ones the question mentions
(`topics.mentioned_in`), and rank the members who offer them (`routing.rank`), in a session of
its own (the stored-topic and already-told reads of `tell_experts` are left out). Baseline: one
indexed lookup (a member by platform account) through the same session machinery, in the same
run and database.

Size: 10,000 members, 20,000 earlier questions, 500 routes timed (`BENCH_MEMBERS`,
`BENCH_QUESTIONS`, `BENCH_ROUTES`); 2,000, 4,000 and 150 in quick mode."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, insert, select

from benchmarks.common import Result, emit, fresh_sqlite, median, percentile, runs, size
from bot import topics
from bot.db import Database
from bot.expertise import OFFERS
from bot.models import (
    Channel,
    Expertise,
    Identity,
    Member,
    Question,
    QuestionExpert,
    Topic,
)
from bot.settings import Settings
from bot.textkey import NAME_KEY_LENGTH, fold
from handlers.questions import routing

MEMBERS = size("BENCH_MEMBERS", 10_000, 2_000)
TOPICS = 200
HISTORY = size("BENCH_QUESTIONS", 20_000, 4_000)
ROUTES = size("BENCH_ROUTES", 500, 150)
WARMUP = 30
PLATFORM = "console"
SEED = 20240601
UNIT = "ms (lower is better); baseline: one indexed member lookup"

# Subjects, each with the words people also use for it (a topic's keywords come from these).
SUBJECTS = {
    "budgeting": ("line items", "appropriations", "budget book"),
    "procurement": ("rfp", "tender", "vendors"),
    "property tax": ("millage", "levy", "parcels"),
    "audit": ("auditors", "findings", "single audit"),
    "debt": ("debt service", "refunding", "borrowing"),
    "pensions": ("opeb", "actuarial", "retirement"),
    "capital planning": ("cip", "capex", "infrastructure"),
    "payroll": ("timesheets", "overtime", "withholding"),
    "grants": ("arpa", "federal awards", "subrecipients"),
    "revenue forecasting": ("projections", "revenue models", "elasticity"),
    "utility billing": ("water rates", "meter reading", "shutoffs"),
    "cash management": ("cash flow", "bank reconciliation", "liquidity"),
    "investments": ("portfolio", "treasuries", "yield"),
    "risk management": ("insurance", "claims", "liability"),
    "internal controls": ("segregation of duties", "fraud", "approvals"),
    "financial reporting": ("acfr", "gasb", "annual report"),
    "tax assessment": ("appraisal", "reassessment", "valuation"),
    "bond issuance": ("bonds", "underwriters", "official statement"),
    "credit ratings": ("moody's", "rating agencies", "outlook"),
    "fund balance": ("reserves", "rainy day fund", "unassigned"),
    "participatory budgeting": ("pb", "community votes", "ballots"),
    "sales tax": ("nexus", "remittances", "exemptions"),
    "fees and charges": ("fee study", "cost recovery", "user fees"),
    "asset management": ("depreciation", "fixed assets", "inventory"),
    "accounts payable": ("invoices", "vendor payments", "1099"),
}
QUALIFIERS = (
    "",
    "reform",
    "software",
    "policy",
    "transparency",
    "training",
    "for small towns",
    "data",
    "compliance",
    "best practices",
    "dashboards",
)
TEMPLATES = (
    "How do other cities handle {a}?",
    "Has anyone moved {a} to a new system this year?",
    "We are reviewing {a} and {b}: where do we start?",
    "What worked for you on {a} when council asked about {b}?",
    "Any templates for {a}, {b} and {c}?",
    "Looking for advice on {a} in a town of 20,000 people.",
)
NOTHING = (
    "When is the next regional meetup?",
    "Does anyone have a good onboarding checklist for new staff?",
    "Who is going to the spring conference?",
    "How do you keep council meetings short?",
)


def topic_rows(rng: random.Random, now: datetime) -> list[dict]:
    qualified = [(s, f"{s} {q}") for s in SUBJECTS for q in QUALIFIERS if q]
    rng.shuffle(qualified)
    rows, seen = [], set()
    for subject, name in [*((s, s) for s in SUBJECTS), *qualified][:TOPICS]:
        key = topics.key_of(name)[:80]
        assert key not in seen, name
        seen.add(key)
        keywords = rng.sample(SUBJECTS[subject], rng.randint(0, 3))
        rows.append({"name": name, "key": key, "keywords": ", ".join(keywords), "created_at": now})
    return rows


def misspell(rng: random.Random, text: str) -> str:
    """Drop or swap a letter in one word of six letters or more (if any)."""
    words = text.split()
    long = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha()]
    if not long:
        return text
    i = rng.choice(long)
    w = words[i]
    j = rng.randrange(2, len(w) - 1)
    words[i] = w[:j] + w[j + 1 :] if rng.random() < 0.5 else w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


def question_texts(rng: random.Random, labels: list[str], count: int) -> list[str]:
    """Questions naming 1-3 topics or keywords; one in ten with a misspelling, one in ten
    about nothing known."""
    texts = []
    for _ in range(count):
        if rng.random() < 0.1:
            texts.append(rng.choice(NOTHING))
            continue
        a, b, c = rng.sample(labels, 3)
        if rng.random() < 0.1:
            a = misspell(rng, a)
        texts.append(rng.choice(TEMPLATES).format(a=a, b=b, c=c))
    return texts


def seed(url: str, rng: random.Random, now: datetime) -> tuple[list[dict], list[str]]:
    """Bulk-insert the community; returns the topics and the texts to route."""
    engine = create_engine(url)
    topic_list = topic_rows(rng, now)
    with engine.begin() as conn:
        conn.execute(insert(Topic), topic_list)
        topic_ids = list(conn.scalars(select(Topic.id).order_by(Topic.id)))
        members = []
        for i in range(MEMBERS):
            name = f"Member {i}"
            members.append(
                {
                    "id": i + 1,
                    "display_name": name,
                    "name_key": fold(name, NAME_KEY_LENGTH),
                    "is_bot": False,
                    "is_away": rng.random() < 0.05,
                    "created_at": now - timedelta(days=400),
                }
            )
        conn.execute(insert(Member), members)
        conn.execute(
            insert(Identity),
            [
                {
                    "member_id": m["id"],
                    "platform": PLATFORM,
                    "user_id": f"u{m['id']}",
                    "display_name": m["display_name"],
                    "name_key": m["name_key"],
                }
                for m in members
            ],
        )
        conn.execute(
            insert(Expertise),
            [
                {"member_id": m["id"], "topic_id": t, "kind": OFFERS, "created_at": now}
                for m in members
                for t in rng.sample(topic_ids, rng.randint(1, 5))
            ],
        )
        conn.execute(
            insert(Channel),
            [{"platform": PLATFORM, "channel_id": "questions", "name": "#questions"}],
        )
        channel_id = conn.scalar(select(Channel.id))
        labels = [t["name"] for t in topic_list]
        history, experts = [], []
        for q in range(HISTORY):
            asked_at = now - timedelta(minutes=rng.randint(10, 365 * 24 * 60))
            is_open = rng.random() < 0.1
            history.append(
                {
                    "id": q + 1,
                    "asker_id": rng.randint(1, MEMBERS),
                    "channel_id": channel_id,
                    "message_id": f"m{q}",
                    "text": f"How do you approach {rng.choice(labels)}?",
                    "asked_at": asked_at,
                    "status": routing.OPEN if is_open else "solved",
                    "solved_at": None if is_open else asked_at + timedelta(hours=6),
                    "escalations": 0,
                }
            )
            for member_id in rng.sample(range(1, MEMBERS + 1), rng.randint(1, 3)):
                experts.append(
                    {
                        "question_id": q + 1,
                        "member_id": member_id,
                        "notified_at": asked_at + timedelta(seconds=5),
                        "status": routing.ASKED if rng.random() < 0.9 else "declined",
                        "round": 0,
                    }
                )
        conn.execute(insert(Question), history)
        conn.execute(insert(QuestionExpert), experts)
    engine.dispose()
    keywords = sorted({k for t in topic_list for k in t["keywords"].split(", ") if k})
    return topic_list, question_texts(rng, labels + keywords, ROUTES + WARMUP)


async def route_once(session, text: str, asker_id: int, now: datetime, limit: int) -> list[int]:
    """The experts chosen for a question, as `ask` and `tell_experts` choose them."""
    every_topic = await topics.every_label(session)
    scores = {s.topic.id: s.score for s in topics.mentioned_in(every_topic, text)}
    return await routing.rank(session, scores, asker_id, now, limit=limit)


async def lookup_once(session, user_id: str) -> Member | None:
    return await session.scalar(
        select(Member)
        .join(Identity)
        .where(Identity.platform == PLATFORM, Identity.user_id == user_id)
    )


async def check(db: Database, topic_list: list[dict], now: datetime, limit: int) -> None:
    """Not timed: experts routed for a question naming a topic offer it (or, when the text
    also matches related topics, one of those), none is away, and the asker is not asked."""
    async with db.sessions() as session:
        every_topic = list((await session.scalars(select(Topic))).all())
        ids = {t.key: t.id for t in every_topic}
        away = set(await session.scalars(select(Member.id).where(Member.is_away.is_(True))))
        offering: dict[int, set[int]] = {}
        for member_id, topic_id in await session.execute(
            select(Expertise.member_id, Expertise.topic_id).where(Expertise.kind == OFFERS)
        ):
            offering.setdefault(topic_id, set()).add(member_id)
        single = 0
        for row in topic_list:
            topic_id, asker = ids[row["key"]], next(iter(offering[ids[row["key"]]]))
            text = f"How do other cities handle {row['name']}?"
            found = {s.topic.id for s in topics.mentioned_in(every_topic, text)}
            experts = set(await route_once(session, text, asker, now, limit))
            wanted = offering[topic_id] if found == {topic_id} else set()
            wanted = wanted or set().union(*(offering.get(t, set()) for t in found))
            single += found == {topic_id}
            problems = [
                topic_id not in found and f"mentioned_in missed it (found {found})",
                not experts and bool(offering[topic_id] - away - {asker}) and "nobody routed",
                len(experts) > limit and f"{len(experts)} experts, limit {limit}",
                experts - wanted and f"{experts - wanted} do not offer it",
                experts & away and f"{experts & away} are away",
                asker in experts and "the asker was routed",
            ]
            if any(problems):
                raise SystemExit(f"routing {text!r}: {[p for p in problems if p]}")
        if single < 10:
            raise SystemExit(f"only {single} checked questions matched exactly one topic")


async def measure(url: str, texts: list[str], topic_list, rng: random.Random, now: datetime):
    limit = Settings(_env_file=None, database_url=url).experts_per_question
    db = Database(url)
    try:
        await check(db, topic_list, now, limit)
        routes, lookups = [], []
        for n, text in enumerate(texts):
            asker = rng.randint(1, MEMBERS)
            started = time.perf_counter()
            async with db.sessions() as session:
                await route_once(session, text, asker, now, limit)
            took = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            async with db.sessions() as session:
                member = await lookup_once(session, f"u{rng.randint(1, MEMBERS)}")
            looked = (time.perf_counter() - started) * 1000
            assert member is not None
            if n >= WARMUP:
                routes.append(took)
                lookups.append(looked)
    finally:
        await db.dispose()
    return routes, lookups


def main() -> None:
    p50s, p99s, base50s, base99s = [], [], [], []
    for i in range(runs(1)):
        rng = random.Random(SEED + i)
        now = datetime.now(UTC).replace(microsecond=0)
        url, path = fresh_sqlite(f"routing-{i}")
        topic_list, texts = seed(url, rng, now)
        routes, lookups = asyncio.run(measure(url, texts, topic_list, rng, now))
        p50s.append(percentile(routes, 50))
        p99s.append(percentile(routes, 99))
        base50s.append(percentile(lookups, 50))
        base99s.append(percentile(lookups, 99))
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
    scale = f"{MEMBERS:,} members, {TOPICS} topics, {HISTORY:,} questions; {ROUTES:,} routes"
    p99 = median(p99s)
    emit(
        [
            Result(
                "question routing",
                f"p50 to route a question ({scale})",
                median(p50s),
                UNIT,
                median(base50s),
            ),
            Result(
                "question routing",
                f"p99 to route a question ({scale})",
                p99,
                UNIT,
                median(base99s),
                target="p99 < 50 ms",
                met=p99 < 50,
            ),
        ]
    )


if __name__ == "__main__":
    main()
