"""The prompts story end to end on Matrix: a real Synapse (tests/matrix_homeserver.py), real
members on their own clients, the real `MatrixAdapter` and the core as `bot.cli.build` makes
it, on a controllable clock. A facilitator queues a prompt and schedules it in the room; the
slot is posted once however often it is run (the scheduler, then a catch-up); a member replies
in the prompt's thread as a Matrix client does, and the report's prompt figures count it.

Nothing here sleeps: each member's client syncs until the message it waits for arrives, and
the bot's activity is awaited after each of its syncs, all with deadlines."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from nio import JoinResponse, RoomCreateResponse
from sqlalchemy import select

from adapters.matrix import MatrixAdapter
from bot import timezones as when
from bot.cli import build
from bot.models import PromptRun, PromptSchedule
from handlers.prompts import service as prompts
from handlers.reports.period import parse_period
from handlers.reports.queries import prompt_figures
from tests import test_matrix_adapter as base
from tests.harness import FakeClock
from tests.test_matrix_adapter import Bot, Person

pytestmark = pytest.mark.matrix
homeserver = base.homeserver  # the module's Synapse, shared with nothing else

REVENUE = "What is one revenue idea your city tried this year?"


def relation(event) -> dict:
    relates_to = event.source.get("content", {}).get("m.relates_to")
    return relates_to if isinstance(relates_to, dict) else {}


def from_bot(bot_id: str, room_id: str, *needles: str, direct: bool = False):
    """A predicate for `Person.wait_for`: a message of the bot holding every needle, in
    `room_id` (or, with `direct`, in any room but it)."""

    def check(room, event) -> bool:
        if event.sender != bot_id or not all(n in getattr(event, "body", "") for n in needles):
            return False
        return room != room_id if direct else room == room_id

    return check


async def sees_own(person: Person, room_id: str, event_id: str, seconds: float = 20.0) -> None:
    """Until the person's client has synced its own event `event_id` in `room_id`."""
    async with asyncio.timeout(seconds):
        while not any(r == room_id and e.event_id == event_id for r, e in person.messages):
            await person.sync()


@pytest.fixture
async def community(homeserver, database_url) -> AsyncIterator[dict]:
    """A room "Revenue" with a facilitator and lena (display names `fac` and `lena`), which
    the bot joins last. The bot runs on a fake clock set to the current minute (so Synapse's
    timestamps and the bot's agree) and without its scheduler: the test runs the slots."""
    tag = uuid.uuid4().hex[:8]
    bot_name = f"convener-p{tag}"
    homeserver.register(bot_name, "bot-password")
    bot_id = f"@{bot_name}:localhost"
    people = {name: Person(homeserver, f"{name}-{tag}") for name in ("fac", "lena")}
    for name, person in people.items():
        await person.client.set_displayname(name)
    bot = Bot(homeserver, bot_id, "bot-password", database_url)
    bot.settings.facilitators = people["fac"].user_id
    clock = FakeClock(datetime.now(UTC).replace(second=0, microsecond=0))
    bot.app = build(bot.settings, clock=clock, schedule=False)
    bot.adapter = MatrixAdapter(bot.settings, **bot.adapter_options)
    bot.app.add_platform(bot.adapter)
    world = {"bot": bot, "bot_id": bot_id, "clock": clock, **people}
    try:
        await bot.start()
        fac = people["fac"]
        created = await fac.client.room_create(name="Revenue", invite=[people["lena"].user_id])
        assert isinstance(created, RoomCreateResponse), created
        room = world["room"] = created.room_id
        assert isinstance(await people["lena"].client.join(room), JoinResponse)
        await fac.client.room_invite(room, bot_id)
        await bot.wait_until(
            lambda: (
                room in bot.adapter.client.rooms
                and bot.adapter.client.rooms[room].joined_count == 3
            )
        )
        for person in people.values():
            await person.sync(wait_ms=0)  # from here on, only what is new
        yield world
    finally:
        await bot.stop()
        for person in people.values():
            await person.close()


async def test_a_scheduled_prompt_is_posted_once_and_its_thread_replies_count(community):
    bot, bot_id, room = community["bot"], community["bot_id"], community["room"]
    fac, lena, clock = community["fac"], community["lena"], community["clock"]
    now = clock()
    day = when.WEEKDAYS[now.weekday()]

    # The facilitator queues the prompt and schedules it here, today at this very minute.
    await fac.say(room, f"!prompt add {REVENUE}")
    await fac.wait_for(from_bot(bot_id, room, "Added prompt #1", direct=True))
    await fac.say(room, f"!prompt schedule {day} {now:%H:%M} UTC")
    _, scheduled = await fac.wait_for(from_bot(bot_id, room, "Scheduled #", direct=True))
    schedule_id = int(re.search(r"Scheduled #(\d+)", scheduled.body).group(1))
    async with bot.app.db.sessions() as session:
        row = await session.get(PromptSchedule, schedule_id)
    assert (row.weekday, row.time_of_day, row.timezone) == (now.weekday(), f"{now:%H:%M}", "UTC")
    slot = prompts.last_slot(row, clock())
    assert slot == now

    # The scheduler posts the slot; a catch-up then finds it posted already.
    ctx = bot.app.services()
    run = await prompts.post_slot(ctx, schedule_id, slot)
    assert run is not None and run.text == REVENUE
    assert await prompts.post_slot(ctx, schedule_id, slot) is None
    _, post = await lena.wait_for(from_bot(bot_id, room, REVENUE))
    assert post.body == REVENUE and relation(post) == {}
    async with asyncio.timeout(10):  # until the sender has recorded what the post became
        while not await _posted_as(bot, run.id):  # noqa: ASYNC110 (the database is watched)
            await asyncio.sleep(0.05)
    assert await _posted_as(bot, run.id) == post.event_id

    # lena replies in the prompt's thread, as a Matrix client does.
    thread = {"rel_type": "m.thread", "event_id": post.event_id, "is_falling_back": True,
              "m.in_reply_to": {"event_id": post.event_id}}  # fmt: skip
    reply = await lena.say(room, "We tried a tourism levy.", {"m.relates_to": thread})
    assert reply
    await bot.wait_stored([reply])
    await bot.app.activity.flush()

    # Her reply comes after anything either post_slot sent: once her client has it, the room's
    # timeline up to it holds exactly one message of the bot, the prompt.
    await sees_own(lena, room, reply)
    in_room = [e for r, e in lena.messages if r == room and e.sender == bot_id]
    assert [(e.event_id, e.body) for e in in_room] == [(post.event_id, REVENUE)]

    today = clock().date()
    async with bot.app.db.engine.connect() as conn:
        period = parse_period([today.isoformat()], today, "UTC")
        figures = await conn.run_sync(prompt_figures, period)
    assert figures == {"runs": 1, "responses": 1, "responders": 1}
    async with bot.app.db.sessions() as session:
        stored = (await session.scalars(select(PromptRun))).all()
    assert [(r.schedule_id, r.message_id, r.text) for r in stored] == [
        (schedule_id, post.event_id, REVENUE)
    ]


async def _posted_as(bot: Bot, run_id: int) -> str:
    async with bot.app.db.sessions() as session:
        return (await session.get(PromptRun, run_id)).message_id
