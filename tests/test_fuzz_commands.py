"""Property tests of every command the router knows, on every platform, through the real
core (pipeline, router, handlers, database): whatever arguments a plain member or a
facilitator types, no handler raises, every invocation gets an answer, and a command that
answers with an error (a usage error, a command error, a refusal, an unknown command) leaves
the database as it was.

What the pipeline itself writes for every event is left out of the comparison, and only that:
the activity row (`activity`) and the claim (`handled_events`). The other rows it may write
(the sender's member, identity and channel, on first sight) are written before any example
runs, by the warm-up."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot import members
from bot.errors import CommandError
from bot.models import Activity, Base, HandledEvent
from bot.router import CommandSpec
from tests.harness import BotHarness

PIPELINE_TABLES = {Activity.__tablename__, HandledEvent.__tablename__}
SNAPSHOT_TABLES = [t for t in Base.metadata.sorted_tables if t.name not in PIPELINE_TABLES]
PEOPLE = ("alice", "bob", "fac", "coord", "dana")
FUZZ = settings(
    max_examples=int(os.environ.get("CONVENER_FUZZ_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Arguments ----------------------------------------------------------------------------------

WORDS = st.sampled_from(
    "yes no maybe mine open all pseudonymous until entry not my topic facilitator coordinator "
    "grant revoke add remove set test withdraw now list schedule schedules unschedule cancel "
    "attendees off help city org role timezone - : , ; ? ! * _ ~ ` # @ @here @channel "
    "{name} {community} {channel} {nope} {0} %s {{ }}".split()
)
NUMBERS = st.one_of(
    st.integers(-3, 12).map(str),
    st.integers(-3, 12).map(lambda n: f"#{n}"),
    st.sampled_from(["0", "999999999", "1000000000", "9" * 30, "3.5", "1e9", "٣", "²", "0x1"]),
)
DATES = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "2026-03-02",
            "2026-03-09",
            "2026-04-01",
            "2026-02-30",
            "2026-13-01",
            "0000-00-00",
            "2026-3-9",
            "9999-12-31",
            "0001-01-01",
            "today",
            "tomorrow",
        ]
    ),
)
TIMES = st.sampled_from(["09:00", "23:59", "00:00", "24:00", "9:7", "25:61", "12:00pm", "-1:00"])
PLACES = st.sampled_from(
    [
        "Africa/Nairobi",
        "Asia/Seoul",
        "America/Mexico_City",
        "UTC",
        "Mars/Olympus",
        "..%2F..%2Fetc%2Fpasswd",
        "Europe/Berlin",
        "monday",
        "Sun",
        "funday",
        "EST5EDT",
        "Etc/GMT+14",
    ]
)
LINKS = st.sampled_from(
    [
        "https://example.org/guide",
        "http://x.org/a?b=1&c=2",
        "javascript:alert(1)",
        "ftp://x.org",
        "https://",
        "<https://x.org|x>",
        "https://x.org/" + "p" * 3000,
        "HTTPS://EXAMPLE.ORG",
        "https://exa mple.org",
        "data:text/html,<b>",
    ]
)
ODD = st.sampled_from(
    [
        '"',
        "'",
        '"a quoted title"',
        "'single'",
        "“smart”",
        "\x00",
        "a\x00b",
        "\u202e",
        "\u200b",
        "\n",
        "\t",
        "\r\n",
        '=HYPERLINK("x")',
        "+1",
        "=1+1",
        "@SUM(A1)",
        "<b>x</b>",
        "&amp;",
        "**bold**",
        "[x](https://x.org)",
        "x" * 5000,
        "word " * 800,
        "é" * 300,
        "🎉" * 50,
        "Ｎａｉｒｏｂｉ",
        "İstanbul",
        "ß",
        "\ud7ff",
        "\ufeff",
        "NULL",
        "None",
        "'; DROP TABLE x;--",
        "%",
        "_",
        "\\",
        "*",
        "budgeting",
        "budgets",
        "Budgeting: levies, rates",
    ]
)
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=25)


def mentions(bot: BotHarness) -> st.SearchStrategy[str]:
    known = [bot.mention(name) for name in (*PEOPLE, "convener")]
    unknown = [bot.mention("nobody"), "@nobody", "<@U000>", "@x:evil.org", "<@W1|ada>", "@", "<@>"]
    return st.sampled_from(known + unknown + list(PEOPLE))


def any_token(bot: BotHarness) -> st.SearchStrategy[str]:
    return st.one_of(WORDS, NUMBERS, DATES, TIMES, PLACES, LINKS, ODD, TEXT, mentions(bot))


IDS = st.one_of(st.integers(0, 4).map(str), st.sampled_from(["#1", "#2", "1", "2"]), NUMBERS)
TOPICS = st.sampled_from(["budgeting", "procurement", "Budgeting", "budgets", "rates", "nope"])
WEEKDAYS = st.sampled_from(["monday", "Mon", "friday", "sunday", "funday", "7"])
PHRASE = st.lists(st.one_of(WORDS, ODD, TEXT, TOPICS), min_size=1, max_size=4).map(" ".join)
_USAGE_TOKEN = re.compile(r'"<[^>]*>"|<[^>]*>|\[|\]|[^\s\[\]]+')


def placeholder(bot: BotHarness, token: str) -> st.SearchStrategy[str]:
    """Values for one word of a command's usage line (`<id>`, `[yes|no|maybe]`, `@user`)."""
    name = token.strip('"<>').lower()
    if token.startswith('"'):
        return PHRASE.map(lambda t: f'"{t}"')
    if "yyyy" in name:
        return DATES
    if "hh:mm" in name:
        return TIMES
    if "area/city" in name:
        return PLACES
    if "weekday" in name:
        return WEEKDAYS
    if name == "url":
        return LINKS
    if name.startswith("@"):
        return mentions(bot)
    if name in ("id", "number", "days"):
        return IDS
    if name.startswith(("topic", "name", "keyword")) or name == "city":
        return TOPICS.map(lambda t: t + token[len(token.rstrip(",")) :])
    if name == "platform":
        return st.sampled_from(["slack", "matrix", "console", "irc"])
    if name == "command":
        return st.sampled_from(sorted({spec.words[0] for spec in bot.app.router.commands.values()}))
    if "|" in name:
        return st.sampled_from(name.split("|"))
    if token.startswith("<"):
        return PHRASE
    if token in ("...", "topic...", "<topic>..."):
        return st.just("")
    return st.just(token)


