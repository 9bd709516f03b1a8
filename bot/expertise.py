"""What members offer and want to learn: their expertise, by topic. Used by profiles,
onboarding, routing and the topics' own commands."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import topics
from bot.context import Services
from bot.i18n import N_, Message, Text, _, lines
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


_WORDING = {  # kind: (added to the list, there already)
    OFFERS: (N_("Added to what you can help with: {topics}."), N_("You already offer {topics}.")),
    WANTS: (
        N_("Added to what you want to learn: {topics}."),
        N_("You already want to learn {topics}."),
    ),
}


async def declare(
    session: AsyncSession, member_id: int, names: list[str], kind: str, now: datetime
) -> Message:
    """Add topics to a member's offers or wants (`add_expertise`) and say what was
    added and what was there already. Flushes, never commits."""
    before = set((await expertise_of(session, member_id))[kind])
    stored, created = await add_expertise(session, member_id, names, kind, now)
    added_to, there_already = _WORDING[kind]
    added = [name for name in stored if name not in before]
    already = [name for name in stored if name in before]
    parts: list[Message] = []
    if added:
        listed = ", ".join(added)
        if created:
            listed = _("{topics} (new topic: {new})", topics=listed, new=", ".join(created))
        parts.append(Text(added_to, {"topics": listed}))
    if already:
        parts.append(Text(there_already, {"topics": ", ".join(already)}))
    return lines(*parts, sep=" ")


async def declare_now(ctx: Services, member_id: int, names: list[str], kind: str) -> Message:
    """`declare` in a transaction of its own, committed (what `expertise add` and `expertise
    learn` do)."""
    async with ctx.db() as session:
        answer = await declare(session, member_id, names, kind, ctx.now())
        await session.commit()
    return answer
