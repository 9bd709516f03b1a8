"""The command parser and router: recognising commands, errors, permissions, and a
property test that arbitrary text never breaks it."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import normalise
from bot.activity import ActivityLog
from bot.arguments import Mention, Rest
from bot.claims import Sender
from bot.commands import command_body, rest_after, split_words
from bot.context import Context
from bot.errors import CommandError
from bot.i18n import verbatim
from bot.languages import Languages, Voice
from bot.models import Member
from bot.router import Router
from bot.types import ChannelRef, Message, UserRef
from bot.watch import Watches
from tests.harness import FakeClock, FakePlatform


def test_command_body_forms():
    assert command_body("!help") == "help"
    assert command_body("  ! profile city Nairobi ") == "profile city Nairobi"
    assert command_body("@convener help", ("convener",)) == "help"
    assert command_body("convener: topics", ("convener",)) == "topics"
    assert command_body("convenerx topics", ("convener",)) is None
    assert command_body("hello there") is None
    assert command_body("!") is None
    assert command_body("!!!") is None


def test_split_words_quotes_and_unbalanced():
    assert split_words('topic add "public finance": budgets') == [
        "topic",
        "add",
        "public finance:",
        "budgets",
    ]
    assert split_words('ask what is "a levy') == ["ask", "what", "is", '"a', "levy"]
    assert split_words("a\x00b\u202ec") == ["abc"]
    assert rest_after("profile city  São Paulo ", 2) == "São Paulo"


def _router() -> Router:
    router = Router()

    @router.command("profile", args=[Mention(optional=True)])
    async def profile(ctx, cmd):
        return verbatim("profile of " + (cmd.values.member or "you"))

    @router.command("profile city", args=[Rest("name", missing=verbatim("Which city?"))])
    async def city(ctx, cmd):
        return verbatim(f"city {cmd.values.name}")

    @router.command("boom")
    async def boom(ctx, cmd):
        raise RuntimeError("secret internals")

    @router.command("nope")
    async def nope(ctx, cmd):
        raise CommandError(verbatim("No such thing."))

    return router


def test_longest_command_wins_and_case_is_ignored():
    router = _router()
    spec, n = router.find(["PROFILE", "City", "Lagos"])
    assert spec.name == "profile city" and n == 2
    spec, n = router.find(["profile", "@amina"])
    assert spec.name == "profile" and n == 1
    assert router.find(["nothing"]) == (None, 0)


def test_duplicate_registration_is_refused():
    router = _router()
    with pytest.raises(ValueError):
        router.command("profile")(lambda ctx, cmd: None)


async def _run(router: Router, text: str, database_url: str) -> list[str]:
    from bot.db import Database
    from bot.metrics import Metrics
    from bot.outbox import Outbox
    from bot.settings import Settings

    platform = FakePlatform("console")
    db = Database(database_url)
    settings = Settings(_env_file=None, database_url=database_url)
    clock = FakeClock()
    languages = Languages(db, "en")
    sender = Sender(UserRef("console", "alice", "alice"), Member(id=1), frozenset())
    ctx = Context(
        platform=Voice(platform, languages, sender),
        platforms={"console": Voice(platform, languages, sender)},
        db=db,
        settings=settings,
        clock=clock,
        activity=ActivityLog(db, settings, clock),
        watches=Watches(db, clock, router.watches),
        outbox=Outbox(db, {"console": platform}, clock, Metrics()),
        languages=languages,
        router=router,
        sender=sender,
    )
    user = UserRef("console", "alice", "alice")
    event = Message("e1", user, ChannelRef("console", "general", "#general"), ctx.now(), text, "m1")
    body = command_body(text) or ""
    await router.run_command(ctx, event, body)
    await db.dispose()
    return [s.text for s in platform.sent]


async def test_errors_are_one_clear_line(database_url):
    router = _router()
    assert await _run(router, "!profile city", database_url) == [
        "Which city?\nUsage: `profile city <name>`"
    ]
    assert await _run(router, "!profile city Lagos", database_url) == ["city Lagos"]
    [answer] = await _run(router, "!boom", database_url)
    assert "failed on my side" in answer and "secret" not in answer
    assert await _run(router, "!nope", database_url) == ["No such thing."]
    [answer] = await _run(router, "!profil", database_url)
    assert "Did you mean `profile`" in answer


@pytest.fixture(scope="module")
def property_db(tmp_path_factory, sqlite_template):
    import shutil

    path = tmp_path_factory.mktemp("prop") / "p.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


class _Errors(logging.Handler):
    """Collects every error logged while it is attached: a handler that raised."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def _through_app(text: str, database_url: str, platform: str) -> tuple[list[str], list]:
    from bot.settings import Settings
    from tests.harness import BotHarness

    errors = _Errors()
    logging.getLogger().addHandler(errors)
    harness = await BotHarness(
        platform, Settings(_env_file=None, database_url=database_url), FakeClock()
    ).start()
    try:
        await harness.say("alice", text)
        return [s.text for s in harness.platform.sent], errors.records
    finally:
        await harness.close()
        logging.getLogger().removeHandler(errors)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FFF), max_size=50).map(
            lambda t: "!" + t
        ),
        st.lists(
            st.sampled_from(['"', "'", "help", "role", "grant", "@x", "\x00", "\n", " ", "é"])
        ).map(lambda w: "!" + " ".join(w)),
        st.integers(1000, 20000).map(lambda n: "!" + "x" * n),
    ),
    platform=st.sampled_from(["console", "matrix", "slack"]),
)
def test_router_never_raises_and_answers_briefly(text, platform, property_db):
    """Whatever is typed, the bot answers a command with one short useful message, and
    anything else with silence; no handler raises (a crash would be logged as an error and
    answered with "failed on my side")."""
    import asyncio

    answers, errors = asyncio.run(_through_app(text, property_db, platform))
    assert errors == [], [e.getMessage() for e in errors]
    if command_body(normalise.text(text), ("convener",)) is None:
        assert answers == []
        return
    assert len(answers) == 1
    answer = answers[0]
    assert answer.strip()
    assert len(answer) < 1500
    assert "Traceback" not in answer
    assert "failed on my side" not in answer


def test_listeners_on_one_kind_of_event_wait_for_different_things():
    """Which listener runs first never matters: two listeners on the same kind of event wait
    for different watched things (an event's announcement, a question's thread, an offer),
    so at most one of them wants any one event."""
    from handlers import all_routers

    composed = Router().include(*all_routers())
    by_type: dict[type, list] = {}
    for listener in composed.listeners:
        by_type.setdefault(listener.event_type, []).append(listener)
    for event_type, listeners in by_type.items():
        if len(listeners) == 1:  # alone on its kind (the Home tab opened): nothing to order
            continue
        watched = [listener.watch or listener.unless for listener in listeners]
        assert None not in watched, event_type
        assert len(set(watched)) == len(watched), event_type
