"""Shared helpers: sizes (full or quick), results, medians, percentiles, peak memory,
throwaway databases."""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.db import upgrade

WORK = Path(__file__).resolve().parent / "work"
MARKER = "BENCH-RESULTS "


@dataclass
class Result:
    benchmark: str
    metric: str
    value: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    target: str = ""
    met: bool | None = None

    def __post_init__(self) -> None:
        if quick():  # targets hold at full size; a quick run only shows that it works
            self.met = None
        if self.baseline and self.ratio is None:
            self.ratio = round(self.value / self.baseline, 4)
        self.value = round(self.value, 4)
        if self.baseline is not None:
            self.baseline = round(self.baseline, 4)


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def quick() -> bool:
    """Quick mode (`BENCH_QUICK=1`, set by `python -m benchmarks --quick`, `make bench-quick`):
    every benchmark at a small size, once, to check that it runs; its figures are rough."""
    return os.environ.get("BENCH_QUICK", "").strip() not in ("", "0")


def size(variable: str, full: int, small: int) -> int:
    """A benchmark's size: the environment variable `variable` if set (`200000` or
    `200_000`), else `small` in quick mode, else `full`."""
    value = os.environ.get(variable, "").strip().replace("_", "").replace(",", "")
    if value:
        return int(value)
    return small if quick() else full


def runs(default: int = 3) -> int:
    """How many runs to take the median of (`BENCH_RUNS` overrides every benchmark's own;
    one in quick mode)."""
    return int(os.environ.get("BENCH_RUNS", "1" if quick() else str(default)))


def fresh_sqlite(name: str) -> tuple[str, Path]:
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    upgrade(url)
    return url, path


def postgres_server() -> str:
    """The PostgreSQL server to measure on too (`CONVENER_TEST_DATABASE_URL`), if any."""
    return os.environ.get("CONVENER_TEST_DATABASE_URL", "")


def plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def fresh_postgres(name: str) -> str:
    """A new, migrated database on the test server; drop it with `drop_postgres`."""
    server = make_url(postgres_server()).set(drivername="postgresql+psycopg")
    database = f"convener_bench_{name}_{os.getpid()}"
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    engine.dispose()
    url = server.set(database=database).render_as_string(hide_password=False)
    upgrade(url)
    return url


def truncate_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE activity, members, identities, channels, handled_events"
                " RESTART IDENTITY CASCADE"
            )
        )
    engine.dispose()


def drop_postgres(url: str) -> None:
    parsed = make_url(url)
    engine = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    engine.dispose()


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start


def emit(results: list[Result]) -> None:
    """Hand results to the runner (the last line of this process's output)."""
    sys.stdout.write(MARKER + json.dumps([asdict(r) for r in results]) + "\n")
    sys.stdout.flush()
