"""`forgetme confirm` end to end: the real console, then the real `convener report`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_console import convener
from tests.test_privacy import workbook_text


def report(tmp_path: Path) -> str:
    """`convener report` on the console's database, as text."""
    out = tmp_path / "report.xlsx"
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "report", "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "CONVENER_DATABASE_URL": f"sqlite:///{tmp_path / 'console.db'}"},
        timeout=200,
    )
    assert done.returncode == 0, done.stderr
    return workbook_text(out)


@pytest.mark.slow
def test_forgetme_confirm_leaves_no_profile_and_no_name_in_the_report(tmp_path):
    """The report is pulled right after the erasure; `!profile` then comes from the same
    account in a second run, which makes it a new, empty member (named by the platform
    again, so it comes after the report that must not name the erased member)."""
    script = (
        "/as zanele\n!profile city Nairobi\n!profile org Mombasa Treasury\nHello all\n"
        "!forgetme confirm\n"
    )
    done = convener(tmp_path, script)
    assert done.returncode == 0, done.stderr
    assert "[DM @zanele] convener: Done: Convener has erased your data." in done.stdout
    text = report(tmp_path)
    assert "former member" in text
    assert [word for word in ("zanele", "nairobi", "mombasa") if word in text] == []
    done = convener(tmp_path, "/as zanele\n!profile\n")
    assert done.returncode == 0, done.stderr
    profile = done.stdout[done.stdout.index("**zanele**") :]
    assert "City: not set" in profile and "Organisation: not set" in profile
    assert "Traceback" not in done.stderr
    assert "nairobi" not in report(tmp_path)
