"""Convener's Matrix adapter against Element's own SDK: members on matrix-js-sdk with its Rust
crypto (tests/js/element_client.mjs under Node) talk to the bot in encrypted rooms on a real
Synapse, sending what Element sends (its composer's messages, thread replies and edits, its
poll votes) and reading what the bot answers, decrypted, with the shield Element would draw.
matrix-nio talking to matrix-nio hides exactly the differences these tests are about.

The Node packages come from tests/js/package-lock.json (`make test` runs `npm ci`); without
node or them, these tests are skipped (failed when $CI is set, as for Synapse). Nothing here
sleeps: the Node side waits for each event it is asked about, with a deadline."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests import test_matrix_adapter as base
from tests.matrix_homeserver import Homeserver
from tests.test_matrix_adapter import Bot

# The adapter's surface; the database under it is tested by the handler tests on both.
pytestmark = [pytest.mark.matrix, pytest.mark.one_database]
homeserver = base.homeserver  # this module's Synapse

JS = Path(__file__).resolve().parent / "js"
SCRIPT = JS / "element_client.mjs"
WAIT_MS = 20_000
POLL_START = ("org.matrix.msc3381.poll.start", "m.poll.start")
QUESTION = "How do other cities plan a multi-year capital budget?"
FIRST = "We keep a spreadsheet of every project."
EDITED = "We run a rolling participatory plan, reviewed every spring."
_names = itertools.count(1)


def require_node() -> str:
    """The `node` executable, or skip the calling test (fail it when `$CI` is set)."""
    node = shutil.which("node")
    if node is None:
        reason = "node is not installed (Node 20 runs Element's SDK for these tests)"
    elif not (JS / "node_modules" / "matrix-js-sdk" / "package.json").exists():
        reason = f"the Node packages are not installed: run `npm ci` in {JS} (or `make test`)"
    else:
        return node
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


class ElementError(AssertionError):
    """The Node client refused a command or nothing matched in time."""


class Element:
    """One Node process holding Element clients for several members, driven line by line."""

    def __init__(self, node: str, hs: Homeserver, log: Path) -> None:
        self.node, self.hs, self.log = node, hs, log
        self.process: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)
        self._replies: dict[int, asyncio.Future] = {}
        self._reader: asyncio.Task | None = None

    async def start(self) -> Element:
        with self.log.open("wb") as stderr:
            self.process = await asyncio.create_subprocess_exec(
                self.node, str(SCRIPT), cwd=JS, limit=1 << 24, stderr=stderr,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        """Hand each answer to its command; the events printed between them are ignored
        here (the Node side keeps them for `wait`)."""
        assert self.process is not None and self.process.stdout is not None
        try:
            async for line in self.process.stdout:
                message = json.loads(line)
                if "id" in message:
                    self._replies.pop(message["id"]).set_result(message)
        finally:
            for waiting in self._replies.values():
                waiting.set_exception(ElementError(f"the Node client exited\n{self._stderr()}"))

    def _stderr(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    async def call(self, op: str, **args: Any) -> dict:
        """Run one command; its answer, or `ElementError` with the client's reason."""
        assert self.process is not None and self.process.stdin is not None
        number = next(self._ids)
        reply = self._replies[number] = asyncio.get_running_loop().create_future()
        self.process.stdin.write(json.dumps({"id": number, "op": op, **args}).encode() + b"\n")
        await self.process.stdin.drain()
        async with asyncio.timeout(WAIT_MS / 1000 + 30):  # the Node side keeps its own deadline
            answer = await reply
        if not answer["ok"]:
            raise ElementError(f"{op} {args}: {answer['error']} (the client's log: {self.log})")
        return answer

    async def member(self, name: str, **options: Any) -> Member:
        """A new account logged in on Element (cross-signed, as Element sets up)."""
        password = "password-" + name
        account = self.hs.register(name, password)
        await self.call(
            "login", homeserver=self.hs.url, user_id=account["user_id"], password=password,
            cross_sign=True, **{"as": name}, **options,
        )  # fmt: skip
        return Member(self, name, account["user_id"])

    async def close(self) -> None:
        if self.process is None:
            return
        if self.process.returncode is None:
            try:
                async with asyncio.timeout(10):
                    await self.call("quit")
                    await self.process.wait()
            except (TimeoutError, ElementError, ConnectionError):
                self.process.kill()
                await self.process.wait()
        if self._reader is not None:
            await self._reader


class Member:
    """A member on Element: what they send, and waiting for what they receive."""

    def __init__(self, element: Element, name: str, user_id: str) -> None:
        self.element, self.name, self.user_id = element, name, user_id

    async def do(self, op: str, **args: Any) -> dict:
        return await self.element.call(op, **{"as": self.name}, **args)

    async def say(self, room: str, body: str, thread: str | None = None) -> str:
        return (await self.do("send", room=room, body=body, thread=thread))["event_id"]

    async def wait(self, **match: Any) -> dict:
        """The first event this member received that matches (`room`, `not_room`, `sender`,
        `types`, `contains`: a text or texts its body holds), waiting for it if need be."""
        return (await self.do("wait", timeout_ms=WAIT_MS, **match))["found"]


@pytest.fixture
async def element(homeserver, tmp_path) -> AsyncIterator[Element]:
    client = await Element(require_node(), homeserver, tmp_path / "element.log").start()
    yield client
    await client.close()


