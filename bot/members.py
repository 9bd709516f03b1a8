"""The one way to resolve a member: from a platform user, a mention, or a channel."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot import i18n
from bot.db import upsert
from bot.errors import CommandError, UsageError
from bot.i18n import Message, Text, _
from bot.models import Channel, Identity, Member
from bot.platform import Platform
from bot.textkey import NAME_KEY_LENGTH, fold
from bot.types import ChannelRef, UserRef

_members, _identities = Member.__table__, Identity.__table__


def _find(user: UserRef):
    return (
        select(Member)
        .join(Identity, Identity.member_id == Member.id)
        .where(Identity.platform == user.platform, Identity.user_id == user.id)
    )


async def find(session: AsyncSession, user: UserRef) -> Member | None:
    """The member behind a platform user, or None if Convener has never seen them."""
    return await session.scalar(_find(user))


async def resolve(session: AsyncSession, user: UserRef, now: datetime | None = None) -> Member:
    """The member behind a platform user, created on first sight. Flushes, never commits."""
    member = await find(session, user)
    if member is not None:
        if user.name and member.display_name in ("", user.id) and user.name != user.id:
            member.display_name = user.name[:200]
        return member
    return (await session.run_sync(create, user, now))[0]


def create(session: Session, user: UserRef, now: datetime | None = None) -> tuple[Member, bool]:
    """A member for a platform user Convener has not seen: (member, True), or (the member
    someone else created meanwhile, False). Flushes, never commits. Synchronous, for units of
    work; from async code, `await session.run_sync(create, user, now)`."""
    now = now or datetime.now(UTC)
    member = Member(display_name=(user.name or user.id)[:200], is_bot=user.is_bot,
                    created_at=now, language=i18n.code(user.locale or ""))  # fmt: skip
    session.add(member)
    session.flush()
    identity = session.scalar(
        upsert(session, Identity)
        .values(
            member_id=member.id,
            platform=user.platform,
            user_id=user.id,
            display_name=user.name,
            name_key=fold(user.name, NAME_KEY_LENGTH),
        )
        .on_conflict_do_nothing(index_elements=["platform", "user_id"])
        .returning(Identity.id)
    )
    if identity is None:  # someone else created them meanwhile: theirs stands
        session.delete(member)
        session.flush()
        found = session.scalar(_find(user))
        if found is None:
            raise RuntimeError(f"the identity {user.platform}:{user.id} was taken and then removed")
        return found, False
    return member, True


async def resolve_channel(session: AsyncSession, channel: ChannelRef) -> Channel:
    """The stored channel for a platform channel, created on first sight."""
    row = await session.scalar(
        select(Channel).where(
            Channel.platform == channel.platform, Channel.channel_id == channel.id
        )
    )
    if row is not None:
        if channel.name and row.name != channel.name:
            row.name = channel.name[:200]
        return row
    row = Channel(
        platform=channel.platform,
        channel_id=channel.id,
        name=(channel.name or channel.id)[:200],
        is_direct=channel.is_direct,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return await resolve_channel(session, channel)
    return row


async def from_mention(session: AsyncSession, platform: Platform, text: str) -> Member:
    """The member a person means by `@someone` (in the platform's own mention syntax, or a
    display name seen before). Only members Convener has seen: anyone else is a CommandError
    with a short explanation, and nothing is created."""
    token = text.strip()
    unknown = CommandError(
        _("I don't know anyone called {name}.", name=token[:40])
        if token
        else _("I don't know anyone called (nobody).")
    )
    user = platform.user_from_mention(token) if token else None
    if user is not None:
        member = await find(session, user)
        if member is None:
            raise unknown
        return member
    name = token.lstrip("@").strip()
    key = fold(name, NAME_KEY_LENGTH)
    if key:
        # user ids are ASCII on every platform; display names are compared by their keys
        candidates = (
            await session.scalars(
                select(Member)
                .join(Identity, Identity.member_id == Member.id)
                .where(
                    Identity.platform == platform.name,
                    (func.lower(Identity.user_id) == name.lower())
                    | (Identity.name_key == key)
                    | (Member.name_key == key),
                )
                .limit(2)
            )
        ).all()
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            raise CommandError(
                _("More than one member is called {name}; mention them.", name=token[:40])
            )
    raise unknown


async def platform_users(session: AsyncSession, member_id: int) -> list[UserRef]:
    """Every platform account of a member, to reach them wherever they are."""
    rows = await session.scalars(select(Identity).where(Identity.member_id == member_id))
    return [UserRef(i.platform, i.user_id, i.display_name) for i in rows]


async def resolve_many(
    session: AsyncSession, users: Iterable[UserRef], now: datetime
) -> dict[tuple[str, str], int]:
    """Member ids for many platform users at once, creating the unknown ones in bulk (the
    activity log's path: one round trip per batch instead of one per first sight). Flushes,
    never commits.

    Someone else (a claim, another replica) may create some of them meanwhile: their
    identities are inserted with ON CONFLICT DO NOTHING, the members made for the ones taken
    are removed again, and those are read back: theirs stand, as in `create`."""
    wanted = {(u.platform, u.id): u for u in users}
    found = await _member_ids(session, wanted)
    missing = [u for key, u in wanted.items() if key not in found]
    if not missing:
        return found
    ids = (
        await session.scalars(
            insert(_members).returning(_members.c.id, sort_by_parameter_order=True),
            [
                {
                    "display_name": (u.name or u.id)[:200],
                    "name_key": fold((u.name or u.id)[:200], NAME_KEY_LENGTH),
                    "is_bot": u.is_bot,
                    "created_at": now,
                    "language": i18n.code(u.locale or ""),
                }
                for u in missing
            ],
        )
    ).all()
    identities = _identities.c
    rows = await session.execute(
        upsert(session, _identities)
        .on_conflict_do_nothing(index_elements=[identities.platform, identities.user_id])
        .returning(identities.platform, identities.user_id, identities.member_id),
        [
            {
                "member_id": member_id,
                "platform": u.platform,
                "user_id": u.id,
                "display_name": u.name,
                "name_key": fold(u.name, NAME_KEY_LENGTH),
            }
            for member_id, u in zip(ids, missing, strict=True)
        ],
    )
    found.update({(platform, user_id): member_id for platform, user_id, member_id in rows})
    taken = {
        (u.platform, u.id): (member_id, u)
        for member_id, u in zip(ids, missing, strict=True)
        if (u.platform, u.id) not in found
    }
    if taken:  # created meanwhile by someone else: drop ours, take theirs
        await session.execute(
            delete(_members).where(_members.c.id.in_([m for m, _ in taken.values()]))
        )
        found.update(await _member_ids(session, {key: u for key, (_, u) in taken.items()}))
        if any(key not in found for key in taken):
            raise RuntimeError("an identity was taken and then removed while being created")
    return found


async def _member_ids(
    session: AsyncSession, wanted: dict[tuple[str, str], UserRef]
) -> dict[tuple[str, str], int]:
    return await session.run_sync(member_ids, wanted)


def member_ids(session: Session, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The member ids of the (platform, user id) accounts Convener knows, in a few queries.
    Synchronous, for units of work."""
    found: dict[tuple[str, str], int] = {}
    by_platform: dict[str, list[str]] = {}
    for platform, user_id in wanted:
        by_platform.setdefault(platform, []).append(user_id)
    for platform, ids in by_platform.items():
        for start in range(0, len(ids), 500):
            rows = session.execute(
                select(Identity.user_id, Identity.member_id).where(
                    Identity.platform == platform, Identity.user_id.in_(ids[start : start + 500])
                )
            )
            found.update({(platform, user_id): member_id for user_id, member_id in rows})
    return found


# Free-text profile fields, set by `profile city|org|role` and by onboarding.

CLEAR = "-"


@dataclass(frozen=True, slots=True)
class TextField:
    attribute: str
    label: str
    limit: int
    ask: Message
    too_long: Message  # with {most}


TEXT_FIELDS = {
    "city": TextField("city", "city", 80, _("What is your city?"),
                      _("That is too long for a city (at most {most} characters).")),
    "org": TextField("org", "organisation", 120, _("What is your organisation?"),
                     _("That is too long for an organisation (at most {most} characters).")),
    "role": TextField("role_title", "role", 120, _("What is your role?"),
                      _("That is too long for a role (at most {most} characters).")),
}  # fmt: skip


def set_text_field(member: Member, field: str, value: str) -> str | None:
    """Set (or, with `-`, clear) a free-text profile field; returns the stored value. Raises
    UsageError for an empty or too long value."""
    spec = TEXT_FIELDS[field]
    value = " ".join(value.split())
    if not value:
        raise UsageError(spec.ask)
    if value == CLEAR:
        setattr(member, spec.attribute, None)
        return None
    if len(value) > spec.limit:
        raise UsageError(Text(spec.too_long.msgid, {"most": spec.limit}))
    setattr(member, spec.attribute, value)
    return value
