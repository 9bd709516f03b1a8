"""The console adapter end to end: the real `convener` command, scripted from a pipe."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def console_environment(tmp_path: Path, **env: str) -> dict[str, str]:
    """The environment of a console run: a database in `tmp_path`, no Slack or Matrix."""
    environment = {
        **os.environ,
        "CONVENER_DATABASE_URL": f"sqlite:///{tmp_path / 'console.db'}",
        "CONVENER_LOG_LEVEL": "WARNING",
        "CONVENER_HTTP_PORT": "0",  # any free port: runs side by side never meet on 3000
        **env,
    }
    for name in ("SLACK_BOT_TOKEN", "MATRIX_HOMESERVER"):
        environment.pop(name, None)
    return environment


def convener(tmp_path: Path, script: str, **env: str) -> subprocess.CompletedProcess:
    environment = console_environment(tmp_path, **env)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--adapter", "console"],
        input=script,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=200,
    )


def console_process(cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    """`convener run` on the console, its input, output and errors as pipes of text."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--adapter", "console"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
    )


@pytest.mark.slow
def test_member_gets_help_and_is_refused_a_grant(tmp_path):
    done = convener(tmp_path, "/as alice\n!help\n!role grant @bob facilitator\n")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("[DM @alice] convener: Welcome to our community, alice!")
    assert "[DM @alice] convener: Here is what you can ask me:" in lines
    assert "[DM @alice] convener: Only facilitators can use `role grant`." in lines
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_first_member_is_a_facilitator_and_threads_print(tmp_path):
    script = (
        "!role grant @alice coordinator\n"  # alice has not been seen yet
        "/as alice\nhello\n/as you\n!role grant @alice coordinator\n!roles\n"
        "/convener help roles\n/frob\n/reply\n"
    )
    done = convener(tmp_path, script)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "[DM @you] convener: I don't know anyone called @alice." in out
    assert "[DM @you] convener: alice is now a coordinator." in out
    assert "Coordinators: alice" in out
    assert "(console) unknown /frob" in out
    assert "(console) usage: /reply <text>" in out
    db = sqlite3.connect(tmp_path / "console.db")
    assert db.execute("select count(*) from activity").fetchone()[0] == 6


@pytest.mark.slow
def test_sigterm_flushes_activity(tmp_path):
    env = {
        **os.environ,
        "CONVENER_DATABASE_URL": f"sqlite:///{tmp_path / 'term.db'}",
        "CONVENER_ACTIVITY_FLUSH_SECONDS": "3600",
    }
    proc = console_process(tmp_path, env)
    proc.stdin.write("/as alice\nfirst\nsecond\n!help\n")
    proc.stdin.flush()
    for line in iter(proc.stdout.readline, ""):  # the help reply: every line before it was handled
        if "Here is what you can ask me" in line:
            break
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert proc.returncode == 0, proc.stderr.read()
    db = sqlite3.connect(tmp_path / "term.db")
    kinds = sorted(k for (k,) in db.execute("select kind from activity"))
    assert kinds == ["command", "join", "message", "message"]


