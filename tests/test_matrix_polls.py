"""Native polls on Matrix (MSC3381), against a real Synapse (tests/matrix_homeserver.py), in a
plain and in an encrypted room: an event announced is followed by a poll with Element's
unstable fields and MSC3381's stable ones; members answer it as Element does; each answer is
an RSVP (a changed answer replaces the last); answers that are not one of a Convener poll's
count for nothing; the poll ends when the event starts, sent by a restarted bot. A call's poll
is an expression of interest and ends at the deadline. Then the adapter's checks of answers,
without a homeserver.

The shapes a member sends are Element's (matrix-js-sdk 37, src/extensible_events_v1/
PollResponseEvent.ts `serialize()`: type `org.matrix.msc3381.poll.response`, an `m.reference`
to the poll, `{"org.matrix.msc3381.poll.response": {"answers": [id]}}`) and MSC3381's stable
one (proposals/3381-polls.md in matrix-org/matrix-spec-proposals: `m.poll.response` with
`m.selections`). The bot runs on a controllable clock set to the current minute; nothing
sleeps: each client syncs until what it waits for arrives, with a deadline."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    RoomCreateResponse,
    RoomSendResponse,
    SyncResponse,
)
from sqlalchemy import select

from adapters.matrix import MatrixAdapter, polls
from adapters.matrix.adapter import ENCRYPTION_STATE
from bot.cli import build
from bot.models import CallInterest, Event, EventRsvp, Member
from bot.settings import Settings
from bot.types import Action, ChannelRef, SlashCommand
from handlers.calls import jobs as call_jobs
from handlers.events import jobs as event_jobs
from tests import test_matrix_adapter as base
from tests.harness import FakeClock
from tests.matrix_homeserver import Homeserver
from tests.test_matrix_adapter import Bot

# The adapter's surface; the database under it is tested by the handler tests on both.
pytestmark = pytest.mark.one_database

homeserver = base.homeserver  # the module's Synapse, shared with nothing else
START, RESPONSE, END, TEXT = polls.START, polls.RESPONSE, polls.END, polls.TEXT


class Client:
    """A member on a nio client (encrypting, with its own key store, when `store` is given)
    that keeps every timeline event it syncs, decrypted where it can."""

    def __init__(self, hs: Homeserver, name: str, store: Path | None) -> None:
        account = hs.register(name, "password-" + name)
        self.user_id = account["user_id"]
        if store is not None:
            store.mkdir(parents=True)
        config = AsyncClientConfig(encryption_enabled=store is not None, store_sync_tokens=False)
        self.client = AsyncClient(hs.url, config=config, store_path=str(store or ""))
        self.client.restore_login(account["user_id"], account["device_id"], account["access_token"])
        self.events: list[tuple[str, object]] = []
        self.since: str | None = None

    async def sync(self, wait_ms: int = 500) -> None:
        client = self.client
        response = await client.sync(timeout=wait_ms, since=self.since, full_state=False)
        assert isinstance(response, SyncResponse), response
        self.since = response.next_batch
        for room_id in response.rooms.invite:
            assert isinstance(await client.join(room_id), JoinResponse)
        for room_id, info in response.rooms.join.items():
            self.events.extend((room_id, event) for event in info.timeline.events)
        if client.olm is None:
            return
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()

    async def wait_for(self, predicate, seconds: float = 20.0) -> tuple[str, dict]:
        """The first event (room id, raw JSON) of someone else matching `predicate`."""
        async with asyncio.timeout(seconds):
            while True:
                for room_id, event in self.events:
                    source = getattr(event, "source", None)
                    if (
                        isinstance(source, dict)
                        and source.get("sender") != self.user_id
                        and predicate(room_id, source)
                    ):
                        return room_id, source
                await self.sync()

    def decrypted(self, event_id: str) -> bool:
        return any(
            getattr(e, "event_id", None) == event_id and getattr(e, "decrypted", False)
            for _r, e in self.events
        )

    async def send(self, room_id: str, kind: str, content: dict) -> str:
        response = await self.client.room_send(
            room_id, kind, content, ignore_unverified_devices=True
        )
        assert isinstance(response, RoomSendResponse), response
        return response.event_id

    async def say(self, room_id: str, body: str) -> str:
        return await self.send(room_id, "m.room.message", {"msgtype": "m.text", "body": body})

    async def answer(self, room_id: str, poll_id: str, *answers: str) -> str:
        """A poll response as Element sends it."""
        content = {
            "m.relates_to": {"rel_type": "m.reference", "event_id": poll_id},
            RESPONSE: {"answers": list(answers)},
        }
        return await self.send(room_id, RESPONSE, content)

    async def close(self) -> None:
        await self.client.close()


def message_with(bot_id: str, room: str, needle: str):
    def check(room_id: str, source: dict) -> bool:
        body = source.get("content", {}).get("body", "")
        return (
            room_id == room
            and source.get("sender") == bot_id
            and source.get("type") == "m.room.message"
            and needle in body
        )

    return check


def of_type(bot_id: str, room: str, kind: str, relates_to: str | None = None):
    def check(room_id: str, source: dict) -> bool:
        if room_id != room or source.get("sender") != bot_id or source.get("type") != kind:
            return False
        relation = source.get("content", {}).get("m.relates_to", {})
        return relates_to is None or relation.get("event_id") == relates_to

    return check


def dm_with(bot_id: str, room: str, needle: str):
    def check(room_id: str, source: dict) -> bool:
        body = source.get("content", {}).get("body", "")
        return room_id != room and source.get("sender") == bot_id and needle in body

    return check


def polling_bot(hs: Homeserver, bot_id: str, database_url: str, clock: FakeClock, fac: str) -> Bot:
    bot = Bot(hs, bot_id, "bot-password", database_url)
    bot.settings.facilitators = fac
    bot.app = build(bot.settings, clock=clock, schedule=False)
    bot.adapter = MatrixAdapter(bot.settings, **bot.adapter_options)
    bot.app.add_platform(bot.adapter)
    return bot


@pytest.fixture(params=["plain", "encrypted"])
async def community(request, homeserver, database_url, tmp_path) -> AsyncIterator[dict]:
    """A room of a facilitator's with kofi and lena (encrypted or not), which the bot joins
    last; the bot on a fake clock set to the current minute."""
    encrypted = request.param == "encrypted"
    tag = uuid.uuid4().hex[:8]
    bot_name = f"convener-poll{tag}"
    homeserver.register(bot_name, "bot-password")
    bot_id = f"@{bot_name}:localhost"
    people = {
        name: Client(homeserver, f"{name}-{tag}", tmp_path / name if encrypted else None)
        for name in ("fac", "kofi", "lena")
    }
    clock = FakeClock(datetime.now(UTC).replace(second=0, microsecond=0))
    world = {"hs": homeserver, "bot_id": bot_id, "clock": clock, "encrypted": encrypted,
             "database_url": database_url, **people}  # fmt: skip
    world["bot"] = polling_bot(homeserver, bot_id, database_url, clock, people["fac"].user_id)
    try:
        for person in people.values():
            await person.client.set_displayname(person.user_id.split("-")[0][1:])
            await person.sync(0)  # an encrypting client publishes its device's keys
        await world["bot"].start()
        fac = people["fac"]
        created = await fac.client.room_create(
            name="Budgeting",
            invite=[people["kofi"].user_id, people["lena"].user_id],
            initial_state=[ENCRYPTION_STATE] if encrypted else (),
        )
        assert isinstance(created, RoomCreateResponse), created
        room = world["room"] = created.room_id
        for name in ("kofi", "lena"):
            assert isinstance(await people[name].client.join(room), JoinResponse)
        await fac.client.room_invite(room, bot_id)
        bot = world["bot"]
        await bot.wait_until(
            lambda: (
                room in bot.adapter.client.rooms
                and bot.adapter.client.rooms[room].joined_count == 4
                and bot.adapter.client.rooms[room].encrypted == encrypted
            )
        )
        for person in people.values():
            await person.sync(0)
        yield world
    finally:
        await world["bot"].stop()
        for person in people.values():
            await person.close()


async def answers(bot: Bot) -> dict[str, str]:
    """Each member's RSVP to event #1, by display name."""
    async with bot.app.db.sessions() as session:
        rows = await session.execute(
            select(Member.display_name, EventRsvp.answer)
            .join(Member, Member.id == EventRsvp.member_id)
            .where(EventRsvp.event_id == 1)
        )
        return dict(rows.all())


