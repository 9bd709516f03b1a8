"""Forms on Slack, as modals: a `FormView` drawn in Block Kit and opened with `views.open`
(with the trigger of the click or slash command that asked for it, which lives 3 s), and a
`view_submission` read back as the core's values by field. A value that does not fit goes
back at once as `response_action: errors` by block (the modal stays open, nothing is
stored); a valid submission is handed to the core as a `FormSubmitted`, durably, and the
modal closes (`response_action: clear`).

Block ids are the fields' names (`<name>+new` for the box of new values of a field that
takes them); the `callback_id` names the form, `private_metadata` the channel to answer in.
Neither is trusted for permissions: the core checks the member's roles again.

Payloads: https://api.slack.com/reference/interaction-payloads/views (`view_submission`),
https://api.slack.com/surfaces/modals#displaying_errors (`response_action: errors`); the
values of `view.state.values` as slack-sdk models them (`slack_sdk.models.views`
`ViewStateValue`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_bolt.response import BoltResponse

from adapters.slack.events import _Fields, _ident, channel_ref
from adapters.slack.text import ACTION_PREFIX, PLATFORM
from adapters.slack.web import log
from bot.normalise import Malformed
from bot.types import (
    ChannelRef,
    FieldKind,
    FormField,
    FormSubmitted,
    FormView,
    SlashCommand,
    UserRef,
)

CALLBACK_PREFIX = f"{ACTION_PREFIX}form:"
"""The `callback_id` of Convener's modals: this, then the form's name."""
NEW = "+new"
"""The end of the block id of the box for new values (`MULTI_NEW`)."""
ACTION = "value"
FORM_SECONDS = 1.5
"""How long asking the core for a form, or for a submission's errors, may take (Slack waits
3 s for the acknowledgement)."""

# Block Kit's limits (https://api.slack.com/reference/block-kit/composition-objects,
# https://api.slack.com/reference/surfaces/views)
TITLE_CHARS = 24  # a modal's title, submit and close labels
LABEL_CHARS = 2000
OPTION_CHARS = 75
OPTION_VALUE_CHARS = 150
OPTIONS = 100  # options in a select, or in one group
INPUT_CHARS = 3000  # plain_text_input's max_length
METADATA_CHARS = 3000


def _plain(text: str, limit: int) -> dict[str, Any]:
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return {"type": "plain_text", "text": text or "…", "emoji": True}


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": _plain(label, OPTION_CHARS), "value": value[:OPTION_VALUE_CHARS]}


def modal(view: FormView, channel_id: str | None = None) -> dict[str, Any]:
    """The Block Kit modal for `view`; its answer goes to `channel_id` (None: the member's
    direct chat)."""
    metadata = json.dumps({"channel": channel_id}) if channel_id else ""
    return {
        "type": "modal",
        "callback_id": f"{CALLBACK_PREFIX}{view.name}"[:255],
        "title": _plain(view.title, TITLE_CHARS),
        "submit": _plain(view.submit, TITLE_CHARS),
        "private_metadata": metadata if len(metadata) <= METADATA_CHARS else "",
        "blocks": [block for field in view.fields for block in _blocks(field)],
    }


def _input(block_id: str, label: str, hint: str, element: dict, optional: bool) -> dict:
    block = {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label, LABEL_CHARS),
        "optional": optional,
        "element": {**element, "action_id": ACTION},
    }
    if hint:
        block["hint"] = _plain(hint, LABEL_CHARS)
    return block


def _blocks(field: FormField) -> Iterator[dict]:
    """One input block (two for a field that also takes new values; none for a choice
    among nothing)."""
    kind = field.kind
    element: dict[str, Any]
    if kind in (FieldKind.SHORT, FieldKind.LONG):
        element = {"type": "plain_text_input", "multiline": kind is FieldKind.LONG}
        if field.limit:
            element["max_length"] = min(field.limit, INPUT_CHARS)
        if isinstance(field.initial, str):
            element["initial_value"] = field.initial
    elif kind is FieldKind.DATE:
        element = {"type": "datepicker"}
        if isinstance(field.initial, str):
            element["initial_date"] = field.initial
    elif kind is FieldKind.TIME:
        element = {"type": "timepicker"}
        if isinstance(field.initial, str):
            element["initial_time"] = field.initial
    elif kind in (FieldKind.MULTI, FieldKind.MULTI_NEW):
        element = _multi_select(field)
    else:
        element = _select(field)
    if element:
        optional = field.optional or kind is FieldKind.MULTI_NEW
        yield _input(field.name, field.label, field.hint, element, optional)
    if kind is FieldKind.MULTI_NEW:  # beside the choices, or alone when there are none
        typed = {"type": "plain_text_input"}
        label, hint = (field.other, "") if element else (field.label, field.other)
        yield _input(field.name + NEW, label, hint, typed, True)


def _select(field: FormField) -> dict[str, Any]:
    """A `static_select`; a time zone's choices grouped by area, at most `OPTIONS` a group."""
    if not field.choices:
        return {}
    element: dict[str, Any] = {"type": "static_select"}
    options = {value: _option(value, label) for value, label in field.choices}
    initial = options.get(field.initial) if isinstance(field.initial, str) else None
    if field.kind is FieldKind.ZONE and len(options) > OPTIONS:
        element["option_groups"] = _groups(list(options.values()))
    else:  # the one already chosen first, so that it is among those offered
        ordered = [initial] if initial else []
        element["options"] = [*ordered, *(o for o in options.values() if o is not initial)]
        del element["options"][OPTIONS:]
    if initial is not None:
        element["initial_option"] = initial
    return element


