"""A moment in text: each reader's own time on Slack, the fallback elsewhere."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from adapters.console import ConsoleAdapter
from adapters.slack.text import to_mrkdwn
from bot import moments
from bot.types import ChannelRef

AT = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)
FALLBACK = "Thu 05 Mar 2026 18:00 Africa/Nairobi (15:00 UTC)"


def test_slack_shows_the_moment_in_each_readers_time():
    text = f"When: {moments.moment(AT, FALLBACK)} & after"
    assert to_mrkdwn(text) == (
        f"When: <!date^{int(AT.timestamp())}^{{date_short_pretty}} at {{time}}|{FALLBACK}>"
        " &amp; after"
    )


def test_elsewhere_the_fallback_is_shown():
    text = f"When: {moments.moment(AT, FALLBACK)}."
    assert moments.plain(text) == f"When: {FALLBACK}."
    assert moments.plain("no moment here") == "no moment here"


def test_brackets_in_a_fallback_cannot_break_the_marker():
    text = moments.moment(AT, "⟦odd⟧ text")
    assert moments.plain(text) == "odd text"


async def test_the_console_prints_the_fallback():
    out = io.StringIO()
    console = ConsoleAdapter(out=out)
    await console.send(ChannelRef("console", "general", "#general"), moments.moment(AT, FALLBACK))
    assert out.getvalue() == f"[#general] convener: {FALLBACK}\n"
