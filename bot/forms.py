"""Forms: a feature declares one beside its commands (`Router.form`), each field bound to an
argument of a command the form runs and parsed by that argument's own parser
(`bot.arguments`), so that filling in a form is typing those commands.

A platform that draws forms (Slack's modals) asks `Forms.open` for one, in the member's
language and prefilled; has a submission checked at once (`Forms.check`: pure, an error per
field, nothing stored); and hands a valid one to the pipeline as a `FormSubmitted` event,
which `submit` turns into the commands it stands for, each through the same permission check
as typing it (`bot.router.execute`), their answers combined into one reply. Where no form is
drawn, `form <name>` names the typed commands that do the same.

Which commands a submission runs (`Plan.default`): each command one of whose fields was given
and differs from what the form was prefilled with; a prefilled field left empty stands for
the field's `clear` word (`-`). A form may plan its own (`Form.plan`) from the same values.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import expertise, i18n, languages, normalise, roles, timezones
from bot.arguments import Argument, Rest
from bot.commands import Command, Values, split_words
from bot.context import Context
from bot.db import Database
from bot.errors import CommandError, PermissionDenied, UsageError
from bot.i18n import N_, Message, _, lines
from bot.languages import Languages
from bot.models import Member, Topic
from bot.router import CommandSpec, Router, execute, reply
from bot.settings import Settings
from bot.types import FieldKind, FormField, FormSubmitted, FormView, UserRef

log = logging.getLogger(__name__)

Value = str | tuple[str, ...]
MULTIPLE = frozenset({FieldKind.MULTI, FieldKind.MULTI_NEW})
CHOICES = frozenset({FieldKind.SELECT, FieldKind.MULTI})
MAX_CHOSEN = 100
"""The most values a multi-select gives (more are left out)."""
TEXT_CHARS = 4000
LANGUAGE_SECONDS = 0.5
"""How long finding the language a submission's errors are written in may take (else the
community's)."""

SAVE = _("Save")
OTHERS = _("Others, separated by commas")
FILL_IN = _("Please fill this in.")


@dataclass(frozen=True, slots=True)
class Lookup:
    """What a form's options and prefill read: a session, the member (None: never seen),
    the settings and the time."""

    session: AsyncSession
    member: Member | None
    settings: Settings
    now: datetime


Options = Callable[[Lookup], Awaitable[Sequence[tuple[str, Message | str]]]]
Prefill = Callable[[Lookup], Awaitable[Mapping[str, Any]]]


class FieldError(CommandError):
    """A value that does not go with the others (raised by `Form.check`), shown by `field`."""

    def __init__(self, field: str, message: Message) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, kw_only=True)
class Field:
    """One field: its `kind`, `label` and `hint` (catalog messages), and the argument it
    gives: `to` (its name, the field's when empty) of `command`, parsed by that argument, or
    by `argument` for a value only a form gives (`ask`'s topics). `options` for a select,
    `limit` for a text, `clear` what leaving a prefilled field empty stands for (None: it
    is left as it was), `other` the label of the box for new values (`MULTI_NEW`)."""

    name: str
    kind: FieldKind
    label: Message
    command: str
    to: str = ""
    argument: Argument | None = None
    hint: Message | None = None
    optional: bool = False
    options: Options | None = None
    limit: int = 0
    clear: str | None = None
    other: Message | None = None

    @property
    def key(self) -> str:
        return self.to or self.name


@dataclass(frozen=True, slots=True)
class Run:
    """One command a submission runs, with its arguments' values by name (and any value
    only a form gives)."""

    command: str
    values: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class Form:
    """A form: `name` (a command's name, when typing that command without arguments opens
    it), `title`, `fields` in order, and the button that sends it (`submit`). `prefill`:
    what it starts with (raw values by field); `check`: a pure test of the parsed values
    together (raises `FieldError`); `plan`: the commands a submission runs (else
    `Plan.default`); `also`: commands the plan may run beyond the fields' own (checked like
    them); `after`: the feature's own step once they ran, its answer added to theirs."""

    name: str
    title: Message
    fields: tuple[Field, ...]
    submit: Message = SAVE
    prefill: Prefill | None = None
    check: Callable[[Mapping[str, Any], datetime, Settings], None] | None = None
    plan: Callable[[Plan], list[Run]] | None = None
    also: tuple[str, ...] = ()
    after: Callable[[Context], Awaitable[Message | None]] | None = None

    @property
    def commands(self) -> tuple[str, ...]:
        """Every command a submission may run, in order."""
        found = [f.command for f in self.fields if f.command]
        return tuple(dict.fromkeys([*found, *self.also]))


