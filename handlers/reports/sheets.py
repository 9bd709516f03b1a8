"""The engagement workbook's detail sheets, a row each: Members, Channels, Questions,
Prompts, Knowledge, Events and Calls. Every value from people is a text cell; Convener's own
words (headers, statuses, notes) are in the workbook's language."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from bot.i18n import _
from bot.workbook import Text, text
from handlers.reports import queries

if TYPE_CHECKING:
    from handlers.reports.workbook import Writer

STATUS = {
    # Translators: a member's status in the workbook's Members sheet: first joined in the period.
    "new": _("new"),
    # Translators: a member's status in the workbook: posted in the period.
    "active": _("active"),
    # Translators: a member's status in the workbook: posted in the 90 days before, not in it.
    "quiet": _("quiet"),
    # Translators: a member's status in the workbook: no posts in the 90 days before.
    "dormant": _("dormant"),
}
# Translators: in the workbook's Events sheet, the event was cancelled.
YES = _("yes")
# Translators: in the workbook's Events sheet, the event was not cancelled.
NO = _("no")
# Translators: in the workbook's Calls sheet, the call was open at the period's end.
OPEN = _("open")
# Translators: in the workbook's Calls sheet, the call was closed at the period's end.
CLOSED = _("closed")
# Translators: the kind of an entry in the workbook's Knowledge sheet: a link.
RESOURCE = _("resource")
# Translators: the kind of an entry in the workbook's Knowledge sheet: a solved question.
QUESTION = _("question")


def members(report: Writer) -> None:
    moment = report.moment_format
    sheet = report.sheet(
        _("Members"),
        [(_("Name"), 28, None), (_("City"), 16, None), (_("Organisation"), 24, None),
         (_("Role"), 20, None), (_("Joined"), 17, moment), (_("First activity"), 17, moment),
         (_("Last activity"), 17, moment), (_("Messages"), 10, "0"), (_("Replies"), 10, "0"),
         (_("Reactions"), 10, "0"), (_("Questions asked"), 10, "0"),
         (_("Questions answered"), 10, "0"), (_("Prompts answered"), 10, "0"),
         (_("Can help with"), 30, None), (_("Status"), 10, None)],
    )  # fmt: skip
    statuses = {key: report.say(word) for key, word in STATUS.items()}
    for row in queries.members(report.conn, report.period):
        (member_id, name, city, org, role, joined, first, last, last_post,
         messages, replies, reactions, asked, answered, prompts, offers) = row  # fmt: skip
        status = statuses[queries.member_status(joined, last_post, report.period)]
        if not sheet.append(
            [report.name(member_id, name), text(report.shown("city", city)),
             text(report.shown("org", org)), text(report.shown("role", role)),
             report.coarse(joined, month=True), report.coarse(first), report.coarse(last),
             messages, replies,
             reactions, asked, answered, prompts, text(offers), status]
        ):  # fmt: skip
            break
    if not sheet.rows:
        sheet.note(_("No members yet."))
    sheet.finish()


def channels(report: Writer) -> None:
    sheet = report.sheet(
        _("Channels"),
        [(_("Platform"), 10, None), (_("Channel"), 28, None),
         (_("Posting-active members"), 14, "0"), (_("Messages"), 10, "0"),
         (_("Replies"), 10, "0"), (_("Reactions"), 10, "0"), (_("Joins"), 10, "0")],
    )  # fmt: skip
    for platform, name, *numbers in queries.channels(report.conn, report.period):
        sheet.append([platform, text(name), *numbers])
    if not sheet.rows:
        sheet.note(_("No activity in any channel in this period."))
    sheet.finish()


def questions(report: Writer) -> None:
    moment = report.moment_format
    sheet = report.sheet(
        _("Questions"),
        [(_("Id"), 7, "0"), (_("Asked"), 17, moment), (_("Topics"), 24, None),
         (_("Asker"), 24, None), (_("Experts notified"), 10, "0"),
         (_("First response"), 17, moment), (_("Hours to first response"), 12, "0.0"),
         (_("Solved"), 17, moment), (_("Escalations"), 10, "0"), (_("Question"), 60, None)],
    )  # fmt: skip
    for (
        qid,
        asked,
        topics,
        asker,
        asker_id,
        experts,
        first,
        solved,
        escalations,
        body,
    ) in queries.questions(report.conn, report.period):
        hours = (first - asked).total_seconds() / 3600 if first else None
        if not sheet.append(
            [qid, report.local(asked), text(topics), report.name(asker_id, asker), experts,
             report.local(first), hours, report.local(solved), escalations, Text(body)]
        ):  # fmt: skip
            break
    if not sheet.rows:
        sheet.note(_("No questions were asked in this period."))
    sheet.finish()


def prompts(report: Writer) -> None:
    sheet = report.sheet(
        _("Prompts"),
        [(_("Posted"), 17, report.moment_format), (_("Platform"), 10, None),
         (_("Channel"), 24, None), (_("Prompt"), 60, None), (_("Responses"), 10, "0"),
         (_("Unique responders"), 10, "0"), (_("First-time responders"), 10, "0")],
    )  # fmt: skip
    for posted, platform, channel, body, *numbers in queries.prompts(report.conn, report.period):
        sheet.append([report.local(posted), platform, text(channel), Text(body), *numbers])
    if not sheet.rows:
        sheet.note(_("No discussion prompts were posted in this period."))
    sheet.finish()


def knowledge(report: Writer) -> None:
    sheet = report.sheet(
        _("Knowledge"),
        [(_("Id"), 7, "0"), (_("Kind"), 10, None), (_("Title"), 60, None),
         (_("Topics"), 24, None), (_("Created"), 12, report.day_format), (_("Link"), 40, None),
         (_("Shown"), 10, "0"), (_("Answered"), 10, "0")],
    )  # fmt: skip
    resource, question = report.say(RESOURCE), report.say(QUESTION)
    for (
        entry_id,
        url,
        question_id,
        title,
        topics,
        created,
        shown,
        answered,
    ) in queries.knowledge(report.conn, report.period):
        kind = resource if url is not None else question
        if url is not None:
            link = Text(url)
        elif question_id is None:
            link = None
        else:
            link = report.say(_("question #{id}", id=question_id))
        if not sheet.append(
            [entry_id, kind, Text(title), text(topics), report.local(created).date(), link,
             shown, answered]
        ):  # fmt: skip
            break
    if not sheet.rows:
        sheet.note(_("The knowledge library had no entries by the end of this period."))
    sheet.finish()


def events(report: Writer) -> None:
    sheet = report.sheet(
        _("Events"),
        [(_("Id"), 7, "0"), (_("Title"), 50, None), (_("Starts"), 17, report.moment_format),
         (_("Channel"), 24, None), (_("Cancelled"), 10, None), (_("Yes"), 8, "0"),
         (_("Maybe"), 8, "0"), (_("No"), 8, "0"), (_("Yes by city"), 40, None)],
    )  # fmt: skip
    yes, no = report.say(YES), report.say(NO)
    for (
        event_id,
        title,
        starts,
        channel,
        cancelled,
        yeses,
        maybes,
        noes,
        cities,
    ) in queries.events(report.conn, report.period, report.shown, report.language):
        if not sheet.append(
            [event_id, Text(title), report.local(starts), text(channel),
             yes if cancelled is not None else no, yeses, maybes, noes, text(cities or None)]
        ):  # fmt: skip
            break
    if not sheet.rows:
        sheet.note(_("No events started in this period."))
    sheet.finish()


def calls(report: Writer) -> None:
    sheet = report.sheet(
        _("Calls"),
        [(_("Id"), 7, "0"), (_("Title"), 50, None), (_("Deadline"), 12, report.day_format),
         (_("Status"), 10, None), (_("Interests"), 10, "0"), (_("By city"), 40, None),
         (_("By organisation"), 50, None)],
    )  # fmt: skip
    still, closed = report.say(OPEN), report.say(CLOSED)
    for (
        call_id,
        title,
        deadline,
        still_open,
        interests,
        cities,
        orgs,
    ) in queries.calls(report.conn, report.period, report.shown, report.language):
        day = (report.local(deadline) - timedelta(seconds=1)).date()  # the midnight after it
        if not sheet.append(
            [call_id, Text(title), day, still if still_open else closed, interests,
             text(cities or None), text(orgs or None)]
        ):  # fmt: skip
            break
    if not sheet.rows:
        sheet.note(_("No call had its deadline in this period or was open at its end."))
    sheet.finish()
