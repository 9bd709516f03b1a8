"""`calendar`: a member's private address of a calendar feed (the events they said yes or
maybe to, the deadlines of calls they are interested in) to subscribe to in Outlook, Google
or Apple Calendar; `calendar reset`: a new address, the old one stops working.

Only a fingerprint of the address is kept, so `calendar` gives it once; asked again, it says
a feed exists and that `calendar reset` gives a new address."""

from __future__ import annotations

from bot.commands import Command
from bot.context import Context
from bot.errors import CommandError
from bot.i18n import Day, Message, _, lines
from bot.router import Router
from handlers.calendar import service

router = Router()


def _address_needed(ctx: Context) -> str:
    if not ctx.settings.public_url:
        raise CommandError(
            _("Calendar feeds are not set up here: the coordinator needs to set "
              "`CONVENER_PUBLIC_URL` to the address people reach Convener at.")
        )  # fmt: skip
    return ctx.settings.public_url


def _given(url: str) -> Message:
    return lines(
        _("📅 Your private calendar feed: {url}", url=url),
        _("Subscribe to it in your calendar (Outlook: Add calendar › From Internet; Google: "
          "Other calendars › From URL). It lists the events you said yes or maybe to and the "
          "deadlines of calls you are interested in."),
        _("Keep it to yourself: anyone with the address sees your calendar. "
          "`calendar reset` gives you a new one and stops this one."),
    )  # fmt: skip


@router.command(
    "calendar",
    extra=_("Just `calendar`, or `calendar reset` for a new address."),
    summary="your private calendar feed of events and call deadlines",
    example="calendar",
)
async def calendar(ctx: Context, cmd: Command) -> Message:
    url = _address_needed(ctx)
    async with ctx.db() as session:
        token = await service.issue(session, ctx.sender.member_id, ctx.now(), replace=False)
        made = None if token else await service.since(session, ctx.sender.member_id)
        await session.commit()
    if token is not None:
        return _given(service.address(url, token))
    return _(
        "You have a calendar feed since {day}. I keep only a fingerprint of its address, so "
        "I can't show it again; `calendar reset` gives you a new address (the old one stops "
        "working).", day=Day(made.date(), "dd MMM y") if made else "?",
    )  # fmt: skip


@router.command(
    "calendar reset",
    summary="a new address for your calendar feed; the old one stops working",
    example="calendar reset",
)
async def reset(ctx: Context, cmd: Command) -> Message:
    url = _address_needed(ctx)
    async with ctx.db() as session:
        token = await service.issue(session, ctx.sender.member_id, ctx.now(), replace=True)
        await session.commit()
    assert token is not None
    return lines(_("The old address of your calendar feed no longer works."),
                 _given(service.address(url, token)))  # fmt: skip