@dataclass(frozen=True)
class Plan:
    """A valid submission: each given field's parsed value (`parsed`) and what the form was
    prefilled with (`before`, raw values)."""

    form: Form
    router: Router
    parsed: Mapping[str, Any]
    before: Mapping[str, Any]

    def default(self, leave: Iterable[str] = ()) -> list[Run]:
        """Each command one of whose fields (but those in `leave`) changed, with its fields'
        values."""
        left = set(leave)
        runs: dict[str, dict[str, Any]] = {}
        changed: set[str] = set()
        for f in self.form.fields:
            if f.name in left or not f.command:
                continue
            values = runs.setdefault(f.command, {})
            before = self.before.get(f.name)
            if f.name in self.parsed:
                values[f.key] = self.parsed[f.name]
                if not same(self.parsed[f.name], before):
                    changed.add(f.command)
            elif before not in (None, "", ()) and f.clear is not None:
                values[f.key] = parser(self.router, f).parse(f.clear)
                changed.add(f.command)
            elif f.argument is not None:  # a value only the form gives: left out
                values[f.key] = None
        return [Run(command, values) for command, values in runs.items() if command in changed]


def _fold(value: Any) -> str:
    return " ".join(str(value).split()).casefold() if value is not None else ""


def same(value: Any, before: Any) -> bool:
    """Whether a parsed value is what the form was prefilled with (lists in any order, any
    case)."""
    if isinstance(value, list | tuple) or isinstance(before, list | tuple):
        return {_fold(v) for v in value or ()} == {_fold(v) for v in before or ()}
    return _fold(value) == _fold(before)


# checking ---------------------------------------------------------------------------------


def parser(router: Router, f: Field) -> Argument:
    """The argument that parses a field: its own, else its command's of that name."""
    if f.argument is not None:
        return f.argument
    spec = router.commands.get(f.command)
    for argument in spec.grammar.arguments if spec is not None else ():
        if argument.name == f.key:
            return argument
    raise LookupError(f"form field {f.name!r}: {f.command!r} has no argument {f.key!r}")


def _clean(kind: FieldKind, raw: Any) -> Value | None:
    """A value as given, checked like any text from a platform (`bot.normalise`); None when
    empty or not text."""
    if kind in MULTIPLE:
        items = raw if isinstance(raw, list | tuple) else (raw,)
        cleaned = (
            normalise.text(item, TEXT_CHARS).strip() if isinstance(item, str) else ""
            for item in items[:MAX_CHOSEN]
        )
        return tuple(item for item in cleaned if item) or None
    if not isinstance(raw, str):
        return None
    if kind is FieldKind.LONG:
        return normalise.text(raw, TEXT_CHARS).strip() or None
    return normalise.line(raw, TEXT_CHARS)


def _parse(router: Router, f: Field, value: Value) -> Any:
    """The value as the bound argument parses it; UsageError when it does not fit."""
    argument = parser(router, f)
    if isinstance(value, tuple):
        found: dict[str, Any] = {}
        for item in value:
            parsed = argument.parse(item)
            for one in parsed if isinstance(parsed, list) else [parsed]:
                found.setdefault(_fold(one), one)
        return list(found.values())
    if f.limit and len(value) > f.limit:
        raise UsageError(_("That is too long (at most {most} characters).", most=f.limit))
    if f.kind is FieldKind.LANGUAGE:
        code = i18n.code(value)
        if code is None:
            raise UsageError(languages.not_a_language(value))
        value = code
    elif f.kind is FieldKind.ZONE:
        value = timezones.name(value)
    elif f.kind is FieldKind.DATE:
        timezones.day(value)
    elif f.kind is FieldKind.TIME:
        value = timezones.time_of_day(value)
    return argument.parse(value)


def check(
    router: Router, form: Form, given: Mapping[str, Any], now: datetime, settings: Settings
) -> tuple[dict[str, Any], dict[str, Message]]:
    """Each given field's parsed value, and an error for each field that is missing or does
    not fit (then `form.check` for the values together). Pure: nothing is read or stored."""
    parsed: dict[str, Any] = {}
    errors: dict[str, Message] = {}
    for f in form.fields:
        value = _clean(f.kind, given.get(f.name))
        if value is None:
            if not f.optional:
                errors[f.name] = FILL_IN
            continue
        try:
            parsed[f.name] = _parse(router, f, value)
        except CommandError as exc:
            errors[f.name] = exc.message or FILL_IN
    if not errors and form.check is not None:
        try:
            form.check(parsed, now, settings)
        except FieldError as exc:
            errors[exc.field] = exc.message or FILL_IN
    return parsed, errors


