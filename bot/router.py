"""Routers: commands and event listeners registered by feature modules, and the dispatch of
one command (parse, permission check, run, one-line errors, reply).

Each feature module owns a `Router`; the application includes them all into one.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot import roles
from bot.arguments import Argument, Grammar
from bot.commands import Command, Values, rest_after, split_words
from bot.context import Context
from bot.errors import CommandError, PermissionDenied, UsageError
from bot.home import HomeFunc, HomePart
from bot.i18n import Message, Text, _, join, lines
from bot.jobs import AtStart, Daily, Every, Job, JobFunc, Slot, Weekly, When
from bot.pages import Page, PageFunc
from bot.patience import patiently
from bot.settings import Settings
from bot.types import Event, Shortcut
from bot.watch import Watch, Watches

if TYPE_CHECKING:
    from bot.forms import Form
    from bot.outbox import OnDelivered

log = logging.getLogger(__name__)

ROLES_PLURAL = {"facilitator": _("facilitators"), "coordinator": _("coordinators")}

CommandFunc = Callable[[Context, Command], Awaitable[Message | None]]
ShortcutFunc = Callable[[Context, Shortcut], Awaitable[Message | None]]
ListenerFunc = Callable[[Context, Event], Awaitable[bool | None]]
AfterFunc = Callable[[Context, Command], Awaitable[None]]

MAX_REPLY_ECHO = 30


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    func: CommandFunc
    grammar: Grammar
    summary: str
    example: str
    roles: frozenset[str] = frozenset()
    public: bool = False

    @property
    def usage(self) -> str:
        return self.grammar.usage(self.name)

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.name.split())

    @property
    def label(self) -> Message | str:
        """What a person calls it in the answers about it."""
        return self.name

    @property
    def who(self) -> Message:
        if not self.roles:
            return _("everyone")
        order = ("facilitator", "coordinator")
        ranked = sorted(self.roles, key=lambda r: (order.index(r) if r in order else 9, r))
        return join((ROLES_PLURAL.get(role, _("{role}s", role=role)) for role in ranked),
                    _(" and "))  # fmt: skip

    @property
    def said_summary(self) -> Message | None:
        """The summary in the reader's language (summaries are catalog messages)."""
        return Text(self.summary) if self.summary else None

    def denied(self) -> Message:
        return _("Only {who} can use `{command}`.", who=self.who, command=self.label)


@dataclass(frozen=True, slots=True)
class ShortcutSpec(CommandSpec):
    """A shortcut: an action chosen on a message (`bot.types.Shortcut`), run like a command
    (the same permission check, errors and private answer); `name` is its id on every
    platform (Slack's `callback_id`), `title` what people see (a catalog message)."""

    title: Any = None

    @property
    def label(self) -> Message | str:
        return self.title or self.name


@dataclass(frozen=True, slots=True)
class Listener:
    event_type: type[Event]
    func: ListenerFunc
    when: Callable[[Event], bool] | None = None
    once_per_user: bool = False
    watch: Watch | None = None
    unless: Watch | None = None

    def wants(self, event: Event, watches: Watches | None = None) -> bool:
        """Whether to run for `event`, decided in memory: its type, `when`, and the watched
        keys it touches (every listener with a watch runs when no `watches` are given)."""
        if not isinstance(event, self.event_type) or not (self.when is None or self.when(event)):
            return False
        if watches is None:
            return True
        if self.watch is not None and not watches.touches(self.watch, event):
            return False
        return self.unless is None or not watches.touches(self.unless, event)


@dataclass(frozen=True, slots=True)
class AfterCommand:
    """What a feature does once a command has succeeded (`Router.after_command`); with a
    `watch`, only for senders it touches, decided in memory."""

    func: AfterFunc
    watch: Watch | None = None


