"""Reactions that features wait for, with two replicas on one PostgreSQL database and on
every platform name: replica A announces an event and posts a question; the members' ✅ and
👍 arrive at replica B, which learnt of both from the rows A wrote (its periodic read), not
from A's memory."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.models import EventRsvp, Question
from bot.settings import Settings
from tests.conftest import _truncate
from tests.harness import PLATFORMS, BotHarness

ADD = '!event add 2026-03-05 18:00 Africa/Nairobi "Deep dive: property tax"'
QUESTION = "How do you phase in a property tax reassessment?"


@pytest.fixture(params=PLATFORMS)
def replica_platform(request) -> str:
    return request.param


@pytest.fixture
def postgres_settings(postgres_database) -> Settings:
    _truncate(postgres_database)
    return Settings(
        _env_file=None,
        database_url=postgres_database,
        facilitators="fac,UFAC,@fac:example.org",
    )


async def test_a_reaction_at_the_replica_that_did_not_post(replica_platform, postgres_settings,
                                                           clock):  # fmt: skip
    a = await BotHarness(replica_platform, postgres_settings, clock).start()
    b = await BotHarness(replica_platform, postgres_settings, clock).start()
    try:
        await a.say("fac", ADD)
        announcement = next(p for p in reversed(a.posts_in("general")) if p.file is None)
        await a.say("lena", f"!ask {QUESTION}")
        question = next(p for p in a.posts_in("general") if p.text.startswith("❓"))
        await b.say("kofi", "hello")  # B knows kofi, and nothing of A's posts yet
        await b.app.watches.refresh()  # what B's keep-fresh task does every 2 s
        check = "white_check_mark" if replica_platform == "slack" else "✅"
        thumbs = "+1" if replica_platform == "slack" else "👍"
        await b.react("kofi", thumbs, announcement.message_id)
        assert any("You're coming to event #1" in r for r in b.replies_to("kofi"))
        await b.react("kofi", check, question.message_id)  # not the asker: nothing
        await b.react("lena", check, question.message_id)
        async with a.app.db.sessions() as session:
            answers = (await session.scalars(select(EventRsvp.answer))).all()
            status = await session.scalar(select(Question.status))
        assert answers == ["yes"]
        assert status == "solved"
    finally:
        await a.close()
        await b.close()
