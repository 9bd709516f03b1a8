"""The statement budget, on every platform name: an ordinary message, reply, join, 👍 or ✅ on
a member's message, or direct message that is not a command costs no database statement
while it is handled (its activity row is written later, in a batch); a reaction that a
feature waits for costs a small, stated number. A feature that adds per-event work fails
here, by count, never by a timer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event as sa_event

from bot.router import Router
from bot.settings import Settings
from bot.types import MemberJoined, Message, ReactionAdded
from tests.harness import BotHarness, FakeClock

ADD = '!event add 2026-03-05 18:00 Africa/Nairobi "Deep dive: property tax"'
QUESTION = "How do you phase in a property tax reassessment?"

# What a reaction that a feature waits for may cost, all told: the claim and the sender
# (one unit), the feature's lookup and its change with the stale mark of the homes it changes
# (`bot.home.changed`, in the same transaction), the reply's bookkeeping.
# an RSVP by reaction: 8, and the channel its calendar invitation names (the file goes with
# the answer, not through the outbox)
WATCHED_BUDGET = {"rsvp": 9, "solved": 11}


class Statements:
    """Every SQL statement sent through the bot's engines while counting."""

    def __init__(self, harness: BotHarness) -> None:
        self.engines = harness.app.db.sync_engines
        self.seen: list[str] = []
        self.counting = False

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.counting:
            self.seen.append(" ".join(statement.split())[:160])

    def __enter__(self) -> Statements:
        for engine in self.engines:
            sa_event.listen(engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc) -> None:
        for engine in self.engines:
            sa_event.remove(engine, "before_cursor_execute", self._record)

    @contextmanager
    def count(self) -> Iterator[list[str]]:
        self.seen = []
        self.counting = True
        try:
            yield self.seen
        finally:
            self.counting = False


@pytest.fixture
def quiet_settings(settings: Settings) -> Settings:
    """The activity batch is written when the test says (`persisted()`), not by the timer."""
    return settings.model_copy(update={"activity_flush_seconds": 3600.0})


@pytest.fixture
async def community(platform_name, quiet_settings) -> BotHarness:
    bot = await BotHarness(platform_name, quiet_settings, FakeClock()).start()
    for name in ("lena", "kofi"):
        await bot.join(name)
        await bot.dm(name, "stop")  # out of the onboarding conversation
        await bot.join(name, channel="budgets")
    await bot.say("fac", "!topic add budgeting")
    await bot.say("fac", ADD)
    bot.announcement = [p for p in bot.posts_in("general") if p.file is None][-1]
    await bot.say("lena", f"!ask {QUESTION}")
    bot.question = next(p for p in bot.posts_in("general") if p.text.startswith("❓"))
    bot.message = await bot.say("lena", "We phased it over three years.")
    await bot.app.persisted()
    yield bot
    await bot.close()


def ordinary(bot: BotHarness):
    """The events every member sends all day, each with how to send it."""
    check = "white_check_mark" if bot.platform_name == "slack" else "✅"
    thumbs = "+1" if bot.platform_name == "slack" else "👍"
    return {
        "message": lambda: bot.say("kofi", "Good morning from Accra"),
        "reply": lambda: bot.say("kofi", "Same in Accra", thread_id=bot.message.message_id),
        "join": lambda: bot.join("kofi", channel="budgets"),
        "👍 on a member's message": lambda: bot.react("kofi", thumbs, bot.message.message_id),
        "✅ on a member's message": lambda: bot.react("kofi", check, bot.message.message_id),
        "direct message": lambda: bot.dm("kofi", "thanks for yesterday"),
    }


async def test_ordinary_events_cost_no_statement(community):
    bot = community
    with Statements(bot) as statements:
        for kind, send in ordinary(bot).items():
            with statements.count() as seen:
                await send()
            assert seen == [], f"a {kind} cost {len(seen)} statements: {seen}"
        with statements.count() as seen:
            await bot.app.persisted()
        assert seen and all(s.startswith("INSERT INTO activity") for s in seen), seen
    assert "I'm Convener, a bot" in bot.last_reply_to("kofi")  # the DM still got its hint


async def test_after_a_restart_too(community, quiet_settings):
    """A new process knows from its start-up load what is watched and who was welcomed."""
    await community.close()
    bot = await BotHarness(community.platform_name, quiet_settings, community.clock).start()
    bot.message = community.message
    try:
        with Statements(bot) as statements:
            for kind, send in ordinary(bot).items():
                with statements.count() as seen:
                    await send()
                assert seen == [], f"a {kind} cost {len(seen)} statements: {seen}"
    finally:
        await bot.close()


async def test_reactions_features_wait_for_cost_a_stated_number(community):
    bot = community
    check = "white_check_mark" if bot.platform_name == "slack" else "✅"
    with Statements(bot) as statements:
        with statements.count() as rsvp:
            await bot.react("kofi", check, bot.announcement.message_id)
        with statements.count() as solved:
            await bot.react("lena", check, bot.question.message_id)
    assert any("You're coming to event #1" in text for text in bot.replies_to("kofi"))
    assert [file.filename for file in bot.files_to("kofi")] == ["event-1.ics"]
    assert any("solved" in post.text for post in bot.posts_in("general")[-2:])
    print(f"\nrsvp by reaction: {len(rsvp)} statements; solved by reaction: {len(solved)}")
    assert 0 < len(rsvp) <= WATCHED_BUDGET["rsvp"], rsvp
    assert 0 < len(solved) <= WATCHED_BUDGET["solved"], solved


def test_listeners_on_what_every_member_sends_are_decided_in_memory():
    """A listener on reactions, joins or direct messages declares a watch (`watch=` or
    `unless=`), so that it runs only for the posts and members its feature waits for."""
    from bot.cli import build

    app = build(Settings(_env_file=None, database_url="sqlite://"), schedule=False)
    router: Router = app.router
    everyday = (ReactionAdded, MemberJoined, Message)
    unwatched = [
        listener.func.__qualname__
        for listener in router.listeners
        if issubclass(listener.event_type, everyday)
        and listener.watch is None
        and listener.unless is None
    ]
    assert unwatched == []
