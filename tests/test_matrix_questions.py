"""The questions story end to end on Matrix: a real Synapse (tests/matrix_homeserver.py), real
members on their own clients, the real `MatrixAdapter` and the core as `bot.cli.build` makes
it. A facilitator adds a topic, an expert declares it, a member asks; the question is posted
in the room with a thread, the expert is told by direct message with a matrix.to link, answers
in the thread, the asker is told, reacts ✅ and the thread says who solved it.

Nothing here sleeps: each member's client syncs until the message it waits for arrives, with
a deadline (`Person.wait_for`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from nio import JoinResponse, RoomCreateResponse, RoomSendResponse
from sqlalchemy import select

from bot.models import Member, Question
from bot.types import ChannelRef
from tests import test_matrix_adapter as base
from tests.test_matrix_adapter import Bot, Person

pytestmark = pytest.mark.matrix
homeserver = base.homeserver  # the module's Synapse, shared with nothing else

TOPIC = "!topic add budgeting: budget, multi-year"
QUESTION = "How do other cities plan a multi-year capital budget?"
MATRIX_TO = "https://matrix.to/#/"


def relation(event) -> dict:
    relates_to = event.source.get("content", {}).get("m.relates_to")
    return relates_to if isinstance(relates_to, dict) else {}


def from_bot(bot_id: str, room_id: str | None = None, *needles: str, direct: bool = False):
    """A predicate for `Person.wait_for`: a message of the bot holding every needle, in
    `room_id` (or, with `direct`, in any room but it)."""

    def check(room, event) -> bool:
        if event.sender != bot_id or not all(n in getattr(event, "body", "") for n in needles):
            return False
        return room != room_id if direct else room == room_id

    return check


@pytest.fixture
async def community(homeserver, database_url) -> AsyncIterator[dict]:
    """A room "Budgeting" with a facilitator, kofi and lena (display names `fac`, `kofi` and
    `lena`), which the bot joins last: nobody is welcomed, and the room is not a direct one."""
    tag = uuid.uuid4().hex[:8]
    bot_name = f"convener-q{tag}"
    homeserver.register(bot_name, "bot-password")
    bot_id = f"@{bot_name}:localhost"
    people = {name: Person(homeserver, f"{name}-{tag}") for name in ("fac", "kofi", "lena")}
    for name, person in people.items():
        await person.client.set_displayname(name)
    bot = Bot(homeserver, bot_id, "bot-password", database_url)
    bot.settings.facilitators = people["fac"].user_id
    world = {"bot": bot, "bot_id": bot_id, **people}
    try:
        await bot.start()
        fac = people["fac"]
        created = await fac.client.room_create(
            name="Budgeting", invite=[people["kofi"].user_id, people["lena"].user_id]
        )
        assert isinstance(created, RoomCreateResponse), created
        room = world["room"] = created.room_id
        for name in ("kofi", "lena"):
            assert isinstance(await people[name].client.join(room), JoinResponse)
        await fac.client.room_invite(room, bot_id)
        await bot.wait_until(
            lambda: (
                room in bot.adapter.client.rooms
                and bot.adapter.client.rooms[room].joined_count == 4
            )
        )
        for person in people.values():
            await person.sync(wait_ms=0)  # from here on, only what is new
        yield world
    finally:
        await bot.stop()
        for person in people.values():
            await person.close()


async def test_a_question_is_asked_routed_answered_and_solved(community):
    bot, bot_id, room = community["bot"], community["bot_id"], community["room"]
    fac, kofi, lena = community["fac"], community["kofi"], community["lena"]

    # A facilitator adds the topic; kofi offers it. Both are answered by direct message.
    await fac.say(room, TOPIC)
    await fac.wait_for(from_bot(bot_id, room, "Added topic budgeting", direct=True))
    await kofi.say(room, "!expertise add budgeting")
    _, added = await kofi.wait_for(
        from_bot(bot_id, room, "Added to what you can help with", direct=True)
    )
    assert "budgeting" in added.body and "new topic" not in added.body

    # lena asks in the room: the question is posted there, with a thread under it.
    await lena.say(room, f"!ask {QUESTION}")
    _, post = await lena.wait_for(from_bot(bot_id, room, "Question #1", QUESTION))
    assert "lena" in post.body and relation(post) == {}
    _, note = await lena.wait_for(
        lambda r, e: (
            from_bot(bot_id, room, "Question #1", "budgeting")(r, e)
            and relation(e).get("rel_type") == "m.thread"
            and relation(e).get("event_id") == post.event_id
        )
    )
    assert "I've asked a member who knows budgeting" in note.body and "solved 1" in note.body

    # kofi is told in his direct room with the bot, with a link to the question.
    dm_room, told = await kofi.wait_for(from_bot(bot_id, room, "decline 1", direct=True))
    assert dm_room == bot.adapter._direct[kofi.user_id]
    assert QUESTION in told.body and "lena" in told.body and "(#1, in #Budgeting)" in told.body
    link = await bot.adapter.permalink(ChannelRef("matrix", room), post.event_id)
    assert link.startswith(MATRIX_TO) and link in told.body

    # kofi answers in the question's thread, as a Matrix client does.
    answer = await kofi.say(
        room,
        "We phase it over three years, with a rolling plan.",
        {
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": post.event_id,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": post.event_id},
            }
        },
    )
    assert answer
    # lena looks at her questions: the reply is her question's first response, she is told.
    await lena.say(room, "!questions mine")
    lena_dm, answered = await lena.wait_for(
        from_bot(bot_id, room, "kofi answered your question #1", direct=True)
    )
    assert lena_dm == bot.adapter._direct[lena.user_id] and link in answered.body
    await lena.wait_for(from_bot(bot_id, room, "#1 · answered, open", direct=True))

    # lena reacts ✅ to the question: it is solved, and the thread says thanks to kofi.
    reacted = await lena.client.room_send(
        room,
        "m.reaction",
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": post.event_id, "key": "✅"}},
    )
    assert isinstance(reacted, RoomSendResponse), reacted
    _, solved = await lena.wait_for(
        lambda r, e: (
            from_bot(bot_id, room, "Question #1 is solved, thanks to kofi")(r, e)
            and relation(e).get("rel_type") == "m.thread"
            and relation(e).get("event_id") == post.event_id
        )
    )

    # Her list says so (a command in the room is answered by direct message on Matrix).
    await lena.say(room, "!questions mine")
    listed_in, listing = await lena.wait_for(from_bot(bot_id, room, "#1 · solved", direct=True))
    assert listed_in == lena_dm and "budgeting" in listing.body

    async with bot.app.db.sessions() as session:
        question = await session.scalar(select(Question))
        helper = await session.get(Member, question.solved_by)
    assert question.status == "solved" and question.message_id == post.event_id
    assert question.first_responder_id == question.solved_by and helper.display_name == "kofi"
    # Nothing the bot said in the room went anywhere but the room and the question's thread.
    in_room = [e for r, e in lena.messages if r == room and e.sender == bot_id]
    assert [e.event_id for e in in_room] == [post.event_id, note.event_id, solved.event_id]
