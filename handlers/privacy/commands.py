"""`mydata` sends a member everything Convener holds about them; `forgetme` says what
erasure does, and `forgetme confirm` does it."""

from __future__ import annotations

from bot.commands import Command
from bot.context import Context
from bot.router import Router
from bot.types import OutboundFile
from bot.workbook import XLSX
from handlers.privacy import erase, export

router = Router()

EXPLANATION = """\
`forgetme` erases what Convener holds about you:
• your profile (name, city, organisation, role, timezone), expertise, onboarding answers and roles
• the link between your chat accounts and your membership, and your link codes
• your notes on expressions of interest in calls, and the profile given with them
• the text of your questions and logged messages, the library entries you created (your \
solved questions, resources you added) and your answers kept in other entries
Kept, with no name attached, so the community's totals stay right: activity counts, event \
sign-ups and expressions of interest. Messages you posted stay on the chat platform itself.
This cannot be undone (`mydata` sends you a copy first). To go ahead, type `forgetme confirm`."""

DONE = (
    "Done: Convener has erased your data. Only anonymous activity counts remain. "
    "If you write here again, you start as a new member."
)


@router.command(
    "mydata",
    extra="Just `mydata`.",
    summary="all Convener holds about you, as a workbook",
    example="mydata",
)
async def mydata(ctx: Context, cmd: Command) -> str:
    await ctx.activity.flush()  # so the counts include what is still buffered
    data = await ctx.db.read(export.workbook, ctx.sender.member_id)
    name = f"convener-my-data-{ctx.now():%Y-%m-%d}.xlsx"
    await ctx.platform.send_file(
        cmd.sender,
        OutboundFile(name, data, "Your data in Convener", XLSX),
        "Everything Convener holds about you, one sheet per kind.",
    )
    return "I sent you your data as a direct message."


@router.command(
    "forgetme",
    extra="To erase your data, type exactly `forgetme confirm`.",
    summary="what erasing your data does (then `forgetme confirm`)",
    example="forgetme",
)
async def forgetme(ctx: Context, cmd: Command) -> str:
    return EXPLANATION


@router.command(
    "forgetme confirm",
    extra="Just `forgetme confirm`.",
    summary="erase what Convener holds about you (it cannot be undone)",
    example="forgetme confirm",
)
async def forgetme_confirm(ctx: Context, cmd: Command) -> str:
    await ctx.activity.flush()  # rows still buffered carry the member's id and text
    accounts = await ctx.db.unit(erase.erase, ctx.sender.member_id, ctx.now())
    for user in accounts:  # their next event makes a new member
        ctx.activity.forget_member(user)
    return DONE
