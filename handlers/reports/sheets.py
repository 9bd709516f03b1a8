"""The engagement workbook's detail sheets, a row each: Members, Channels, Questions,
Prompts, Knowledge, Events and Calls. Every value from people is a text cell."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from bot.workbook import Sheet, Text, text
from handlers.reports import queries

if TYPE_CHECKING:
    from handlers.reports.workbook import Writer

DT = "yyyy-mm-dd hh:mm"


def members(report: Writer) -> None:
    sheet = Sheet(
        report.book,
        "Members",
        [("Name", 28, None), ("City", 16, None), ("Organisation", 24, None),
         ("Role", 20, None), ("Joined", 17, DT), ("First activity", 17, DT),
         ("Last activity", 17, DT), ("Messages", 10, "0"), ("Replies", 10, "0"),
         ("Reactions", 10, "0"), ("Questions asked", 10, "0"),
         ("Questions answered", 10, "0"), ("Prompts answered", 10, "0"),
         ("Can help with", 30, None), ("Status", 10, None)],
    )  # fmt: skip
    for row in queries.members(report.conn, report.period):
        (member_id, name, city, org, role, joined, first, last, last_post,
         messages, replies, reactions, asked, answered, prompts, offers) = row  # fmt: skip
        status = queries.member_status(joined, last_post, report.period)
        if not sheet.append(
            [report.name(member_id, name), text(report.shown("city", city)),
             text(report.shown("org", org)), text(report.shown("role", role)),
             report.coarse(joined, month=True), report.coarse(first), report.coarse(last),
             messages, replies,
             reactions, asked, answered, prompts, text(offers), status]
        ):  # fmt: skip
            break
    if not sheet.rows:
        sheet.note("No members yet.")
    sheet.finish()


def channels(report: Writer) -> None:
    sheet = Sheet(
        report.book,
        "Channels",
        [("Platform", 10, None), ("Channel", 28, None), ("Posting-active members", 14, "0"),
         ("Messages", 10, "0"), ("Replies", 10, "0"), ("Reactions", 10, "0"),
         ("Joins", 10, "0")],
    )  # fmt: skip
    for platform, name, *numbers in queries.channels(report.conn, report.period):
        sheet.append([platform, text(name), *numbers])
    if not sheet.rows:
        sheet.note("No activity in any channel in this period.")
    sheet.finish()


def questions(report: Writer) -> None:
    sheet = Sheet(
        report.book,
        "Questions",
        [("Id", 7, "0"), ("Asked", 17, DT), ("Topics", 24, None), ("Asker", 24, None),
         ("Experts notified", 10, "0"), ("First response", 17, DT),
         ("Hours to first response", 12, "0.0"), ("Solved", 17, DT),
         ("Escalations", 10, "0"), ("Question", 60, None)],
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
        sheet.note("No questions were asked in this period.")
    sheet.finish()


def prompts(report: Writer) -> None:
    sheet = Sheet(
        report.book,
        "Prompts",
        [("Posted", 17, DT), ("Platform", 10, None), ("Channel", 24, None),
         ("Prompt", 60, None), ("Responses", 10, "0"), ("Unique responders", 10, "0"),
         ("First-time responders", 10, "0")],
    )  # fmt: skip
    for posted, platform, channel, body, *numbers in queries.prompts(report.conn, report.period):
        sheet.append([report.local(posted), platform, text(channel), Text(body), *numbers])
    if not sheet.rows:
        sheet.note("No discussion prompts were posted in this period.")
    sheet.finish()


def knowledge(report: Writer) -> None:
    sheet = Sheet(
        report.book,
        "Knowledge",
        [("Id", 7, "0"), ("Kind", 10, None), ("Title", 60, None), ("Topics", 24, None),
         ("Created", 12, "yyyy-mm-dd"), ("Link", 40, None), ("Shown", 10, "0"),
         ("Answered", 10, "0")],
    )  # fmt: skip
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
        kind = "resource" if url is not None else "question"
        if url is not None:
            link = Text(url)
        else:
            link = None if question_id is None else f"question #{question_id}"
        if not sheet.append(
            [entry_id, kind, Text(title), text(topics), report.local(created).date(), link,
             shown, answered]
        ):  # fmt: skip
            break
    if not sheet.rows:
        sheet.note("The knowledge library had no entries by the end of this period.")
    sheet.finish()


def events(report: Writer) -> None:
    sheet = Sheet(
        report.book,
        "Events",
        [("Id", 7, "0"), ("Title", 50, None), ("Starts", 17, DT),
         ("Channel", 24, None), ("Cancelled", 10, None), ("Yes", 8, "0"),
         ("Maybe", 8, "0"), ("No", 8, "0"), ("Yes by city", 40, None)],
    )  # fmt: skip
    for (
        event_id,
        title,
        starts,
        channel,
        cancelled,
        yes,
        maybe,
        no,
        cities,
    ) in queries.events(report.conn, report.period, report.shown):
        if not sheet.append(
            [event_id, Text(title), report.local(starts), text(channel),
             "yes" if cancelled is not None else "no", yes, maybe, no, text(cities or None)]
        ):  # fmt: skip
            break
    if not sheet.rows:
        sheet.note("No events started in this period.")
    sheet.finish()


def calls(report: Writer) -> None:
    sheet = Sheet(
        report.book,
        "Calls",
        [("Id", 7, "0"), ("Title", 50, None), ("Deadline", 12, "yyyy-mm-dd"),
         ("Status", 10, None), ("Interests", 10, "0"), ("By city", 40, None),
         ("By organisation", 50, None)],
    )  # fmt: skip
    for (
        call_id,
        title,
        deadline,
        still_open,
        interests,
        cities,
        orgs,
    ) in queries.calls(report.conn, report.period, report.shown):
        day = (report.local(deadline) - timedelta(seconds=1)).date()  # the midnight after it
        if not sheet.append(
            [call_id, Text(title), day, "open" if still_open else "closed", interests,
             text(cities or None), text(orgs or None)]
        ):  # fmt: skip
            break
    if not sheet.rows:
        sheet.note("No call had its deadline in this period or was open at its end.")
    sheet.finish()