async def wait_answers(bot: Bot, expected: dict[str, str]) -> None:
    async def check() -> bool:
        return await answers(bot) == expected

    await bot.wait_for_stored(check)


def check_poll_start(source: dict, question: str, expected: list[tuple[str, str]]) -> None:
    """An `org.matrix.msc3381.poll.start` as Element sends one, with the stable blocks."""
    content = source["content"]
    poll = content[START]
    assert poll["kind"] == "org.matrix.msc3381.poll.disclosed" and poll["max_selections"] == 1
    assert poll["question"][TEXT] == question
    assert [(a["id"], a[TEXT]) for a in poll["answers"]] == expected
    lines = [question, *(f"{n}. {label}" for n, (_id, label) in enumerate(expected, 1))]
    assert content[TEXT] == "\n".join(lines)
    stable = content["m.poll"]
    assert stable["kind"] == "m.disclosed" and stable["max_selections"] == 1
    assert stable["question"] == {"m.text": [{"body": question}]}
    assert [(a["m.id"], a["m.text"][0]["body"]) for a in stable["answers"]] == expected
    assert content["m.text"][0]["body"] == "\n".join(lines)


def check_poll_end(source: dict, poll_id: str) -> None:
    content = source["content"]
    assert content["m.relates_to"] == {"rel_type": "m.reference", "event_id": poll_id}
    assert content[END] == {} and content[TEXT] and content["m.text"][0]["body"] == content[TEXT]


