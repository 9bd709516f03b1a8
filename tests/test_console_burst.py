"""SQLite under a burst, as a new user meets it: `convener run` on the default database fed
a console script of about 1,000 lines by 100 members (welcomes, onboarding answers,
commands, reactions on announcements and questions) that ends as a new member first speaks,
and the same cut short by SIGTERM. Every run: no "database is locked", every activity row
stored, exit 0."""

from __future__ import annotations

import random
import re
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.test_console import console_environment, console_process, convener

RUNS = 20  # ending on a newcomer, as the hot-path issue asks
SIGTERM_RUNS = 10  # each stopped at another point of the burst
MEMBERS = 100
CITIES = ("Nairobi", "Seoul", "Mexico City", "Accra", "Kathmandu", "Barcelona")


def script(seed: int, lines: int = 1000) -> str:
    """A console script of about `lines` lines by `MEMBERS` members."""
    rnd = random.Random(seed)
    out = [
        '!event add 2030-03-05 18:00 Africa/Nairobi "Deep dive: property tax"',
        "!topic add budgeting",
        "/as asker",
        "!ask How do you phase a property tax reassessment?",
    ]
    while len(out) < lines - 2:
        name = f"m{rnd.randrange(MEMBERS)}"
        out.append(f"/as {name}")
        roll = rnd.random()
        if roll < 0.35:
            out.append(rnd.choice(("Hello from the budget office", "Any templates for this?")))
        elif roll < 0.5:
            out.append("/reply We did it over three years.")
        elif roll < 0.65:
            out.append(f"/react {rnd.choice(('+1', 'white_check_mark', 'tada'))}")
        elif roll < 0.75:
            out.append(f"/dm {rnd.choice(CITIES)}")
        elif roll < 0.85:
            out.append(rnd.choice(("!help", "!profile", "!events", "!questions open")))
        elif roll < 0.92:
            out.append(f"!profile city {rnd.choice(CITIES)}")
        else:
            out.append(f"/join #c{rnd.randrange(5)}")
            out.append("Hello, new channel")
    out += ["/as newcomer", "hello everyone, I just arrived"]
    return "\n".join(out) + "\n"


def _settings(tmp_path: Path) -> dict[str, str]:
    return {
        "CONVENER_DATABASE_URL": f"sqlite:///{tmp_path / 'convener.db'}",
        "CONVENER_LOG_LEVEL": "INFO",
    }


def _stored(tmp_path: Path, stderr: str) -> int:
    """The rows in the activity log, checked against the number of events the bot says it
    recorded when it stopped, with no dead letter: a row lost anywhere shows here."""
    said = re.search(r"activity: (\d+) events recorded, (\d+) rows written", stderr)
    assert said, stderr[-3000:]
    db = sqlite3.connect(tmp_path / "convener.db")
    try:
        rows = db.execute("select count(*) from activity").fetchone()[0]
        dead = db.execute("select count(*) from activity_dead_letters").fetchone()[0]
    finally:
        db.close()
    assert dead == 0
    assert rows == int(said[1]) == int(said[2])
    return rows


def _last_event(tmp_path: Path) -> str:
    db = sqlite3.connect(tmp_path / "convener.db")
    try:
        return db.execute(
            "select m.display_name || ' ' || a.kind from activity a"
            " join members m on m.id = a.member_id order by a.id desc limit 1"
        ).fetchone()[0]
    finally:
        db.close()


def _check(stderr: str) -> None:
    assert "database is locked" not in stderr, stderr[-3000:]
    assert "could not be stored" not in stderr, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("run", range(RUNS))
def test_a_burst_ending_on_a_newcomer(tmp_path, run):
    text = script(run)
    done = convener(tmp_path, text, **_settings(tmp_path))
    _check(done.stderr)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "[DM @newcomer] convener: Welcome" in done.stdout
    assert _stored(tmp_path, done.stderr) > 600
    assert _last_event(tmp_path) == "newcomer message"


@pytest.mark.slow
@pytest.mark.parametrize("run", range(SIGTERM_RUNS))
def test_a_burst_stopped_by_sigterm(tmp_path, run):
    """SIGTERM once the bot is mid-burst: whatever was read is stored, nothing is lost."""
    text = script(1000 + run)
    proc = console_process(tmp_path, console_environment(tmp_path, **_settings(tmp_path)))
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(text)
    proc.stdin.flush()
    answered = 0
    for line in iter(proc.stdout.readline, ""):  # mid-burst: some answers are out
        answered += "convener:" in line
        if answered >= 40 + 2 * run:
            break
    proc.send_signal(signal.SIGTERM)
    try:
        _, stderr = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    _check(stderr)
    assert proc.returncode == 0, stderr[-3000:]
    assert _stored(tmp_path, stderr) > 10
