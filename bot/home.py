"""A member's home: what the `home` command writes and Slack's Home tab shows. Each feature
declares its own section (`Router.home`); the home feature collects them for a `Viewer`.

A page a member opened on their platform is kept up to date: a feature that changes what a
member's home shows marks it stale in the transaction of the change (`changed`,
`changed_for_everyone`), and the home feature republishes stale pages, paced. Only pages that
were opened are marked; a mark costs one statement and never runs for an ordinary event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import SelectBase

from bot.models import HomeTab, Identity
from bot.types import Section, UserRef

if TYPE_CHECKING:
    from bot.context import Services


@dataclass(frozen=True, slots=True)
class Viewer:
    """Whom a home is built for: their member, the roles they hold (checked as for commands,
    `bot.roles.permits`), the account that reads it and their timezone."""

    member_id: int
    roles: frozenset[str]
    user: UserRef
    timezone: str | None = None


HomeFunc = Callable[["Services", Viewer], Awaitable[Section | None]]
"""`section(ctx, viewer)`: a feature's section of the viewer's home; None shows nothing."""


@dataclass(frozen=True, slots=True)
class HomePart:
    """A section a feature declared: shown, in `order`, to viewers holding `roles`."""

    name: str
    func: HomeFunc
    order: int
    roles: frozenset[str] = frozenset()


async def changed(session: AsyncSession, members: Iterable[int] | SelectBase) -> None:
    """Mark these members' opened homes stale (member ids, or a query giving them), in the
    caller's transaction, which commits."""
    if not isinstance(members, SelectBase):
        members = list(members)
        if not members:
            return
    accounts = select(Identity.id).where(Identity.member_id.in_(members))
    await session.execute(
        update(HomeTab)
        .where(HomeTab.identity_id.in_(accounts))
        .values(version=HomeTab.version + 1)
        .execution_options(synchronize_session=False)
    )


async def changed_for_everyone(session: AsyncSession) -> None:
    """Mark every opened home stale (something everyone sees changed: a new event, a call),
    in the caller's transaction."""
    await session.execute(
        update(HomeTab)
        .values(version=HomeTab.version + 1)
        .execution_options(synchronize_session=False)
    )
