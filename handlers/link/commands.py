"""`link` and `link <code>`: join one person's accounts (Slack and Matrix, or two accounts on
one platform) into one member, so reports count them once."""

from __future__ import annotations

from bot import members
from bot.commands import Command
from bot.context import Context
from bot.router import Router
from handlers.link import service as linking

router = Router()


@router.command(
    "link",
    usage="link [<code>]",
    summary="join your Slack and Matrix accounts: `link` gives a code, use it on the other",
    example="link ABCD-2345",
)
async def link(ctx: Context, cmd: Command) -> str:
    if not cmd.args.strip():
        return await _issue(ctx, cmd)
    code = linking.parse_code(cmd.args)
    if ctx.activity is not None:
        await ctx.activity.flush()  # rows still buffered carry the ids about to be merged
    async with ctx.db() as session:
        member = await ctx.sender.load(session)
        survivor = await linking.redeem(session, code, member, ctx.now())
        platforms = sorted({u.platform for u in await members.platform_users(session, survivor.id)})
        await session.commit()
    if ctx.activity is not None:
        ctx.activity.forget_member()
    return (
        f"Linked: your accounts ({', '.join(platforms)}) are now one member, "
        f"{survivor.display_name}. Your profile, expertise and activity are combined."
    )


async def _issue(ctx: Context, cmd: Command) -> str:
    async with ctx.db() as session:
        code = await linking.issue_code(session, cmd.member_id, cmd.sender.platform, ctx.now())
        await session.commit()
    minutes = int(linking.CODE_TTL.total_seconds() // 60)
    return (
        f"Your link code is {linking.show_code(code)}. On your other account, type "
        f"`link {linking.show_code(code)}` within {minutes} minutes. It works once; "
        "keep it to yourself."
    )
