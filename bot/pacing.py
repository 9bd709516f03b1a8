"""Spacing sends to stay inside each platform's budget (`bot.platform.Budget`) instead of
bouncing off its "slow down" answers.

Each send reserves the next free slot of its platform (a token bucket kept as the time the
next send may go, the generic cell rate algorithm), and of its channel when the platform
spaces sends per channel, then sleeps until then; reservations are taken in turn, so waiters
that arrive together get distinct slots. A platform that says "slow down" anyway is paused
for as long as it asked. Time is the pacer's own clock (`monotonic`, `sleep`), so tests run
it without waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from bot.platform import UNLIMITED, Budget


class Pacer:
    def __init__(
        self,
        budget: Callable[[str], Budget] = lambda _: UNLIMITED,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.budget = budget
        self.monotonic = monotonic
        self.sleep = sleep
        self._next: dict[str, float] = {}
        self._channel_next: dict[tuple[str, str], float] = {}
        self._paused_until: dict[str, float] = {}

    def slot(self, platform: str, channel: str | None = None, cost: int = 1) -> float:
        """Reserve the next moment a send on `platform` (in `channel`) may go, counting
        `cost` requests against the budget; returns how many seconds from now that is."""
        budget = self.budget(platform)
        now = self.monotonic()
        at = max(now, self._paused_until.get(platform, 0.0))
        if budget.per_second > 0:
            interval = 1.0 / budget.per_second
            theoretical = self._next.get(platform, at)
            at = max(at, theoretical - interval * (max(budget.burst, 1) - 1))
            self._next[platform] = max(theoretical, at) + interval * max(cost, 1)
        if budget.per_channel_seconds > 0 and channel is not None:
            key = (platform, channel)
            at = max(at, self._channel_next.get(key, 0.0))
            self._channel_next[key] = at + budget.per_channel_seconds
            if len(self._channel_next) > 10_000:
                self._forget_channels(now)
        return at - now

    async def wait(self, platform: str, channel: str | None = None) -> None:
        """Return when a send on `platform` (in `channel`) may go."""
        delay = self.slot(platform, channel)
        if delay > 0:
            await self.sleep(delay)

    def pause(self, platform: str, seconds: float) -> None:
        """The platform said "slow down": no send on it for `seconds`."""
        until = self.monotonic() + seconds
        self._paused_until[platform] = max(self._paused_until.get(platform, 0.0), until)

    def _forget_channels(self, now: float) -> None:
        self._channel_next = {k: v for k, v in self._channel_next.items() if v > now}
