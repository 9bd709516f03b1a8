"""Run every benchmark, print one table, write benchmarks/results.json."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import MARKER

HERE = Path(__file__).resolve().parent
MODULES = ["ingest", "latency", "report", "routing", "scheduler", "search"]


def run_module(name: str) -> list[dict]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}"], capture_output=True, text=True
    )
    took = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARKER)]
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        return [{"benchmark": name, "metric": "error", "value": done.returncode, "unit": "exit"}]
    print(f"  {name}: {took:.0f} s", file=sys.stderr)
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


def main() -> int:
    wanted = sys.argv[1:] or MODULES
    rows: list[dict] = []
    for name in wanted:
        rows.extend(run_module(name))
    (HERE / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(table(rows))
    print(f"\nwritten to {HERE / 'results.json'}")
    return 0 if all(r["metric"] != "error" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
