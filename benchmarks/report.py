"""Report: the full engagement workbook over 100,000 and 1,000,000 activities (10,000
members, 2,000 questions, 200 prompt runs), each built in its own process so its peak memory
is its own. Baseline: openpyxl write-only writing the workbook's sheets with the same row
counts (10,000 Members, 2,000 Questions, 200 Prompts, 50 Channels, a row a week...), plain
values and no queries at all.

`BENCH_REPORT_REUSE=1` keeps each seeded database in benchmarks/work/ and uses it again in the
next run when it holds what seeding makes (migrated to the newest schema first), so profiling
a change does not pay for seeding each time."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.common import WORK, Result, emit, fresh_sqlite, median, peak_rss_mb, runs
from bot.db import upgrade

REUSE = os.environ.get("BENCH_REPORT_REUSE", "") not in ("", "0")
SIZES = [int(n) for n in os.environ.get("BENCH_REPORT_SIZES", "100000,1000000").split(",")]
MEMBERS, QUESTIONS, PROMPTS, CHANNELS, DAYS = 10_000, 2_000, 200, 50, 180
END = datetime(2026, 11, 1, tzinfo=UTC)
START = END - timedelta(days=DAYS)
SECONDARY = (
    ("ix_activity_ts_member_channel_kind", "ts, member_id, channel_id, kind"),
    ("ix_activity_member_ts_kind", "member_id, ts, kind"),
    ("ix_activity_thread", "channel_id, thread_id"),
)


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def seed(path: Path, activities: int, seed: int = 11) -> None:
    """Fill the schema quickly: secondary indexes are dropped and rebuilt after the load."""
    rnd = random.Random(seed)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    for name, _ in SECONDARY:
        db.execute(f"DROP INDEX {name}")
    created = _ts(START)
    db.executemany(
        "INSERT INTO members (id, display_name, city, org, is_bot, is_away, created_at,"
        " joined_at) VALUES (?,?,?,?,0,0,?,?)",
        [(i + 1, f"Member {i}", rnd.choice(["Nairobi", "Seoul", "Mexico City"]), "Treasury",
          created, _ts(START + timedelta(days=rnd.uniform(0, DAYS)))) for i in range(MEMBERS)],
    )  # fmt: skip
    db.executemany(
        "INSERT INTO channels (id, platform, channel_id, name, is_direct) VALUES (?,?,?,?,0)",
        [(i + 1, "slack", f"C{i}", f"#channel-{i}") for i in range(CHANNELS)],
    )
    span = (END - START).total_seconds()
    questions = []
    for q in range(QUESTIONS):
        asked = START + timedelta(seconds=rnd.uniform(0, span))
        questions.append((q + 1, rnd.randrange(MEMBERS) + 1, rnd.randrange(CHANNELS) + 1,
                          f"q{q}", f"Question {q}?", _ts(asked)))  # fmt: skip
    db.executemany(
        "INSERT INTO questions (id, asker_id, channel_id, message_id, text, asked_at, status,"
        " escalations) VALUES (?,?,?,?,?,?,'open',0)",
        questions,
    )
    db.executemany(
        "INSERT INTO prompt_runs (id, channel_id, message_id, text, posted_at) VALUES (?,?,?,?,?)",
        [(p + 1, p % CHANNELS + 1, f"p{p}", f"Prompt {p}",
          _ts(START + timedelta(days=p * DAYS / PROMPTS))) for p in range(PROMPTS)],
    )  # fmt: skip
    kinds = ("message",) * 5 + ("reply",) * 3 + ("reaction",) * 2
    batch = []
    for n in range(activities):
        ts = START + timedelta(seconds=span * n / activities)
        kind = rnd.choice(kinds)
        thread = None
        channel = rnd.randrange(CHANNELS) + 1
        if kind == "reply" and rnd.random() < 0.3:
            if rnd.random() < 0.5:
                q = questions[rnd.randrange(QUESTIONS)]
                thread, channel = q[3], q[2]
            else:
                p = rnd.randrange(PROMPTS)
                thread, channel = f"p{p}", p % CHANNELS + 1
        batch.append((_ts(ts), rnd.randrange(MEMBERS) + 1, channel, kind, "slack", f"e{n}",
                      f"m{n}", thread, 80))  # fmt: skip
        if len(batch) == 50_000:
            db.executemany(
                "INSERT INTO activity (ts, member_id, channel_id, kind, platform, event_id,"
                " message_id, thread_id, size) VALUES (?,?,?,?,?,?,?,?,?)",
                batch,
            )
            batch.clear()
    if batch:
        db.executemany(
            "INSERT INTO activity (ts, member_id, channel_id, kind, platform, event_id,"
            " message_id, thread_id, size) VALUES (?,?,?,?,?,?,?,?,?)",
            batch,
        )
    for name, columns in SECONDARY:
        db.execute(f"CREATE INDEX {name} ON activity ({columns})")
    db.commit()
    db.execute("ANALYZE")
    db.close()


def seeded(size: int) -> tuple[str, Path]:
    """A database seeded with `size` activities: a fresh one, or with `REUSE` the one kept
    from an earlier run when it holds as many activities, members, questions and prompts."""
    path = WORK / f"report-{size}.db"
    url = f"sqlite:///{path}"
    if REUSE and path.exists():
        db = sqlite3.connect(path)
        try:
            kept = db.execute(
                "SELECT (SELECT count(*) FROM activity), (SELECT count(*) FROM members),"
                " (SELECT count(*) FROM questions), (SELECT count(*) FROM prompt_runs)"
            ).fetchone()
        except sqlite3.Error:
            kept = None
        db.close()
        if kept == (size, MEMBERS, QUESTIONS, PROMPTS):
            upgrade(url)
            return url, path
    url, path = fresh_sqlite(f"report-{size}")
    seed(path, size)
    return url, path


def build(url: str, out: Path) -> dict:
    """In a child process: the full workbook for the whole history."""
    from bot.db import sync_url
    from handlers.reports.build import write_report
    from handlers.reports.period import from_days

    period = from_days(START.date(), (END - timedelta(days=1)).date(), "UTC")
    started = time.perf_counter()
    write_report(sync_url(url), period, str(out), now=END, timezone="UTC")
    return {"seconds": time.perf_counter() - started, "peak_mb": peak_rss_mb()}


def sheet_rows() -> list[tuple[str, int, int]]:
    """The workbook's sheets for the whole seeded history: (name, columns, data rows). Every
    member, question, prompt run and channel has a row, each ISO week the period touches (the
    Overview: each full week), each summary figure and definition."""
    monday = START.date() - timedelta(days=START.weekday())
    weeks = -(-(END.date() - monday).days // 7)  # the first and the last are partial
    return [("Overview", 7, max(11, weeks - 2)), ("Summary", 4, 23), ("Weekly", 10, weeks + 1),
            ("Members", 15, MEMBERS), ("Channels", 7, CHANNELS), ("Questions", 10, QUESTIONS),
            ("Prompts", 7, PROMPTS), ("Knowledge", 8, 0), ("Events", 9, 0), ("Calls", 7, 0),
            ("Definitions", 2, 23)]  # fmt: skip


def baseline(out: Path) -> dict:
    """In a child process: openpyxl write-only, the workbook's sheets with the same number of
    rows (`sheet_rows`), plain values, no queries."""
    from openpyxl import Workbook

    started = time.perf_counter()
    book = Workbook(write_only=True)
    when = datetime(2026, 5, 1)
    for name, columns, rows in sheet_rows():
        sheet = book.create_sheet(name)
        if name == "Members":
            sheet.append(["Name", "City", "Organisation", "Role", "Joined", "First activity",
                          "Last activity", "Messages", "Replies", "Reactions",
                          "Questions asked", "Questions answered", "Prompts answered",
                          "Can help with", "Status"])  # fmt: skip
            for i in range(rows):
                sheet.append([f"Member {i}", "Nairobi", "Treasury", None, when, when, when,
                              i % 50, i % 30, i % 20, 0, 0, 0, None, "active"])  # fmt: skip
            continue
        sheet.append([f"Column {c}" for c in range(columns)])
        for i in range(rows):
            sheet.append([f"{name} {i}", when, *(i % (c + 7) for c in range(columns - 2))])
    book.save(str(out))
    return {"seconds": time.perf_counter() - started, "peak_mb": peak_rss_mb()}


def child(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.report", *args], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    results = []
    peaks = {}
    rows = sum(n for _, _, n in sheet_rows())
    for size in SIZES:
        url, path = seeded(size)
        out = WORK / f"report-{size}.xlsx"
        built = [child("--build", url, str(out)) for _ in range(runs(1))]
        base = [child("--baseline", str(WORK / "baseline.xlsx")) for _ in range(runs(1))]
        seconds = median([b["seconds"] for b in built])
        peaks[size] = max(b["peak_mb"] for b in built)
        label = f"{size:,} activities"
        results.append(Result(
            "report", f"full workbook, {label}", seconds, "s (lower is better); baseline: "
            f"openpyxl write-only, the same sheets and row counts ({rows:,} rows), no queries",
            median([b["seconds"] for b in base]),
            target="< 10 s" if size >= 1_000_000 else "",
            met=seconds < 10 if size >= 1_000_000 else None,
        ))  # fmt: skip
        results.append(Result("report", f"peak memory, {label}", peaks[size], "MB (lower is "
                              "better)"))  # fmt: skip
        if not REUSE:
            path.unlink()
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    if len(SIZES) == 2:
        small, large = sorted(SIZES)
        growth = peaks[large] / peaks[small]
        results.append(Result(
            "report", f"peak memory growth {large:,} vs {small:,} activities", growth,
            "times (lower is better)", target="<= 1.3", met=growth <= 1.3,
        ))  # fmt: skip
    emit(results)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--build":
        print(json.dumps(build(sys.argv[2], Path(sys.argv[3]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "--baseline":
        print(json.dumps(baseline(Path(sys.argv[2]))))
    else:
        main()
