"""Command latency: from an inbound command event to the reply handed to the platform, while
1,000 other events a second flow through the same core.

Every event goes in as the Slack and Matrix adapters hand theirs over (`submit`, keyed by
channel, then the bounded processor). The flow: messages from 500 members in 20 channels,
and 20% reactions (👍 `+1` and ✅ `white_check_mark`), a quarter of them on posts of the
bot that features wait for (the announcements of 3 events made with `event add`, and 5
questions posted with `ask`, both typed through the same pipeline before the timing; a tenth
of the reactions on a question come from its asker), the rest on members' recent messages.
So a reaction that concerns nobody, a reaction that is an RSVP and one that solves a question
(✅ by its asker) all flow.

Baseline: an empty command in the same router, app, flow and run (the two are interleaved),
so it pays the same parsing, claim, sender resolution, permission check and reply.

Size: 600 commands of each (`BENCH_COMMANDS`; 150 in quick mode), in 2 runs (1 in quick
mode); the flow rate is `BENCH_BACKGROUND` (1,000 a second either way)."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import time
from collections import deque
from datetime import timedelta

from sqlalchemy import func, select

from benchmarks.common import Result, emit, fresh_sqlite, median, percentile, runs, size
from bot.app import Convener
from bot.cli import build
from bot.models import Channel, EventRsvp, Question
from bot.models import Event as EventRow
from bot.router import Router
from bot.settings import Settings
from bot.types import ChannelRef, Event, Message, ReactionAdded, Sent, UserRef

COMMANDS = size("BENCH_COMMANDS", 600, 150)  # of each: `help` and the empty command
BACKGROUND_PER_SECOND = int(os.environ.get("BENCH_BACKGROUND", "1000"))
REACTIONS = 0.2  # of the flow
ON_BOT_POSTS = 0.25  # of the reactions
EMOJI = ("+1", "white_check_mark")
FLOW_MEMBERS, FLOW_CHANNELS = 500, 20
EVENTS, QUESTIONS, ASKERS = 3, 5, 50
BY_ASKER = 0.1  # of the reactions on a question: by the member who asked it
WARMUP_SECONDS = 1.0
COMMAND, EMPTY = "help", "benchnothing"
FACILITATOR = "fac"
PLATFORM = "console"
SEED = 20261123


class Recorder:
    """A platform that gives every post an id of its own and notes when each reply to a
    person was handed to it."""

    name = PLATFORM

    def __init__(self) -> None:
        self.bot_user = UserRef(PLATFORM, "convener", "convener", True)
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.last_to: dict[str, str] = {}  # the last text sent to each person
        self._ids = itertools.count(1)

    def expect(self, user: UserRef) -> asyncio.Future[float]:
        """A future that gets the moment the next reply to `user` is handed over."""
        future = asyncio.get_running_loop().create_future()
        self.waiting[user.id] = future
        return future

    def _note(self, user: UserRef, text: str, channel: ChannelRef | None) -> Sent:
        now = time.perf_counter()
        future = self.waiting.pop(user.id, None)
        if future is not None and not future.done():
            future.set_result(now)
        self.last_to[user.id] = text
        return Sent(channel or ChannelRef(PLATFORM, f"dm:{user.id}"), f"p{next(self._ids)}", text)

    async def send(self, channel, text, thread_id=None, actions=()):
        return Sent(channel, f"p{next(self._ids)}", text, thread_id)

    async def send_dm(self, user, text, actions=()):
        return self._note(user, text, None)

    async def permalink(self, channel, message_id):
        return None

    async def thread(self, channel, root_id):
        return []

    async def send_private(self, user, text, channel=None, reply_token=None):
        return self._note(user, text, channel)

    async def send_file(self, user, file, text=""):
        return self._note(user, text, None)

    async def post_file(self, channel, file, text="", thread_id=None):
        return Sent(channel, f"p{next(self._ids)}", text, thread_id)

    async def open_group(self, users, key):
        return ChannelRef(PLATFORM, f"group:{key}", f"#group-{key}")

    async def display_name(self, user):
        return user.id

    async def locale(self, user):
        return None

    async def close_choices(self, channel, message_id):
        return None

    async def publish_home(self, user, home):
        return False

    def user_from_mention(self, text):
        return None


def member(name: str) -> UserRef:
    return UserRef(PLATFORM, name, name)


def channel(name: str) -> ChannelRef:
    return ChannelRef(PLATFORM, name, f"#{name}")


async def say(app: Convener, who: str, where: str, text: str, n: int) -> None:
    """A command typed through the pipeline (as the console hands it over), before the
    timing."""
    user = member(who)
    await app.handle(Message(f"setup-{n}", user, channel(where), app.clock(), text, f"setup-{n}"))
    await app.processor.drain()


def asker_of(channel_id: str) -> str:
    """The flow member who asks the question posted in `channel_id` (one a channel)."""
    return f"bg{int(channel_id[1:]) - EVENTS + 1}"


async def bot_posts(app: Convener, platform: Recorder) -> list[tuple[str, str]]:
    """Announce events and ask questions as members would; the (channel, message id) of
    every post the bot made for them."""
    day = (app.clock() + timedelta(days=30)).date().isoformat()
    n = itertools.count()
    for i in range(EVENTS):
        await say(app, FACILITATOR, f"c{i}", f'!event add {day} 15:00 "Deep dive {i}"', next(n))
    for i in range(QUESTIONS):
        text = f"!ask How do other cities phase property tax reassessments over {i + 2} years?"
        await say(app, asker_of(f"c{EVENTS + i}"), f"c{EVENTS + i}", text, next(n))
    for i in range(ASKERS):  # the people who time commands, known before the timing
        await say(app, f"asker{i}", "general", f"!{EMPTY}", next(n))
    async with app.db.sessions() as session:
        posts = [
            *(
                await session.execute(
                    select(Channel.channel_id, EventRow.message_id).join(
                        EventRow, EventRow.channel_id == Channel.id
                    )
                )
            ).all(),
            *(
                await session.execute(
                    select(Channel.channel_id, Question.message_id).join(
                        Question, Question.channel_id == Channel.id
                    )
                )
            ).all(),
        ]
    found = [(c, m) for c, m in posts if m]
    if len(found) != EVENTS + QUESTIONS:
        raise SystemExit(
            f"expected {EVENTS} announcements and {QUESTIONS} questions, found {found}; "
            f"the facilitator was told {platform.last_to.get(FACILITATOR)!r}"
        )
    return found


class Flow:
    """Background events at a steady rate, submitted as adapters submit theirs."""

    def __init__(self, app: Convener, posts: list[tuple[str, str]], rng: random.Random) -> None:
        self.app, self.posts, self.rng = app, posts, rng
        self.sent = 0
        self.recent: deque[tuple[str, str]] = deque(maxlen=200)  # members' messages
        self.reactions = self.on_bot_posts = 0
        self._mark: tuple[float, int] = (time.perf_counter(), 0)

    def event(self, n: int) -> Event:
        user, now = member(f"bg{n % FLOW_MEMBERS}"), self.app.clock()
        if self.recent and self.rng.random() < REACTIONS:
            self.reactions += 1
            if self.rng.random() < ON_BOT_POSTS:
                self.on_bot_posts += 1
                where, message_id = self.rng.choice(self.posts)
                if int(where[1:]) >= EVENTS and self.rng.random() < BY_ASKER:
                    user = member(asker_of(where))
            else:
                where, message_id = self.rng.choice(self.recent)
            return ReactionAdded(f"bg-{n}", user, channel(where), now, message_id=message_id,
                                 emoji=self.rng.choice(EMOJI))  # fmt: skip
        where = f"c{n % FLOW_CHANNELS}"
        self.recent.append((where, f"b{n}"))
        return Message(f"bg-{n}", user, channel(where), now, "Budget question", f"b{n}")

    async def run(self, stop: asyncio.Event) -> None:
        start = time.perf_counter()
        while not stop.is_set():
            due = int((time.perf_counter() - start) * BACKGROUND_PER_SECOND)
            while self.sent < due:
                event = self.event(self.sent)
                await self.app.submit(event, key=(event.platform, event.channel.id))
                self.sent += 1
            await asyncio.sleep(0.001)

    def mark(self) -> None:
        self._mark = (time.perf_counter(), self.sent)

    def rate(self) -> float:
        began, sent = self._mark
        return (self.sent - sent) / (time.perf_counter() - began)


async def timed(app: Convener, platform: Recorder, word: str, n: int) -> float:
    """One command, from its submission to its reply (ms)."""
    user, where = member(f"asker{n % ASKERS}"), channel("general")
    replied = platform.expect(user)
    started = time.perf_counter()
    await app.submit(Message(f"cmd-{n}", user, where, app.clock(), f"!{word}", f"cmd-{n}"),
                     key=(PLATFORM, where.id))  # fmt: skip
    try:
        return (await asyncio.wait_for(replied, 30) - started) * 1000
    except TimeoutError:
        raise SystemExit(f"no reply to `{word}` within 30 s") from None


async def measure(url: str, seed: int) -> tuple[dict[str, list[float]], float, dict[str, int]]:
    settings = Settings(_env_file=None, database_url=url, facilitators=FACILITATOR)
    app = build(settings, schedule=False)
    nothing = Router()

    @nothing.command(EMPTY, summary="nothing (a benchmark's baseline)")
    async def _nothing(ctx, cmd) -> str:
        return "ok"

    app.router.include(nothing)
    platform = Recorder()
    app.add_platform(platform)
    await app.start(migrate=False)
    rng = random.Random(seed)
    flow = Flow(app, await bot_posts(app, platform), rng)
    stop = asyncio.Event()
    flowing = asyncio.create_task(flow.run(stop))
    await asyncio.sleep(WARMUP_SECONDS)
    flow.mark()
    order = [COMMAND, EMPTY] * COMMANDS
    rng.shuffle(order)
    latencies: dict[str, list[float]] = {COMMAND: [], EMPTY: []}
    try:
        for n, word in enumerate(order):
            latencies[word].append(await timed(app, platform, word, n))
            await asyncio.sleep(0.01)
        rate = flow.rate()
    finally:
        stop.set()
        await flowing
    await app.processor.drain()
    async with app.db.sessions() as session:
        rsvps = await session.scalar(select(func.count()).select_from(EventRsvp))
        solved = await session.scalar(
            select(func.count()).select_from(Question).where(Question.solved_at.is_not(None))
        )
    await app.close()
    counts = {"reactions": flow.reactions, "on bot posts": flow.on_bot_posts,
              "rsvps": rsvps or 0, "questions solved by ✅": solved or 0}  # fmt: skip
    if counts["on bot posts"] >= 20 and not counts["rsvps"]:
        raise SystemExit(f"the reactions on announcements made no RSVP: {counts}")
    return latencies, rate, counts


def main() -> None:
    p50s: dict[str, list[float]] = {COMMAND: [], EMPTY: []}
    p99s: dict[str, list[float]] = {COMMAND: [], EMPTY: []}
    rates = []
    for i in range(runs(2)):
        url, path = fresh_sqlite(f"latency-{i}")
        latencies, rate, counts = asyncio.run(measure(url, SEED + i))
        print(f"run {i}: {rate:,.0f} events/s flowing; {counts}")
        for word, values in latencies.items():
            p50s[word].append(percentile(values, 50))
            p99s[word].append(percentile(values, 99))
        rates.append(rate)
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
    flowing = f"{BACKGROUND_PER_SECOND:,} events/s flowing, {REACTIONS:.0%} reactions"
    scale = f"{flowing}; {COMMANDS:,} commands"
    p99 = median(p99s[COMMAND])
    rate = min(rates)
    emit(
        [
            Result("command latency", f"p50 of `{COMMAND}` ({scale})", median(p50s[COMMAND]),
                   "ms (lower is better); baseline: an empty command, same run",
                   median(p50s[EMPTY])),
            Result("command latency", f"p99 of `{COMMAND}` ({scale})", p99,
                   "ms (lower is better); baseline: an empty command, same run",
                   median(p99s[EMPTY]), target="p99 < 10 ms", met=p99 < 10),
            Result("command latency", f"events/s flowing while timing ({flowing}, "
                   f"{ON_BOT_POSTS:.0%} of them on {EVENTS} announcements and {QUESTIONS} "
                   "questions)", rate, "events/s (slowest run)",
                   target=f">= {0.95 * BACKGROUND_PER_SECOND:,.0f}",
                   met=rate >= 0.95 * BACKGROUND_PER_SECOND),
        ]
    )  # fmt: skip


if __name__ == "__main__":
    main()
