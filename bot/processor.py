"""The bounded processor every adapter hands its events to (after they are recorded).

At most `concurrency` events are handled at once and at most `backlog` wait; past that,
`submit()` waits, so a flood slows intake down instead of growing memory. Events that share
a key (a Matrix room) run one after the other in the order submitted; different keys run
side by side. Modelled on python-telegram-bot's bounded update processor.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]


class Processor:
    def __init__(self, concurrency: int = 32, backlog: int = 1000) -> None:
        self._running = asyncio.Semaphore(concurrency)
        self._room = asyncio.Semaphore(backlog)
        self._tasks: set[asyncio.Task] = set()
        self._tails: dict[Hashable, asyncio.Task] = {}
        self._closed = False

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def submit(self, job: Job, key: Hashable | None = None) -> None:
        """Schedule `job`; waits while the backlog is full. Refused after `close()`."""
        if self._closed:
            raise RuntimeError("the processor is closed")
        await self._room.acquire()
        before = self._tails.get(key) if key is not None else None
        task = asyncio.get_running_loop().create_task(self._run(job, before))
        self._tasks.add(task)
        if key is not None:
            self._tails[key] = task
        task.add_done_callback(lambda done: self._done(done, key))

    async def _run(self, job: Job, before: asyncio.Task | None) -> None:
        if before is not None and not before.done():
            await asyncio.wait([before])
        async with self._running:
            try:
                await job()
            except Exception:
                log.exception("handling an event failed")

    def _done(self, task: asyncio.Task, key: Hashable | None) -> None:
        self._tasks.discard(task)
        self._room.release()
        if key is not None and self._tails.get(key) is task:
            del self._tails[key]

    def close(self) -> None:
        """Accept nothing more; what was submitted still runs."""
        self._closed = True

    async def drain(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """Wait until everything submitted has run; False if `timeout` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._tasks:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=left)
        return True

    async def cancel(self) -> None:
        """Cancel what is still running (after a drain that timed out)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
