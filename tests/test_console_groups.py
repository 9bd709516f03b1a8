"""The console's group conversations and files in channels: `open_group` is a shared view, a
channel named after the key's first word and its members (one per key), that its members are
in and can `/join` to speak in; `post_file` saves the file under the working folder and
prints it in the channel or its thread."""

from __future__ import annotations

import io
from pathlib import Path

from adapters.console import ConsoleAdapter
from bot.types import ChannelRef, Message, OutboundFile, UserRef

ICS = OutboundFile("event.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", mimetype="text/calendar")


def console(tmp_path: Path) -> tuple[ConsoleAdapter, io.StringIO]:
    out = io.StringIO()
    return ConsoleAdapter(out=out, files_dir=tmp_path / "files"), out


def person(name: str) -> UserRef:
    return UserRef("console", name, name)


async def test_a_group_is_one_shared_channel_per_key(tmp_path):
    adapter, out = console(tmp_path)
    alice, bob, carol = person("alice"), person("bob"), person("carol")
    pair = await adapter.open_group([alice, bob], "intro-7")
    assert pair == ChannelRef("console", "intro-alice-bob") and pair.name == "#intro-alice-bob"
    assert not pair.is_direct
    assert await adapter.open_group([bob, alice], "intro-7") == pair
    again = await adapter.open_group([alice, bob], "intro-9")  # a later round: its own view
    assert again.id == "intro-alice-bob-2"
    trio = await adapter.open_group([alice, bob, carol], "intro-8")
    assert trio.id == "intro-alice-bob-carol"
    odd = await adapter.open_group([alice, bob], "42")
    assert odd.id == "group-alice-bob"

    await adapter.send(ChannelRef("console", pair.id), "Meet **Bob**")
    assert out.getvalue() == "[#intro-alice-bob] convener: Meet **Bob**\n"


async def test_a_member_joins_the_group_and_replies_there(tmp_path):
    adapter, _ = console(tmp_path)
    group = await adapter.open_group([person("alice"), person("bob")], "intro-1")
    intro = await adapter.send(group, "Did you meet?")
    assert adapter.parse("/as alice") != []  # a newcomer joins #general
    assert adapter.parse("/join #intro-alice-bob") == "(console) alice is in #intro-alice-bob"
    [said] = adapter.parse("/reply yes")
    assert isinstance(said, Message) and said.channel == group and not said.channel.is_direct
    assert said.thread_id == intro.message_id and said.user.id == "alice"
    [plain] = adapter.parse("hello Bob")
    assert plain.channel.id == "intro-alice-bob"


async def test_a_file_is_saved_and_printed_in_the_channel_and_its_thread(tmp_path):
    adapter, out = console(tmp_path)
    general = ChannelRef("console", "general", "#general")
    sent = await adapter.post_file(general, ICS, "The deep dive")
    saved = tmp_path / "files" / "event.ics"
    assert saved.read_bytes() == ICS.data and sent.file == ICS and sent.channel == general
    in_thread = await adapter.post_file(general, ICS, thread_id=sent.message_id)
    again = tmp_path / "files" / "event-2.ics"
    assert again.read_bytes() == ICS.data and in_thread.thread_id == sent.message_id
    assert out.getvalue().splitlines() == [
        "[#general] convener: The deep dive",
        f"[#general] convener: file {saved}",
        f"[#general thread] convener: file {again}",
    ]
