"""`MatrixAdapter.thread`: a thread's replies as they stand when it is asked, read from a real
Synapse (tests/matrix_homeserver.py) with the relations API. Replies sent by real members'
clients, one edited twice, one redacted, one with an old client's reply fallback, and one of
the bot's own: the thread comes back oldest first, without the root, with the latest edits
and without the redacted reply, the bot's reply marked.

Nothing here sleeps: every event is stored by the homeserver before its send returns, and the
bot's own sync is waited for with a deadline (`Bot.wait_until`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from nio import JoinResponse, RoomCreateResponse, RoomRedactResponse

from adapters.matrix import MatrixAdapter, events
from adapters.matrix.adapter import MatrixError, MatrixNotReady
from adapters.matrix.text import strip_reply_fallback
from bot.platform import Platform
from bot.settings import Settings
from bot.types import ChannelRef
from tests import test_matrix_adapter as base
from tests.test_matrix_adapter import Bot, Person

homeserver = base.homeserver  # this module's Synapse

ROOT = "How do other cities plan a multi-year capital budget?"
FIRST = "We phase it over three years."
SECOND = "We phase it over four years."
LATEST = "We phase it over five years, with a rolling plan."
SPAM = "Buy cheap bonds here"
BOT = "Question #1 is solved, thanks to kofi."
SEOUL = "Seoul publishes its rolling plan every year."
AGREED = "Agreed: we do the same."


def in_thread(root: str, reply_to: str | None = None) -> dict:
    """`m.relates_to` of a threaded message, as clients send it: a reply to the latest event
    of the thread as a fallback for clients without threads, or a real reply to `reply_to`."""
    return {
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": reply_to is None,
            "m.in_reply_to": {"event_id": reply_to or root},
        }
    }


def edit_of(event_id: str, text: str) -> dict:
    """An edit as clients send it (the `m.replace` relation, the new text in `m.new_content`,
    `* `-prefixed body for clients without edits)."""
    return {
        "body": f"* {text}",
        "m.new_content": {"msgtype": "m.text", "body": text},
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
    }


@pytest.fixture
async def members(homeserver, database_url) -> AsyncIterator[dict]:
    """A room of alice's with kofi and lena (display names `alice`, `kofi`, `lena`), which the
    bot joins last."""
    tag = uuid.uuid4().hex[:8]
    bot_name = f"convener-t{tag}"
    homeserver.register(bot_name, "bot-password")
    bot_id = f"@{bot_name}:localhost"
    people = {name: Person(homeserver, f"{name}-{tag}") for name in ("alice", "kofi", "lena")}
    for name, person in people.items():
        await person.client.set_displayname(name)
    bot = Bot(homeserver, bot_id, "bot-password", database_url)
    try:
        await bot.start()
        alice = people["alice"]
        created = await alice.client.room_create(
            name="Budgeting", invite=[people["kofi"].user_id, people["lena"].user_id]
        )
        assert isinstance(created, RoomCreateResponse), created
        room = created.room_id
        for name in ("kofi", "lena"):
            assert isinstance(await people[name].client.join(room), JoinResponse)
        await alice.client.room_invite(room, bot_id)
        await bot.wait_until(
            lambda: (
                room in bot.adapter.client.rooms
                and bot.adapter.client.rooms[room].joined_count == 4
            )
        )
        yield {"bot": bot, "bot_id": bot_id, "room": room, **people}
    finally:
        await bot.stop()
        for person in people.values():
            await person.close()


@pytest.mark.matrix
async def test_a_thread_as_it_stands_edits_applied_and_redactions_left_out(members, monkeypatch):
    bot, bot_id, room = members["bot"], members["bot_id"], members["room"]
    alice, kofi, lena = members["alice"], members["kofi"], members["lena"]
    adapter = bot.adapter
    assert isinstance(adapter, Platform)
    channel = ChannelRef("matrix", room, "#Budgeting")

    root = await alice.say(room, ROOT)
    answer = await kofi.say(room, FIRST, in_thread(root))
    spam = await lena.say(room, SPAM, in_thread(root))
    ours = await adapter.send(channel, BOT, root)
    seoul = await lena.say(room, SEOUL, in_thread(root))
    # An old client's real reply in the thread, quoting kofi's first text as a fallback.
    agreed = await alice.say(
        room, f"> <{kofi.user_id}> {FIRST}\n\n{AGREED}", in_thread(root, answer)
    )
    await alice.say(room, "Unrelated, outside the thread.")
    assert all((root, answer, spam, ours.message_id, seoul, agreed))

    # kofi edits his answer twice, lena deletes her spam: all before the thread is read.
    assert await kofi.say(room, f"* {SECOND}", edit_of(answer, SECOND))
    assert await kofi.say(room, f"* {LATEST}", edit_of(answer, LATEST))
    redacted = await lena.client.room_redact(room, spam, reason="spam")
    assert isinstance(redacted, RoomRedactResponse), redacted
    # The member names the bot shows come from its sync of the room.
    await bot.wait_until(lambda: adapter.client.rooms[room].user_name(kofi.user_id) == "kofi")

    asked: list[str] = []
    relations = adapter._relations

    async def recorded(room_id: str, event_id: str, rel_type: str, limit: int) -> list[dict]:
        asked.append(rel_type)
        return await relations(room_id, event_id, rel_type, limit)

    pages: list[str] = []
    get_json = adapter._get_json

    async def page(path: str, what: str) -> dict:
        pages.append(path)
        return await get_json(path, what)

    monkeypatch.setattr(adapter, "_relations", recorded)
    monkeypatch.setattr(adapter, "_get_json", page)
    monkeypatch.setattr("adapters.matrix.threads.RELATIONS_PAGE", 2)  # pages of two: paginate
    replies = await adapter.thread(channel, root)
    assert asked == ["m.thread"]  # Synapse bundles the latest edit whole: nothing more to ask
    assert len(pages) >= 2 and all("dir=f" in p for p in pages)
    assert "from=" not in pages[0] and all("from=" in p for p in pages[1:])

    assert [r.message_id for r in replies] == [answer, ours.message_id, seoul, agreed]
    assert [r.text for r in replies] == [LATEST, BOT, SEOUL, AGREED]
    assert [r.user.id for r in replies] == [kofi.user_id, bot_id, lena.user_id, alice.user_id]
    assert [r.user.is_bot for r in replies] == [False, True, False, False]
    assert [r.user.name for r in replies[:1] + replies[2:]] == ["kofi", "lena", "alice"]
    times = [r.ts for r in replies]
    assert times == sorted(times)
    now = datetime.now(UTC)
    assert all(now - timedelta(minutes=5) < t <= now + timedelta(seconds=5) for t in times)

    # Edits fetched with /relations/{event}/m.replace (what a homeserver that bundles only the
    # latest edit's id is asked) give the same latest text.
    edits = await adapter._relations(room, answer, "m.replace", 10)
    assert len(edits) == 2
    original = {"event_id": answer, "sender": kofi.user_id, "type": "m.room.message"}
    assert events.latest_edit(original, edits)["body"] == LATEST
    assert events.latest_edit(original, list(reversed(edits)))["body"] == LATEST

    # A thread with no replies is empty; an unknown root is the homeserver's refusal.
    assert await adapter.thread(channel, seoul) == []
    with pytest.raises(MatrixError):
        await adapter.thread(channel, "$no-such-event")


async def test_thread_before_ready_raises():
    settings = Settings(
        _env_file=None, matrix_homeserver="http://127.0.0.1:1", matrix_user_id="@c:example.org"
    )
    with pytest.raises(MatrixNotReady):
        await MatrixAdapter(settings).thread(ChannelRef("matrix", "!r:example.org"), "$root")


def test_an_edit_counts_only_from_the_sender_of_the_original():
    original = {"event_id": "$a", "sender": "@kofi:x", "type": "m.room.message", "content": {}}

    def edit(sender: str, ts: int, body: str, event_id: str = "$e") -> dict:
        return {
            "event_id": event_id,
            "sender": sender,
            "type": "m.room.message",
            "origin_server_ts": ts,
            "content": edit_of("$a", body),
        }

    assert events.new_content(original, edit("@kofi:x", 1, "mine"))["body"] == "mine"
    assert events.new_content(original, edit("@mallory:x", 1, "not yours")) is None
    edits = [
        edit("@kofi:x", 2, "later", "$b"),
        edit("@mallory:x", 9, "forged"),
        edit("@kofi:x", 2, "tie, greater id", "$c"),
        edit("@kofi:x", 1, "earlier"),
    ]
    assert events.latest_edit(original, edits)["body"] == "tie, greater id"
    redacted = {**edit("@kofi:x", 3, ""), "content": {}, "unsigned": {"redacted_because": {}}}
    assert events.new_content(original, redacted) is None


def test_reply_fallbacks_are_stripped_and_nothing_else():
    assert strip_reply_fallback("> <@a:x> first\n> more\n\nthe reply") == "the reply"
    assert strip_reply_fallback("> * <@a:x> waves\n\nhi") == "hi"
    assert strip_reply_fallback("> a quote of mine\n\nmy text") == "> a quote of mine\n\nmy text"
    assert strip_reply_fallback("plain") == "plain"
    content = {"msgtype": "m.text", "body": "> <@a:x> q\n\nanswer\x07"}
    assert events.current_text(content, None, []) == "> <@a:x> q\n\nanswer"  # not a reply
    content["m.relates_to"] = {"m.in_reply_to": {"event_id": "$q"}}
    assert events.current_text(content, None, []) == "answer"  # control characters stripped
    assert events.current_text(content, {"body": "edited"}, []) == "edited"
