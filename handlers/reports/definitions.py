"""The engagement workbook's last sheet: what each figure, status and column means, the
period and when the workbook was built."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.workbook import BOLD, WRAP, Sheet, Text

if TYPE_CHECKING:
    from handlers.reports.workbook import Writer

SHARED_BY = 5  # in a pseudonymous report, rarer cities, organisations and roles are "other"


def definitions(report: Writer) -> None:
    sheet = Sheet(report.book, "Definitions", [("Term", 30, None), ("Meaning", 100, None)])
    sheet.formats = [None, None]
    zone = report.zone.key
    rows = [*DEFINITIONS,
            ("Period", f"{report.period.label()}, dates in {zone}; weeks are ISO "
             "weeks (Monday to Sunday) in UTC."),
            ("Built", f"{report.local(report.now):%Y-%m-%d %H:%M} ({zone})")]  # fmt: skip
    for term, meaning in rows:
        cells = [sheet.cell(Text(term)), sheet.cell(Text(meaning))]
        cells[0].font = BOLD
        for cell in cells:
            cell.alignment = WRAP
        sheet.ws.append(cells)
        sheet.rows += 1


DEFINITIONS = [
    (
        "Posting-active member",
        "Posted, replied or reacted at least once in the period (a bot "
        "sees posts and reactions, never who read). Bots are never counted.",
    ),
    (
        "New member",
        "First joined a community channel in the period (when no join was seen, "
        "their first activity counts as joining).",
    ),
    (
        "Retained in week 1 / week 4",
        "A new member of the period who posted, replied or reacted "
        "again 1-7 days / 22-28 days after joining, counted among the new members who had "
        "all those days by the end of the period; not yet when none had.",
    ),
    (
        "Messages, replies, reactions",
        "Posts in a channel, replies in a thread, reactions, by "
        "members (commands to the bot and direct messages with it are not counted).",
    ),
    (
        "Question answered",
        "A question with at least one reply in its thread by someone other "
        "than the asker; reactions and bots do not count.",
    ),
    (
        "Hours to first response",
        "From the question to the first reply in its thread by someone "
        "other than the asker. Median and 90th percentile use linear interpolation between the "
        "closest ranks (Excel's PERCENTILE.INC) over the answered questions asked in the period.",
    ),
    (
        "Share unanswered after 24 / 72 hours",
        "Of the questions asked in the period, those with "
        "no response within 24 / 72 hours (counted once the question is that old).",
    ),
    (
        "Prompt response",
        "A reply in the thread of a discussion prompt. Unique responders count "
        "each member once per prompt; first-time responders answered a prompt for the first time.",
    ),
    (
        "Knowledge",
        "The library as it stood at the end of the period: every entry created before the "
        "period ended, not only those created in it (the library is cumulative; removed "
        "resources are not listed). Kind: question (a solved question kept with the answers in "
        "its thread) or resource (a link a facilitator added).",
    ),
    (
        "Knowledge: shown, answered",
        "Shown: how often the entry was offered in search results and at `ask`. Answered: how "
        "many questions it answered. Both are running totals up to when the report was built, "
        "not counts within the period.",
    ),
    (
        "Events held, event sign-ups",
        "Events that started in the period and were not cancelled, and the members who "
        "answered yes to them (their latest answer).",
    ),
    (
        "Events",
        "Every event that starts in the period, cancelled ones included; times in community "
        "time. Yes by city: the yes answers by each member's city as it is now (unknown when "
        "not given).",
    ),
    (
        "Calls, expressions of interest",
        "Calls whose deadline falls in the period, and the interests in them not withdrawn.",
    ),
    (
        "Calls",
        "Calls whose deadline falls in the period or that were still open at its end. Status: "
        "open or closed at the end of the period. By city, by organisation: the interests not "
        "withdrawn, by the city and organisation the member gave when expressing interest "
        "(unknown when not given).",
    ),
    ("Status: new", "First joined in the period."),
    ("Status: active", "Posted, replied or reacted in the period."),
    ("Status: quiet", "Not active in the period, but posted in the 90 days before it ends."),
    ("Status: dormant", "No posts, replies or reactions in the 90 days before the period ends."),
    (
        "Change",
        "This period's figure minus the previous period's (same length, just before); "
        "for shares, in percentage points (pp).",
    ),
    ("Members", "Members (bots excluded) who had joined by the end of the period."),
    (
        "Pseudonymous",
        "When asked for, names are replaced by stable pseudonyms: the same member "
        f"has the same pseudonym in every report. A city, organisation or role fewer than "
        f"{SHARED_BY} members share is shown as other; join dates are shown as the month and "
        "activity times as the day.",
    ),
]
