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
from typing import TYPE_CHECKING

from bot import roles
from bot.arguments import Argument, Grammar
from bot.commands import Command, rest_after, split_words
from bot.context import Context
from bot.errors import CommandError, PermissionDenied, UsageError
from bot.i18n import Message, Text, _, join, lines
from bot.jobs import AtStart, Daily, Every, Job, JobFunc, Slot, Weekly, When
from bot.patience import patiently
from bot.settings import Settings
from bot.types import Event
from bot.watch import Watch, Watches

if TYPE_CHECKING:
    from bot.outbox import OnDelivered

log = logging.getLogger(__name__)

ROLES_PLURAL = {"facilitator": _("facilitators"), "coordinator": _("coordinators")}

CommandFunc = Callable[[Context, Command], Awaitable[Message | None]]
ListenerFunc = Callable[[Context, Event], Awaitable[bool | None]]

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
        return _("Only {who} can use `{command}`.", who=self.who, command=self.name)


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


@dataclass
class Router:
    commands: dict[str, CommandSpec] = field(default_factory=dict)
    listeners: list[Listener] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    on_delivered: dict[str, OnDelivered] = field(default_factory=dict)
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

    def include(self, *routers: Router) -> Router:
        for other in routers:
            for key, spec in other.commands.items():
                if key in self.commands:
                    raise ValueError(f"command {key!r} registered twice")
                self.commands[key] = spec
            self.listeners.extend(other.listeners)
            for job in other.jobs:
                self._add_job(job)
            for prefix, func in other.on_delivered.items():
                self._add_delivered(prefix, func)
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
        """Every watch a listener declared, once each."""
        found: dict[Watch, None] = {}
        for listener in self.listeners:
            for watch in (listener.watch, listener.unless):
                if watch is not None:
                    found[watch] = None
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
        held = ctx.sender.roles
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
        log.debug("command %r from %s:%s", spec.name, event.platform, event.user.id)
        try:
            if not roles.permits(held, spec.roles):
                raise PermissionDenied(spec.denied())
            cmd.values = spec.grammar.parse(cmd.args)
            answer = await spec.func(ctx, cmd)
        except UsageError as exc:
            await reply(ctx, cmd, lines(exc.message, _("Usage: `{usage}`", usage=spec.usage)))
            return True
        except CommandError as exc:
            await reply(ctx, cmd, exc.message)
            return True
        except Exception:
            log.exception(
                "command %r failed (platform=%s user=%s channel=%s event=%s)",
                spec.name,
                event.platform,
                event.user.id,
                event.channel.id,
                event.event_id,
            )
            await reply(ctx, cmd, _(
                "Sorry, `{command}` failed on my side. Nothing was changed; "
                "a facilitator can find the details in the log.", command=spec.name,
            ))  # fmt: skip
            return False
        if answer:
            await reply(ctx, cmd, answer, public=spec.public)
        return True

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
