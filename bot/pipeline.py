"""The path of one inbound event, top to bottom:

    normalise  ->  record activity  ->  claim  ->  sender  ->  dispatch  ->  reply

`accept()` runs the first two steps where the adapter calls it (so an adapter can acknowledge
a delivery once it is stored); `handle()` runs the rest, usually in the bounded processor.
Each step is one small method below; nothing else in the core decides what an event does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot import claims, forms, normalise
from bot.activity import ActivityLog, Recent, kind_of
from bot.claims import Sender
from bot.commands import command_body, split_words
from bot.context import Context
from bot.db import Database
from bot.i18n import _
from bot.metrics import Metrics
from bot.platform import Platform
from bot.router import Listener, Router
from bot.settings import Settings
from bot.types import Event, FormSubmitted, Message, Shortcut, SlashCommand
from bot.watch import Watches

log = logging.getLogger(__name__)

DM_HINT = _("I'm Convener, a bot. Type `help` to see what I can do.")


@dataclass(frozen=True, slots=True)
class Work:
    """What an accepted event asks for: a command, a shortcut, listeners, or a direct
    message to answer."""

    event: Event
    command: str | None = None
    shortcut: bool = False
    reply_token: str | None = None
    listeners: tuple[Listener, ...] = field(default_factory=tuple)
    direct_text: bool = False
    hint: bool = False
    sender_earlier: int = 0


class Pipeline:
    def __init__(
        self,
        router: Router,
        activity: ActivityLog,
        db: Database,
        settings: Settings,
        clock: Callable[[], datetime],
        platforms: Mapping[str, Platform],
        context: Callable[[Platform, Sender | None], Context],
        watches: Watches,
        metrics: Metrics | None = None,
    ) -> None:
        self.router = router
        self.watches = watches
        self.metrics = metrics or Metrics()
        self.activity = activity
        self.db = db
        self.settings = settings
        self.clock = clock
        self.platforms = platforms
        self.context = context
        self._names: dict[str, tuple] = {}
        self._done_for = Recent(500_000)

    # normalise -> record ------------------------------------------------------------------

    async def accept(self, raw: Event, *, durable: bool = False) -> Work | None:
        """Check the event and record it as activity; with `durable`, return only once it is
        stored. Returns the work it asks for, or None (malformed, from a bot, a duplicate, or
        nothing to do)."""
        event = normalise.event(raw)
        if event is None:
            return None
        platform = self.platforms.get(event.platform)
        if platform is None:
            log.warning("event %s from %s, which is not running", event.event_id, event.platform)
            return None
        if event.user.is_bot or (platform.bot_user is not None and event.user == platform.bot_user):
            return None
        work = self._work(event, platform)
        earlier = self.activity.latest_of(event.user)
        fresh = self.activity.record(event, kind_of(event, is_command=work.command is not None))
        await self.activity.backpressure()
        if durable:
            await self.activity.persisted()
        if not fresh:
            log.debug("duplicate %s %s ignored", event.platform, event.event_id)
            return None
        if (
            work.command is None
            and not work.shortcut
            and not work.listeners
            and not work.direct_text
        ):
            return None
        return replace(work, sender_earlier=earlier) if earlier and not work.hint else work

    def _work(self, event: Event, platform: Platform) -> Work:
        """What the event asks for, decided in memory: an ordinary message, reply, join or
        reaction asks for nothing, and a direct message that is not a command only for the
        hint (no claim, no sender)."""
        if isinstance(event, SlashCommand):
            return Work(event, event.text.strip() or "help", reply_token=event.reply_token)
        if isinstance(event, FormSubmitted):  # the commands it stands for (`bot.forms`)
            return Work(event, f"form {event.form}", reply_token=event.reply_token)
        if isinstance(event, Shortcut):
            return Work(event, reply_token=event.reply_token, shortcut=True)
        if isinstance(event, Message):
            body = command_body(event.text, self._bot_names(platform))
            if body is None and event.mentions_bot:
                body = event.text.strip() or "help"
            if body is not None:
                return Work(event, body)
        listeners = tuple(
            listener
            for listener in self.router.listeners_for(event, self.watches)
            if not (listener.once_per_user and self._once_key(listener, event) in self._done_for)
        )
        for listener in listeners:  # taken now, so the member's next joins queued meanwhile
            if listener.once_per_user:  # are not handled again; given back on failure
                self._done_for.add(self._once_key(listener, event))
        if not (isinstance(event, Message) and event.channel.is_direct):
            return Work(event, listeners=listeners)
        words = split_words(event.text)
        if listeners or (words and self.router.is_command_word(words[0])):
            return Work(event, listeners=listeners, direct_text=True)
        return Work(event, direct_text=bool(words), hint=True)

    @staticmethod
    def _once_key(listener: Listener, event: Event) -> tuple:
        return (id(listener), event.platform, event.user.id)

    def _bot_names(self, platform: Platform) -> tuple[str, ...]:
        user = platform.bot_user
        names = self._names.get(platform.name)
        if names is None or names[0] != user:
            found = tuple(n for n in (user.name, user.id) if n) if user else ()
            names = self._names[platform.name] = (user, (*found, "convener"))
        return names[1]

    # claim -> sender -> dispatch -> reply -------------------------------------------------

    async def handle(self, work: Work) -> None:
        """Act on an accepted event once across retries, restarts and replicas. If acting
        fails, the claim is given back and a redelivery of the event is handled again."""
        event = work.event
        if work.hint:
            voice = self.context(self.platforms[event.platform], None).platform
            await voice.send(event.channel, DM_HINT)
            self.metrics.events.labels(kind_of(event), event.platform).inc()
            return
        try:
            if work.sender_earlier and work.command is None:
                await self.activity.persisted(work.sender_earlier)  # what the sender did before
            new = not self.activity.knows(event.user)
            now = self.clock()
            async with claims.claimed(self.db, event, now, self.settings, new_sender=new) as sender:
                if sender is None:
                    return
                self.activity.mark_known(event.user)
                if work.command is not None or work.shortcut:
                    await self.activity.settle()  # a command may name anyone the log has seen
                log.debug("handling %s %s from %s:%s in %s", type(event).__name__,
                          event.event_id, event.platform, event.user.id,
                          event.channel.id)  # fmt: skip
                await self.dispatch(self.context(self.platforms[event.platform], sender), work)
            kind = kind_of(event, is_command=work.command is not None)
            self.metrics.events.labels(kind, event.platform).inc()
        except BaseException as exc:
            self.activity.unsee(event)
            for listener in work.listeners:
                if listener.once_per_user:
                    self._done_for.discard(self._once_key(listener, event))
            if isinstance(exc, Exception):
                self.metrics.errors.labels(event.platform).inc()
            raise

    async def dispatch(self, ctx: Context, work: Work) -> None:
        """A command, else the listeners in order until one consumes the event, else the
        answer to a direct message nobody consumed."""
        event = work.event
        if isinstance(event, FormSubmitted):
            with self.metrics.command_seconds.time():
                if not await forms.submit(ctx, event):
                    self.metrics.errors.labels(event.platform).inc()
            return
        if work.command is not None:
            await self._command(ctx, event, work.command, work.reply_token)
            return
        if work.shortcut:
            assert isinstance(event, Shortcut)
            with self.metrics.command_seconds.time():
                if not await self.router.run_shortcut(ctx, event):
                    self.metrics.errors.labels(event.platform).inc()
            return
        for listener in work.listeners:
            consumed = await listener.func(ctx, event)
            if consumed:
                return
        if work.direct_text:
            await self._direct_message(ctx, event)

    async def _direct_message(self, ctx: Context, event: Message) -> None:
        """A bare command word works in a direct chat (`help`); other text gets a hint."""
        words = split_words(event.text)
        if words and self.router.is_command_word(words[0]):
            await self._command(ctx, event, event.text)
        elif words:
            await ctx.platform.send(event.channel, DM_HINT)

    async def _command(
        self, ctx: Context, event: Event, body: str, reply_token: str | None = None
    ) -> None:
        with self.metrics.command_seconds.time():
            ok = await self.router.run_command(ctx, event, body, reply_token)
        if not ok:
            self.metrics.errors.labels(event.platform).inc()
