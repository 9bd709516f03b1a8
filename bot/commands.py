"""The one command parser: recognising a command in a message and splitting its words."""

from __future__ import annotations

import functools
import re
import shlex
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from bot.errors import UsageError
from bot.i18n import N_, Text
from bot.types import ChannelRef, Event, UserRef

PREFIX = "!"
MAX_COMMAND_CHARS = 4000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


class Values(dict[str, Any]):
    """The parsed arguments by name, also readable as attributes (`cmd.values.id`)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(slots=True)
class Command:
    """A parsed command: `name` is the registered command it matched (e.g. `profile city`),
    `args` the rest of the text as typed, `values` its declared arguments, parsed
    (`bot.arguments`)."""

    name: str
    args: str
    sender: UserRef
    channel: ChannelRef
    event: Event
    thread_id: str | None = None
    reply_token: str | None = None
    values: Values = field(default_factory=Values)


def clean(text: str) -> str:
    """Normalise text a person typed: NFC, no control or direction characters, trimmed."""
    text = unicodedata.normalize("NFC", text[:MAX_COMMAND_CHARS])
    return _CONTROL.sub("", text).strip()


def a(noun: str) -> str:
    """The noun with its indefinite article: `a city`, `an organisation`."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`1 member`, `2 members` (`many` for irregular plurals)."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"


# One whole sentence per kind of number, so that each reads well in every language.
NOT_A_NUMBER = {
    "call": N_("`{word}` is not a call number (they look like {example} or #{example})."),
    "event": N_("`{word}` is not an event number (they look like {example} or #{example})."),
    "prompt": N_("`{word}` is not a prompt number (they look like {example} or #{example})."),
    "question": N_("`{word}` is not a question number (they look like {example} or #{example})."),
    "resource": N_("`{word}` is not a resource number (they look like {example} or #{example})."),
    "schedule": N_("`{word}` is not a schedule number (they look like {example} or #{example})."),
    "library entry": N_(
        "`{word}` is not a library entry number (they look like {example} or #{example})."
    ),
    "item": N_("`{word}` is not an item number (they look like {example} or #{example})."),
}


def number(word: str, what: str, example: int = 3) -> int:
    """The number a person gave for a question, prompt, event... (`12` or `#12`); `what` is
    one of `NOT_A_NUMBER`'s kinds."""
    digits = word.strip().lstrip("#")
    # ASCII digits only: "²" is a digit to str.isdigit() but not to int()
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 9:
        pattern = NOT_A_NUMBER.get(what, NOT_A_NUMBER["item"])
        raise UsageError(Text(pattern, {"word": word[:20], "example": example}))
    return int(digits)


def excerpt(text: str, limit: int = 80) -> str:
    """Text on one line, cut to `limit` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


@functools.lru_cache(maxsize=64)
def _openers(bot_names: tuple[str, ...]) -> frozenset[str]:
    """The first characters a message mentioning the bot can start with (every message is
    checked against them, so they are worked out once per set of names)."""
    names = [name for name in bot_names if name]
    return frozenset({"@", *(name[:1].lower() for name in names)}) if names else frozenset()


def command_body(text: str, bot_names: tuple[str, ...] = ()) -> str | None:
    """The command in a message, without its prefix, or None if the message is not one.

    `!help`, `! help` and a message that starts by mentioning the bot (`@convener help`,
    `convener: help`) are commands.
    """
    stripped = text.lstrip()
    if not stripped.startswith(PREFIX) and stripped[:1].lower() not in _openers(bot_names):
        return None
    text = clean(text)
    if text.startswith(PREFIX):
        body = text[len(PREFIX) :].strip()
        return body if body and not body.startswith(PREFIX) else None
    lowered = text.lower()
    for name in bot_names:
        if not name:
            continue
        for form in (name, "@" + name):
            if lowered.startswith(form.lower()):
                rest = text[len(form) :]
                if rest and rest[0] not in " :,\t>":
                    continue
                return rest.lstrip(" :,\t>").strip() or "help"
    return None


def split_words(text: str) -> list[str]:
    """Split into words; quotes group words, and unbalanced quotes are taken literally."""
    text = clean(text)
    try:
        lexer = shlex.shlex(text, posix=True, punctuation_chars=False)
        lexer.whitespace_split = True
        lexer.commenters = ""
        return list(lexer)
    except ValueError:
        return text.split()


def rest_after(text: str, words: int) -> str:
    """The text after its first `words` whitespace-separated words, as typed."""
    text = clean(text)
    parts = text.split(None, words)
    return parts[words].strip() if len(parts) > words else ""
