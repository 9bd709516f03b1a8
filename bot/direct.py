"""Sending a direct message to a member: a member may have an account on each platform
(`link`), so the account is chosen among the platforms running, the preferred one first (the
platform where the thing being told about happened)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot import members
from bot.context import Services
from bot.platform import Platform
from bot.types import Action, UserRef


def reachable(
    platforms: Mapping[str, Platform], accounts: Sequence[UserRef], prefer: str | None
) -> UserRef | None:
    """The account to write to: one on a running platform, `prefer` first."""
    running = [a for a in accounts if a.platform in platforms]
    running.sort(key=lambda a: a.platform != prefer)
    return running[0] if running else None


async def account_of(ctx: Services, member_id: int, prefer: str | None = None) -> UserRef | None:
    """The member's account to write to, or None when none is on a running platform."""
    async with ctx.db() as session:
        accounts = await members.platform_users(session, member_id)
    return reachable(ctx.platforms, accounts, prefer)


async def dm_member(
    ctx: Services,
    member_id: int,
    text: str,
    prefer: str | None = None,
    actions: Sequence[Action] = (),
) -> bool:
    """Write to the member directly; False when they have no account on a running platform.
    A platform's failure to send is raised."""
    user = await account_of(ctx, member_id, prefer)
    if user is None:
        return False
    await ctx.platforms[user.platform].send_dm(user, text, actions=actions)
    return True
