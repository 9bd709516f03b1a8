"""Group conversations and files in channels on Slack, against the local Web API: `open_group`
is a group DM (`conversations.open` with the members' ids, an mpim Slack gives again for the
same people), `post_file` uploads into a channel or a thread (`files_upload_v2`), and a
message in a group DM (Slack's documented `message.mpim` event) reaches the core as a
channel's message, not a direct one; and an introduction end to end over signed HTTP: its
group DM opened, the follow-up's button clicked and the answer kept."""

from __future__ import annotations

import warnings

import pytest
from sqlalchemy import select

from bot.models import Identity, IntroGroup, IntroMember, IntroRound
from bot.platform import Undeliverable
from bot.types import ChannelRef, Message, OutboundFile, UserRef
from handlers.intros import service
from tests import test_slack_adapter as base
from tests.slack_fake import UPLOAD_URL, load_block_actions, load_event, load_slash_command
from tests.test_slack_actions import click

# The adapter's surface; the database under it is tested by the handler tests on both.
pytestmark = [pytest.mark.slack, pytest.mark.one_database]

# Slack's side and the running bot: test_slack_adapter's fixtures, shared
socket_server, slack, transport = base.socket_server, base.slack, base.transport
slack_bot, http_bot = base.slack_bot, base.http_bot

ADA, GRACE, FATIMA = (UserRef("slack", "W111"), UserRef("slack", "W222"),
                      UserRef("slack", "UFAC"))  # fmt: skip
ICS = OutboundFile("event.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", mimetype="text/calendar")


async def post_file(bot, channel: ChannelRef, text: str, thread_id: str | None = None):
    with warnings.catch_warnings():  # slack-sdk's upload leaves its own session to the GC
        warnings.simplefilter("ignore", ResourceWarning)
        return await bot.adapter.post_file(channel, ICS, text, thread_id=thread_id)


async def test_a_file_is_posted_in_a_channel_and_in_a_thread(http_bot):
    slack = http_bot.slack
    channel = ChannelRef("slack", "C111", "#practice")
    sent = await post_file(http_bot, channel, "The **deep dive**")
    methods = [c.method for c in slack.calls if c.method != "auth.test"]
    assert methods == ["files.getUploadURLExternal", UPLOAD_URL, "files.completeUploadExternal"]
    assert slack.uploaded_files[sent.message_id] == ICS.data
    done = slack.completed_uploads[-1]
    assert (done["channel_id"], done["thread_ts"]) == ("C111", None)
    assert done["initial_comment"] == "The *deep dive*"
    assert sent.channel == channel and sent.file == ICS and sent.private_to is None

    in_thread = await post_file(http_bot, channel, "Updated", thread_id="1610261659.001400")
    done = slack.completed_uploads[-1]
    assert (done["channel_id"], done["thread_ts"]) == ("C111", "1610261659.001400")
    assert in_thread.thread_id == "1610261659.001400"
    assert slack.uploaded_files[in_thread.message_id] == ICS.data


async def test_a_refused_upload_is_told_to_the_core(http_bot):
    http_bot.slack.api_error_next("files.completeUploadExternal", "channel_not_found")
    with pytest.raises(Undeliverable, match="channel_not_found"):
        await post_file(http_bot, ChannelRef("slack", "C404"), "")


async def test_a_group_is_a_group_dm_slack_gives_again_for_the_same_people(http_bot):
    adapter, slack = http_bot.adapter, http_bot.slack
    pair = await adapter.open_group([ADA, GRACE], "round-1:ada-grace")
    again = await adapter.open_group([GRACE, ADA], "round-1:ada-grace")
    trio = await adapter.open_group([ADA, GRACE, FATIMA], "round-1:trio")
    assert pair == again and pair.id.startswith("G") and not pair.is_direct
    assert trio.id.startswith("G") and trio.id != pair.id and not trio.is_direct
    opened = [c.params["users"] for c in slack.calls_to("conversations.open")]
    assert opened == ["W111,W222", "W222,W111", "W111,W222,UFAC"]
    info = slack.channels[trio.id]
    assert info["is_mpim"] and set(info["members"]) == {"W23456789", "W111", "W222", "UFAC"}

    sent = await adapter.send(pair, "Meet **Grace**")
    assert sent.channel == pair and (pair.id, sent.message_id) in slack.messages