@st.composite
def shaped(draw, bot: BotHarness, usage: str, words: int) -> str:
    """Arguments shaped like the command's usage line, each optional part there or not, then
    perhaps one word dropped, replaced or added."""
    out: list[str] = []
    depth = 0
    for token in _USAGE_TOKEN.findall(usage)[words:]:
        if token in ("[", "]"):
            depth += 1 if token == "[" else -1
            continue
        if depth and not draw(st.booleans()):
            continue
        out.append(draw(placeholder(bot, token)))
    change = draw(st.sampled_from(["none", "none", "drop", "replace", "add"]))
    if out and change in ("drop", "replace"):
        where = draw(st.integers(0, len(out) - 1))
        out[where : where + 1] = [draw(any_token(bot))] if change == "replace" else []
    elif change == "add":
        out.insert(draw(st.integers(0, len(out))), draw(any_token(bot)))
    return " ".join(word for word in out if word)


def arguments(bot: BotHarness, spec: CommandSpec) -> st.SearchStrategy[str]:
    return st.one_of(
        st.lists(any_token(bot), max_size=7).map(" ".join),
        shaped(bot, spec.usage, len(spec.words)),
    )


# The bot ------------------------------------------------------------------------------------


class Errors(logging.Handler):
    """Every error logged while attached: a handler that raised, a failed hand-over."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclasses.dataclass
class Outcome:
    """What the last command did, as its handler saw it."""

    ran: str | None = None
    error: Exception | None = None


def watch(bot: BotHarness) -> Outcome:
    """Wrap every registered command to note whether it ran and how it ended."""
    outcome = Outcome()
    commands: dict[str, CommandSpec] = bot.app.router.commands

    def watched(spec: CommandSpec) -> CommandSpec:
        async def func(ctx, cmd):
            outcome.ran = spec.name
            try:
                return await spec.func(ctx, cmd)
            except Exception as exc:
                outcome.error = exc
                raise

        return dataclasses.replace(spec, func=func)

    for key, spec in list(commands.items()):
        commands[key] = watched(spec)
    return outcome


async def introduce(bot: BotHarness, name: str) -> None:
    """`name` seen in every place a command comes from: the pipeline's first-sight rows."""
    await bot.say(name, "hello everyone")
    await bot.dm(name, "!help")
    await bot.slash(name, "help")
    await bot.say(name, "!help", thread_id="in1")
    await bot.app.persisted()


async def known(bot: BotHarness, name: str) -> bool:
    async with bot.app.db.sessions() as session:
        return await members.find(session, bot.user(name)) is not None


