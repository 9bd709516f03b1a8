"""Answered questions found in a channel's past: a thread whose first message reads like a
question, with replies by others, that its asker marked answered (a ✅ on the question, or a
reply saying thanks). Fed events in the order they happened; remembers only recent
question-like roots, so memory stays flat however long the history."""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot import emoji
from bot.types import Event, Message, ReactionAdded, UserRef

REMEMBER = timedelta(days=90)
MOST_OPEN = 5000
MOST_ANSWERS = 20
ANSWER_CHARS = 2000

_QUESTION_WORDS = frozenset(
    """how what why when where who which whom whose does do did is are can could should would
    will has have anyone anybody any comment pourquoi quel quelle quels quelles quand où qui
    est-ce combien cómo como qué que cuál cual cuándo dónde quién por porque alguien alguém
    qual quais quando onde quem existe hay""".split()
)
_THANKS = re.compile(
    r"\b(thanks|thank you|thx|ty|cheers|solved|that helps|merci|gracias|obrigad[oa]|valeu)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[\w'-]+")


def asks(text: str) -> bool:
    """Whether a message reads like a question: a question mark, or a question word first."""
    if "?" in text or "¿" in text:
        return True
    first = _WORD.search(text)
    return bool(first) and first.group(0).lower() in _QUESTION_WORDS


def thanks(text: str) -> bool:
    return bool(_THANKS.search(text))


@dataclass(slots=True)
class Thread:
    """A question-like root and what followed it."""

    channel_key: tuple[str, str]
    message_id: str
    asker: UserRef
    asked_at: datetime
    question: str
    answers: list[tuple[UserRef, str]] = field(default_factory=list)
    signal: str | None = None

    @property
    def answered(self) -> bool:
        return bool(self.answers) and self.signal is not None


class Finder:
    """Follows threads through a stream of events; `changed()` hands over the answered
    threads that gained something since the last call."""

    def __init__(self) -> None:
        self._open: OrderedDict[tuple[str, str, str], Thread] = OrderedDict()
        self._changed: dict[tuple[str, str, str], Thread] = {}

    def see(self, event: Event) -> None:
        if event.user.is_bot:
            return
        channel_key = (event.channel.platform, event.channel.id)
        if isinstance(event, Message):
            if event.channel.is_direct:
                return
            if event.is_reply:
                self._reply(channel_key, event)
            elif event.text and asks(event.text):
                self._forget_before(event.ts - REMEMBER)
                key = (*channel_key, event.message_id)
                self._open[key] = Thread(
                    channel_key, event.message_id, event.user, event.ts, event.text.strip()
                )
                if len(self._open) > MOST_OPEN:
                    self._open.popitem(last=False)
        elif isinstance(event, ReactionAdded):
            thread = self._open.get((*channel_key, event.message_id))
            if thread and event.user == thread.asker and emoji.name(event.emoji) in emoji.SOLVED:
                self._mark(thread, "reaction")

    def _reply(self, channel_key: tuple[str, str], event: Message) -> None:
        thread = self._open.get((*channel_key, event.thread_id or ""))
        text = event.text.strip()
        if thread is None or not text:
            return
        if event.user == thread.asker:
            if thanks(text):
                self._mark(thread, thread.signal or "thanks")
            return
        if len(thread.answers) < MOST_ANSWERS:
            thread.answers.append((event.user, text[:ANSWER_CHARS]))
            if thread.answered:
                self._changed[(*channel_key, thread.message_id)] = thread

    def _mark(self, thread: Thread, signal: str) -> None:
        thread.signal = signal
        if thread.answered:
            self._changed[(*thread.channel_key, thread.message_id)] = thread

    def _forget_before(self, cutoff: datetime) -> None:
        while self._open:
            oldest = next(iter(self._open.values()))
            if oldest.asked_at >= cutoff:
                return
            self._open.popitem(last=False)

    def changed(self) -> list[Thread]:
        found, self._changed = list(self._changed.values()), {}
        return found
