"""`bot.watch`: what features wait for, in memory: loading, what a load in flight must not
lose, reading only recent rows, forgetting, and keeping fresh in the background."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.types import ChannelRef, ReactionAdded, UserRef
from bot.watch import OVERLAP, Watch, Watches, post_key, reacted_posts, sender

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Rows:
    """A feature's rows: (platform, key, stamped at)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, datetime]] = []
        self.asked: list[datetime | None] = []
        self.during_read = None

    def load(self, _session, since):
        self.asked.append(since)
        if self.during_read is not None:
            self.during_read()
        return [(p, k) for p, k, at in self.rows if since is None or at >= since]


class InlineDb:
    async def read(self, fn, *args):
        return fn(None, *args)


def reaction(message_id: str, thread_id: str | None = None) -> ReactionAdded:
    return ReactionAdded(
        "e1", UserRef("slack", "U1"), ChannelRef("slack", "C1"), NOW, message_id, "+1", thread_id
    )


async def test_load_touch_refresh_and_forget():
    rows = Rows()
    watch = Watch("posts", rows.load)
    watches = Watches(InlineDb(), lambda: NOW, [watch])
    rows.rows.append(("slack", post_key("C1", "100.1"), NOW - timedelta(days=30)))
    await watches.load()
    assert rows.asked == [None]
    assert watches.touches(watch, reaction("100.1"))
    assert watches.touches(watch, reaction("200.2", thread_id="100.1"))  # in its thread
    assert not watches.touches(watch, reaction("200.2"))
    rows.rows.append(("slack", post_key("C1", "200.2"), NOW))
    await watches.refresh()
    assert rows.asked[-1] == NOW - OVERLAP  # only what is recent
    assert watches.touches(watch, reaction("200.2"))
    watches.discard(watch, "slack", post_key("C1", "200.2"))
    assert not watches.touches(watch, reaction("200.2"))


async def test_a_key_added_while_a_load_is_in_flight_is_kept():
    rows = Rows()
    watch = Watch("posts", rows.load)
    watches = Watches(InlineDb(), lambda: NOW, [watch])
    rows.during_read = lambda: watches.add(watch, "slack", post_key("C1", "300.3"))
    await watches.load()
    assert watches.touches(watch, reaction("300.3"))


async def test_members_are_keyed_by_their_user_id():
    rows = Rows()
    rows.rows.append(("slack", "U1", NOW))
    watch = Watch("members", rows.load, sender)
    watches = Watches(InlineDb(), lambda: NOW, [watch])
    await watches.load()
    assert watches.touches(watch, reaction("1.1"))
    assert reacted_posts(reaction("1.1")) == ("C1 1.1",)


async def test_replicas_keep_fresh_in_the_background():
    rows = Rows()
    watch = Watch("posts", rows.load)
    watches = Watches(InlineDb(), lambda: NOW, [watch], refresh_seconds=0.001)
    await watches.load()
    rows.rows.append(("slack", post_key("C1", "400.4"), NOW))
    read = asyncio.Event()
    rows.during_read = read.set
    watches.start(replicas=True)
    try:
        async with asyncio.timeout(5):
            await read.wait()
    finally:
        await watches.stop()
    assert watches.touches(watch, reaction("400.4"))