def _groups(options: list[dict]) -> list[dict]:
    areas: dict[str, list[dict]] = {}
    for option in options:
        areas.setdefault(option["value"].split("/", 1)[0], []).append(option)
    groups = []
    for area, found in areas.items():
        chunks = [found[i : i + OPTIONS] for i in range(0, len(found), OPTIONS)]
        for n, chunk in enumerate(chunks, 1):
            label = area if len(chunks) == 1 else f"{area} ({n})"
            groups.append({"label": _plain(label, OPTION_CHARS), "options": chunk})
    return groups[:OPTIONS]


def _multi_select(field: FormField) -> dict[str, Any]:
    """A `multi_static_select` of at most `OPTIONS` choices, those already chosen first."""
    chosen = field.initial if isinstance(field.initial, tuple) else ()
    labels = dict(field.choices)
    ordered = [v for v in chosen if v in labels] + [v for v in labels if v not in chosen]
    if not ordered:
        return {}
    options = [_option(value, labels[value]) for value in ordered[:OPTIONS]]
    element: dict[str, Any] = {"type": "multi_static_select", "options": options}
    initial = [option for option in options if option["value"] in chosen]
    if initial:
        element["initial_options"] = initial
    return element


# a submission ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Submission:
    """A `view_submission` of one of Convener's modals, read: the values by field, the
    blocks they came from (where errors go) and where to answer (None: a direct message)."""

    event_id: str
    user: UserRef
    form: str
    values: dict[str, str | tuple[str, ...]]
    blocks: frozenset[str]
    typed: frozenset[str]
    channel_id: str | None

    def event(self, now: datetime) -> FormSubmitted:
        """The core event; without a channel, the member's direct chat, named by their id
        (the adapter finds its own id, `OutboundMixin._with_names`)."""
        if self.channel_id:
            channel = channel_ref(self.channel_id)
        else:
            channel = ChannelRef(PLATFORM, self.user.id, None, is_direct=True)
        return FormSubmitted(self.event_id, self.user, channel, now, form=self.form,
                             values=tuple(self.values.items()))  # fmt: skip

    def by_block(self, errors: dict[str, str]) -> dict[str, str]:
        """The errors by field as Slack shows them, by block: a field's error beside the
        box where new values were typed, if any were, else beside the field."""
        shown = {}
        for name, message in errors.items():
            new = name + NEW
            if new in self.blocks and (new in self.typed or name not in self.blocks):
                shown[new] = message
            elif name in self.blocks:
                shown[name] = message
        return shown


def read_submission(payload: Any) -> Submission | None:
    """A `view_submission` of one of Convener's modals, or None (one warning line when it
    claims to be one but cannot be read). Never raises."""
    try:
        return _submission(payload)
    except Exception as exc:
        log.warning("Slack: dropped a malformed form submission: %s", str(exc)[:200])
        return None