@pytest.mark.slow
def test_newcomer_is_welcomed_and_onboarded(tmp_path):
    done = convener(tmp_path, "/as dana\n/join #general\n/dm Nairobi\n/dm stop\n!profile\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    welcome = out.index("[DM @dana] convener: Welcome to our community, dana!")
    first = out.index("[DM @dana] convener: I have 4 quick questions")
    joined = out.index("(console) dana is in #general")
    second = out.index("[DM @dana] convener: Noted: Nairobi.\nQuestion 2 of 4:")
    assert welcome < first < joined < second
    assert "Question 1 of 4: Which city do you work in?" in out[first:joined]
    assert "[DM @dana] convener: All right, no more questions." in out
    assert "City: Nairobi" in out
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_a_question_reaches_the_expert_and_is_followed_to_solved(tmp_path):
    script = (
        "!topic add budgeting: budget, multi-year\n"
        "/as kofi\n!expertise add budgeting\n"
        "/as lena\n!ask How do other cities plan a multi-year capital budget?\n"
        "/as kofi\n/reply We phase it over three years.\n"
        "/as lena\n/dm !questions mine\n/react ✅\n/dm !questions mine\n"
    )
    done = convener(tmp_path, script)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "[#general] convener: ❓ **Question #1** from lena:" in out
    assert "[DM @kofi] convener: lena asked a question you may know about (#1, in #general)" in out
    assert "[#general thread] convener: Question #1 · Topics: budgeting" in out
    assert "[DM @lena] convener: kofi answered your question #1" in out
    assert "• #1 · answered, open · 0 min ago · lena · budgeting" in out
    assert "[#general thread] convener: ✅ Question #1 is solved, thanks to kofi." in out
    assert "• #1 · solved · 0 min ago · lena · budgeting" in out
    assert "Traceback" not in done.stderr


def read_until(
    proc: subprocess.Popen, wanted: list[str], seconds: float
) -> tuple[str, datetime | None]:
    """What the console prints until every line in `wanted` has appeared (or it stops, or
    `seconds` pass: the process is killed then, so a missing line fails, never hangs), and
    when the first of them was read."""
    assert proc.stdout is not None
    killer = threading.Timer(seconds, proc.kill)
    killer.start()
    out: list[str] = []
    first_seen = None
    try:
        for line in iter(proc.stdout.readline, ""):
            out.append(line)
            if first_seen is None and any(w in line for w in wanted):
                first_seen = datetime.now(UTC)
            if all(any(w in seen for seen in out) for w in wanted):
                break
    finally:
        killer.cancel()
    return "".join(out), first_seen


@pytest.mark.slow
def test_prompts_events_and_calls_go_out_on_time_exactly_once(tmp_path):
    """One real-time run for everything scheduled: `prompt now` posts at once; a prompt
    scheduled for the next minute and an event starting then are each posted once by the
    running scheduler, which picks new rows up every minute (so within about a minute of
    its start, with no fixed wait); a call is open. The schedule is written once the
    console answers, at the next whole minute at least a few seconds ahead, so the run
    lasts as long as the scheduler needs and no longer."""
    deadline = (datetime.now(UTC) + timedelta(days=30)).date()
    env = console_environment(tmp_path)
    with (tmp_path / "stderr.txt").open("w+") as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--adapter", "console"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            cwd=tmp_path,
            env=env,
        )
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(
                "!prompt add What is one revenue idea your city tried this year?\n"
                "!prompt add How do you publish your budget?\n"
                "!prompt list\n!prompt now\n"
            )
            proc.stdin.flush()
            first = "[#general] convener: What is one revenue idea your city tried this year?"
            out, _ = read_until(proc, [first], 60)
            now = datetime.now(UTC)  # the scheduler is running: commands are answered
            at = (now + timedelta(seconds=10)).replace(second=0, microsecond=0)
            at += timedelta(minutes=1)  # the next whole minute, 10 to 70 seconds ahead
            day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[at.weekday()]
            proc.stdin.write(
                f"!prompt schedule {day} {at:%H:%M} UTC\n"
                f'!event add {at:%Y-%m-%d} {at:%H:%M} UTC "Console deep dive"\n'
                f'!call add {deadline} "Peer review panel"\n'
                "/as dana\n!rsvp 1\n"
                "/as kofi\n!interest 1 I led our city's budget reform\n!calls\n"
            )
            proc.stdin.flush()
            second = "[#general] convener: How do you publish your budget?"
            started = "[#general] convener: 🟢 Event #1, **Console deep dive**, starts now."
            told = "[DM @dana] convener: 🟢 Starting now: event #1"
            scheduled, posted_at = read_until(proc, [second, started, told], 200)
            out += scheduled
            # anything posted twice in that run shows by now
            rest, _ = proc.communicate("/wait 1\n", timeout=60)
            out += rest
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        errors.seek(0)
        stderr = errors.read()
    assert proc.returncode == 0, stderr
    assert posted_at is not None and posted_at >= at  # when due, not before
    assert "Prompts, in the order they will be posted:" in out
    assert out.count(first) == 1 and out.count(second) == 1
    assert out.index(first) < out.index(second)
    assert out.count(started) == 1
    assert out.count(told) == 1
    assert "[DM @kofi] convener: Open calls, soonest deadline first:" in out
    assert "• #1 Peer review panel" in out
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_search_finds_a_resource_and_a_solved_question(tmp_path):
    script = (
        "!topic add budgeting: budget, multi-year\n"
        "!resource add https://example.org/mtef Multi-year budgeting toolkit: budgeting\n"
        "/as lena\n!ask Which revenue sources fund multi-year budgets in your city?\n"
        "/as kofi\n/reply Property tax and transfers, planned over three years.\n"
        "/as lena\n!solved 1\n!search budgets\n"
    )
    done = convener(tmp_path, script)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Added resource #1: Multi-year budgeting toolkit." in out
    assert "kept in the library" in out
    listing = out[out.index("The library on budgets:") :]
    assert "• #1 Multi-year budgeting toolkit" in listing
    assert "#2 Which revenue sources fund multi-year budgets in your city?" in listing
    assert "Property tax and transfers" in listing
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_console_help_quit_and_no_welcome_for_the_first_member(tmp_path):
    script = "/help\n/join #random\nhi\n!report\n/quit\n!help\n"
    done = convener(tmp_path, script)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "(console) You are acting as you in #general." in out
    assert "(console) /quit (or Ctrl-D) stops Convener" in out
    assert f"saved in {tmp_path / 'convener-files'}" in out
    assert "Welcome to our community" not in out  # `you` runs the community
    assert f"[DM @you] convener: file {tmp_path / 'convener-files'}" in out
    assert "Here is what you can ask me" not in out  # nothing after /quit is read
