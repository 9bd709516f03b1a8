"""`mydata` sends a member everything Convener holds about them; `forgetme` says what
erasure does, and `forgetme confirm` does it."""

from __future__ import annotations

from bot.commands import Command
from bot.context import Context
from bot.i18n import Message, _, lines, render
from bot.router import Router
from bot.types import OutboundFile
from bot.workbook import XLSX
from handlers.privacy import erase, export

router = Router()

EXPLANATION = lines(
    _("`forgetme` erases what Convener holds about you:"),
    _("• your profile (name, city, organisation, role, timezone, language), expertise, "
      "onboarding answers and roles"),
    _("• the link between your chat accounts and your membership, and your link codes"),
    _("• your notes on expressions of interest in calls, and the profile given with them"),
    _("• the text of your questions and logged messages, the library entries you created (your "
      "solved questions, resources you added) and your answers kept in other entries"),
    _("Kept, with no name attached, so the community's totals stay right: activity counts, "
      "event sign-ups and expressions of interest. Messages you posted stay on the chat "
      "platform itself."),
    _("This cannot be undone (`mydata` sends you a copy first). To go ahead, type "
      "`forgetme confirm`."),
)  # fmt: skip

DONE = _(
    "Done: Convener has erased your data. Only anonymous activity counts remain. "
    "If you write here again, you start as a new member."
)


@router.command(
    "mydata",
    extra=_("Just `mydata`."),
    summary="all Convener holds about you, as a workbook",
    example="mydata",
)
async def mydata(ctx: Context, cmd: Command) -> Message:
    await ctx.activity.flush()  # so the counts include what is still buffered
    language = ctx.languages.of_member(ctx.sender.member)
    data = await ctx.db.read(export.workbook, ctx.sender.member_id, language)
    name = f"convener-my-data-{ctx.now():%Y-%m-%d}.xlsx"
    title = render(_("Your data in Convener"), language)  # the file's title, as Slack shows it
    await ctx.platform.send_file(
        cmd.sender,
        OutboundFile(name, data, title, XLSX),
        _("Everything Convener holds about you, one sheet per kind."),
    )
    return _("I sent you your data as a direct message.")


@router.command(
    "forgetme",
    extra=_("To erase your data, type exactly `forgetme confirm`."),
    summary="what erasing your data does (then `forgetme confirm`)",
    example="forgetme",
)
async def forgetme(ctx: Context, cmd: Command) -> Message:
    return EXPLANATION


@router.command(
    "forgetme confirm",
    extra=_("Just `forgetme confirm`."),
    summary="erase what Convener holds about you (it cannot be undone)",
    example="forgetme confirm",
)
async def forgetme_confirm(ctx: Context, cmd: Command) -> Message:
    await ctx.activity.flush()  # rows still buffered carry the member's id and text
    accounts = await ctx.db.unit(erase.erase, ctx.sender.member_id, ctx.now())
    for user in accounts:  # their next event makes a new member
        ctx.activity.forget_member(user)
    return DONE
