"""The command line as a newcomer meets it: clear one-line answers, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def convener(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "MATRIX_", "CONVENER_"))
    }
    environment["CONVENER_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=120,
    )  # fmt: skip


def test_report_to_a_missing_folder_or_a_wrong_name_says_so_in_one_line(tmp_path):
    done = convener(tmp_path, "report", "-o", "/nonexistent/x.xlsx")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "convener report: cannot write /nonexistent/x.xlsx: the folder /nonexistent does not exist"
    )
    done = convener(tmp_path, "report", "-o", "x.csv")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "convener report: the workbook is an .xlsx file; name it like report.xlsx, not x.csv"
    )
    done = convener(tmp_path, "report", "--from", "2026-13-01")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "I did not understand `2026-13-01`" in done.stderr
    assert not list(tmp_path.glob("*.xlsx"))


def test_report_with_only_an_end_date_covers_the_30_days_up_to_it(tmp_path):
    done = convener(tmp_path, "report", "--to", "2026-03-31", "-o", "r.xlsx")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "wrote r.xlsx (2026-03-02 to 2026-03-31)"


@pytest.mark.parametrize(
    ("adapter", "missing"),
    [
        ("matrix", "MATRIX_HOMESERVER, MATRIX_USER_ID, MATRIX_PASSWORD or MATRIX_ACCESS_TOKEN"),
        ("slack", "SLACK_BOT_TOKEN, SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP)"),
    ],
)
def test_an_adapter_without_its_settings_names_them(tmp_path, adapter, missing):
    done = convener(tmp_path, "run", "--adapter", adapter)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"convener run: {adapter} needs {missing} (see bot.env.example)")


def test_a_refused_login_is_one_line_without_a_traceback(tmp_path):
    done = convener(
        tmp_path, "run", "--adapter", "matrix",
        MATRIX_HOMESERVER="http://127.0.0.1:9", MATRIX_USER_ID="@bot:example.org",
        MATRIX_PASSWORD="wrong",
    )  # fmt: skip
    assert done.returncode == 1
    assert "Convener could not start:" in done.stderr
    assert "Traceback" not in done.stderr


def test_help_describes_every_option_and_its_default(tmp_path):
    run = convener(tmp_path, "run", "--help").stdout
    assert "--adapter {console,slack,matrix}" in run and "(default: Slack and Matrix" in run
    report = convener(tmp_path, "report", "--help").stdout
    for option in ("--from", "--to", "--output", "--pseudonymous", "--pdf"):
        assert option in report
    assert report.count("default") >= 4
    demo = convener(tmp_path, "demo", "--help").stdout
    assert "--fresh FILE.db" in demo


def test_demo_fresh_refuses_a_name_that_is_not_a_database(tmp_path):
    done = convener(tmp_path, "demo", "--fresh", "notes.txt")
    assert done.returncode == 2
    assert "name the demo database like demo.db" in done.stderr


def test_plurals_and_articles():
    from bot.commands import a, plural

    assert [plural(1, "member"), plural(2, "member"), plural(1200, "activity", "activities")] == [
        "1 member",
        "2 members",
        "1,200 activities",
    ]
    assert [a("organisation"), a("city"), a("event")] == ["an organisation", "a city", "an event"]
