"""Linking with two replicas on one database (the confirm-flow version of the spine test)."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import func, select

from bot.activity import insert_sql
from bot.models import Activity, Member
from tests.harness import BotHarness
from tests.test_link import OtherPlatform, code_in


async def test_a_replica_that_missed_a_merge_writes_to_the_merged_member(settings, clock):
    """Replica B has seen dana's account on a second platform; A merges it into dana's
    member; B then records an event from that account: the row lands on the surviving
    member, never on the deleted one."""
    a = await BotHarness("console", settings, clock).start()
    b = await BotHarness("console", settings, clock).start()
    a_other, b_other = OtherPlatform(a), OtherPlatform(b)
    try:
        await _link_claimed(a, b, a_other, b_other)
        await a_other.dm("dana", "!link confirm")
        assert a_other.last_reply_to("dana").startswith("Linked")
        await b_other.dm("dana", "after the merge")
        await b.app.activity.flush()
        orphans, owners = await _owners(a)
        assert orphans == 0
        assert len(owners) == 1
    finally:
        await a.close()
        await b.close()


async def test_a_write_under_way_when_the_merge_begins_lands_on_the_survivor(settings, clock):
    """Replica B's activity write has read the identity (of the member about to go) and is
    not yet committed when A merges: the merge waits for it, and moves its row too."""
    a = await BotHarness("console", settings, clock).start()
    b = await BotHarness("console", settings, clock).start()
    a_other, b_other = OtherPlatform(a), OtherPlatform(b)
    try:
        await _link_claimed(a, b, a_other, b_other)
        sql, ts = insert_sql(b.app.db.engine.dialect.name)
        other = b_other.user("dana")
        row = (ts(clock()), 1, "direct", other.platform, "in-flight", None, None, 5, None,
               False, other.platform, other.id)  # fmt: skip
        async with b.app.db.sessions() as writing:
            connection = await writing.connection()
            await connection.exec_driver_sql(sql, (json.dumps([row]),))
            merging = asyncio.create_task(a_other.dm("dana", "!link confirm"))
            await asyncio.sleep(0.2)  # the merge begins (and waits, where it must)
            await writing.commit()
        await merging
        assert a_other.last_reply_to("dana").startswith("Linked")
        orphans, owners = await _owners(a)
        assert orphans == 0
        assert len(owners) == 1
    finally:
        await a.close()
        await b.close()


async def _link_claimed(a: BotHarness, b: BotHarness, a_other, b_other) -> None:
    """Dana on both platforms, each seen by a replica, and the link claimed on A (the
    confirmation, which merges, is the caller's)."""
    await a.say("dana", "hello")
    await b_other.dm("dana", "hello from my other account")
    await a.app.activity.flush()
    await b.app.activity.flush()
    await a.say("dana", "!link")
    await a_other.dm("dana", f"!link {code_in(a.last_reply_to('dana'))}")


async def _owners(bot: BotHarness) -> tuple[int, list[int]]:
    """Activity rows whose member is gone, and the members that own activity."""
    async with bot.app.db.sessions() as session:
        orphans = await session.scalar(
            select(func.count())
            .select_from(Activity)
            .where(Activity.member_id.not_in(select(Member.id)))
        )
        owners = (await session.scalars(select(Activity.member_id).distinct())).all()
    return orphans, list(owners)
