"""Command latency: from an inbound command event to the reply handed to the platform, while
1,000 other events a second flow through the same core. Baseline: an empty command behind
the same router (same parsing, member resolution, permission check and claim)."""

from __future__ import annotations

import asyncio
import os
import time

from benchmarks.common import Result, emit, fresh_sqlite, median, percentile, runs
from bot.app import Convener
from bot.cli import build
from bot.settings import Settings
from bot.types import ChannelRef, Message, Sent, UserRef

COMMANDS = int(os.environ.get("BENCH_COMMANDS", "600"))
BACKGROUND_PER_SECOND = int(os.environ.get("BENCH_BACKGROUND", "1000"))
COMMAND = "help"


class Recorder:
    """A platform that notes when each reply was handed to it."""

    name = "console"

    def __init__(self) -> None:
        self.bot_user = UserRef("console", "convener", "convener", True)
        self.replied: dict[str, float] = {}

    async def _note(self, user: UserRef, text: str, channel: ChannelRef | None) -> Sent:
        self.replied.setdefault(user.id, time.perf_counter())
        return Sent(channel or ChannelRef("console", "dm"), "x", text)

    async def send(self, channel, text, thread_id=None, actions=()):
        return Sent(channel, "x", text)

    async def send_dm(self, user, text, actions=()):
        return await self._note(user, text, None)

    async def permalink(self, channel, message_id):
        return None

    async def thread(self, channel, root_id):
        return []

    async def send_private(self, user, text, channel=None, reply_token=None):
        return await self._note(user, text, channel)

    async def send_file(self, user, file, text=""):
        return await self._note(user, text, None)

    async def display_name(self, user):
        return user.id

    def user_from_mention(self, text):
        return None


async def background(app: Convener, stop: asyncio.Event) -> int:
    """Messages from 500 members in 20 channels at 1,000 a second."""
    sent, start = 0, time.perf_counter()
    while not stop.is_set():
        due = int((time.perf_counter() - start) * BACKGROUND_PER_SECOND)
        while sent < due:
            user = UserRef("console", f"bg{sent % 500}", f"bg{sent % 500}")
            channel = ChannelRef("console", f"c{sent % 20}", f"#c{sent % 20}")
            await app.handle(
                Message(f"bg-{sent}", user, channel, app.clock(), "Budget question", f"b{sent}")
            )
            sent += 1
        await asyncio.sleep(0.001)
    return sent


async def measure(url: str, empty: bool) -> list[float]:
    settings = Settings(_env_file=None, database_url=url)
    app = build(settings, schedule=False)
    if empty:
        from bot.router import Router

        router = Router()

        @router.command(COMMAND)
        async def nothing(ctx, cmd) -> str:
            return "ok"

        app = Convener(settings, router=router)
    platform = Recorder()
    app.add_platform(platform)
    await app.start(migrate=False)
    stop = asyncio.Event()
    flow = asyncio.create_task(background(app, stop))
    await asyncio.sleep(1.0)
    latencies = []
    channel = ChannelRef("console", "general", "#general")
    for n in range(COMMANDS):
        user = UserRef("console", f"asker{n % 50}", f"asker{n % 50}")
        platform.replied.pop(user.id, None)
        started = time.perf_counter()
        await app.handle(Message(f"cmd-{n}", user, channel, app.clock(), f"!{COMMAND}", f"c{n}"))
        latencies.append((platform.replied[user.id] - started) * 1000)
        await asyncio.sleep(0.01)
    stop.set()
    await flow
    await app.close()
    return latencies


def main() -> None:
    rows = {"p50": ([], []), "p99": ([], [])}
    for i in range(runs(2)):
        for empty in (True, False):
            url, path = fresh_sqlite(f"latency-{i}-{empty}")
            values = asyncio.run(measure(url, empty))
            rows["p50"][empty].append(percentile(values, 50))
            rows["p99"][empty].append(percentile(values, 99))
            path.unlink()
    p50, p50_base = median(rows["p50"][0]), median(rows["p50"][1])
    p99, p99_base = median(rows["p99"][0]), median(rows["p99"][1])
    emit(
        [
            Result(
                "command latency",
                f"p50 of `{COMMAND}` with 1,000 events/s flowing",
                p50,
                "ms (lower is better)",
                p50_base,
            ),
            Result(
                "command latency",
                f"p99 of `{COMMAND}` with 1,000 events/s flowing",
                p99,
                "ms (lower is better)",
                p99_base,
                target="p99 < 10 ms",
                met=p99 < 10,
            ),
        ]
    )


if __name__ == "__main__":
    main()
