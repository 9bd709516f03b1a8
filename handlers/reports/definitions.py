"""The engagement workbook's last sheet: what each figure, status and column means, the
period and when the workbook was built."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.i18n import Day, _
from bot.workbook import BOLD, WRAP, Text

if TYPE_CHECKING:
    from handlers.reports.workbook import Writer

SHARED_BY = 5  # in a pseudonymous report, rarer cities, organisations and roles are "other"


def definitions(report: Writer) -> None:
    sheet = report.sheet(_("Definitions"), [(_("Term"), 30, None), (_("Meaning"), 100, None)])
    sheet.formats = [None, None]
    zone = report.zone.key
    rows = [*DEFINITIONS,
            (_("Period"), _("{period}, dates in {zone}; weeks are ISO weeks (Monday to Sunday) "
                            "in UTC.", period=report.span(report.period), zone=zone)),
            (_("Built"), _("{moment} ({zone})", moment=Day(report.local(report.now),
                                                           report.moment), zone=zone))]  # fmt: skip
    for term, meaning in rows:
        cells = [sheet.cell(Text(report.say(term))), sheet.cell(Text(report.say(meaning)))]
        cells[0].font = BOLD
        for cell in cells:
            cell.alignment = WRAP
        sheet.ws.append(cells)
        sheet.rows += 1


DEFINITIONS = [
    (
        _("Posting-active member"),
        _("Posted, replied or reacted at least once in the period (a bot "
          "sees posts and reactions, never who read). Bots are never counted."),
    ),
    (
        _("New member"),
        _("First joined a community channel in the period (when no join was seen, "
          "their first activity counts as joining)."),
    ),
    (
        _("Retained in week 1 / week 4"),
        _("A new member of the period who posted, replied or reacted "
          "again 1-7 days / 22-28 days after joining, counted among the new members who had "
          "all those days by the end of the period; not yet when none had."),
    ),
    (
        _("Messages, replies, reactions"),
        _("Posts in a channel, replies in a thread, reactions, by "
          "members (commands to the bot and direct messages with it are not counted)."),
    ),
    (
        _("Question answered"),
        _("A question with at least one reply in its thread by someone other "
          "than the asker; reactions and bots do not count."),
    ),
    (
        _("Hours to first response"),
        _("From the question to the first reply in its thread by someone "
          "other than the asker. Median and 90th percentile use linear interpolation between "
          "the closest ranks (Excel's PERCENTILE.INC) over the answered questions asked in the "
          "period."),
    ),
    (
        _("Share unanswered after 24 / 72 hours"),
        _("Of the questions asked in the period, those with "
          "no response within 24 / 72 hours (counted once the question is that old)."),
    ),
    (
        _("Prompt response"),
        _("A reply in the thread of a discussion prompt. Unique responders count "
          "each member once per prompt; first-time responders answered a prompt for the first "
          "time."),
    ),
    (
        _("Knowledge"),
        _("The library as it stood at the end of the period: every entry created before the "
          "period ended, not only those created in it (the library is cumulative; removed "
          "resources are not listed). Kind: question (a solved question kept with the answers "
          "in its thread) or resource (a link a facilitator added)."),
    ),
    (
        _("Knowledge: shown, answered"),
        _("Shown: how often the entry was offered in search results and at `ask`. Answered: "
          "how many questions it answered. Both are running totals up to when the report was "
          "built, not counts within the period."),
    ),
    (
        _("Events held, event sign-ups"),
        _("Events that started in the period and were not cancelled, and the members who "
          "answered yes to them (their latest answer)."),
    ),
    (
        _("Events"),
        _("Every event that starts in the period, cancelled ones included; times in community "
          "time. Yes by city: the yes answers by each member's city as it is now (unknown when "
          "not given)."),
    ),
    (
        _("Calls, expressions of interest"),
        _("Calls whose deadline falls in the period, and the interests in them not withdrawn."),
    ),
    (
        _("Calls"),
        _("Calls whose deadline falls in the period or that were still open at its end. "
          "Status: open or closed at the end of the period. By city, by organisation: the "
          "interests not withdrawn, by the city and organisation the member gave when "
          "expressing interest (unknown when not given)."),
    ),
    (
        _("Connections"),
        _("Who learns from whom, city by city: rows are the city of the member who helped, "
          "columns the city of the member helped, each cell the exchanges in the period. An "
          "exchange is one member helping another in one conversation: the answer credited "
          "when a question was solved in the period, the first response to a question asked "
          "in the period, or a reply in the period in a thread another member started; a "
          "member who did several of these in one thread for the same member counts once. An "
          "introduction counts when either member of a pair answered that they met (the "
          "first yes given in the period), once in each direction (both learn), each pair of "
          "a trio on its own, with the city each had when introduced. Other cities are as "
          "members give them now, compared without case or extra spaces; members without a "
          "city are left out. In a pseudonymous report the cities shown as other are one row "
          "and one column."),
    ),
    (
        _("City pairs connected"),
        _("Pairs of different cities (in either direction) with at least one exchange in the "
          "period, as the Connections sheet shows them: in a pseudonymous report, counted "
          "after rare cities are merged into other."),
    ),
    (
        _("Share of answers across cities"),
        _("Of the answers credited on questions solved in the period between two members who "
          "both gave a city, those where the two cities differ (by the cities they gave, in "
          "a pseudonymous report too)."),
    ),
    (_("Status: new"), _("First joined in the period.")),
    (_("Status: active"), _("Posted, replied or reacted in the period.")),
    (_("Status: quiet"), _("Not active in the period, but posted in the 90 days before it ends.")),
    (
        _("Status: dormant"),
        _("No posts, replies or reactions in the 90 days before the period ends."),
    ),
    (
        _("Change"),
        _("This period's figure minus the previous period's (same length, just before); "
          "for shares, in percentage points (pp)."),
    ),
    (_("Members"), _("Members (bots excluded) who had joined by the end of the period.")),
    (
        _("Pseudonymous"),
        _("When asked for, names are replaced by stable pseudonyms: the same member "
          "has the same pseudonym in every report. A city, organisation or role fewer than "
          "{shared} members share is shown as other; join dates are shown as the month and "
          "activity times as the day.", shared=SHARED_BY),
    ),
]  # fmt: skip
