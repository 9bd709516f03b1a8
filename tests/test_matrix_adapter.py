"""The Matrix adapter against a real Synapse on 127.0.0.1 (tests/matrix_homeserver.py):
joins, commands, welcome DMs in direct rooms, reactions, threads, files, restarts of the bot
and of the homeserver."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from nio import (
    AsyncClient,
    DownloadResponse,
    InviteMemberEvent,
    JoinResponse,
    RoomCreateResponse,
    RoomMessageFile,
    RoomMessageNotice,
    RoomMessageText,
    SyncResponse,
)
from sqlalchemy import select

from adapters.matrix import MatrixAdapter
from adapters.matrix.text import to_html, user_from_mention
from bot.app import Convener
from bot.cli import build
from bot.models import Activity
from bot.platform import Intake
from bot.settings import Settings
from bot.types import OutboundFile, UserRef
from tests.matrix_homeserver import Homeserver, require_synapse

pytestmark = pytest.mark.matrix
_names = itertools.count(1)


@pytest.fixture(scope="module")
def homeserver(tmp_path_factory) -> Iterator[Homeserver]:
    hs = Homeserver(tmp_path_factory.mktemp("synapse"), python=require_synapse())
    hs.start()
    try:
        yield hs
    finally:
        hs.stop()


class Person:
    """A member on a real Matrix client: syncs, accepts invites, collects messages."""

    def __init__(self, hs: Homeserver, name: str) -> None:
        account = hs.register(name, "password-" + name)
        self.user_id = account["user_id"]
        self.client = AsyncClient(hs.url)
        self.client.restore_login(account["user_id"], account["device_id"], account["access_token"])
        self.messages: list[tuple[str, object]] = []  # (room id, event)
        self.since: str | None = None

    async def sync(self, wait_ms: int = 500) -> None:
        response = await self.client.sync(timeout=wait_ms, since=self.since, full_state=False)
        assert isinstance(response, SyncResponse), response
        self.since = response.next_batch
        for room_id, info in response.rooms.invite.items():
            if any(isinstance(e, InviteMemberEvent) for e in info.invite_state):
                assert isinstance(await self.client.join(room_id), JoinResponse)
        for room_id, info in response.rooms.join.items():
            for event in info.timeline.events:
                if isinstance(event, RoomMessageText | RoomMessageNotice | RoomMessageFile):
                    self.messages.append((room_id, event))

    async def wait_for(self, predicate, seconds: float = 20.0):
        """The first message matching `predicate` (room id, event), syncing until it comes."""
        async with asyncio.timeout(seconds):
            while True:
                for room_id, event in self.messages:
                    if getattr(event, "sender", None) != self.user_id and predicate(room_id, event):
                        return room_id, event
                await self.sync()

    def texts_from(self, sender: str) -> list[str]:
        return [e.body for _, e in self.messages if e.sender == sender and hasattr(e, "body")]

    async def say(self, room_id: str, body: str, content: dict | None = None) -> str:
        response = await self.client.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": body, **(content or {})}
        )
        return response.event_id

    async def close(self) -> None:
        await self.client.close()


class Bot:
    """Convener with the Matrix adapter, started the way `bot.cli.serve` starts it: the app,
    then the adapter until it is ready, then the scheduler."""

    def __init__(
        self, hs: Homeserver, account: str, password: str, database_url: str, **adapter_options
    ) -> None:
        self.settings = Settings(
            _env_file=None,
            database_url=database_url,
            matrix_homeserver=hs.url,
            matrix_user_id=account,
            matrix_password=password,
            community_name="Municipal Finance Practice",
        )
        self.adapter_options = {"sync_timeout_ms": 1000, **adapter_options}
        self.app: Convener | None = None
        self.adapter: MatrixAdapter | None = None
        self.stopped = False

    def build(self, schedule: bool = False) -> Convener:
        self.app = build(self.settings, schedule=schedule)
        self.adapter = MatrixAdapter(self.settings, **self.adapter_options)
        self.app.add_platform(self.adapter)
        return self.app

    async def start(self, schedule: bool = False, intake: Intake | None = None) -> Bot:
        """Start and wait until the first batch is handed over and its token stored."""
        if self.app is None:
            self.build(schedule)
        await self.app.start()
        await self.adapter.start(intake or self.app)
        await self.adapter.ready()
        await self.app.ready()  # the outbox, and the scheduler when asked for
        await self.wait_until(lambda: self.adapter.syncs >= 1)
        return self

    async def wait_until(self, predicate, seconds: float = 20.0) -> None:
        """Until `predicate()` holds, checked after each sync (fails if the loop ends)."""
        assert self.adapter is not None
        adapter = self.adapter
        async with asyncio.timeout(seconds), adapter.synced:
            await adapter.synced.wait_for(lambda: predicate() or not adapter.running)
        if not adapter.running:
            await adapter.wait_closed()
            raise AssertionError("the Matrix sync loop ended")

    async def stored(self, event_ids: list[str]) -> list[str]:
        """Which of these events are in the activity table, in the order they were stored."""
        async with self.app.db.sessions() as session:
            rows = await session.scalars(
                select(Activity.event_id)
                .where(Activity.event_id.in_(event_ids))
                .order_by(Activity.id)
            )
            return list(rows)

    async def wait_for_stored(self, check, seconds: float = 30.0):
        """Until the database check `await check()` is truthy; checked again after each sync
        (a batch's activity is stored before the sync counts, and a sync answers as soon as
        there is something new), so no idle timeout is waited for."""
        async with asyncio.timeout(seconds):
            while True:
                target = self.adapter.syncs + 1
                if result := await check():
                    return result
                await self.wait_until(lambda done=target: self.adapter.syncs >= done, seconds)

    async def wait_stored(self, event_ids: list[str], seconds: float = 30.0) -> list[str]:
        """Until every one of these events is in the activity table; their stored order."""

        async def all_stored() -> list[str] | None:
            stored = await self.stored(event_ids)
            return stored if len(stored) == len(event_ids) else None

        return await self.wait_for_stored(all_stored, seconds)

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        await self.adapter.stop(5.0)
        await self.app.stop(5.0)
        await self.adapter.close()

    async def kinds(self) -> list[str]:
        await self.app.persisted()
        async with self.app.db.sessions() as session:
            return list(await session.scalars(select(Activity.kind).order_by(Activity.id)))


@pytest.fixture
async def world(homeserver, database_url) -> AsyncIterator[dict]:
    """A bot account and a room of alice's that the bot was invited to and joined."""
    n = next(_names)
    tag = uuid.uuid4().hex[:6]
    bot_name = f"convener{n}{tag}"
    homeserver.register(bot_name, "bot-password")
    alice = Person(homeserver, f"alice{n}{tag}")
    bot_id = f"@{bot_name}:localhost"
    bot = await Bot(homeserver, bot_id, "bot-password", database_url).start()
    created = await alice.client.room_create(name="Budgeting", invite=[bot_id])
    assert isinstance(created, RoomCreateResponse)
    await bot.wait_until(lambda: created.room_id in bot.adapter.client.rooms)
    people = [alice]
    world = {"hs": homeserver, "bot": bot, "bot_id": bot_id, "alice": alice,
             "room": created.room_id, "people": people, "database_url": database_url,
             "tag": f"{n}{tag}"}  # fmt: skip
    yield world
    await world["bot"].stop()
    for person in people:
        await person.close()


