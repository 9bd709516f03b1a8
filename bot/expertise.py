"""What members offer and want to learn: their expertise, by topic. Used by profiles,
onboarding, routing and the topics' own commands."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import topics
from bot.context import Services
from bot.models import Expertise, Topic

OFFERS = "offers"
WANTS = "wants"


async def expertise_of(session: AsyncSession, member_id: int) -> dict[str, list[str]]:
    """The topic names a member offers and wants, alphabetically."""
    rows = await session.execute(
        select(Expertise.kind, Topic.name)
        .join(Topic, Topic.id == Expertise.topic_id)
        .where(Expertise.member_id == member_id)
        .order_by(Topic.key)
    )
    found: dict[str, list[str]] = {OFFERS: [], WANTS: []}
    for kind, name in rows:
        found.setdefault(kind, []).append(name)
    return found


async def add_expertise(
    session: AsyncSession, member_id: int, names: list[str], kind: str, now: datetime
) -> tuple[list[str], list[str]]:
    """Add topics to a member's offers or wants (creating topics nobody has declared yet);
    returns (topic names as stored, the ones that are new topics). Flushes, never commits."""
    stored, created = [], []
    for name in names:
        topic, is_new = await topics.ensure(session, name, now)
        if topic.name in stored:
            continue
        stored.append(topic.name)
        if is_new:
            created.append(topic.name)
        if await session.get(Expertise, (member_id, topic.id, kind)) is None:
            session.add(
                Expertise(member_id=member_id, topic_id=topic.id, kind=kind, created_at=now)
            )
    await session.flush()
    return stored, created


_WORDING = {  # kind: (the list, what the member does)
    OFFERS: ("what you can help with", "offer"),
    WANTS: ("what you want to learn", "want to learn"),
}


async def declare(
    session: AsyncSession, member_id: int, names: list[str], kind: str, now: datetime
) -> str:
    """Add topics to a member's offers or wants (`add_expertise`) and say what was
    added and what was there already. Flushes, never commits."""
    before = set((await expertise_of(session, member_id))[kind])
    stored, created = await add_expertise(session, member_id, names, kind, now)
    listed, verb = _WORDING[kind]
    added = [name for name in stored if name not in before]
    already = [name for name in stored if name in before]
    parts = []
    if added:
        new = f" (new topic: {', '.join(created)})" if created else ""
        parts.append(f"Added to {listed}: {', '.join(added)}{new}.")
    if already:
        parts.append(f"You already {verb} {', '.join(already)}.")
    return " ".join(parts)


async def declare_now(ctx: Services, member_id: int, names: list[str], kind: str) -> str:
    """`declare` in a transaction of its own, committed (what `expertise add` and `expertise
    learn` do)."""
    async with ctx.db() as session:
        answer = await declare(session, member_id, names, kind, ctx.now())
        await session.commit()
    return answer
