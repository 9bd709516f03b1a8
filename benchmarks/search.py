"""Knowledge search: the library's `search` (handlers/knowledge/library.py, the database's own
full-text index: FTS5 on SQLite, a tsvector with a GIN index on PostgreSQL) over 100,000
entries of municipal finance questions and answers, one session per query as the app opens
them. Baseline: for the same queries, a plain `LIKE '%word%'` scan of the same rows (a phrase
must appear, and one of the other words, as `search` asks), `LIMIT 5`, through the same
session machinery, in the same run and database.

The entries draw their words from a vocabulary of 4,000 (Zipf-Mandelbrot: "budget" and its
forms, or "year", are in two fifths of the entries, most words in a few hundred or fewer) plus
30,000 place names that occur in about three entries each. The queries hold 1-3 words, common
and rare, a fifth with a quoted phrase from an entry.

Size: 100,000 entries, 300 queries timed (`BENCH_SEARCH_ENTRIES`, `BENCH_SEARCH_QUERIES`);
10,000 and 100 in quick mode."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, insert, text

from benchmarks.common import (
    Result,
    Timer,
    drop_postgres,
    emit,
    fresh_postgres,
    fresh_sqlite,
    median,
    percentile,
    plain_dsn,
    postgres_server,
    runs,
    size,
)
from bot import stemming, topics
from bot.db import Database
from bot.models import KnowledgeTopic, Topic
from handlers.knowledge import library

ENTRIES = size("BENCH_SEARCH_ENTRIES", 100_000, 10_000)
QUERIES = size("BENCH_SEARCH_QUERIES", 300, 100)
WARMUP = 20
VOCABULARY = 4000
PLACES = 30000
ZIPF_S, ZIPF_Q = 1.1, 20.0  # weight of the word of rank r: 1 / (r + q) ** s
SEED = 20240715
MARKER = "bench7marker"  # no generated word has a digit

# The common words of the domain, roughly most frequent first (the rest are made up).
DOMAIN = """
budget fund tax council revenue city county budgets staff capital year reserves audit
property finance department rate debt plan spending cost grant policy payroll budgeting
report water levy service bonds cash general pension forecast vendor contract public
enterprise utility assessment transfer expenditure projects schedule process accounting
software board fiscal manager treasurer clerk balance funds taxes rates costs grants
meeting deadline residents state federal statement system review approval line items
appropriation purchasing procurement invoices payments salary overtime benefits health
insurance liability claims retirement actuarial contributions liabilities investment
portfolio yield interest borrowing refunding issuance rating agencies outlook credit
sewer stormwater streets roads parks library police fire emergency transit housing
development zoning permits fees charges recovery study model projections assumptions
inflation growth decline shortfall surplus deficit gap cuts increase decrease adjustment
amendment ordinance resolution hearing vote mayor commissioners supervisors trustees
auditors findings controls segregation duties fraud reconciliation bank deposits receipts
collections delinquent penalties abatement exemptions assessor valuation reassessment
appraisal parcels millage homestead commercial residential industrial sales remittance
nexus lodging franchise utilities billing meters shutoffs arrears customers accounts
payable receivable ledger journal entries chart close month quarter annual acfr gasb
disclosure continuing bondholders underwriter counsel advisor official trustee escrow
arbitrage rebate compliance single uniform guidance subrecipient monitoring allowable
indirect match reimbursement drawdown closeout arpa cares stimulus formula competitive
application award agreement reporting dashboard transparency open data portal template
spreadsheet workbook calculation formula pivot export import upgrade migration vendor
implementation training onboarding turnover hiring vacancy positions classification
union bargaining negotiations wages cola step longevity sick leave accrual compensated
absences depreciation assets infrastructure inventory fleet vehicles equipment buildings
maintenance deferred replacement lifecycle condition facilities energy solar efficiency
participatory ballots community engagement survey priorities equity outcomes performance
measures benchmarks metrics goals targets strategic multiyear operating requests
departments baseline supplemental carryover encumbrances lapse unassigned committed
restricted stabilization rainy policies minimum target months expenditures budgeted
budgetary contingency allocation allocations formula overhead cost center chargeback
internal service motor pool print shop risk pool premiums deductible coverage broker
""".split()
FUNCTION_WORDS = (
    "the the the of of and and to to in in for a we our on with is it that by at from was "
    "this as are be have they their last next each per"
).split()
TITLES = (
    "How do you handle {a} {b}?",
    "{A} and {b}: what worked for you?",
    "Is anyone using {a} for {b} {c}?",
    "Question about {a} {b} in {place}",
    "Best way to present {a} {b} to council?",
    "What is a reasonable {a} {b} for a small town?",
    "Has anyone changed their {a} {b} after the {c} review?",
    "Looking for a {a} {b} template",
)
ANSWER_OPENERS = ("", "", "", "We ", "In {place} we ", "Our ", "Last year ", "We found the ")
SYLLABLES = (
    "ba be bi bo bu da de di do du fa fe fi fo ga go gu ka ke ki ko la le li lo lu ma me mi mo "
    "mu na ne ni no nu pa pe pi po ra re ri ro ru sa se si so ta te ti to tu va ve vi vo za zo "
    "bran cor dal fen gar hol kel lan mar nor pel quin ros sel tor val wen yor zan"
).split()
ENDINGS = ("n", "r", "l", "m", "t", "k", "d", "x")
PLACE_ENDINGS = ("ton", "ville", "field", "burg", "ford", "dale", "worth", "mere", "haven")


def made_up_words(rng: random.Random, count: int, endings: tuple[str, ...], taken: set[str]):
    words: list[str] = []
    while len(words) < count:
        word = "".join(rng.choices(SYLLABLES, k=rng.randint(2, 3))) + rng.choice(endings)
        if word not in taken:
            taken.add(word)
            words.append(word)
    return words


class Corpus:
    """The entries (as rows), and the words and phrases to search for."""

    def __init__(self, rng: random.Random, now: datetime) -> None:
        taken = set(DOMAIN) | set(FUNCTION_WORDS)
        domain = list(dict.fromkeys(DOMAIN))
        self.vocabulary = domain + made_up_words(rng, VOCABULARY - len(domain), ENDINGS, taken)
        self.places = [w.capitalize() for w in made_up_words(rng, PLACES, PLACE_ENDINGS, taken)]
        weights = [1 / (r + ZIPF_Q) ** ZIPF_S for r in range(len(self.vocabulary))]
        self.cum_weights = list(itertools.accumulate(weights))
        self.rows = self._rows(rng, now)

    def _rows(self, rng: random.Random, now: datetime) -> list[dict]:
        draws = iter(rng.choices(self.vocabulary, cum_weights=self.cum_weights, k=ENTRIES * 40))
        places = itertools.cycle(rng.sample(self.places, len(self.places)))
        oldest = 6 * 365 * 24 * 3600
        rows = []
        for n in range(ENTRIES - 2):
            place = next(places) if rng.random() < 0.6 else "our town"
            a, b, c = next(draws), next(draws), next(draws)
            title = rng.choice(TITLES).format(a=a, A=a.capitalize(), b=b, c=c, place=place)
            lines = []
            for _ in range(rng.randint(2, 4)):
                opener = rng.choice(ANSWER_OPENERS).format(place=next(places))
                words = [
                    rng.choice(FUNCTION_WORDS) if rng.random() < 0.35 else next(draws)
                    for _ in range(rng.randint(6, 12))
                ]
                line = opener + " ".join(words) + "."
                lines.append(line[0].upper() + line[1:])
            rows.append(self._row(n + 1, title, "\n".join(lines), now, rng.randrange(oldest)))
        rows.append(
            self._row(ENTRIES - 1, f"How did {MARKER} start?", "We moved to participatory "
                      "budgeting last spring.\nTurnout doubled.", now, 3600)
        )  # fmt: skip
        rows.append(self._row(ENTRIES, f"{MARKER} staffing", "We hired two analysts.", now, 60))
        return rows

    @staticmethod
    def _row(entry_id: int, title: str, body: str, now: datetime, age: int) -> dict:
        """An entry as the library writes it: in English, with its terms (a bulk insert
        bypasses the ORM, which computes them)."""
        created_at = now - timedelta(seconds=age)
        return {"id": entry_id, "title": title, "body": body, "created_at": created_at,
                "shown": 0, "answered": 0, "language": "en",
                "title_terms": stemming.terms(title, "en"),
                "body_terms": stemming.terms(body, "en")}  # fmt: skip

    def queries(self, rng: random.Random, count: int) -> list[str]:
        """1-3 words each, common and rare; a fifth hold a phrase from an entry in quotes."""

        def word() -> str:
            roll = rng.random()
            if roll < 0.25:
                return rng.choice(self.vocabulary[:40])
            if roll < 0.6:
                return rng.choice(self.vocabulary[40:600])
            if roll < 0.8:
                return rng.choice(self.vocabulary[600:])
            return rng.choice(self.places).lower()

        out = []
        while len(out) < count:
            if rng.random() < 0.2:
                body = rng.choice(self.rows)["body"].replace(".", "").split()
                pairs = [
                    f"{x} {y}" for x, y in itertools.pairwise(body)
                    if x.islower() and y.islower() and not {x, y} & set(FUNCTION_WORDS)
                ]  # fmt: skip
                if pairs:
                    extra = [word()] if rng.random() < 0.5 else []
                    out.append(" ".join([f'"{rng.choice(pairs)}"', *extra]))
                continue
            out.append(" ".join(word() for _ in range(rng.randint(1, 3))))
        return out


TOPICS = (
    "budgeting", "procurement", "property tax", "audit", "debt", "pensions", "capital planning",
    "payroll", "grants", "revenue forecasting", "utility billing", "cash management",
    "investments", "risk management", "internal controls", "financial reporting",
)  # fmt: skip


def seed_links(url: str, rng: random.Random, now: datetime) -> None:
    """The topics and each entry's one or two topics (entries are already in)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            insert(Topic),
            [{"id": i + 1, "name": t, "key": topics.key_of(t), "keywords": "", "created_at": now}
             for i, t in enumerate(TOPICS)],
        )  # fmt: skip
        conn.execute(
            insert(KnowledgeTopic),
            [{"entry_id": e, "topic_id": t}
             for e in range(1, ENTRIES + 1)
             for t in rng.sample(range(1, len(TOPICS) + 1), rng.randint(1, 2))],
        )  # fmt: skip
    engine.dispose()


