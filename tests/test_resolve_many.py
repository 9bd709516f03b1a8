"""The activity log's bulk member resolution when some of a batch's members were created
meanwhile (by a claim, or another replica): theirs stand, the rest are created in bulk, and
no member is left without an identity."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from bot import members
from bot.models import Identity, Member
from bot.types import UserRef

NOW = datetime(2026, 3, 2, tzinfo=UTC)


async def _counts(session) -> tuple[int, int]:
    return (
        await session.scalar(select(func.count()).select_from(Member)),
        await session.scalar(select(func.count()).select_from(Identity)),
    )


async def _check(bot, stale_read: bool, monkeypatch) -> None:
    users = [UserRef(bot.platform_name, f"U0BULK{n}", f"Bulk {n}") for n in range(5)]
    async with bot.app.db.sessions() as session:
        before = await _counts(session)
        early = [(await session.run_sync(members.create, u, NOW))[0].id for u in users[:2]]
        await session.commit()
    if stale_read:  # as if the batch had looked before the claim created the first two
        real = members._member_ids
        calls = []

        async def first_sees_nobody(session, wanted):
            calls.append(wanted)
            return {} if len(calls) == 1 else await real(session, wanted)

        monkeypatch.setattr(members, "_member_ids", first_sees_nobody)
    async with bot.app.db.sessions() as session:
        ids = await members.resolve_many(session, users, NOW)
        await session.commit()
    async with bot.app.db.sessions() as session:
        assert [ids[(u.platform, u.id)] for u in users[:2]] == early
        assert len(set(ids.values())) == 5
        for user in users:
            found = await members.find(session, user)
            assert found is not None and found.id == ids[(user.platform, user.id)]
            assert found.display_name == user.name
        assert await _counts(session) == (before[0] + 5, before[1] + 5)  # no orphans


async def test_resolve_many_keeps_members_created_before(bot, monkeypatch):
    await _check(bot, stale_read=False, monkeypatch=monkeypatch)


async def test_resolve_many_keeps_members_created_meanwhile(bot, monkeypatch):
    await _check(bot, stale_read=True, monkeypatch=monkeypatch)
