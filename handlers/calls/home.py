"""The calls feature's section of a member's home: open calls, each with the member's own
note and the button to express (or withdraw) interest."""

from __future__ import annotations

from bot.commands import excerpt
from bot.context import Services
from bot.home import Viewer
from bot.i18n import Message, _, lines
from bot.models import Call
from bot.router import Router
from bot.types import Action, Item, Section
from handlers.calls import service

router = Router()

SHOWN = 5
NOTE = 200


@router.home("calls", order=40)
async def open_calls(ctx: Services, viewer: Viewer) -> Section:
    zone = ctx.settings.timezone
    async with ctx.db() as session:
        rows = await service.open_calls(session, ctx.now())
        notes = await service.notes_of(session, viewer.member_id)
    items = [
        Item(_shown(call, notes.get(call.id), zone), _buttons(call, call.id in notes))
        for call, _count in rows[:SHOWN]
    ]
    if len(rows) > SHOWN:
        items.append(Item(_("… and more: `calls` lists them all.")))
    return Section(_("Open calls"), tuple(items), empty=_("No calls are open just now."))


def _shown(call: Call, note: str | None, zone: str) -> Message:
    if note is None:
        yours = _("You haven't expressed interest yet.")
    elif note:
        yours = _("Your note: {note}", note=excerpt(note, NOTE))
    else:
        yours = _("You're interested (no note yet: `interest {id} <a short note>`).", id=call.id)
    return lines(
        _("**#{id} {title}**", id=call.id, title=call.title),
        _("Open until {deadline}.", deadline=service.deadline(call, zone)),
        yours,
    )


def _buttons(call: Call, interested: bool) -> tuple[Action, ...]:
    if interested:
        return (Action(_("Withdraw"), f"interest withdraw {call.id}"),)
    return (Action(_("Express interest"), f"interest {call.id}"),)