def _submission(payload: Any) -> Submission:
    if not isinstance(payload, dict) or payload.get("type") != "view_submission":
        raise Malformed("not a view_submission payload")
    fields = _Fields()
    view = fields.mapping(payload.get("view"), "view")
    callback = view.get("callback_id")
    if not isinstance(callback, str) or not callback.startswith(CALLBACK_PREFIX):
        raise Malformed("not one of Convener's forms (callback_id)")
    person = payload.get("user")
    if not isinstance(person, dict):
        raise Malformed("user is missing")
    user_id = _ident(person.get("id"), "user.id")
    name = fields.line(person.get("name"), "user.name") or fields.line(
        person.get("username"), "user.username"
    )
    view_id = _ident(view.get("id"), "view.id")
    state = fields.mapping(fields.mapping(view.get("state"), "view.state").get("values"),
                           "view.state.values")  # fmt: skip
    values: dict[str, Any] = {}
    typed: dict[str, str] = {}
    for block_id, actions in state.items():
        if not isinstance(block_id, str) or not isinstance(actions, dict):
            continue
        value = _value(next(iter(actions.values()), None))
        if block_id.endswith(NEW):
            if isinstance(value, str) and value.strip():
                typed[block_id.removesuffix(NEW)] = value
        elif value is not None:
            values[block_id] = value
    for field, value in typed.items():
        chosen = values.get(field)
        values[field] = (*(chosen if isinstance(chosen, tuple) else ()), value)
    submission = Submission(
        f"form:{view_id}",
        UserRef(PLATFORM, user_id, name),
        callback.removeprefix(CALLBACK_PREFIX),
        values,
        frozenset(k for k in state if isinstance(k, str)),
        frozenset(field + NEW for field in typed),
        _channel(view.get("private_metadata")),
    )
    fields.warn("form submission", submission.event_id)
    return submission


def _value(element: Any) -> str | tuple[str, ...] | None:
    """What one element holds: text, a choice, some choices, a date or a time."""
    if not isinstance(element, dict):
        return None
    kind = element.get("type")
    if kind == "plain_text_input":
        found = element.get("value")
    elif kind == "static_select":
        option = element.get("selected_option")
        found = option.get("value") if isinstance(option, dict) else None
    elif kind == "multi_static_select":
        options = element.get("selected_options")
        chosen = options if isinstance(options, list) else []
        return tuple(
            o["value"] for o in chosen if isinstance(o, dict) and isinstance(o.get("value"), str)
        )
    elif kind == "datepicker":
        found = element.get("selected_date")
    elif kind == "timepicker":
        found = element.get("selected_time")
    else:
        return None
    return found if isinstance(found, str) else None


def _channel(metadata: Any) -> str | None:
    if not isinstance(metadata, str) or not metadata:
        return None
    try:
        channel = json.loads(metadata).get("channel")
    except (ValueError, AttributeError):
        return None
    return channel if isinstance(channel, str) and channel.isalnum() else None


# the adapter's part ------------------------------------------------------------------------


class FormsMixin:
    """Opening modals and reading their submissions: a mixin of `SlackAdapter`."""

    async def _open_form(self, command: SlashCommand, trigger_id: Any) -> bool:
        """Open, at once, the modal a command (typed, or a button's) stands for: `form
        profile`, or `ask` with no question. True once it is open; False when the command
        opens none, or the modal could not be opened in time (the command then runs as
        typed). Its answer goes where the command was typed (a button on the Home tab,
        whose channel is the presser's id: their direct chat)."""
        intake = self._intake
        if intake is None or not isinstance(trigger_id, str) or not trigger_id:
            return False
        user, channel = command.user, command.channel
        answer_in = None if channel.id == user.id else channel.id
        try:
            async with asyncio.timeout(FORM_SECONDS):
                view = await intake.open_form(user, command.text)
                if view is None:
                    return False
                await self.client.views_open(trigger_id=trigger_id, view=modal(view, answer_in))
        except Exception as exc:
            log.warning("Slack: could not open the form for %r (%s: %s); it runs as typed",
                        command.text[:50], type(exc).__name__, str(exc)[:200])  # fmt: skip
            return False
        return True

    async def _on_view(self, ack: AsyncAck, body: dict[str, Any]) -> BoltResponse | None:
        """A submitted form: a value that does not fit goes back beside its field (nothing
        stored); a valid one is handed to the core like a command, and the modal closes
        once it is stored. An unreadable one closes the modal, after one warning."""
        found = read_submission(body)
        if found is None:
            await ack()
            return None
        try:
            async with asyncio.timeout(FORM_SECONDS):
                errors = await self._intake.check_form(found.user, found.form, found.values)
        except Exception as exc:  # the core checks again when it handles the submission
            log.warning("Slack: could not check form %r (%s); handing it over",
                        found.form[:50], type(exc).__name__)  # fmt: skip
            errors = {}
        shown = found.by_block(errors)
        if shown:
            await ack(response_action="errors", errors=shown)
            return None
        refused = await self._deliver(found.event(self.clock()))
        if refused is not None:
            return refused
        await ack(response_action="clear")
        return None