def is_text(needle: str):
    return lambda _room, event: needle in getattr(event, "body", "")


async def test_command_is_answered_in_a_direct_room(world):
    alice, bot_id = world["alice"], world["bot_id"]
    await alice.sync()
    await alice.say(world["room"], "!help")
    room_id, reply = await alice.wait_for(is_text("Here is what you can ask me"))
    assert reply.sender == bot_id and room_id != world["room"]
    assert "<code>help [command]</code>" in reply.formatted_body
    await alice.say(room_id, "help")  # a bare command in the direct room
    await alice.wait_for(lambda r, e: r == room_id and e.body.count("Here is what") == 1
                         and e.event_id != reply.event_id)  # fmt: skip
    assert alice.texts_from(bot_id).count(reply.body) == 2


async def test_a_member_who_joins_gets_the_welcome_in_a_direct_room(world):
    alice, hs, bot = world["alice"], world["hs"], world["bot"]
    bob = Person(hs, f"bob{world['tag']}")
    world["people"].append(bob)
    await alice.client.room_invite(world["room"], bob.user_id)
    assert isinstance(await bob.client.join(world["room"]), JoinResponse)
    room_id, welcome = await bob.wait_for(is_text("Welcome to Municipal Finance Practice"))
    assert welcome.sender == world["bot_id"]
    await bob.wait_for(is_text("Which city"))
    await bob.say(room_id, "Nairobi")
    await bob.wait_for(is_text("organisation"))
    assert bot.adapter._direct[bob.user_id] == room_id
    direct = await alice.client.send(
        "GET",
        f"/_matrix/client/v3/user/{world['bot_id']}/account_data/m.direct",
        headers={"Authorization": f"Bearer {bot.adapter.client.access_token}"},
    )
    assert (await direct.json()) == {bob.user_id: [room_id]}
    assert "join" in await bot.kinds()