def refusal(router: Router, form: Form, held: Iterable[str]) -> Message | None:
    """What a member holding `held` is told when a command of the form is not theirs."""
    held = frozenset(held)
    for command in form.commands:
        spec = router.commands.get(command)
        if spec is not None and not roles.permits(held, spec.roles):
            return spec.denied()
    return None


# submitting -------------------------------------------------------------------------------


async def submit(ctx: Context, event: FormSubmitted) -> bool:
    """Run the commands a submitted form stands for, as the sender typing them, and answer
    once with everything they said. A form with a command the sender may not use, or a value
    that does not fit, runs nothing. False if a command failed on Convener's side."""
    cmd = Command("form", event.form, event.user, event.channel, event,
                  reply_token=event.reply_token)  # fmt: skip
    form = ctx.router.forms.get(event.form)
    if form is None:
        log.warning("form %r from %s is not one Convener declares", event.form[:100],
                    event.platform)  # fmt: skip
        await reply(ctx, cmd, _("I have no form called `{name}`.", name=event.form[:40]))
        return True
    denied = refusal(ctx.router, form, ctx.sender.roles)
    if denied is not None:
        await reply(ctx, cmd, denied)
        return True
    parsed, errors = check(ctx.router, form, dict(event.values), ctx.now(), ctx.settings)
    if errors:
        labels = {f.name: f.label for f in form.fields}
        await reply(ctx, cmd, lines(_("Nothing was saved. Please check:"), *(
            _("• {field}: {error}", field=labels.get(name, name), error=message)
            for name, message in errors.items()
        )))  # fmt: skip
        return True
    before: Mapping[str, Any] = {}
    if form.prefill is not None:
        async with ctx.db() as session:
            before = await form.prefill(Lookup(session, ctx.sender.member, ctx.settings, ctx.now()))
    plan = Plan(form, ctx.router, parsed, before)
    runs = form.plan(plan) if form.plan is not None else plan.default()
    answers: list[Message | None] = []
    ok = True
    for run in runs:
        spec = ctx.router.commands[run.command]
        done = await execute(ctx, spec, _typed(event, spec), _values(spec, run))
        answers.append(done.answer)
        ok = ok and done.ok
    if form.after is not None:
        answers.append(await form.after(ctx))
    elif not runs:
        answers.append(_("Nothing changed."))
    said = [answer for answer in answers if answer is not None]
    if said:
        await reply(ctx, cmd, lines(*said))
    return ok


def _typed(event: FormSubmitted, spec: CommandSpec) -> Command:
    return Command(spec.name, "", event.user, event.channel, event,
                   reply_token=event.reply_token)  # fmt: skip


def _values(spec: CommandSpec, run: Run) -> Values:
    """The command's arguments from the run (those it does not give, as if left out), and
    any value only the form gives."""
    values = Values(
        (a.name, run.values[a.name] if a.name in run.values else a.absent())
        for a in spec.grammar.arguments
    )
    values.update((name, value) for name, value in run.values.items() if name not in values)
    return values


# drawing ----------------------------------------------------------------------------------


async def view(form: Form, lookup: Lookup, language: str) -> FormView:
    """The form as `language`'s reader sees it, prefilled."""
    before = await form.prefill(lookup) if form.prefill is not None else {}
    fields = []
    for f in form.fields:
        fields.append(FormField(
            f.name, f.kind, i18n.render(f.label, language),
            i18n.render(f.hint, language), f.optional, await _choices(f, lookup, language),
            _initial(before.get(f.name)),
            i18n.render(f.other or OTHERS, language) if f.kind is FieldKind.MULTI_NEW else "",
            f.limit,
        ))  # fmt: skip
    return FormView(
        form.name,
        i18n.render(form.title, language),
        i18n.render(form.submit, language),
        tuple(fields),
    )


async def _choices(f: Field, lookup: Lookup, language: str) -> tuple[tuple[str, str], ...]:
    if f.kind is FieldKind.ZONE:
        return tuple((zone, zone) for zone in timezones.known())
    if f.kind is FieldKind.LANGUAGE:
        return tuple((code, i18n.name_of(code)) for code in i18n.available())
    if f.options is None:
        return ()
    return tuple(
        (str(value), label if isinstance(label, str) else i18n.render(label, language))
        for value, label in await f.options(lookup)
    )  # a text label is the name of something (a topic), the same in every language


def _initial(value: Any) -> Value | None:
    if value in (None, "", (), []):
        return None
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return value.isoformat() if isinstance(value, date) else str(value)