@dataclass
class Router:
    commands: dict[str, CommandSpec] = field(default_factory=dict)
    shortcuts: dict[str, ShortcutSpec] = field(default_factory=dict)
    forms: dict[str, Form] = field(default_factory=dict)
    listeners: list[Listener] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    on_delivered: dict[str, OnDelivered] = field(default_factory=dict)
    home_parts: list[HomePart] = field(default_factory=list)
    after_commands: list[AfterCommand] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    _by_type: dict[type, tuple[Listener, ...]] = field(default_factory=dict, repr=False)

    def command(
        self,
        name: str,
        *,
        args: Iterable[Argument] = (),
        extra: Message | None = None,
        summary: str = "",
        example: str | None = None,
        roles: Iterable[str] = (),
        public: bool = False,
    ) -> Callable[[CommandFunc], CommandFunc]:
        """Register a command. `name` may be several words (`profile city`); `args` are its
        arguments in order (`bot.arguments`), parsed before the handler runs (it reads them
        in `cmd.values`) and shown by `help`; `extra` is the line for words left over."""
        key = " ".join(name.lower().split())
        grammar = Grammar(tuple(args), extra)

        def register(func: CommandFunc) -> CommandFunc:
            if key in self.commands:
                raise ValueError(f"command {key!r} registered twice")
            self.commands[key] = CommandSpec(
                name=key,
                func=func,
                summary=summary or _first_line(func.__doc__),
                example=example or grammar.usage(key),
                grammar=grammar,
                roles=frozenset(roles),
                public=public,
            )
            return func

        return register

    def shortcut(
        self, name: str, *, title: Message, roles: Iterable[str] = ()
    ) -> Callable[[ShortcutFunc], ShortcutFunc]:
        """Register a shortcut: an action people choose on a message (`bot.types.Shortcut`),
        checked and answered like a command. Adapters offer it where their platform has
        such actions (Slack's message shortcuts, declared in its app manifest under the
        same `name`)."""

        def register(func: ShortcutFunc) -> ShortcutFunc:
            if name in self.shortcuts:
                raise ValueError(f"shortcut {name!r} registered twice")

            async def run(ctx: Context, cmd: Command) -> Message | None:
                assert isinstance(cmd.event, Shortcut)
                return await func(ctx, cmd.event)

            self.shortcuts[name] = ShortcutSpec(
                name=name, func=run, grammar=Grammar(()), summary="", example="",
                roles=frozenset(roles), title=title,
            )  # fmt: skip
            return func

        return register

    def form(self, form: Form) -> Form:
        """Declare a form (`bot.forms`): fields bound to the arguments of this feature's
        commands, which a platform may draw (Slack's modals) and `form <name>` names."""
        if form.name in self.forms:
            raise ValueError(f"form {form.name!r} declared twice")
        self.forms[form.name] = form
        return form

    def on(
        self,
        event_type: type[Event],
        when: Callable[[Event], bool] | None = None,
        once_per_user: bool = False,
        *,
        watch: Watch | None = None,
        unless: Watch | None = None,
    ) -> Callable[[ListenerFunc], ListenerFunc]:
        """Register a listener for inbound events of a type (optionally only those `when`
        accepts). A listener returns True when it consumed the event.

        `watch`: run only for events that touch a key the feature watches (`bot.watch`);
        `unless`: only for events that touch none. Both are decided in memory: a listener on
        a kind of event every member sends (reactions, joins, direct messages) must have one,
        or each such event would cost a claim and the listener's own queries.

        `once_per_user`: after the listener has run for a user, this process does not call it
        again for that user (a first-sight listener such as the welcome, which checks the
        database itself after a restart)."""

        def register(func: ListenerFunc) -> ListenerFunc:
            self.listeners.append(Listener(event_type, func, when, once_per_user, watch, unless))
            self._by_type.clear()
            return func

        return register

    def every(
        self, job_id: str, *, seconds: float = 0, minutes: float = 0
    ) -> Callable[[JobFunc], JobFunc]:
        """Declare a job that runs every so often."""
        return self._job(job_id, Every(seconds + 60 * minutes))

    def daily(self, job_id: str, *, hour: int, minute: int = 0) -> Callable[[JobFunc], JobFunc]:
        """Declare a job that runs every day at `hour:minute` UTC."""
        return self._job(job_id, Daily(hour, minute))

    def weekly(
        self,
        job_id: str,
        *,
        slot: Callable[[Settings], Slot | None],
        grace: Callable[[Settings], timedelta],
    ) -> Callable[[JobFunc], JobFunc]:
        """Declare a job that runs weekly at the slot the settings give (`bot.jobs.Weekly`)."""
        return self._job(job_id, Weekly(slot, grace))

    def at_start(self, job_id: str) -> Callable[[JobFunc], JobFunc]:
        """Declare a job that runs once when the scheduler starts."""
        return self._job(job_id, AtStart())

    def delivered(self, prefix: str) -> Callable[[OnDelivered], OnDelivered]:
        """Declare what to do once the outbox has sent a notice whose subject begins with
        `prefix:` (`bot.outbox.OnDelivered`): keep the message id a notice became, say. It
        runs in the transaction that marks the notice sent, so exactly once."""

        def register(func: OnDelivered) -> OnDelivered:
            self._add_delivered(prefix, func)
            return func

        return register

    def _add_delivered(self, prefix: str, func: OnDelivered) -> None:
        if prefix in self.on_delivered:
            raise ValueError(f"notices of {prefix!r} have a delivered hook already")
        self.on_delivered[prefix] = func

    def _job(self, job_id: str, when: When) -> Callable[[JobFunc], JobFunc]:
        def register(func: JobFunc) -> JobFunc:
            self._add_job(Job(job_id, func, when))
            return func

        return register

    def _add_job(self, job: Job) -> None:
        if any(known.id == job.id for known in self.jobs):
            raise ValueError(f"job {job.id!r} declared twice")
        self.jobs.append(job)

    def home(
        self, name: str, *, order: int, roles: Iterable[str] = ()
    ) -> Callable[[HomeFunc], HomeFunc]:
        """Declare a section of members' home (`bot.home`): `func(ctx, viewer)` gives it,
        shown in `order` to viewers holding any of `roles` (the check commands use)."""

        def register(func: HomeFunc) -> HomeFunc:
            self._add_home(HomePart(name, func, order, frozenset(roles)))
            return func

        return register

    def _add_home(self, part: HomePart) -> None:
        if any(known.name == part.name for known in self.home_parts):
            raise ValueError(f"home section {part.name!r} declared twice")
        self.home_parts.append(part)

    def after_command(self, *, watch: Watch | None = None) -> Callable[[AfterFunc], AfterFunc]:
        """Declare what to do after each command that succeeded, given its context and
        command (with `watch`: only for senders the watch touches, decided in memory). A
        failure is logged; the command's answer stands."""

        def register(func: AfterFunc) -> AfterFunc:
            self.after_commands.append(AfterCommand(func, watch))
            return func

        return register

    async def after(self, ctx: Context, cmd: Command) -> None:
        """Run the `after_command` hooks for a command that succeeded."""
        for hook in self.after_commands:
            if hook.watch is not None and not ctx.watches.touches(hook.watch, cmd.event):
                continue
            try:
                await hook.func(ctx, cmd)
            except Exception:
                log.exception("after command %r: %s failed", cmd.name, hook.func.__qualname__)

    def page(self, path: str) -> Callable[[PageFunc], PageFunc]:
        """Declare a page served over HTTP (`bot.pages`): GET `path`, with one `{name}` part
        handed to `func(services, name)`."""

        def register(func: PageFunc) -> PageFunc:
            self._add_page(Page(path, func))
            return func

        return register

    def _add_page(self, page: Page) -> None:
        if any(known.path == page.path for known in self.pages):
            raise ValueError(f"page {page.path!r} declared twice")
        self.pages.append(page)

    def include(self, *routers: Router) -> Router:
        for other in routers:
            for key, spec in other.commands.items():
                if key in self.commands:
                    raise ValueError(f"command {key!r} registered twice")
                self.commands[key] = spec
            for name, shortcut in other.shortcuts.items():
                if name in self.shortcuts:
                    raise ValueError(f"shortcut {name!r} registered twice")
                self.shortcuts[name] = shortcut
            for form in other.forms.values():
                self.form(form)
            self.listeners.extend(other.listeners)
            for job in other.jobs:
                self._add_job(job)
            for prefix, func in other.on_delivered.items():
                self._add_delivered(prefix, func)
            for part in other.home_parts:
                self._add_home(part)
            self.after_commands.extend(other.after_commands)
            for page in other.pages:
                self._add_page(page)
        self._by_type.clear()
        return self

    def listeners_for(self, event: Event, watches: Watches | None = None) -> list[Listener]:
        kind = type(event)
        candidates = self._by_type.get(kind)
        if candidates is None:  # remembered per event type until a listener is added
            candidates = self._by_type[kind] = tuple(
                listener for listener in self.listeners if issubclass(kind, listener.event_type)
            )
        return [listener for listener in candidates if listener.wants(event, watches)]

    @property
    def watches(self) -> list[Watch]:
        """Every watch a listener or an after-command hook declared, once each."""
        found: dict[Watch, None] = {}
        for listener in self.listeners:
            for watch in (listener.watch, listener.unless):
                if watch is not None:
                    found[watch] = None
        for hook in self.after_commands:
            if hook.watch is not None:
                found[hook.watch] = None
        return list(found)

    def find(self, words: list[str]) -> tuple[CommandSpec | None, int]:
        """The registered command with the longest name that the words start with."""
        lowered = [w.lower() for w in words[:4]]
        for n in range(min(len(lowered), 4), 0, -1):
            spec = self.commands.get(" ".join(lowered[:n]))
            if spec is not None:
                return spec, n
        return None, 0

    def is_command_word(self, word: str) -> bool:
        word = word.lower()
        return any(spec.words[0] == word for spec in self.commands.values())

    def suggest(self, word: str) -> str | None:
        firsts = sorted({spec.words[0] for spec in self.commands.values()})
        close = difflib.get_close_matches(word.lower(), firsts, n=1, cutoff=0.6)
        return close[0] if close else None

    def family(self, first_word: str) -> list[CommandSpec]:
        return [s for s in self.commands.values() if s.words[0] == first_word.lower()]

    async def run_command(
        self, ctx: Context, event: Event, body: str, reply_token: str | None = None
    ) -> bool:
        """Parse and run one command from the pipeline's resolved sender (`ctx.sender`),
        answering the person who typed it. False if the command failed on Convener's side."""
        words = split_words(body)
        spec, consumed = self.find(words)
        cmd = Command(
            name=spec.name if spec else "",
            args=rest_after(body, consumed) if spec else body,
            sender=event.user,
            channel=event.channel,
            event=event,
            thread_id=getattr(event, "thread_id", None),
            reply_token=reply_token,
        )
        if spec is None:
            await reply(ctx, cmd, self.unknown(words))
            return True
        return await run(ctx, spec, cmd)

    async def run_shortcut(self, ctx: Context, event: Shortcut) -> bool:
        """Run a shortcut chosen on a message, as a command, answering the presser privately.
        False if it failed on Convener's side."""
        cmd = Command(
            name=event.name, args="", sender=event.user, channel=event.channel, event=event,
            reply_token=event.reply_token,
        )  # fmt: skip
        spec = self.shortcuts.get(event.name)
        if spec is None:
            log.warning("shortcut %r from %s is not one Convener declares", event.name[:100],
                        event.platform)  # fmt: skip
            await reply(ctx, cmd, _("I can't do that (yet). Type `help` to see what I can do."))
            return True
        return await run(ctx, spec, cmd)

    def unknown(self, words: list[str]) -> Message:
        if not words:
            return _("Which command? Type `help` to see what I can do.")
        word = words[0][:MAX_REPLY_ECHO]
        family = self.family(words[0])
        if family:
            usages = ", ".join(f"`{s.usage}`" for s in sorted(family, key=lambda s: s.name)[:6])
            return _("`{word}` needs more: {usages}.", word=word, usages=usages)
        hint = self.suggest(words[0])
        if hint:
            return _("I don't know `{word}`. Did you mean `{hint}`? Type `help` for the list.",
                     word=word, hint=hint)  # fmt: skip
        return _("I don't know `{word}`. Type `help` to see what I can do.", word=word)