@pytest.mark.matrix
async def test_an_event_poll_answered_as_element_does_and_ended_at_the_start(community):
    bot, bot_id, room, clock = (community[k] for k in ("bot", "bot_id", "room", "clock"))
    fac, kofi, lena = community["fac"], community["kofi"], community["lena"]
    starts = (clock() + timedelta(days=1)).replace(hour=12, minute=0)

    # The facilitator announces an event: the notice, then the poll, in the room.
    await fac.say(room, f'!event add {starts:%Y-%m-%d} 12:00 UTC "Deep dive: bonds"')
    _, notice = await kofi.wait_for(message_with(bot_id, room, "Event #1: Deep dive: bonds"))
    _, poll = await kofi.wait_for(of_type(bot_id, room, START))
    check_poll_start(poll, "📅 Event #1: Deep dive: bonds", [
        ("rsvp 1 yes", "I'll come"), ("rsvp 1 maybe", "Maybe"), ("rsvp 1 no", "Can't come"),
    ])  # fmt: skip
    order = [getattr(e, "event_id", None) for r, e in kofi.events if r == room]
    assert order.index(notice["event_id"]) < order.index(poll["event_id"])
    if community["encrypted"]:
        assert kofi.decrypted(notice["event_id"]) and kofi.decrypted(poll["event_id"])
    poll_id = poll["event_id"]

    # kofi answers maybe, then changes his mind: the answer replaces the first.
    await kofi.answer(room, poll_id, "rsvp 1 maybe")
    await wait_answers(bot, {"kofi": "maybe"})
    await kofi.answer(room, poll_id, "rsvp 1 yes")
    await wait_answers(bot, {"kofi": "yes"})
    await kofi.wait_for(dm_with(bot_id, room, "You're coming to event #1"))

    # What is not an answer of Convener's poll counts for nothing; lena's last one, in the
    # stable shape, counts (handled in order, so the others were seen before it).
    await lena.answer(room, poll_id, "event cancel 1")  # a command, not one of the answers
    await lena.answer(room, notice["event_id"], "rsvp 1 yes")  # not a poll
    await lena.answer(room, poll_id)  # no answer: a vote taken back, nothing to undo
    await lena.send(room, "m.poll.response", {
        "m.relates_to": {"rel_type": "m.reference", "event_id": poll_id},
        "m.selections": ["rsvp 1 no", "rsvp 1 yes"],  # one answer allowed: the first counts
    })  # fmt: skip
    await wait_answers(bot, {"kofi": "yes", "lena": "no"})
    async with bot.app.db.sessions() as session:
        (event,) = (await session.scalars(select(Event))).all()
    assert event.cancelled_at is None and event.message_id == notice["event_id"]
    await kofi.say(room, "!rsvp 1 maybe")  # commands and reactions keep working beside it
    await wait_answers(bot, {"kofi": "maybe", "lena": "no"})
    await lena.send(room, "m.reaction", {"m.relates_to": {
        "rel_type": "m.annotation", "event_id": notice["event_id"], "key": "✅"}})  # fmt: skip
    await wait_answers(bot, {"kofi": "maybe", "lena": "yes"})

    # The bot restarts; at the start, the new one ends the poll, once.
    await bot.stop()
    again = polling_bot(community["hs"], bot_id, community["database_url"], clock,
                        fac.user_id)  # fmt: skip
    community["bot"] = again
    await again.start()
    clock.now = starts
    await event_jobs.remind(again.app.services())
    await event_jobs.remind(again.app.services())
    _, end = await kofi.wait_for(of_type(bot_id, room, END, relates_to=poll_id))
    check_poll_end(end, poll_id)
    assert "Deep dive: bonds" in end["content"][TEXT]
    await kofi.wait_for(message_with(bot_id, room, "Event #1, **Deep dive: bonds**, starts now"))
    last = await kofi.say(room, "Thanks!")  # after everything the bot sent
    async with asyncio.timeout(20):
        while not any(getattr(e, "event_id", None) == last for _r, e in kofi.events):
            await kofi.sync()
    ends = [e for r, e in kofi.events if r == room and getattr(e, "source", {}).get("type") == END]
    assert len(ends) == 1
    if community["encrypted"]:
        assert kofi.decrypted(end["event_id"])


