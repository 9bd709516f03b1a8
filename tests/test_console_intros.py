"""Introductions on the real console adapter: three members in three cities, `intros now`,
one shared view with each member's times in their own zone, and `met yes` recorded."""

from __future__ import annotations

import sqlite3

import pytest

from tests.test_console import convener

SCRIPT = """\
!intros off me
/as amina
!profile city Nairobi, Kenya
!profile timezone Africa/Nairobi
/as lena
!profile city Berlin, Germany
!profile timezone Europe/Berlin
/as raj
!profile city Pune, India
!profile timezone Asia/Kolkata
/as you
!intros now
/as lena
!met yes
"""


@pytest.mark.slow
def test_three_cities_meet_in_one_view_with_times_in_each_zone(tmp_path):
    done = convener(tmp_path, SCRIPT)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Made 1 introduction" in out
    start = out.index("👋 Introductions between cities")
    block = out[out.rfind("\n[", 0, start) + 1 :]
    assert block.startswith("[#")  # one shared view, not direct messages
    for name, zone in (("amina", "Africa/Nairobi"), ("lena", "Europe/Berlin"),
                       ("raj", "Asia/Kolkata")):  # fmt: skip
        assert f"**{name}** ·" in block
        assert f"For {name} ({zone}): " in block
    assert "[DM @lena] convener: 🎉 Noted: you met." in out
    assert "Traceback" not in done.stderr
    with sqlite3.connect(tmp_path / "console.db") as db:
        rows = db.execute(
            "SELECT m.display_name, i.met FROM intro_members i JOIN members m"
            " ON m.id = i.member_id ORDER BY m.display_name"
        ).fetchall()
    assert rows == [("amina", None), ("lena", 1), ("raj", None)]
