"""Sending to a person who is waiting (the answer to their command, their welcome) when the
platform says "slow down": ask again after as long as it said, and pause the outbox's
notices on that platform as long, so that the person's message takes the next slot; give up
only once a person would have stopped waiting (`PATIENCE_SECONDS`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.context import Services
from bot.platform import RateLimited

log = logging.getLogger(__name__)

PATIENCE_SECONDS = 60.0  # about as long as a person waits for an answer
T = TypeVar("T")


async def patiently(
    ctx: Services,
    platform: str,
    send: Callable[[], Awaitable[T]],
    what: str,
    reraise: bool = False,
) -> tuple[bool, T | None]:
    """(True, what `send` returned), or (False, None) once "slow down" has lasted past a
    person's patience (logged as a warning, naming `what`; with `reraise`, the last "slow
    down" is raised instead). Other errors are raised."""
    waited = 0.0
    while True:
        try:
            return True, await send()
        except RateLimited as exc:
            ctx.outbox.pacer.pause(platform, exc.retry_after)
            if waited + exc.retry_after > PATIENCE_SECONDS:
                log.warning("gave up %s on %s after %.0f s of 'slow down'", what, platform,
                            waited)  # fmt: skip
                if reraise:
                    raise
                return False, None
            await asyncio.sleep(exc.retry_after)
            waited += exc.retry_after
