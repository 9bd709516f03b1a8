"""Linking with two replicas on one database (the confirm-flow version of the spine test)."""

from __future__ import annotations

from sqlalchemy import func, select

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
        await a.say("dana", "hello")
        await b_other.dm("dana", "hello from my other account")
        await a.app.activity.flush()
        await b.app.activity.flush()
        await a.say("dana", "!link")
        await a_other.dm("dana", f"!link {code_in(a.last_reply_to('dana'))}")
        await a_other.dm("dana", "!link confirm")
        assert a_other.last_reply_to("dana").startswith("Linked")
        await b_other.dm("dana", "after the merge")
        await b.app.activity.flush()
        async with a.app.db.sessions() as session:
            orphans = await session.scalar(
                select(func.count())
                .select_from(Activity)
                .where(Activity.member_id.not_in(select(Member.id)))
            )
            owners = (await session.scalars(select(Activity.member_id).distinct())).all()
        assert orphans == 0
        assert len(owners) == 1
    finally:
        await a.close()
        await b.close()
