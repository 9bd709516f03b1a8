"""The Web API client of `SlackAdapter` and what goes with it: the retries slack-sdk makes on
rate limits and server errors, the count of requests in progress on the shared HTTP session,
and the cache of names looked up. It also holds the logger of the whole Slack adapter."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings

log = logging.getLogger("adapters.slack.adapter")
"""One logger for the whole adapter, named after the module it was first written in, so that
log filters and levels set for it still apply."""

LOOKUP_TTL_SECONDS = 3600.0


def retry_handlers() -> list[AsyncRetryHandler]:
    """Dropped connections, HTTP 429 (after `Retry-After`) and 500/503 (with backoff and
    jitter) are retried by slack-sdk itself."""
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        AsyncServerErrorRetryHandler(max_retry_count=2),
    ]


class InFlight:
    """Counts outbound requests in progress on the shared HTTP session, so that it is
    closed only once none of them uses it."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.asynccontextmanager
    async def __call__(self, session: object) -> AsyncIterator[None]:
        """Counts the block when `session` (the one the request will use) is the shared
        one; without one, the request opens and closes a session of its own."""
        if session is None:
            yield
            return
        self.count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.count -= 1
            if not self.count:
                self._idle.set()

    async def idle(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until no request is in progress; False if `timeout` passed first."""
        try:
            async with asyncio.timeout(max(timeout, 0.0)):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True


class WebClient(AsyncWebClient):
    """slack-sdk's client, counting its calls in progress (`in_flight`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.in_flight = InFlight()

    async def api_call(self, *args: Any, **kwargs: Any) -> Any:
        async with self.in_flight(self.session):
            return await super().api_call(*args, **kwargs)


def web_client(settings: Settings) -> WebClient:
    """The Web API client, on `SLACK_API_URL` when set."""
    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url or AsyncWebClient.BASE_URL,
        retry_handlers=retry_handlers(),
    )


class Lookups:
    """Answers looked up on Slack, remembered for a while (misses too, so a channel the bot
    may not read is not asked about on every message). Concurrent lookups of one key share
    one request; a failed request is not remembered."""

    def __init__(self, ttl: float = LOOKUP_TTL_SECONDS, size: int = 50_000) -> None:
        self.ttl = ttl
        self.size = size
        self._items: dict[str, tuple[float, str | None]] = {}
        self._pending: dict[str, asyncio.Future] = {}

    async def get(self, key: str, fetch: Callable[[], Awaitable[str | None]]) -> str | None:
        hit = self._items.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = asyncio.ensure_future(fetch())
            pending.add_done_callback(lambda done: self._settle(key, done))
        return await asyncio.shield(pending)

    def forget(self, key: str) -> None:
        """Ask again next time (the answer turned out stale)."""
        self._items.pop(key, None)

    def _settle(self, key: str, done: asyncio.Future) -> None:
        self._pending.pop(key, None)
        if done.cancelled() or done.exception() is not None:
            return
        if len(self._items) >= self.size:
            self._items.clear()
        self._items[key] = (time.monotonic() + self.ttl, done.result())
