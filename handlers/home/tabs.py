"""Pages members opened on their platform (`home_tabs`): kept when opened, found when stale,
marked when published.

A page is stale while its `version` (bumped by features in the transaction of a change,
`bot.home.changed`) is ahead of the version last published. Whoever publishes records the
version it read before building, so a change made meanwhile leaves the page stale and it is
published again: many changes make one publish, and none is lost to a race, a restart or
another replica."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.orm import Session, aliased

from bot import watch
from bot.db import Database, upsert
from bot.models import HomeTab, Identity, Member
from bot.types import UserRef

RETRY = timedelta(minutes=1)


def _opened(session: Session, since: datetime | None) -> list[tuple[str, str]]:
    """Every account of the members who opened their page (opened at or after `since`)."""
    account = aliased(Identity)
    query = (
        select(account.platform, account.user_id)
        .select_from(HomeTab)
        .join(Identity, Identity.id == HomeTab.identity_id)
        .join(account, account.member_id == Identity.member_id)
    )
    if since is not None:
        query = query.where(HomeTab.opened_at >= since)
    return [(platform, user_id) for platform, user_id in session.execute(query)]


OPENED = watch.Watch("opened homes", _opened, keys=watch.sender)
"""Members who opened their page: a command of theirs may change it."""


@dataclass(frozen=True, slots=True)
class Tab:
    identity_id: int
    user: UserRef
    member_id: int
    timezone: str | None
    version: int


async def opened(db: Database, user: UserRef, now: datetime) -> Tab | None:
    """Keep that `user` opened their page; the page as it stands (None: no such account)."""
    async with db() as session:
        identity_id = await session.scalar(
            select(Identity.id).where(
                Identity.platform == user.platform, Identity.user_id == user.id
            )
        )
        if identity_id is None:
            return None
        await session.execute(
            upsert(session, HomeTab)
            .values(identity_id=identity_id, opened_at=now)
            .on_conflict_do_nothing()
        )
        await session.commit()
    found = await _tabs(db, HomeTab.identity_id == identity_id, limit=1)
    return found[0] if found else None


async def stale(db: Database, platforms: list[str], now: datetime, limit: int) -> list[Tab]:
    """Stale pages on these platforms, longest unpublished first, at most `limit`."""
    return await _tabs(
        db,
        HomeTab.version > HomeTab.published_version,
        or_(HomeTab.retry_at.is_(None), HomeTab.retry_at <= now),
        Identity.platform.in_(platforms),
        limit=limit,
    )


async def _tabs(db: Database, *where, limit: int) -> list[Tab]:
    query = (
        select(HomeTab.identity_id, Identity.platform, Identity.user_id, Identity.member_id,
               Member.timezone, HomeTab.version)
        .join(Identity, Identity.id == HomeTab.identity_id)
        .join(Member, Member.id == Identity.member_id)
        .where(*where)
        .order_by(HomeTab.published_at.is_not(None), HomeTab.published_at, HomeTab.identity_id)
        .limit(limit)
    )  # fmt: skip
    async with db() as session:
        rows = (await session.execute(query)).all()
    return [
        Tab(identity_id, UserRef(platform, user_id), member_id, zone, version)
        for identity_id, platform, user_id, member_id, zone, version in rows
    ]


async def published(db: Database, tab: Tab, now: datetime) -> None:
    """The page shows `tab.version` now (a later version stays stale)."""
    async with db() as session:
        await session.execute(
            update(HomeTab)
            .where(HomeTab.identity_id == tab.identity_id)
            .values(
                published_version=case(
                    (HomeTab.published_version < tab.version, tab.version),
                    else_=HomeTab.published_version,
                ),
                published_at=now,
                retry_at=None,
            )
        )
        await session.commit()


async def failed(db: Database, tab: Tab, now: datetime) -> None:
    """Publishing failed: stale still, tried again after `RETRY`."""
    async with db() as session:
        await session.execute(
            update(HomeTab)
            .where(HomeTab.identity_id == tab.identity_id)
            .values(version=HomeTab.version + 1, retry_at=now + RETRY)
        )
        await session.commit()


async def forget(db: Database, tab: Tab) -> None:
    """The account can no longer be shown a page (it is gone from the platform)."""
    async with db() as session:
        await session.execute(delete(HomeTab).where(HomeTab.identity_id == tab.identity_id))
        await session.commit()
