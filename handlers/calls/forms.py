"""Forms for calls: `call add` (its closing day, title and topics) and `interest` (one of
the open calls, and a note)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot import forms
from bot.arguments import Rest, TopicNames
from bot.errors import CommandError
from bot.forms import Field, FieldError, Form, Lookup
from bot.i18n import Message, _
from bot.router import Router
from bot.settings import Settings
from bot.types import FieldKind
from handlers.calls import service

router = Router()


def _check(values: Mapping[str, Any], now: datetime, settings: Settings) -> None:
    try:
        service.open_until(values["date"], settings.timezone, now)
    except CommandError as exc:
        raise FieldError("date", exc.message) from None


router.form(Form(
    name="call add",
    title=_("Announce a call"),
    submit=_("Announce"),
    fields=(
        Field(name="title", kind=FieldKind.SHORT, label=_("Title"), command="call add",
              argument=Rest("title"), limit=service.MAX_TITLE,
              hint=_("For example: Peer review panel on budget transparency")),
        Field(name="date", kind=FieldKind.DATE, label=_("Open until"), command="call add",
              hint=_("The call closes at the end of this day.")),
        Field(name="topics", kind=FieldKind.MULTI, label=_("Topics"), command="call add",
              argument=TopicNames(), optional=True, options=forms.topic_choices),
    ),
    check=_check,
))  # fmt: skip


async def _open_calls(lookup: Lookup) -> list[tuple[str, Message]]:
    rows = await service.open_calls(lookup.session, lookup.now)
    return [(str(call.id), _("#{id} {title}", id=call.id, title=call.title)) for call, _n in rows]


router.form(Form(
    name="interest",
    title=_("Express interest"),
    submit=_("Send"),
    fields=(
        Field(name="call", kind=FieldKind.SELECT, label=_("Call"), command="interest",
              to="id", options=_open_calls),
        Field(name="note", kind=FieldKind.LONG, label=_("Why you are interested"),
              command="interest", optional=True, limit=service.MAX_NOTE,
              hint=_("Your city, organisation and role from your profile go with it.")),
    ),
))  # fmt: skip