# the core's lookups for forms -------------------------------------------------------------


async def topic_choices(lookup: Lookup) -> list[tuple[str, str]]:
    """Every topic by its name (a topics field's options)."""
    names = await lookup.session.scalars(select(Topic.name).order_by(Topic.key))
    return [(name, name) for name in names]


async def profile(lookup: Lookup) -> dict[str, Any]:
    """The member's profile as form values (`city`, `org`, `role`, `timezone`, `language`,
    `offers`, `wants`): the prefill of the forms that change it."""
    member = lookup.member
    if member is None:
        return {}
    known = await expertise.expertise_of(lookup.session, member.id)
    return {
        "city": member.city,
        "org": member.org,
        "role": member.role_title,
        "timezone": member.timezone,
        "language": i18n.code(member.language or ""),
        "offers": tuple(known[expertise.OFFERS]),
        "wants": tuple(known[expertise.WANTS]),
    }


# what adapters ask ------------------------------------------------------------------------


class Forms:
    """The forms of the running bot, for adapters that draw them (`bot.platform.Intake`)."""

    def __init__(
        self,
        router: Router,
        db: Database,
        settings: Settings,
        known: Languages,
        clock: Callable[[], datetime],
    ) -> None:
        self.router = router
        self.db = db
        self.settings = settings
        self.languages = known
        self.clock = clock

    def find(self, command: str) -> Form | None:
        """The form a command opens: `form <name>`, or a command that has a form of its own
        name, typed without arguments."""
        words = [word.lower() for word in split_words(command)]
        if words[:1] == ["form"]:
            return self.router.forms.get(" ".join(words[1:]))
        spec, consumed = self.router.find(words)
        if spec is not None and consumed == len(words):
            return self.router.forms.get(spec.name)
        return None

    async def open(self, user: UserRef, command: str) -> FormView | None:
        """The form `command` opens, for `user` to fill in: in their language, prefilled.
        None when it opens none, when the form is not theirs to use, or when a choice it
        needs has nothing to choose from (no call is open): the command then answers them
        as typed."""
        form = self.find(command)
        if form is None:
            return None
        async with self.db() as session:
            found = await session.run_sync(roles.of_user, user, self.settings)
            member, held = found or (None, roles.configured_for(user, self.settings))
            if refusal(self.router, form, held) is not None:
                return None
            language = self.languages.of(member.language if member else user.locale)
            shown = await view(form, Lookup(session, member, self.settings, self.clock()), language)
        if any(f.kind in CHOICES and not f.optional and not f.choices for f in shown.fields):
            return None
        return shown

    async def check(self, user: UserRef, name: str, given: Mapping[str, Any]) -> dict[str, str]:
        """An error for each field of a submission that does not fit, in `user`'s language
        (empty: it may be handed over). Nothing is stored."""
        form = self.router.forms.get(name)
        if form is None:
            return {}
        _parsed, errors = check(self.router, form, given, self.clock(), self.settings)
        if not errors:
            return {}
        language = await self._language_of(user)
        return {field: i18n.render(message, language) for field, message in errors.items()}

    async def _language_of(self, user: UserRef) -> str:
        try:
            async with asyncio.timeout(LANGUAGE_SECONDS):
                return await self.languages.of_user(user)
        except Exception as exc:  # slow or down: the errors still come back in time
            log.debug("no language for %s:%s (%s)", user.platform, user.id, type(exc).__name__)
            return self.languages.default


# `form <name>` where no form is drawn -----------------------------------------------------

router = Router()


@router.command(
    "form",
    args=[Rest("name", label="<name>", optional=True)],
    summary=N_("the commands behind a form"),
    example="form profile",
)
async def show(ctx: Context, cmd: Command) -> Message:
    name = " ".join(split_words((cmd.values.name or "").lower()))
    forms = ", ".join(f"`{known}`" for known in sorted(ctx.router.forms))
    form = ctx.router.forms.get(name)
    if form is None and name:
        raise UsageError(_("There is no form `{name}`. The forms: {forms}.",
                           name=name[:40], forms=forms))  # fmt: skip
    if form is None:
        raise UsageError(_("Which form? The forms: {forms}.", forms=forms))
    denied = refusal(ctx.router, form, ctx.sender.roles)
    if denied is not None:
        raise PermissionDenied(denied)
    usages = [ctx.router.commands[c].usage for c in form.commands if c in ctx.router.commands]
    return lines(
        _("**{title}**, typed:", title=form.title),
        *(_("• `{usage}`", usage=usage) for usage in usages),
    )