def seed_sqlite(url: str, corpus: Corpus, now: datetime) -> None:
    """Bulk inserts; the triggers of migration 0013 fill the FTS index."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(library.KnowledgeEntry), corpus.rows)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO knowledge_fts(knowledge_fts) VALUES ('optimize')")
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    seed_links(url, random.Random(SEED + 1), now)


def seed_postgres(url: str, corpus: Corpus, now: datetime) -> None:
    """COPY; PostgreSQL computes the stored tsvector and fills the GIN index."""
    import psycopg

    with psycopg.connect(plain_dsn(url)) as conn:
        with conn.cursor().copy(
            "COPY knowledge_entries (id, title, body, created_at, shown, answered, language, "
            "title_terms, body_terms) FROM STDIN"
        ) as copy:
            for r in corpus.rows:
                copy.write_row((r["id"], r["title"], r["body"], r["created_at"], 0, 0, "en",
                                r["title_terms"], r["body_terms"]))  # fmt: skip
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('knowledge_entries', 'id'), max(id)) "
            "FROM knowledge_entries"
        )
    seed_links(url, random.Random(SEED + 1), now)
    with psycopg.connect(plain_dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def like_sql(words: str, dialect: str) -> tuple[str, dict] | None:
    """The scan: the same terms as `search` (every phrase, and one of the other words), each
    as `%term%` on title or body."""
    phrases, plain = library._terms(words)
    if not phrases and not plain:
        return None
    op = "ILIKE" if dialect == "postgresql" else "LIKE"
    params: dict = {}

    def either(name: str, term: str) -> str:
        params[name] = f"%{term}%"
        return f"title {op} :{name} OR body {op} :{name}"

    parts = [f"({either(f'p{n}', p)})" for n, p in enumerate(phrases)]
    if plain:
        parts.append("(" + " OR ".join(either(f"w{n}", w) for n, w in enumerate(plain)) + ")")
    return f"SELECT id FROM knowledge_entries WHERE {' AND '.join(parts)} LIMIT 5", params


def words_of(content: str) -> set[str]:
    return set(content.casefold().replace(".", " ").replace("?", " ").replace(":", " ").split())


async def check(db: Database, corpus: Corpus, rng: random.Random) -> None:
    """Not timed: a rare word finds the entries holding it (or a stemmed form of it), and
    "budgets" finds the one entry that only says "budgeting"."""
    places = {p.lower() for p in corpus.places}
    scarce = set(corpus.vocabulary[-200:])
    sought = places | scarce
    holding: dict[str, list[int]] = {}
    for row in corpus.rows:
        for w in words_of(f"{row['title']} {row['body']}") & sought:
            holding.setdefault(w, []).append(row["id"])
    rare = sorted(w for w, ids in holding.items() if len(ids) <= 5 and w in places)
    async with db.sessions() as session:
        present = sorted(w for w in scarce if w in holding)  # a small corpus lacks some
        for word in rng.sample(rare, 20) + rng.sample(present, min(5, len(present))):
            hits = await session.run_sync(library.search, word)
            wanted = set(holding.get(word, []))
            found = {h.entry.id for h in hits}
            stem = word[: max(4, len(word) - 3)]
            strays = [
                h.entry.id for h in hits
                if not any(w.startswith(stem) for w in words_of(f"{h.entry.title} {h.entry.body}"))
            ]  # fmt: skip
            if not found or strays or (len(wanted) <= 5 and not wanted <= found):
                raise SystemExit(f"search {word!r}: found {found}, wanted {wanted}, {strays=}")
        hits = await session.run_sync(library.search, f'"{MARKER}" budgets')
        if [h.entry.id for h in hits] != [ENTRIES - 1]:
            raise SystemExit(f'"budgets" did not find "budgeting": {[h.entry.id for h in hits]}')
        sql, params = like_sql(f'"{MARKER}" budgets', db.engine.dialect.name)
        assert not list(await session.scalars(text(sql), params))  # the scan cannot stem


async def measure(url: str, corpus: Corpus, queries: list[str]) -> tuple[list, list]:
    db = Database(url)
    try:
        await check(db, corpus, random.Random(SEED + 2))
        searches, scans = [], []
        for n, words in enumerate(queries):
            started = time.perf_counter()
            await db.read(library.search, words)  # as the `search` command runs it
            took = (time.perf_counter() - started) * 1000
            sql, params = like_sql(words, db.engine.dialect.name)
            started = time.perf_counter()
            async with db.sessions() as session:
                list(await session.scalars(text(sql), params))
            scanned = (time.perf_counter() - started) * 1000
            if n >= WARMUP:
                searches.append(took)
                scans.append(scanned)
    finally:
        await db.dispose()
    return searches, scans


def rows(database: str, p50: float, p99: float, base50: float, base99: float) -> list[Result]:
    scale = f"{ENTRIES:,} entries, {QUERIES:,} queries, {database}"
    unit = "ms (lower is better); baseline: LIKE '%word%' scan"
    return [
        Result("knowledge search", f"p50 of search ({scale})", p50, unit, base50),
        Result(
            "knowledge search",
            f"p99 of search ({scale})",
            p99,
            unit,
            base99,
            target="p99 < 50 ms and >= 10x faster than the scan",
            met=p99 < 50 and p99 * 10 <= base99,
        ),
    ]


def main() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    with Timer() as made:
        corpus = Corpus(random.Random(SEED), now)
        queries = corpus.queries(random.Random(SEED + 3), QUERIES + WARMUP)
    print(f"corpus: {made.seconds:.1f} s")
    p50s, p99s, base50s, base99s = [], [], [], []
    for i in range(runs(1)):
        url, path = fresh_sqlite(f"search-{i}")
        with Timer() as seeded:
            seed_sqlite(url, corpus, now)
        print(f"SQLite seed: {seeded.seconds:.1f} s")
        searches, scans = asyncio.run(measure(url, corpus, queries))
        p50s.append(percentile(searches, 50))
        p99s.append(percentile(searches, 99))
        base50s.append(percentile(scans, 50))
        base99s.append(percentile(scans, 99))
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
    results = rows("SQLite", median(p50s), median(p99s), median(base50s), median(base99s))
    if postgres_server():
        url = fresh_postgres("search")
        try:
            with Timer() as seeded:
                seed_postgres(url, corpus, now)
            print(f"PostgreSQL seed: {seeded.seconds:.1f} s")
            searches, scans = asyncio.run(measure(url, corpus, queries))
        finally:
            drop_postgres(url)
        results += rows(
            "PostgreSQL",
            percentile(searches, 50),
            percentile(searches, 99),
            percentile(scans, 50),
            percentile(scans, 99),
        )
    emit(results)


if __name__ == "__main__":
    main()