async def run(ctx: Context, spec: CommandSpec, cmd: Command) -> bool:
    """Run a command (or a shortcut) and answer the person (`execute`). False if it failed on
    Convener's side."""
    done = await execute(ctx, spec, cmd)
    if done.answer:
        await reply(ctx, cmd, done.answer, public=done.public)
    return done.ok


@dataclass(frozen=True, slots=True)
class Outcome:
    """What running a command came to: the answer for the person (`public`: for the
    channel), and `ok` False when it failed on Convener's side."""

    answer: Message | None
    public: bool = False
    ok: bool = True


async def execute(
    ctx: Context, spec: CommandSpec, cmd: Command, values: Values | None = None
) -> Outcome:
    """The one way a command (or a shortcut) runs: the permission check (`bot.roles`), its
    arguments parsed (or `values`, parsed already: a form's fields, `bot.forms`), then the
    handler; a person's mistake comes to one line, a failure on Convener's side to an
    apology (and is logged). Answers nobody: the caller does."""
    event = cmd.event
    log.debug("command %r from %s:%s", spec.name, event.platform, event.user.id)
    try:
        if not roles.permits(ctx.sender.roles, spec.roles):
            raise PermissionDenied(spec.denied())
        cmd.values = spec.grammar.parse(cmd.args) if values is None else values
        answer = await spec.func(ctx, cmd)
    except UsageError as exc:
        usage = None if isinstance(spec, ShortcutSpec) else spec.usage
        return Outcome(lines(exc.message, usage and _("Usage: `{usage}`", usage=usage)))
    except CommandError as exc:
        return Outcome(exc.message)
    except Exception:
        log.exception(
            "command %r failed (platform=%s user=%s channel=%s event=%s)",
            spec.name,
            event.platform,
            event.user.id,
            event.channel.id,
            event.event_id,
        )
        return Outcome(_(
            "Sorry, `{command}` failed on my side. Nothing was changed; "
            "a facilitator can find the details in the log.", command=spec.label,
        ), ok=False)  # fmt: skip
    await ctx.router.after(ctx, cmd)
    return Outcome(answer, public=spec.public)


def _first_line(doc: str | None) -> str:
    lines = (doc or "").strip().splitlines()
    return lines[0].strip() if lines else ""


async def reply(ctx: Context, cmd: Command, text: Message | None, public: bool = False) -> None:
    """Answer a command (in the sender's language; a public answer in the channel's): in the
    channel (thread kept) if public, else to the sender alone,
    retried while the platform says "slow down" for as long as a person waits
    (`bot.patience`)."""
    await patiently(ctx, ctx.platform.name, lambda: _answer(ctx, cmd, text, public),
                    f"answering {cmd.sender.id}")  # fmt: skip


async def _answer(ctx: Context, cmd: Command, text: Message | None, public: bool) -> None:
    if public and not cmd.channel.is_direct:
        await ctx.platform.send(cmd.channel, text, thread_id=cmd.thread_id)
    elif cmd.channel.is_direct:
        await ctx.platform.send(cmd.channel, text)
    else:
        await ctx.platform.send_private(
            cmd.sender, text, channel=cmd.channel, reply_token=cmd.reply_token
        )
