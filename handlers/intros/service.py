"""Introductions between cities: the rhythm, a round (once across restarts and replicas),
the introduction of each group, the follow-up and the answers.

A round is an `intro_rounds` row unique by its slot: the claim, the groups and their members
are one transaction, so a second replica (or a restart) finds the slot taken. Then each
group is introduced: in one conversation (`Platform.open_group`) when its members all have
an account on one running platform, else by a direct message to each; either way through
the outbox with subject `intro:<group id>`, so it goes once. A group the round could not
introduce (the process stopped) is introduced by the next run of the job.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, cast, exists, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot import expertise, members, outbox, timezones
from bot.context import Services
from bot.errors import CommandError
from bot.i18n import Message, _
from bot.models import (
    Expertise,
    Identity,
    IntroGroup,
    IntroMember,
    IntroOptOut,
    IntroRound,
    IntroSchedule,
    Member,
    Notice,
    Topic,
)
from bot.moments import own_zone
from bot.platform import Platform, Undeliverable
from bot.router import Router
from bot.types import ChannelRef, UserRef
from bot.watch import Watch, post_key
from handlers.intros import meeting, pairing, text

log = logging.getLogger(__name__)

router = Router()

SCHEDULE_ID = 1
DEFAULT_WEEKS = 2
FIRST_WEEKDAY, FIRST_TIME = 0, "09:00"  # a rhythm's first round: the next Monday 09:00
NO_RHYTHM_FOLLOW_UP = timedelta(days=7)
YEAR = timedelta(days=365)
RECOVER_AFTER = timedelta(minutes=5)  # a group not introduced this long after its round
RECOVER_WITHIN = timedelta(days=1)
INTRO, FOLLOW_UP, NO_CITY = "intro", "follow-up", "no-city"


def subject(group_id: int) -> str:
    return f"intro:{group_id}"


# the rhythm -------------------------------------------------------------------------------


async def schedule(session: AsyncSession) -> IntroSchedule | None:
    return await session.get(IntroSchedule, SCHEDULE_ID)


def first_round(now: datetime, zone: str) -> datetime:
    """When a rhythm turned on now has its first round: the next Monday 09:00 in the
    community's zone (today's, if it is Monday before nine)."""
    last = timezones.last_slot(FIRST_WEEKDAY, FIRST_TIME, zone, now)
    return last if last >= now else after_weeks(last, 1, zone)


def after_weeks(slot: datetime, weeks: int, zone: str) -> datetime:
    """The same local weekday and time `weeks` later in `zone` (daylight saving kept)."""
    tz = ZoneInfo(zone)
    local = slot.astimezone(tz)
    later = datetime.combine(local.date() + timedelta(weeks=weeks), local.time(), tz)
    return later.astimezone(slot.tzinfo)


async def set_rhythm(ctx: Services, member_id: int | None, weeks: int | None) -> IntroSchedule:
    """Turn the rhythm on every `weeks` weeks (None: off). The next round stays when the
    rhythm was on already; else it is `first_round`."""
    now = ctx.now()
    async with ctx.db() as session:
        row = await schedule(session)
        if row is None:
            row = IntroSchedule(id=SCHEDULE_ID, active=False, every_weeks=DEFAULT_WEEKS,
                                updated_at=now)  # fmt: skip
            session.add(row)
        if weeks is None:
            row.active, row.next_round_at = False, None
        else:
            if not row.active or row.next_round_at is None:
                row.next_round_at = first_round(now, ctx.settings.timezone)
            row.active, row.every_weeks = True, weeks
        row.updated_by, row.updated_at = member_id, now
        await session.commit()
    return row


async def opt(ctx: Services, member_id: int, taking_part: bool) -> bool:
    """Opt a member in or out; whether that changed anything."""
    async with ctx.db() as session:
        row = await session.get(IntroOptOut, member_id)
        if taking_part == (row is None):
            return False
        if taking_part:
            await session.delete(row)
        else:
            session.add(IntroOptOut(member_id=member_id, opted_out_at=ctx.now()))
        try:
            await session.commit()
        except IntegrityError:  # opted out meanwhile
            return False
    return True


# a round ----------------------------------------------------------------------------------


def _available(now: datetime):
    return or_(
        Member.is_away.is_(False), and_(Member.away_until.is_not(None), Member.away_until <= now)
    )


async def _taking_part(
    session: AsyncSession, now: datetime, running: Sequence[str]
) -> list[Member]:
    """Members a round may introduce: people (not bots, not erased) with an account on a
    running platform, not away and not opted out."""
    return list(
        await session.scalars(
            select(Member)
            .where(
                Member.is_bot.is_(False),
                Member.erased_at.is_(None),
                _available(now),
                ~exists().where(IntroOptOut.member_id == Member.id),
                exists().where(Identity.member_id == Member.id, Identity.platform.in_(running)),
            )
            .order_by(Member.id)
        )
    )


async def _topics(session: AsyncSession, ids: Sequence[int]) -> dict[int, dict[str, set[str]]]:
    found: dict[int, dict[str, set[str]]] = {
        i: {expertise.OFFERS: set(), expertise.WANTS: set()} for i in ids
    }
    if ids:
        rows = await session.execute(
            select(Expertise.member_id, Expertise.kind, Topic.key)
            .join(Topic, Topic.id == Expertise.topic_id)
            .where(Expertise.member_id.in_(ids))
        )
        for member_id, kind, key in rows:
            found[member_id].setdefault(kind, set()).add(key)
    return found


async def _met_within_year(session: AsyncSession, now: datetime) -> list[pairing.Pair]:
    rows = await session.execute(
        select(IntroMember.group_id, IntroMember.member_id)
        .join(IntroGroup, IntroGroup.id == IntroMember.group_id)
        .join(IntroRound, IntroRound.id == IntroGroup.round_id)
        .where(IntroRound.started_at > now - YEAR)
    )
    groups: dict[int, list[int]] = {}
    for group_id, member_id in rows:
        groups.setdefault(group_id, []).append(member_id)
    return [p for group in groups.values() for p in pairing.pairs_in(group)]


def follow_up_at(now: datetime, next_round: datetime | None) -> datetime:
    """Halfway to the next round, or a week on when there is no rhythm."""
    if next_round is None or next_round <= now:
        return now + NO_RHYTHM_FOLLOW_UP
    return now + (next_round - now) / 2


async def run_round(
    ctx: Services, slot: datetime, started_by: int | None = None, scheduled: bool = False
) -> IntroRound | None:
    """Make the round of `slot` once: pair the members taking part, keep the groups, tell
    those without a city why they are left out (once ever), and introduce each group. None
    when the slot was taken already (another replica, or before a restart). `scheduled`:
    the rhythm's round, which moves the rhythm's next round on in the same transaction."""
    now = ctx.now()
    async with ctx.db() as session:
        rhythm = await schedule(session)
        next_round = rhythm.next_round_at if rhythm is not None and rhythm.active else None
        if scheduled:
            if next_round is None or next_round != slot:
                return None
            while next_round <= now:
                next_round = after_weeks(next_round, rhythm.every_weeks, ctx.settings.timezone)
            await session.execute(
                update(IntroSchedule)
                .where(IntroSchedule.id == SCHEDULE_ID, IntroSchedule.next_round_at == slot)
                .values(next_round_at=next_round)
            )
        row = IntroRound(slot=slot, started_at=now, started_by=started_by,
                         follow_up_at=follow_up_at(now, next_round))  # fmt: skip
        session.add(row)
        try:
            await session.flush()
        except IntegrityError:
            await session.rollback()
            return None
        people = await _taking_part(session, now, list(ctx.platforms))
        with_city = [m for m in people if m.city and m.city.strip()]
        topics = await _topics(session, [m.id for m in with_city])
        candidates = [
            pairing.Candidate(m.id, m.city, frozenset(topics[m.id][expertise.OFFERS]),
                              frozenset(topics[m.id][expertise.WANTS]))
            for m in with_city
        ]  # fmt: skip
        seed = int(slot.timestamp())
        grouped = pairing.pair(candidates, await _met_within_year(session, now), seed)
        cities = {m.id: m.city for m in with_city}
        group_ids = []
        for ids in grouped:
            group = IntroGroup(round_id=row.id, created_at=now)
            session.add(group)
            await session.flush()
            session.add_all(
                IntroMember(group_id=group.id, member_id=i, city=cities[i]) for i in ids
            )
            group_ids.append(group.id)
        for member in people:
            if member not in with_city:
                await outbox.dm(ctx, f"introcity:{member.id}", NO_CITY, member.id,
                                text.no_city(), session=session)  # fmt: skip
        await session.commit()
    for group_id in group_ids:
        try:
            await introduce(ctx, group_id)
        except Exception:  # the job introduces it later (`unintroduced`)
            log.exception("introducing group %s failed; will try again", group_id)
    return row


async def groups_in(ctx: Services, round_id: int) -> int:
    """How many groups a round made."""
    async with ctx.db() as session:
        return (
            await session.scalar(
                select(func.count()).select_from(IntroGroup).where(IntroGroup.round_id == round_id)
            )
            or 0
        )


async def _people(
    ctx: Services, session: AsyncSession, group_id: int
) -> tuple[list[text.Person], dict[int, list[UserRef]]]:
    rows = list(
        await session.scalars(
            select(Member)
            .join(IntroMember, IntroMember.member_id == Member.id)
            .where(IntroMember.group_id == group_id)
            .order_by(Member.id)
        )
    )
    people, accounts = [], {}
    for member in rows:
        said = await expertise.expertise_of(session, member.id)
        zone = member.timezone if own_zone(member.timezone) else ctx.settings.timezone
        people.append(text.Person(
            member.id, member.display_name or str(member.id), member.city, member.org,
            member.role_title, zone,
            ctx.languages.of_member(member), tuple(said[expertise.OFFERS]),
            tuple(said[expertise.WANTS]),
        ))  # fmt: skip
        accounts[member.id] = await members.platform_users(session, member.id)
    return people, accounts


def shared_platform(
    platforms: Mapping[str, Platform], accounts: Mapping[int, Sequence[UserRef]]
) -> tuple[str, list[UserRef]] | None:
    """A running platform where every member has an account, and those accounts."""
    for name in sorted(platforms):
        users = [next((a for a in mine if a.platform == name), None) for mine in accounts.values()]
        if users and all(u is not None for u in users):
            return name, [u for u in users if u is not None]
    return None


async def introduce(ctx: Services, group_id: int) -> None:
    """Introduce a group once: a conversation of its own with the introduction, or a direct
    message to each member."""
    async with ctx.db() as session:
        group = await session.get(IntroGroup, group_id)
        round_ = await session.get(IntroRound, group.round_id)
        people, accounts = await _people(ctx, session, group_id)
    start = round_.started_at
    slots = meeting.times([p.zone for p in people], start)
    ask_in = max(1, round((round_.follow_up_at - start) / timedelta(days=1)))
    said = text.introduction(people, slots, ask_in)
    channel = await _open(ctx, group_id, accounts)
    async with ctx.db() as session:
        if channel is not None:
            await outbox.post(ctx, subject(group_id), INTRO, channel, said, session=session)
            await session.execute(
                update(IntroGroup)
                .where(IntroGroup.id == group_id)
                .values(platform=channel.platform, channel_id=channel.id)
            )
        else:
            for person in people:
                await outbox.dm(ctx, subject(group_id), INTRO, person.member_id, said,
                                session=session)  # fmt: skip
        await session.commit()


async def _open(
    ctx: Services, group_id: int, accounts: Mapping[int, Sequence[UserRef]]
) -> ChannelRef | None:
    found = shared_platform(ctx.platforms, accounts)
    if found is None:
        return None
    name, users = found
    try:
        return await ctx.platforms[name].open_group(users, key=f"intro-{group_id}")
    except Undeliverable as exc:
        log.warning("group %s: no conversation on %s (%s); writing to each", group_id, name, exc)
        return None


async def unintroduced(ctx: Services) -> list[int]:
    """Groups of recent rounds whose introduction was never queued (the process stopped
    between the round and its introductions)."""
    now = ctx.now()
    queued = exists().where(
        Notice.subject == literal("intro:") + cast(IntroGroup.id, String),
        Notice.kind == INTRO,
    )
    async with ctx.db() as session:
        return list(
            await session.scalars(
                select(IntroGroup.id)
                .where(
                    IntroGroup.created_at <= now - RECOVER_AFTER,
                    IntroGroup.created_at >= now - RECOVER_WITHIN,
                    ~queued,
                )
                .order_by(IntroGroup.id)
            )
        )


# the follow-up and the answers ------------------------------------------------------------


async def follow_up(ctx: Services, round_id: int) -> bool:
    """Ask each group of a round whether they met, once (whoever asks first)."""
    async with ctx.db() as session:
        done = await session.execute(
            update(IntroRound)
            .where(IntroRound.id == round_id, IntroRound.followed_up_at.is_(None))
            .values(followed_up_at=ctx.now())
        )
        if done.rowcount != 1:
            await session.rollback()
            return False
        groups = list(
            await session.scalars(select(IntroGroup).where(IntroGroup.round_id == round_id))
        )
        for group in groups:
            waiting = list(
                await session.scalars(
                    select(IntroMember.member_id).where(
                        IntroMember.group_id == group.id, IntroMember.met.is_(None)
                    )
                )
            )
            if not waiting:
                continue
            if group.channel_id and group.platform in ctx.platforms:
                channel = ChannelRef(group.platform, group.channel_id)
                await outbox.post(ctx, subject(group.id), FOLLOW_UP, channel, text.follow_up(),
                                  actions=text.follow_up_actions(), session=session)  # fmt: skip
            else:
                for member_id in waiting:
                    await outbox.dm(ctx, subject(group.id), FOLLOW_UP, member_id,
                                    text.follow_up(), actions=text.follow_up_actions(),
                                    session=session)  # fmt: skip
        await session.commit()
    return True


async def due_follow_ups(ctx: Services) -> list[int]:
    async with ctx.db() as session:
        return list(
            await session.scalars(
                select(IntroRound.id)
                .where(IntroRound.follow_up_at <= ctx.now(), IntroRound.followed_up_at.is_(None))
                .order_by(IntroRound.id)
            )
        )


def _follow_ups(session: Session, since: datetime | None) -> list[tuple[str, str]]:
    query = (
        select(IntroGroup.platform, IntroGroup.channel_id, IntroGroup.message_id)
        .join(IntroRound, IntroRound.id == IntroGroup.round_id)
        .where(IntroGroup.message_id.is_not(None), IntroGroup.channel_id.is_not(None))
    )
    if since is not None:
        query = query.where(IntroRound.followed_up_at >= since)
    return [(p, post_key(c, m)) for p, c, m in session.execute(query)]


FOLLOW_UPS = Watch("introductions' follow-ups", _follow_ups)
"""A group's follow-up: a reply yes or no to it, or 👍 / 👎 on it, answers it."""