@pytest.mark.matrix
async def test_a_call_poll_is_an_expression_of_interest_and_ends_at_the_deadline(community):
    bot, bot_id, room, clock = (community[k] for k in ("bot", "bot_id", "room", "clock"))
    fac, kofi = community["fac"], community["kofi"]
    day = (clock() + timedelta(days=1)).date()
    await fac.say(room, f'!call add {day:%Y-%m-%d} "Peer review panel"')
    _, poll = await kofi.wait_for(of_type(bot_id, room, START))
    check_poll_start(poll, "📣 Call #1: Peer review panel", [("interest 1", "I'm interested")])

    await kofi.answer(room, poll["event_id"], "interest 1")

    async def interest() -> list[tuple[str, object]]:
        async with bot.app.db.sessions() as session:
            rows = (await session.scalars(select(CallInterest))).all()
            return [(r.note, r.withdrawn_at) for r in rows]

    assert await bot.wait_for_stored(interest) == [("", None)]
    await kofi.wait_for(dm_with(bot_id, room, "Noted your interest in call #1"))

    clock.now = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    await call_jobs.follow_up(bot.app.services())
    _, end = await kofi.wait_for(of_type(bot_id, room, END, relates_to=poll["event_id"]))
    check_poll_end(end, poll["event_id"])


# The adapter's checks of answers, without a homeserver ---------------------------------------

BOT = "@convener:example.org"
ROOM = "!budgeting:example.org"


def offline() -> MatrixAdapter:
    """An adapter whose sends are recorded (state in memory, as without a database)."""
    adapter = MatrixAdapter(
        Settings(_env_file=None, matrix_homeserver="http://127.0.0.1:1", matrix_user_id=BOT)
    )
    adapter.sent = []

    async def send(room_id: str, content: dict, kind: str = "m.room.message") -> str:
        adapter.sent.append((room_id, kind, content))
        return f"$sent{len(adapter.sent)}"

    adapter._send = send
    return adapter


def response(content: dict, sender: str = "@kofi:example.org", kind: str = RESPONSE):
    source = {"type": kind, "event_id": f"${uuid.uuid4().hex}", "sender": sender,
              "origin_server_ts": 1_772_445_600_000, "content": content}  # fmt: skip
    return SimpleNamespace(source=source)