async def test_reactions_threads_and_leaves_reach_the_core(world):
    alice, bot, hs = world["alice"], world["bot"], world["hs"]
    carol = Person(hs, f"carol{world['tag']}")
    world["people"].append(carol)
    await alice.client.room_invite(world["room"], carol.user_id)
    await carol.client.join(world["room"])
    root = await alice.say(world["room"], "Anyone tried participatory budgeting?")
    await carol.say(world["room"], "Yes, in Seoul", {"m.relates_to": {
        "rel_type": "m.thread", "event_id": root, "is_falling_back": True,
        "m.in_reply_to": {"event_id": root}}})  # fmt: skip
    await carol.client.room_send(world["room"], "m.reaction", {"m.relates_to": {
        "rel_type": "m.annotation", "event_id": root, "key": "👍"}})  # fmt: skip
    await carol.client.room_leave(world["room"])

    async def left() -> list[str] | None:
        kinds = await bot.kinds()
        return kinds if "leave" in kinds else None

    kinds = await bot.wait_for_stored(left)
    assert {"join", "message", "reply", "reaction", "leave"} <= set(kinds)
    async with bot.app.db.sessions() as session:
        reply = await session.scalar(select(Activity).where(Activity.kind == "reply"))
    assert reply.thread_id == root
    await carol.wait_for(is_text("Welcome to Municipal Finance Practice"))  # nothing in flight


async def test_a_file_arrives_byte_identical(world):
    alice, bot = world["alice"], world["bot"]
    data = bytes(range(256)) * 400
    user = UserRef("matrix", alice.user_id, "alice")
    await bot.adapter.send_file(user, OutboundFile("report.xlsx", data, "Report"), "Your report")
    _, event = await alice.wait_for(lambda _r, e: isinstance(e, RoomMessageFile))
    downloaded = await alice.client.download(mxc=event.url)
    assert isinstance(downloaded, DownloadResponse)
    assert downloaded.body == data and event.body == "report.xlsx"


async def test_restart_neither_repeats_nor_misses(world):
    alice, bot, bot_id = world["alice"], world["bot"], world["bot_id"]
    await alice.say(world["room"], "!help")
    await alice.wait_for(is_text("Here is what you can ask me"))
    await bot.stop()
    await alice.say(world["room"], "!help roles")  # sent while the bot is down
    again = await Bot(world["hs"], bot_id, "bot-password", world["database_url"]).start()
    world["bot"] = again
    await alice.wait_for(is_text("Only facilitators can use `roles`"))
    # A last command: the room's events are handled in order, so once its answer is in, an
    # answer repeated from before the restart would be too.
    await alice.say(world["room"], "!help sentinel")
    await alice.wait_for(is_text("There is no command `sentinel`"))
    answers = alice.texts_from(bot_id)
    assert sum("Here is what you can ask me" in a for a in answers) == 1
    assert sum("Only facilitators can use `roles`" in a for a in answers) == 1
    assert again.adapter.client.device_id == bot.adapter.client.device_id  # no new device


async def test_bot_recovers_when_the_homeserver_restarts(world):
    alice, bot, hs = world["alice"], world["bot"], world["hs"]
    await asyncio.to_thread(hs.restart)
    await alice.say(world["room"], "!help")
    await alice.wait_for(is_text("Here is what you can ask me"), seconds=60)
    assert bot.adapter.running


def test_text_helpers():
    assert to_html("**Saved** `help` <b>x</b> [docs](https://x.org)\nnext") == (
        "<strong>Saved</strong> <code>help</code> &lt;b&gt;x&lt;/b&gt; "
        '<a href="https://x.org">docs</a><br>next'
    )
    assert user_from_mention("@amina:example.org") == UserRef("matrix", "@amina:example.org")
    assert user_from_mention("https://matrix.to/#/@amina:example.org").id == "@amina:example.org"
    assert user_from_mention("amina") is None


async def test_one_replica_syncs_and_the_other_takes_over(world):
    """Two replicas of the bot on one PostgreSQL database: one syncs, the other logs in and
    stands by; when the syncing one stops, the other syncs from the token it stored."""
    if world["database_url"].startswith("sqlite"):
        pytest.skip("replicas need PostgreSQL; SQLite is one process")
    alice, bot, bot_id = world["alice"], world["bot"], world["bot_id"]
    standby = Bot(world["hs"], bot_id, "bot-password", world["database_url"])
    standby.build()
    await standby.app.start()
    await standby.adapter.start(standby.app)
    await standby.adapter.ready()
    try:
        assert bot.adapter.running and not standby.adapter.running
        assert standby.adapter.health() == "standby: another replica syncs"
        await alice.say(world["room"], "!help")
        await alice.wait_for(is_text("Here is what you can ask me"))
        await bot.stop()
        async with asyncio.timeout(30):  # the lease is polled every 10 s
            while True:
                if standby.adapter.running:
                    break
                await asyncio.sleep(0.2)
        await alice.say(world["room"], "!help roles")
        await alice.wait_for(is_text("Only facilitators can use `roles`"))
        answers = alice.texts_from(bot_id)
        assert sum("Here is what you can ask me" in a for a in answers) == 1
        assert sum("Only facilitators can use `roles`" in a for a in answers) == 1
    finally:
        await standby.stop()