@pytest.fixture
async def community(element, homeserver, database_url) -> AsyncIterator[Callable]:
    """`await community(**alice_options)`: the bot, alice (a facilitator) and kofi on Element,
    in alice's new encrypted room, which the bot joined and alice's client saw it join."""
    bots: list[Bot] = []

    async def start(**alice_options: Any) -> tuple[Bot, Member, Member, str]:
        tag = f"{next(_names)}{uuid.uuid4().hex[:6]}"
        bot_id = f"@convener{tag}:localhost"
        homeserver.register(f"convener{tag}", "bot-password")
        alice = await element.member(f"alice{tag}", **alice_options)
        kofi = await element.member(f"kofi{tag}")
        bot = Bot(homeserver, bot_id, "bot-password", database_url)
        bot.settings.facilitators = alice.user_id
        await bot.start()
        bots.append(bot)
        created = await alice.do("create_room", name="Budgeting", invite=[kofi.user_id, bot_id])
        room = created["room_id"]
        rooms = bot.adapter.client.rooms
        await bot.wait_until(lambda: room in rooms and rooms[room].encrypted)
        await alice.wait(room=room, sender=bot_id, types=["m.room.member"])  # it joined
        await alice.wait(room=room, sender=kofi.user_id, types=["m.room.member"])
        return bot, alice, kofi, room

    yield start
    for bot in bots:
        await bot.stop()


def from_bot(bot: Bot, **match: Any) -> dict:
    return {"sender": bot.settings.matrix_user_id, **match}


async def test_an_edit_made_on_element_is_kept_in_the_library(community):
    bot, alice, kofi, room = await community()
    await alice.say(room, f"!ask {QUESTION}")
    post = await kofi.wait(**from_bot(bot, room=room, contains=["Question #1", QUESTION]))
    assert post["encrypted"]

    # kofi answers in the question's thread, then edits his answer, both as Element does.
    reply = await kofi.say(room, FIRST, thread=post["event_id"])
    edit = await kofi.do("edit", room=room, event_id=reply, body=EDITED)
    sent = await alice.wait(room=room, sender=kofi.user_id, contains=f"* {EDITED}")
    assert sent["event_id"] == edit["event_id"] and sent["encrypted"]
    assert sent["content"]["m.relates_to"] == {"rel_type": "m.replace", "event_id": reply}
    assert sent["content"]["m.new_content"]["body"] == EDITED

    await alice.say(room, "!solved 1")
    solved = await alice.wait(**from_bot(bot, room=room, contains="Question #1 is solved"))
    assert "kept in the library" in solved["content"]["body"]

    await alice.say(room, "!search participatory")
    found = await alice.wait(**from_bot(bot, not_room=room, contains=["library", "participatory"]))
    assert "The library on participatory" in found["content"]["body"], found["content"]["body"]
    assert QUESTION in found["content"]["body"] and found["encrypted"]
    await alice.say(room, "!search spreadsheet")  # the words as first written are gone
    await alice.wait(**from_bot(bot, contains="Nothing in the library matches spreadsheet"))


async def test_a_member_who_shares_keys_only_with_cross_signed_devices_gets_answers(community):
    bot, alice, _kofi, room = await community(isolation="signed")
    bot_id = bot.settings.matrix_user_id
    devices = (await alice.do("devices", user=bot_id))["devices"]
    assert [d["device_id"] for d in devices] == [bot.adapter.client.device_id]
    assert devices[0]["signed_by_owner"], "Convener's device is not cross-signed by its owner"

    await alice.say(room, "!help")
    answer = await alice.wait(**from_bot(bot, not_room=room, contains="Here is what you can ask"))
    assert answer["encrypted"]
    # No red shield ("encrypted by a device not verified by its owner") in Element.
    assert answer["shield"] == {"colour": "NONE", "reason": None}


async def test_a_vote_on_an_event_poll_in_element_is_an_rsvp(community):
    bot, alice, kofi, room = await community()
    await alice.say(room, '!event add 2035-03-06 15:00 UTC "Deep dive: property tax"')
    await kofi.wait(**from_bot(bot, room=room, contains="Deep dive: property tax"))
    start = await kofi.wait(**from_bot(bot, room=room, types=list(POLL_START)))
    poll = start["poll"]  # as Element reads it to draw it: None if it could not
    assert poll is not None, start["content"]
    assert start["encrypted"] and poll["max_selections"] == 1
    assert "Deep dive: property tax" in poll["question"], poll
    yes = [a["id"] for a in poll["answers"] if a["id"].endswith(" yes")]
    assert len(poll["answers"]) == 3 and len(yes) == 1, poll["answers"]

    vote = await kofi.do("poll_answer", room=room, poll=start["event_id"], answer=yes[0])
    # What Element sends today: the unstable type and field only, no stable `m.selections`.
    assert vote["type"] == "org.matrix.msc3381.poll.response"
    assert set(vote["content"]) == {"m.relates_to", "org.matrix.msc3381.poll.response"}
    await alice.say(room, "!event attendees 1")
    listed = await alice.wait(**from_bot(bot, not_room=room, contains="Event #1"))
    assert "1 coming" in listed["content"]["body"], listed["content"]["body"]
    assert kofi.name in listed["content"]["body"]
