"""Declared command arguments: one declaration parses what a person typed, answers a bad
value with one line and the usage, and renders that usage for `help`.

A command lists its arguments in order (`@router.command("rsvp", args=[Number("id",
"event"), Choice("answer", ("yes", "no", "maybe"), default="yes")])`); the router hands the
handler `cmd.values`, the typed values by name. Each kind takes one word, except `Rest`,
which takes the rest of the text as typed. A kind with `default` (or `optional=True`) may be
left out at the end; an optional `Zone`, `Day` or `Choice` in the middle is taken only when
the word fits it (`<date> <time> [Area/City] <title>`: a title's first word is no zone).

Parsing is pure: kinds that need the database (a topic by name) are resolved by the feature,
through the core's lookup (`bot.topics`), from the text a kind returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot import timezones, topics
from bot.commands import Values, number, split_words
from bot.errors import UsageError
from bot.i18n import N_, Message, Text, _, join, verbatim

MISSING: Any = object()


@dataclass(frozen=True, kw_only=True)
class Argument:
    """One argument: `name` is its key in `cmd.values`; `label` how usage shows it (`<name>`
    when not given); `missing`, the line a person reads when it is left out."""

    name: str
    label: str = ""
    default: Any = MISSING
    optional: bool = False
    missing: Message | None = None

    @property
    def required(self) -> bool:
        return self.default is MISSING and not self.optional

    @property
    def usage(self) -> str:
        shown = self.label or f"<{self.name}>"
        return shown if self.required else f"[{shown}]"

    def fits(self, word: str) -> bool:
        """Whether an optional argument in the middle takes this word (kinds that can tell)."""
        return True

    def parse(self, word: str) -> Any:
        return word

    def absent(self) -> Any:
        return None if self.default is MISSING else self.default


@dataclass(frozen=True)
class Word(Argument):
    """One word, as typed (quotes group several)."""

    name: str


@dataclass(frozen=True)
class Number(Argument):
    """A number such as an id (`12` or `#12`); `what` names it in the error."""

    name: str
    what: str = "item"
    example: int = 3

    def parse(self, word: str) -> int:
        return number(word, self.what, self.example)


@dataclass(frozen=True)
class Choice(Argument):
    """One of a few words, any case; usage shows them (`yes|no|maybe`)."""

    name: str
    words: tuple[str, ...] = ()
    what: str = "answer"

    @property
    def usage(self) -> str:
        shown = self.label or "|".join(self.words)
        return shown if self.required else f"[{shown}]"

    def fits(self, word: str) -> bool:
        return word.lower() in self.words

    def parse(self, word: str) -> str:
        if word.lower() not in self.words:
            raise UsageError(Text(NOT_A_CHOICE.get(self.what, NOT_A_CHOICE["answer"]),
                                  {"word": word[:20], "choices": _either(self.words)}))  # fmt: skip
        return word.lower()


@dataclass(frozen=True)
class Day(Argument):
    """A date written YYYY-MM-DD."""

    name: str = "date"
    label: str = "<YYYY-MM-DD>"

    def fits(self, word: str) -> bool:
        return timezones.is_day(word)

    def parse(self, word: str) -> date:
        return timezones.day(word)


@dataclass(frozen=True)
class Time(Argument):
    """A time of day, `HH:MM` on the 24-hour clock."""

    name: str = "time"
    label: str = "<HH:MM>"

    def parse(self, word: str) -> str:
        return timezones.time_of_day(word)


@dataclass(frozen=True)
class Weekday(Argument):
    """A day of the week (`monday` or `mon`): 0 for Monday to 6 for Sunday."""

    name: str = "weekday"

    def parse(self, word: str) -> int:
        return timezones.weekday(word)


@dataclass(frozen=True)
class Zone(Argument):
    """A time zone by its IANA name (`Africa/Nairobi`, any case)."""

    name: str = "zone"
    label: str = "Area/City"

    def fits(self, word: str) -> bool:
        return "/" in word or word.upper() == "UTC"

    def parse(self, word: str) -> str:
        return timezones.name(word)


@dataclass(frozen=True)
class Mention(Argument):
    """A member, as the platform writes a mention (`@alice`, `<@U123>`, `@bob:server`) or by a
    name seen before; the value is the word, for `bot.members.from_mention` to resolve."""

    name: str = "member"
    label: str = "@user"


@dataclass(frozen=True)
class Days(Argument):
    """A number of days between 1 and `most` (`stats 30`)."""

    name: str = "days"
    most: int = 365
    example: str = "30"

    def parse(self, word: str) -> int:
        if not (word.isascii() and word.isdigit()):
            raise UsageError(_("Give a number of days, for example: {example}",
                               example=self.example))  # fmt: skip
        if not 1 <= int(word) <= self.most:
            raise UsageError(_("Choose between 1 and {most} days.", most=self.most))
        return int(word)


@dataclass(frozen=True)
class Rest(Argument):
    """The rest of the text, as typed (free text, a question)."""

    name: str = "text"


@dataclass(frozen=True)
class TopicName(Rest):
    """One topic's name, as the rest of the text (`experts property tax`), cleaned for
    `bot.topics.known`."""

    name: str = "topic"

    def parse(self, word: str) -> str:
        return topics.clean_name(word)


@dataclass(frozen=True)
class TopicNames(Rest):
    """Topic names separated by commas, as the rest of the text: a list of names."""

    name: str = "topics"
    label: str = "<topic>[, <topic>...]"

    def parse(self, word: str) -> list[str]:
        return topics.split_names(word)


@dataclass(frozen=True)
class Grammar:
    """A command's arguments in order, and the one line a person reads when words are left
    over (`extra`)."""

    arguments: tuple[Argument, ...] = ()
    extra: Message | None = None

    def __post_init__(self) -> None:
        names = [a.name for a in self.arguments]
        if len(set(names)) != len(names):
            raise ValueError(f"argument names repeat: {names}")
        rests = [i for i, a in enumerate(self.arguments) if isinstance(a, Rest)]
        if rests and rests != [len(self.arguments) - 1]:
            raise ValueError("only the last argument may take the rest of the text")

    def usage(self, name: str) -> str:
        return " ".join((name, *(a.usage for a in self.arguments)))

    def parse(self, text: str) -> Values:
        """The typed values of `text` (what follows the command's name); UsageError on a
        missing, bad or extra word."""
        values = Values()
        words = split_words(text)
        position = 0
        arguments = list(self.arguments)
        for index, argument in enumerate(arguments):
            if isinstance(argument, Rest):
                rest = _rest(text, position, words)
                if not rest and argument.required:
                    raise UsageError(argument.missing)
                values[argument.name] = argument.parse(rest) if rest else argument.absent()
                return values
            if position >= len(words):
                if argument.required:
                    raise UsageError(argument.missing)
                values[argument.name] = argument.absent()
                continue
            word = words[position]
            later_required = any(a.required for a in arguments[index + 1 :])
            if not argument.required and later_required and not argument.fits(word):
                values[argument.name] = argument.absent()
                continue
            values[argument.name] = argument.parse(word)
            position += 1
        if position < len(words):
            raise UsageError(self.extra)
        return values


def _rest(text: str, position: int, words: Sequence[str]) -> str:
    """The text after the first `position` words, as typed (quotes kept)."""
    if position == 0:
        return text.strip()
    remaining = text.strip()
    for word in words[:position]:
        remaining = _drop_word(remaining, word)
    return remaining.strip()


def _drop_word(text: str, word: str) -> str:
    for quoted in (f'"{word}"', f"'{word}'", word):
        if text.startswith(quoted):
            return text[len(quoted) :].lstrip()
    parts = text.split(None, 1)
    return parts[1] if len(parts) > 1 else ""


def _either(words: Sequence[str]) -> Message:
    """`yes, no or maybe` in the reader's language (the words are typed as they are)."""
    if len(words) == 1:
        return verbatim(words[0])
    return _("{some} or {last}", some=join(verbatim(w) for w in words[:-1]), last=words[-1])


# One whole sentence per kind of choice.
NOT_A_CHOICE = {
    "answer": N_("`{word}` is not an answer; say {choices}."),
    "list of questions": N_("`{word}` is not a list of questions; say {choices}."),
    "language": N_("`{word}` is not a language I speak; say {choices}."),
}
