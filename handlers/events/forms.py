"""The `event add` form: the day, time, time zone, title and topics the typed command takes
in one line; a moment already past is marked on the date."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot import forms
from bot.arguments import Rest, TopicNames, Zone
from bot.errors import CommandError
from bot.forms import Field, FieldError, Form, Lookup
from bot.i18n import _
from bot.router import Router
from bot.settings import Settings
from bot.types import FieldKind
from handlers.events import service

router = Router()


async def _prefill(lookup: Lookup) -> dict[str, Any]:
    return {"zone": lookup.settings.timezone}


def _check(values: Mapping[str, Any], now: datetime, settings: Settings) -> None:
    zone = values.get("zone") or settings.timezone
    try:
        service.new_event(values["date"], values["time"], zone, values["title"], [], now)
    except CommandError as exc:
        raise FieldError("date", exc.message) from None


router.form(Form(
    name="event add",
    title=_("Announce an event"),
    submit=_("Announce"),
    fields=(
        Field(name="title", kind=FieldKind.SHORT, label=_("Title"), command="event add",
              argument=Rest("title"), limit=service.MAX_TITLE,
              hint=_("For example: Deep dive: property tax")),
        Field(name="date", kind=FieldKind.DATE, label=_("Day"), command="event add"),
        Field(name="time", kind=FieldKind.TIME, label=_("Time"), command="event add"),
        Field(name="zone", kind=FieldKind.ZONE, label=_("Time zone"), command="event add",
              argument=Zone(), optional=True),
        Field(name="topics", kind=FieldKind.MULTI, label=_("Topics"), command="event add",
              argument=TopicNames(), optional=True, options=forms.topic_choices),
    ),
    prefill=_prefill,
    check=_check,
))  # fmt: skip
