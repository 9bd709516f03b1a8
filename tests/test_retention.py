"""Retention: old activity goes in bounded batches; recent activity and `0` keep it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, insert, select

from bot import housekeeping as retention
from bot.models import Activity, ActivityDeadLetter


async def add_activity(bot, ages_in_days: list[int]) -> None:
    now = bot.clock()
    async with bot.app.db.sessions() as session:
        await session.execute(
            insert(Activity),
            [
                {
                    "ts": now - timedelta(days=age),
                    "member_id": 1,
                    "channel_id": 1,
                    "kind": "message",
                    "platform": bot.platform_name,
                    "event_id": f"old{i}",
                }
                for i, age in enumerate(ages_in_days)
            ],
        )
        session.add(
            ActivityDeadLetter(
                failed_at=now - timedelta(days=800), platform="x", event_id="e", row="{}", error=""
            )
        )
        await session.commit()


async def activity_ages(bot) -> list[int]:
    async with bot.app.db.sessions() as session:
        stamps = await session.scalars(select(Activity.ts).order_by(Activity.ts))
        return [(bot.clock() - ts).days for ts in stamps]


async def test_old_activity_is_deleted_in_batches(bot, monkeypatch):
    await add_activity(bot, [900] * 12 + [731, 729, 10, 0])
    batches = []
    delete_batch = retention._delete_batch

    def counted(session, cutoff, limit):
        batches.append(delete_batch(session, cutoff, limit))
        return batches[-1]

    monkeypatch.setattr(retention, "_delete_batch", counted)
    deleted = await retention.purge_old_activity(bot.app.services(), batch=5)
    assert deleted == 13
    assert batches == [5, 5, 3]
    assert await activity_ages(bot) == [729, 10, 0]
    async with bot.app.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ActivityDeadLetter)) == 0


async def test_retention_zero_keeps_everything(bot):
    await add_activity(bot, [5000, 1])
    bot.app.settings = bot.app.settings.model_copy(update={"retention_days": 0})
    assert await retention.purge_old_activity(bot.app.services()) == 0
    assert await activity_ages(bot) == [5000, 1]