@router.delivered("intro")
def delivered(session: Session, notice: outbox.Delivered) -> list[tuple[Watch, str]]:
    """A group's follow-up is up: keep its message, and watch it for answers."""
    if notice.kind != FOLLOW_UP or notice.member_id != outbox.CHANNEL or not notice.message_id:
        return []
    session.execute(
        update(IntroGroup)
        .where(IntroGroup.id == int(notice.key))
        .values(message_id=notice.message_id)
    )
    return [(FOLLOW_UPS, post_key(notice.channel_id or "", notice.message_id))]


async def group_of_follow_up(session: AsyncSession, channel: ChannelRef, keys: Sequence[str]):
    """The group whose follow-up is one of the messages `keys` name in `channel`."""
    ids = [k for k in keys if k]
    if not ids:
        return None
    return await session.scalar(
        select(IntroGroup).where(
            IntroGroup.platform == channel.platform,
            IntroGroup.channel_id == channel.id,
            IntroGroup.message_id.in_(ids),
        )
    )


async def answer(ctx: Services, member_id: int, met: bool, group_id: int | None = None) -> Message:
    """Keep a member's answer for a group (their latest introduction when not given)."""
    async with ctx.db() as session:
        query = (
            select(IntroMember)
            .join(IntroGroup, IntroGroup.id == IntroMember.group_id)
            .where(IntroMember.member_id == member_id)
        )
        if group_id is not None:
            query = query.where(IntroMember.group_id == group_id)
        row = await session.scalar(
            query.order_by(IntroGroup.created_at.desc(), IntroGroup.id.desc()).limit(1)
        )
        if row is None:
            raise CommandError(_("You have not been introduced to anyone yet, so there is "
                                 "nothing to answer."))  # fmt: skip
        row.met, row.answered_at = met, ctx.now()
        await session.commit()
    if met:
        return _("🎉 Noted: you met. Thank you for telling me!")
    return _("Noted: not yet. There is still time; the introduction stays where it was.")


async def status_of(ctx: Services, member: Member) -> tuple[IntroSchedule | None, bool]:
    """The rhythm, and whether the member is opted out."""
    async with ctx.db() as session:
        return await schedule(session), await session.get(IntroOptOut, member.id) is not None