async def warm_up(bot: BotHarness) -> None:
    """Everyone introduced, and something for the commands to work on: topics, expertise, a
    question, an event, a call, a prompt, a resource."""
    for name in PEOPLE:
        await introduce(bot, name)
    await bot.say("fac", "!topic add budgeting: budget, levy, rates")
    await bot.say("fac", "!topic add procurement")
    await bot.say("bob", "!expertise add budgeting")
    await bot.say("alice", "!ask How do we forecast property tax revenue?: budgeting")
    [question] = [s for s in bot.posts_in("general") if "How do we forecast" in s.text]
    await bot.say(
        "bob", "A rolling three-year forecast works for us.", thread_id=question.message_id
    )
    await bot.say("fac", '!event add 2026-03-20 10:00 Africa/Nairobi "Budget clinic": budgeting')
    await bot.say("fac", '!call add 2026-03-30 "Peer review of budgets"')
    await bot.say("fac", "!prompt add What worked in your last budget cycle?")
    await bot.say("fac", "!resource add https://example.org/guide A budgeting guide: budgeting")
    await bot.app.persisted()


async def snapshot(bot: BotHarness) -> dict[str, list[tuple]]:
    await bot.app.persisted()
    tables: dict[str, list[tuple]] = {}
    async with bot.app.db.sessions() as session:
        for table in SNAPSHOT_TABLES:
            rows = (await session.execute(select(table))).all()
            tables[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return tables


def changes(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> dict[str, Any]:
    return {
        name: {
            "gone": [r for r in rows if r not in after[name]],
            "new": [r for r in after[name] if r not in rows],
        }
        for name, rows in before.items()
        if rows != after[name]
    }


HOW = ("channel", "dm", "slash", "thread", "mention")


async def invoke(bot: BotHarness, name: str, how: str, text: str):
    """Type `text` as a command, the way `how` says; the channel the answer may go to."""
    if how == "channel":
        await bot.say(name, "!" + text)
    elif how == "thread":
        await bot.say(name, "!" + text, thread_id="in1")
    elif how == "mention":
        await bot.say(name, "convener: " + text)
    elif how == "dm":
        return (await bot.dm(name, "!" + text)).channel
    else:
        await bot.slash(name, text)
    return bot.channel("general")


async def fuzz_commands(bot: BotHarness, data, people: tuple[str, ...]) -> None:
    if not hasattr(bot, "outcome"):
        await warm_up(bot)
        bot.outcome = watch(bot)  # type: ignore[attr-defined]
    outcome: Outcome = bot.outcome  # type: ignore[attr-defined]
    commands = sorted(bot.app.router.commands)
    command = data.draw(st.sampled_from(commands), label="command")
    args = data.draw(arguments(bot, bot.app.router.commands[command]), label="arguments")
    name = data.draw(st.sampled_from(people), label="sender")
    how = data.draw(st.sampled_from(HOW), label="how")
    if data.draw(st.booleans(), label="upper case"):
        command = command.upper()
    text = f"{command} {args}".strip()

    if not await known(bot, name):  # erased (`forgetme confirm`): a stranger again
        await introduce(bot, name)
    posts = [s.message_id for s in bot.posts_in("general")]
    replier = data.draw(st.sampled_from((None, *PEOPLE)), label="someone replies first")
    if replier is not None and posts:  # in a thread of the bot's (a question's, say)
        root = posts[data.draw(st.integers(0, 63), label="in the thread of") % len(posts)]
        await bot.say(replier, "Here is what we did.", thread_id=root)
    bot.clock.advance(minutes=7)
    outcome.ran, outcome.error = None, None
    before = await snapshot(bot)
    sent_before = len(bot.platform.sent)
    errors = Errors()
    logging.getLogger().addHandler(errors)
    try:
        where = await invoke(bot, name, how, text)
        await bot.app.persisted()
    finally:
        logging.getLogger().removeHandler(errors)

    assert errors.records == [], [r.getMessage() for r in errors.records]
    assert not isinstance(outcome.error, Exception) or isinstance(outcome.error, CommandError), (
        repr(outcome.error)
    )
    sent = bot.platform.sent[sent_before:]
    user = bot.user(name)
    answers = [s for s in sent if s.private_to == user or s.channel == where]
    assert answers, (text, [s.text for s in sent])
    for message in sent:
        assert message.text.strip() or message.file is not None, message
        assert "failed on my side" not in message.text, message.text
    event(f"{outcome.ran or 'refused or unknown'}: {type(outcome.error).__name__}")
    refused = outcome.ran is None or outcome.error is not None  # refused, unknown or an error
    if refused:
        after = await snapshot(bot)
        assert after == before, (text, outcome, changes(before, after))


@FUZZ
@given(data=st.data())
async def test_any_command_from_a_member(bot, data):
    """A plain member (and a coordinator) typing any command with any arguments."""
    await fuzz_commands(bot, data, ("alice", "dana", "coord"))


@FUZZ
@given(data=st.data())
async def test_any_command_from_a_facilitator(bot, data):
    """A facilitator typing any command with any arguments."""
    await fuzz_commands(bot, data, ("fac",))