async def test_a_group_that_cannot_be_opened_is_undeliverable(http_bot):
    for n in range(9):
        http_bot.slack.add_user(f"W9{n}", f"Member {n}")
    crowd = [UserRef("slack", f"W9{n}") for n in range(9)]
    with pytest.raises(Undeliverable, match="too_many_users"):
        await http_bot.adapter.open_group(crowd, "too-many")
    with pytest.raises(Undeliverable, match="user_not_found"):
        await http_bot.adapter.open_group([ADA, UserRef("slack", "W404")], "unknown")


async def test_a_message_in_a_group_dm_is_a_channel_message(slack_bot):
    """Slack's documented `message.mpim` event: a message among the group, activity of a
    channel (`message`), not a direct one; a reply in it is a reply."""
    group = await slack_bot.adapter.open_group([ADA, GRACE], "round-1:ada-grace")
    said = load_event("message_mpim.docs", channel=group.id, user="W111", text="Hello both")
    reply = load_event("message_mpim.docs", channel=group.id, user="W222", text="Hi Ada",
                       ts="1355517524.000007", thread_ts="1355517523.000005")  # fmt: skip
    await slack_bot.deliver(said)
    await slack_bot.deliver(reply)
    first, second = [e for e in slack_bot.seen if isinstance(e, Message)]
    assert first.channel.id == group.id and not first.channel.is_direct
    assert first.user.id == "W111" and first.text == "Hello both"
    assert second.thread_id == "1355517523.000005" and not second.channel.is_direct
    activity = await slack_bot.activity()
    assert (activity[first.event_id], activity[second.event_id]) == ("message", "reply")


# --- introductions end to end ------------------------------------------------------------------


async def test_an_introduction_and_its_follow_up_button_over_signed_http(http_bot):
    """Two members of different cities: `intros now` opens their group DM and introduces
    them there; the follow-up carries Yes/Not yet buttons, and Ada's click (a signed
    `block_actions` from the group DM) is recorded as her answer."""
    bot, slack = http_bot, http_bot.slack
    for user, city, zone in (("W111", "Nairobi, Kenya", "Africa/Nairobi"),
                             ("W222", "Seoul, Korea", "Asia/Seoul")):  # fmt: skip
        for text in (f"profile city {city}", f"profile timezone {zone}"):
            await bot.command(
                load_slash_command(text, user_id=user, response_url=slack.response_url())
            )
    await bot.command(load_slash_command("intros now", user_id="UFAC",
                                         response_url=slack.response_url("now")))  # fmt: skip
    assert "Made 1 introduction" in slack.responses_to("now")[0]["text"]
    (opened,) = [c for c in slack.calls_to("conversations.open") if "," in c.params["users"]]
    assert sorted(opened.params["users"].split(",")) == ["W111", "W222"]
    group = next(cid for cid, info in slack.channels.items() if info.get("is_mpim"))
    intro = [m for (cid, _), m in slack.messages.items() if cid == group]
    assert len(intro) == 1 and "Nairobi, Kenya" in intro[0]["text"]

    async with bot.app.db.sessions() as session:
        round_id = await session.scalar(select(IntroRound.id))
        group_row = await session.scalar(select(IntroGroup))
    assert (group_row.platform, group_row.channel_id) == ("slack", group)
    assert await service.follow_up(bot.app.services(), round_id)
    await bot.handled()
    [(ts, asked)] = [
        (ts, m) for (cid, ts), m in slack.messages.items()
        if cid == group and "Did you manage to meet?" in m["text"]
    ]  # fmt: skip
    buttons = {e["value"]: e for b in asked["blocks"] if b["type"] == "actions"
               for e in b["elements"]}  # fmt: skip
    assert set(buttons) == {"met yes", "met no"}

    payload = load_block_actions("met yes", buttons["met yes"]["action_id"], user_id="W111",
                                 channel_id=group, message_ts=ts,
                                 response_url=slack.response_url("met"))  # fmt: skip
    await click(bot, payload)
    assert "Noted: you met" in slack.responses_to("met")[0]["text"]
    async with bot.app.db.sessions() as session:
        answers = dict((await session.execute(
            select(Identity.user_id, IntroMember.met)
            .join(IntroMember, IntroMember.member_id == Identity.member_id)
        )).all())  # fmt: skip
    assert answers == {"W111": True, "W222": None}
