"""Run the benchmarks, print one table and the total time, write the results as JSON.

`python -m benchmarks [--quick] [name ...]` (`make bench`, `make bench-quick`). Each benchmark
runs in a process of its own, with its baseline measured in the same run, and names the size
it measured in its rows. `--quick` runs every benchmark at a small size, once
(`BENCH_QUICK=1`; the report at `BENCH_REPORT_SIZES=10000,100000`), in about a minute, to
show that each one works; its figures are rough. In quick mode the scheduler benchmark, which
mostly waits for a minute to begin, runs beside the others. Sizes set in the environment win.

The exit status is 1 only when a benchmark fails (an exception, a wrong result, a time-out),
never because a figure misses its target.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from benchmarks.common import MARKER, WORK

HERE = Path(__file__).resolve().parent
MODULES = ["importing", "ingest", "latency", "outbox", "report", "routing", "scheduler", "search"]
QUICK_ENV = {"BENCH_QUICK": "1", "BENCH_REPORT_SIZES": "10000,100000"}
BESIDE_IN_QUICK = {"scheduler"}  # waits for a wall-clock minute: runs beside the others
TIMEOUT = {False: 900.0, True: 300.0}  # seconds for one benchmark (full, quick)


@dataclass
class Running:
    name: str
    process: subprocess.Popen
    out: IO[str] = field(repr=False)
    err: IO[str] = field(repr=False)
    started: float


def start(name: str, env: dict[str, str]) -> Running:
    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", f"benchmarks.{name}"],
        stdout=out,
        stderr=err,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, so a time-out stops its children too
    )
    return Running(name, process, out, err, time.perf_counter())


def stop(run: Running) -> None:
    try:
        os.killpg(run.process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    run.process.wait()


def finish(run: Running, timeout: float) -> list[dict]:
    """Wait for a benchmark and read its rows (an `error` row if it failed)."""
    try:
        code = run.process.wait(max(0.0, run.started + timeout - time.perf_counter()))
        why = f"exit status {code}"
    except subprocess.TimeoutExpired:
        stop(run)
        code, why = -1, f"timed out after {timeout:.0f} s"
    took = time.perf_counter() - run.started
    run.out.seek(0)
    run.err.seek(0)
    stdout, stderr = run.out.read(), run.err.read()
    lines = [line for line in stdout.splitlines() if line.startswith(MARKER)]
    if code != 0 or not lines:
        sys.stderr.write(f"--- {run.name} failed ({why}):\n{stdout[-3000:]}{stderr[-3000:]}\n")
        return [{"benchmark": run.name, "metric": "error", "value": code, "unit": why}]
    print(f"  {run.name}: {took:.0f} s", file=sys.stderr, flush=True)
    return json.loads(lines[-1][len(MARKER) :])


def table(rows: list[dict]) -> str:
    header = ("benchmark", "metric", "value", "unit", "baseline", "ratio", "target", "met")
    cells = [header] + [
        tuple(
            ""
            if row.get(key) is None
            else f"{row[key]:,.4g}"
            if isinstance(row[key], float)
            else str(row[key])
            for key in header
        )
        for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    wanted = [a for a in argv if a != "--quick"] or MODULES
    unknown = [name for name in wanted if name not in MODULES]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(MODULES)}")
        return 2
    env = dict(os.environ)
    if quick:
        for key, value in QUICK_ENV.items():
            env.setdefault(key, value)
    timeout = TIMEOUT[quick]
    began = time.perf_counter()
    mode = "quick (small sizes, one run each)" if quick else "full"
    where = "SQLite and PostgreSQL" if env.get("CONVENER_TEST_DATABASE_URL") else "SQLite"
    print(f"benchmarks: {', '.join(wanted)}; {mode}; {where}", file=sys.stderr, flush=True)
    beside = [start(n, env) for n in wanted if quick and n in BESIDE_IN_QUICK]
    started = list(beside)
    found: dict[str, list[dict]] = {}
    try:
        for name in wanted:
            if name not in found and not any(run.name == name for run in beside):
                started.append(start(name, env))
                found[name] = finish(started[-1], timeout)
        for run in beside:
            found[run.name] = finish(run, timeout)
    finally:  # Ctrl-C: stop what runs (each benchmark has a process group of its own)
        for run in started:
            if run.process.poll() is None:
                stop(run)
    rows = [row for name in wanted for row in found[name]]
    out = WORK / "results-quick.json" if quick else HERE / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n")
    total = time.perf_counter() - began
    print(table(rows))
    print(f"\nwritten to {out}")
    print(f"total: {total:.0f} s ({total / 60:.1f} min)")
    return 0 if all(r["metric"] != "error" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