def to(poll_id: str, answers) -> dict:
    return {"m.relates_to": {"rel_type": "m.reference", "event_id": poll_id},
            RESPONSE: {"answers": answers}}  # fmt: skip


CHOICE = [Action("Yes", "rsvp 4 yes", poll=True), Action("No", "rsvp 4 no", poll=True)]


async def started() -> MatrixAdapter:
    adapter = offline()
    await adapter._start_poll(ROOM, "$notice", "📅 **Event #4: Bonds**\nWhen: soon", CHOICE)
    return adapter


async def test_an_answer_of_convener_s_poll_is_the_command_typed_by_its_sender():
    adapter = await started()
    [(room, kind, content)] = adapter.sent
    assert (room, kind, content[START]["question"][TEXT]) == (ROOM, START, "📅 Event #4: Bonds")
    raw = response(to("$sent1", ["rsvp 4 no"]))
    command = await adapter._poll_answer(ROOM, None, raw)
    assert isinstance(command, SlashCommand) and command.text == "rsvp 4 no"
    assert command.event_id == raw.source["event_id"] and command.user.id == "@kofi:example.org"
    assert command.channel == ChannelRef("matrix", ROOM) and command.reply_token is None
    stable = response({"m.relates_to": {"rel_type": "m.reference", "event_id": "$sent1"},
                       "m.selections": ["rsvp 4 yes"]}, kind="m.poll.response")  # fmt: skip
    assert (await adapter._poll_answer(ROOM, None, stable)).text == "rsvp 4 yes"


NOTHING = {
    "not an answer": (ROOM, to("$sent1", ["role grant @kofi:example.org facilitator"])),
    "none": (ROOM, to("$sent1", [])),
    "not a list": (ROOM, to("$sent1", "rsvp 4 yes")),
    "not text": (ROOM, to("$sent1", [["rsvp 4 yes"]])),
    "the notice": (ROOM, to("$notice", ["rsvp 4 yes"])),
    "unknown poll": (ROOM, to("$elsewhere", ["rsvp 4 yes"])),
    "not a reference": (ROOM, {**to("$sent1", ["rsvp 4 yes"]), "m.relates_to": {
        "rel_type": "m.annotation", "event_id": "$sent1"}}),
    "no relation": (ROOM, {RESPONSE: {"answers": ["rsvp 4 yes"]}}),
    "another room": ("!other:example.org", to("$sent1", ["rsvp 4 yes"])),
}  # fmt: skip


@pytest.mark.parametrize(("room", "content"), NOTHING.values(), ids=list(NOTHING))
async def test_what_is_not_an_answer_of_convener_s_poll_is_nothing(room, content):
    adapter = await started()
    assert await adapter._poll_answer(room, None, response(content)) is None


@pytest.mark.parametrize("sender", [BOT, None])
async def test_the_bot_s_own_answers_and_malformed_ones_are_nothing(sender):
    adapter = await started()
    raw = response(to("$sent1", ["rsvp 4 yes"]), sender=sender)
    assert await adapter._poll_answer(ROOM, None, raw) is None


async def test_a_poll_follows_only_a_room_post_with_a_choice_and_ends_once_known():
    adapter = offline()
    assert polls.choice([Action("Help", "help")]) == []
    assert polls.choice([Action("Help", "help"), *CHOICE]) == CHOICE
    await adapter.close_choices(ChannelRef("matrix", ROOM), "$never-polled")
    assert adapter.sent == []
    await adapter._start_poll(ROOM, "$notice", "📣 **Call #2: Panel**", CHOICE[:1])
    await adapter.close_choices(ChannelRef("matrix", ROOM), "$notice")
    (_, start_kind, _), (end_room, end_kind, end) = adapter.sent
    assert (start_kind, end_room, end_kind) == (START, ROOM, END)
    check_poll_end({"content": end}, "$sent1")
    assert end[TEXT] == "🔒 📣 Call #2: Panel"


def test_long_event_ids_fit_the_state_table():
    assert polls.state_key("poll-of:", "$short") == "poll-of:$short"
    long = polls.state_key("poll-of:", "$" + "x" * 300)
    assert len(long) <= polls.MAX_KEY and long.startswith("poll-of:#")
