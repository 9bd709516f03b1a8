"""The Matrix adapter on the spine (issue "the spine"): its lifecycle, the gap of a limited
timeline fetched after downtime, malformed events that must not wedge anything, and the
scheduler starting only once Matrix is ready. Against a real Synapse (tests/matrix_homeserver.py)
except for the pure translation checks at the end.

Nothing here sleeps: tests wait on the adapter's `synced` condition (one notification per
batch handed over and stored) or on a member's client syncing, always with a deadline.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from nio import Event as NioEvent
from nio import MatrixRoom
from sqlalchemy import func, select

from adapters.matrix import MatrixAdapter
from adapters.matrix.adapter import MatrixError, MatrixNotReady
from bot import members
from bot.cli import serve
from bot.models import Activity, Identity, Prompt, PromptRun, PromptSchedule
from bot.settings import Settings
from bot.types import ChannelRef, MemberJoined, Message, ReactionAdded, UserRef
from handlers.prompts import jobs as prompt_jobs
from tests import test_matrix_adapter as base
from tests.test_matrix_adapter import Bot, Person, is_text

pytestmark = pytest.mark.matrix
homeserver, world = base.homeserver, base.world  # the fixtures, shared
ADAPTER_LOG = "adapters.matrix.adapter"


def adapter_warnings(caplog, needle: str = "") -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == ADAPTER_LOG and r.levelno >= logging.WARNING and needle in r.getMessage()
    ]


# Limited timelines -------------------------------------------------------------------------


async def test_messages_sent_while_the_bot_was_down_are_all_stored(world):
    alice, bot, room = world["alice"], world["bot"], world["room"]
    limit = bot.adapter.sync_filter["room"]["timeline"]["limit"]
    assert limit < 250  # so the first sync after the restart is really limited
    await bot.stop()
    sent = [await alice.say(room, f"while you were away {i}") for i in range(250)]
    again = Bot(world["hs"], world["bot_id"], "bot-password", world["database_url"])
    world["bot"] = again
    await again.start()  # returns once the first batch is handed over and its token stored
    assert await again.stored(sent) == sent  # every one, in the order they were sent
    assert again.adapter.backfilled >= 250 - limit
    async with again.app.db.sessions() as session:
        kinds = set(await session.scalars(select(Activity.kind).where(Activity.event_id.in_(sent))))
    assert kinds == {"message"}
    await alice.say(room, "!help")
    await alice.wait_for(is_text("Here is what you can ask me"))


class GatedIntake:
    """The running app, except that `persisted()` waits while the gate is shut: the sync
    loop is held in the middle of a batch, as if the database were slow."""

    def __init__(self, app) -> None:
        self.app = app
        self.db = app.db
        self.gate = asyncio.Event()
        self.gate.set()
        self.held = asyncio.Event()

    async def submit(self, event, *, key=None, durable=False) -> None:
        await self.app.submit(event, key=key, durable=durable)

    async def persisted(self) -> None:
        await self.app.persisted()
        if not self.gate.is_set():
            self.held.set()
            await self.gate.wait()

    async def handle(self, event) -> None:
        await self.app.handle(event)


async def test_a_burst_while_the_bot_is_busy_is_backfilled_too(world):
    """Not only after a restart: any sync that finds more events than the timeline limit
    fetches the rest."""
    alice, room = world["alice"], world["room"]
    await world["bot"].stop()
    bot = Bot(world["hs"], world["bot_id"], "bot-password", world["database_url"],
              timeline_limit=5)  # fmt: skip
    gated = GatedIntake(bot.build())
    world["bot"] = await bot.start(intake=gated)
    gated.gate.clear()
    first = await alice.say(room, "hold on")
    async with asyncio.timeout(20):
        await gated.held.wait()  # the loop is now inside the batch holding "hold on"
    burst = [await alice.say(room, f"burst {i}") for i in range(40)]
    before = bot.adapter.backfilled
    gated.gate.set()
    assert await bot.wait_stored([first, *burst]) == [first, *burst]
    assert bot.adapter.backfilled - before >= 35


# Malformed events --------------------------------------------------------------------------


async def test_malformed_relations_do_not_wedge_anything(world, caplog):
    alice, bot, room = world["alice"], world["bot"], world["room"]
    object_reply = await alice.say(
        room, "a reply to an object", {"m.relates_to": {"m.in_reply_to": {"event_id": {"a": 1}}}}
    )
    list_relation = await alice.say(room, "relations as a list", {"m.relates_to": [1, 2]})
    bad_reaction = await alice.client.room_send(room, "m.reaction", {"m.relates_to": ["x"]})
    normal = [await alice.say(room, f"normal {i}") for i in range(50)]
    stored = await bot.wait_stored([object_reply, list_relation, *normal])
    assert stored == [object_reply, list_relation, *normal]
    async with bot.app.db.sessions() as session:
        rows = {
            a.event_id: a
            for a in await session.scalars(
                select(Activity).where(Activity.event_id.in_([object_reply, list_relation]))
            )
        }
        reacted = await session.scalar(
            select(func.count()).where(Activity.event_id == bad_reaction.event_id)
        )
    assert rows[object_reply].kind == "message" and rows[object_reply].thread_id is None
    assert rows[list_relation].kind == "message"
    assert reacted == 0  # a reaction to nothing is no reaction
    assert len(adapter_warnings(caplog, object_reply)) == 1
    assert "m.relates_to.m.in_reply_to.event_id" in adapter_warnings(caplog, object_reply)[0]
    assert len(adapter_warnings(caplog, list_relation)) == 1
    assert len(adapter_warnings(caplog, bad_reaction.event_id)) == 1
    await alice.say(room, "!help")
    await alice.wait_for(is_text("Here is what you can ask me"))
    assert bot.adapter.running


async def test_long_and_control_character_names_are_stored_cut_and_clean(world):
    alice, bot, room, hs, tag = (world[k] for k in ("alice", "bot", "room", "hs", "tag"))
    long_name, odd_name = "B" * 250, "Mal\x1blory\x07"
    bob, mallory = Person(hs, f"bob{tag}"), Person(hs, f"mallory{tag}")
    world["people"] += [bob, mallory]
    said = []
    for person, name in ((bob, long_name), (mallory, odd_name)):
        await person.client.set_displayname(name)
        await alice.client.room_invite(room, person.user_id)
        await person.client.join(room)
        said.append(await person.say(room, f"hello from {person.user_id}"))
    await bot.wait_stored(said)
    async with bot.app.db.sessions() as session:
        names = dict(
            (
                await session.execute(
                    select(Identity.user_id, Identity.display_name).where(
                        Identity.user_id.in_([bob.user_id, mallory.user_id])
                    )
                )
            ).all()
        )
    assert names == {bob.user_id: "B" * 200, mallory.user_id: "Mallory"}
    await bob.say(room, "!help")
    await bob.wait_for(is_text("Here is what you can ask me"))


class FlakyIntake:
    """The running app, except that submitting an event whose text starts with "boom" fails."""

    def __init__(self, app) -> None:
        self.app = app
        self.db = app.db
        self.failed: list[str] = []

    async def submit(self, event, *, key=None, durable=False) -> None:
        if getattr(event, "text", "").startswith("boom"):
            self.failed.append(event.event_id)
            raise RuntimeError("the intake broke")
        await self.app.submit(event, key=key, durable=durable)

    async def persisted(self) -> None:
        await self.app.persisted()

    async def handle(self, event) -> None:
        await self.app.handle(event)


async def test_a_failing_submission_is_logged_and_the_loop_goes_on(world, caplog):
    alice, room = world["alice"], world["room"]
    await world["bot"].stop()
    bot = Bot(world["hs"], world["bot_id"], "bot-password", world["database_url"])
    flaky = FlakyIntake(bot.build())
    world["bot"] = await bot.start(intake=flaky)
    boom = await alice.say(room, "boom")
    after = await alice.say(room, "after the boom")
    assert await bot.wait_stored([after]) == [after]
    assert flaky.failed == [boom] and await bot.stored([boom]) == []
    failures = adapter_warnings(caplog, boom)
    assert len(failures) == 1 and "the intake broke" in failures[0]
    assert bot.adapter.running


# Lifecycle ---------------------------------------------------------------------------------


def _offline_settings() -> Settings:
    return Settings(
        _env_file=None,
        matrix_homeserver="http://127.0.0.1:9",
        matrix_user_id="@convener:localhost",
        matrix_password="secret",
    )


async def test_sending_before_ready_raises_a_clear_error():
    adapter = MatrixAdapter(_offline_settings())
    room = ChannelRef("matrix", "!room:localhost", "#room")
    user = UserRef("matrix", "@amina:localhost")
    with pytest.raises(MatrixNotReady, match="not ready"):
        await adapter.send(room, "hello")
    with pytest.raises(MatrixNotReady, match="not ready"):
        await adapter.send_dm(user, "hello")
    with pytest.raises(MatrixNotReady, match="not started"):
        await adapter.ready()
    assert await adapter.display_name(user) == user.id
    await adapter.wait_closed()  # never started: nothing to wait for
    await adapter.stop(1.0)
    await adapter.close()


async def test_start_raises_when_it_cannot_log_in(homeserver, tmp_path, sqlite_template):
    db = tmp_path / "convener.db"
    shutil.copy(sqlite_template, db)
    homeserver.register("convener-wrong", "right-password")
    bot = Bot(homeserver, "@convener-wrong:localhost", "wrong-password", f"sqlite:///{db}")
    app = bot.build()
    await app.start()
    try:
        with pytest.raises(MatrixError, match="login failed"):
            await bot.adapter.start(app)
        assert not bot.adapter.running
    finally:
        await app.stop(1.0)


async def _missed_prompt(bot: Bot, room_id: str) -> None:
    """A weekly prompt schedule for the room whose slot was an hour ago, and one prompt."""
    now = datetime.now(UTC)
    slot = (now - timedelta(hours=1)).replace(second=0, microsecond=0)
    async with bot.app.db.sessions() as session:
        channel = await members.resolve_channel(
            session, ChannelRef("matrix", room_id, "#Budgeting")
        )
        session.add(Prompt(text="Prompt 1: how do you forecast revenue?", created_at=now))
        session.add(
            PromptSchedule(
                channel_id=channel.id,
                weekday=slot.weekday(),
                time_of_day=slot.strftime("%H:%M"),
                timezone="UTC",
                created_at=now - timedelta(days=30),
            )
        )
        await session.commit()


async def test_a_missed_prompt_is_posted_once_matrix_is_ready(world):
    alice, room = world["alice"], world["room"]
    await _missed_prompt(world["bot"], room)
    await world["bot"].stop()
    bot = Bot(world["hs"], world["bot_id"], "bot-password", world["database_url"])
    world["bot"] = bot
    app = bot.build(schedule=True)
    await app.start()
    # What used to crash with an AssertionError: catching up before Matrix has logged in.
    # Now the post waits in the outbox, which starts sending only once every adapter is ready.
    assert await prompt_jobs.catch_up(app.services()) == 1
    assert await prompt_jobs.catch_up(app.services()) == 0  # queued once
    # The order of `bot.cli.serve`: the adapter until it is ready, then the outbox and the
    # scheduler (whose own catch-up finds the slot taken).
    await bot.adapter.start(app)
    await bot.adapter.ready()
    await app.ready()
    _, posted = await alice.wait_for(is_text("Prompt 1: how do you forecast revenue?"))
    async with asyncio.timeout(10):  # until the sender has recorded what the post became
        while not (run := await _run(app)).message_id:  # noqa: ASYNC110 (the database)
            await asyncio.sleep(0.05)
    assert run.message_id == posted.event_id
    assert alice.texts_from(world["bot_id"]).count("Prompt 1: how do you forecast revenue?") == 1


async def _run(app) -> PromptRun:
    async with app.db.sessions() as session:
        return await session.scalar(select(PromptRun))


async def test_serve_starts_the_scheduler_after_matrix_is_ready(world):
    """The composition root itself: `convener run --adapter matrix`, stopped by SIGTERM."""
    alice, room = world["alice"], world["room"]
    await _missed_prompt(world["bot"], room)
    await world["bot"].stop()
    settings = world["bot"].settings.model_copy(update={"http_port": 0})  # any free port
    served = asyncio.create_task(serve(settings, ["matrix"], grace=5.0))
    try:
        await alice.wait_for(is_text("Prompt 1: how do you forecast revenue?"), seconds=30)
    finally:
        if not served.done():
            assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None)
            signal.raise_signal(signal.SIGTERM)  # serve's handler sets its stop event
        async with asyncio.timeout(30):
            status = await served
    assert status == 0


# Translation, without a homeserver ---------------------------------------------------------

BOT = "@convener:localhost"
ROOM = "!room:localhost"


def _raw(content, kind: str = "m.room.message", **fields):
    source = {
        "type": kind,
        "event_id": f"$e{abs(hash(repr(content)))}",
        "sender": "@amina:localhost",
        "origin_server_ts": 1_767_225_600_000,
        "content": content,
        **fields,
    }
    return NioEvent.parse_event(source)


@pytest.fixture
def adapter() -> MatrixAdapter:
    return MatrixAdapter(Settings(_env_file=None, matrix_user_id=BOT))


def _one(adapter, caplog, raw, room=None):
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=ADAPTER_LOG):
        event = adapter.translate(ROOM, room, raw)
    return event, adapter_warnings(caplog)


def test_malformed_optional_fields_are_dropped_with_one_warning(adapter, caplog):
    reply_object = {"msgtype": "m.text", "body": "hi",
                    "m.relates_to": {"m.in_reply_to": {"event_id": {"a": 1}}}}  # fmt: skip
    event, warnings = _one(adapter, caplog, _raw(reply_object))
    assert isinstance(event, Message) and event.text == "hi" and event.thread_id is None
    assert len(warnings) == 1 and "m.relates_to.m.in_reply_to.event_id" in warnings[0]

    event, warnings = _one(adapter, caplog, _raw({"msgtype": "m.text", "body": "hi",
                                                  "m.relates_to": [1, 2]}))  # fmt: skip
    assert isinstance(event, Message) and event.thread_id is None
    assert len(warnings) == 1 and "m.relates_to" in warnings[0]

    event, warnings = _one(adapter, caplog, _raw({"msgtype": "m.text", "body": 123}))
    assert isinstance(event, Message) and event.text == ""
    assert len(warnings) == 1 and "body" in warnings[0]

    thread = {"msgtype": "m.text", "body": "in a thread",
              "m.relates_to": {"rel_type": "m.thread", "event_id": "$root"}}  # fmt: skip
    event, warnings = _one(adapter, caplog, _raw(thread))
    assert event.thread_id == "$root" and warnings == []


def test_events_missing_a_required_field_are_dropped_with_one_warning(adapter, caplog):
    for raw in (
        _raw({"m.relates_to": ["x"]}, kind="m.reaction"),
        _raw(
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": {"a": 1}, "key": "👍"}},
            kind="m.reaction",
        ),
        _raw({"msgtype": "m.text", "body": "hi"}, sender={"not": "an id"}),
        # nio itself cannot parse this one (it compares the time with 0): the raw JSON
        SimpleNamespace(source={**_raw({}).source, "origin_server_ts": "yesterday"}),
        _raw({"membership": ["join"]}, kind="m.room.member", state_key="@amina:localhost"),
    ):
        event, warnings = _one(adapter, caplog, raw)
        assert event is None and len(warnings) == 1, (raw.source, warnings)
    reaction = {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$m", "key": "👍"}}
    event, warnings = _one(adapter, caplog, _raw(reaction, kind="m.reaction"))
    assert isinstance(event, ReactionAdded) and event.message_id == "$m" and warnings == []


def test_display_names_are_cut_and_cleaned(adapter, caplog):
    room = MatrixRoom(ROOM, BOT)
    room.add_member("@amina:localhost", "A" * 250, None)
    event, warnings = _one(adapter, caplog, _raw({"msgtype": "m.text", "body": "hi"}), room)
    assert event.user.name == "A" * 200 and warnings == []
    join = _raw({"membership": "join", "displayname": "Mal\x1blory\x07"},
                kind="m.room.member", state_key="@mallory:localhost",
                sender="@mallory:localhost")  # fmt: skip
    event, warnings = _one(adapter, caplog, join)
    assert isinstance(event, MemberJoined) and event.user.name == "Mallory" and warnings == []
