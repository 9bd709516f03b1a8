"""`link`, `link <code>`, `link confirm`, `link cancel`: join one person's accounts on two
platforms (Slack and Matrix, say) into one member, so reports count them once; and
`unlink @user <platform>` for facilitators, to split one off again."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from bot import members, roles
from bot.arguments import Mention, Rest, Word
from bot.commands import Command
from bot.context import Context
from bot.errors import UsageError
from bot.i18n import Message, _, join, n_, verbatim
from bot.models import Identity
from bot.router import Router
from bot.types import UserRef
from handlers.link import service as linking

log = logging.getLogger(__name__)

router = Router()

ONE_OF_EACH = _("Name one member and one platform.")


@asynccontextmanager
async def _session(ctx: Context) -> AsyncIterator[AsyncSession]:
    """A session for linking: a refusal that used a code up still commits that."""
    async with ctx.db() as session:
        try:
            yield session
        except linking.Burned:
            await session.commit()
            raise


@asynccontextmanager
async def _rewiring(ctx: Context) -> AsyncIterator[None]:
    """Around moving accounts between members: buffered activity is written first (it carries
    the ids about to change), and the activity log forgets who it knew once it is done."""
    await ctx.activity.flush()
    yield
    ctx.activity.forget_member()


@router.command(
    "link",
    args=[Rest("code", optional=True)],
    summary="join your Slack and Matrix accounts: `link` gives a code, use it on the other",
    example="link ABCD-2345",
)
async def link(ctx: Context, cmd: Command) -> Message:
    if cmd.values.code is None:
        return await _issue(ctx, cmd)
    code = linking.parse_code(cmd.values.code)
    async with _session(ctx) as session:
        mine, theirs = await linking.claim(
            session, code, ctx.sender.member_id, cmd.sender.platform, ctx.now()
        )
        await session.commit()
    await _warn_owner(ctx, theirs, mine)
    return n_(
        "This will join your {mine} with the {theirs} into one member, with one profile and "
        "their activity combined. Type `link confirm` within {n} minute to do it, or "
        "`link cancel`.",
        "This will join your {mine} with the {theirs} into one member, with one profile and "
        "their activity combined. Type `link confirm` within {n} minutes to do it, or "
        "`link cancel`.",
        linking.MINUTES,
        mine=linking.said_account(mine),
        theirs=linking.said_account(theirs),
    )


@router.command(
    "link confirm",
    summary="join the accounts you named with `link <code>`",
)
async def link_confirm(ctx: Context, cmd: Command) -> Message:
    async with _rewiring(ctx), _session(ctx) as session:
        member = await ctx.sender.load(session)
        survivor = await linking.confirm(session, member, cmd.sender.platform, ctx.now())
        platforms = sorted({u.platform for u in await members.platform_users(session, survivor.id)})
        await session.commit()
    return _(
        "Linked: your accounts ({platforms}) are now one member, {name}. Your profile, "
        "expertise and activity are combined.",
        platforms=", ".join(platforms),
        name=survivor.display_name,
    )


@router.command(
    "link cancel",
    summary="drop a link waiting for `link confirm` (yours, or one made with your code)",
)
async def link_cancel(ctx: Context, cmd: Command) -> Message:
    async with _session(ctx) as session:
        await linking.cancel(session, ctx.sender.member_id, ctx.now())
        await session.commit()
    return _("Cancelled: nothing was linked, and that code no longer works.")


@router.command(
    "unlink",
    args=[Mention(missing=ONE_OF_EACH), Word("platform", missing=ONE_OF_EACH)],
    extra=ONE_OF_EACH,
    summary="undo a link",
    example="unlink @amina slack",
    roles=[roles.FACILITATOR],
)
async def unlink(ctx: Context, cmd: Command) -> Message:
    who, platform = cmd.values.member, cmd.values.platform.lower()
    if platform not in ctx.platforms:
        names = join((verbatim(name) for name in sorted(ctx.platforms)), _(" or "))
        raise UsageError(_("`{platform}` is not a platform here; use {names}.",
                           platform=cmd.values.platform[:30], names=names))  # fmt: skip
    async with _rewiring(ctx), ctx.db() as session:
        member = await members.from_mention(session, ctx.platform, who)
        new = await linking.unlink(session, member, platform, ctx.sender.member_id, ctx.now())
        await session.commit()
    return _(
        "Unlinked: {name}'s {platform} account is now a member of its own, {new}. Roles, "
        "profile and expertise stay with {name}.",
        name=member.display_name,
        platform=platform,
        new=new.display_name,
    )


async def _warn_owner(ctx: Context, owner: Identity, claimer: Identity) -> None:
    """Tell the code's own account who is about to link to it: if it was not them, they
    cancel before the claim is confirmed."""
    platform = ctx.platforms.get(owner.platform)
    if platform is None:
        return
    try:
        await platform.send_dm(
            UserRef(owner.platform, owner.user_id, owner.display_name),
            _(
                "Your link code was just used by the {account}. If that was you, confirm "
                "there. If not, type `link cancel` here now and nothing is linked.",
                account=linking.said_account(claimer),
            ),
        )
    except Exception:  # the claim stands; the claimer still has to confirm
        log.warning("could not tell %s:%s about a claim on their link code",
                    owner.platform, owner.user_id, exc_info=True)  # fmt: skip


async def _issue(ctx: Context, cmd: Command) -> Message:
    async with ctx.db() as session:
        code = await linking.issue_code(
            session, ctx.sender.member_id, cmd.sender.platform, ctx.now()
        )
        await session.commit()
    return n_(
        "Your link code is {code}. On your account on another platform, type `link {code}` "
        "within {n} minute. It works once; keep it to yourself.",
        "Your link code is {code}. On your account on another platform, type `link {code}` "
        "within {n} minutes. It works once; keep it to yourself.",
        linking.MINUTES,
        code=linking.show_code(code),
    )
