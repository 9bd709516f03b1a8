"""What Convener says, as messages from the gettext catalogs (`bot/locale`), rendered in the
reader's language once it is known who reads them.

Code says `_("Your question is #{id}.", id=...)` (or `n_` for a count; a brace itself is
written `{{` or `}}`, as in `str.format`): a `Text` that keeps
the English message id and its parameters. The core renders it where the reader is known (a
reply in the sender's language, a channel post in the channel's, a notice in the
recipient's when it is queued). Parameters may be messages themselves, `Day`s and `Number`s
(in the reader's conventions, with Babel) or `Verbatim` text (what members wrote). `lines`
joins messages.

The English text is the message id itself. A language is a catalog in `bot/locale/<code>`:
compiled (`make translations`), or read from its `.po` when not compiled. A language whose
catalog is missing falls back to English, with one warning.

A reader may also have a time zone of their own (`render(said, language, zone)`): a message
that shows a time (`bot.moments.When`) asks `reader_zone()` while it is rendered, so the
zone reaches nested messages as the language does.

With `CONVENER_CATALOG_STRICT` set (the tests set it), rendering a plain string, or a message
id missing from `bot/locale/convener.pot` (built at run time, or new since `make
translations`), raises: no English-only text
can slip out.
"""

from __future__ import annotations

import gettext
import io
import logging
import os
import re
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

log = logging.getLogger(__name__)

DOMAIN = "convener"
ENGLISH = "en"
LOCALE_DIR = Path(__file__).parent / "locale"
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
STRICT_ENV = "CONVENER_CATALOG_STRICT"
PLACEHOLDER = re.compile(r"\{(\w+)[^{}]*\}")
BRACES = re.compile(r"\{\{|\}\}")


@runtime_checkable
class Message(Protocol):
    """Anything Convener says: rendered in a language when the reader is known."""

    def render(self, language: str) -> str: ...


def _strict() -> bool:
    return bool(os.environ.get(STRICT_ENV))


@dataclass(frozen=True, slots=True)
class Text:
    """One message of the catalog, with its parameters (`n` picks the plural form)."""

    msgid: str
    params: Mapping[str, object] = field(default_factory=dict)
    plural: str | None = None
    n: int | None = None

    def render(self, language: str) -> str:
        if _strict() and self.msgid not in _template_ids():
            raise LookupError(f"not in the catalog (run `make translations`): {self.msgid!r}")
        found = translations(language)
        if self.plural is None:
            pattern = found.gettext(self.msgid)
        else:
            pattern = found.ngettext(self.msgid, self.plural, self.n or 0)
        values = {key: _value(value, language) for key, value in self.params.items()}
        try:
            return pattern.format_map(values)
        except (KeyError, IndexError, ValueError):
            if _strict():
                raise
            log.warning("%r in %s does not fit its parameters", self.msgid, language)
            return pattern

    def __str__(self) -> str:
        return self.render(ENGLISH)


@dataclass(frozen=True, slots=True)
class Lines:
    """Messages one after the other (empty ones left out)."""

    parts: tuple[Message, ...]
    sep: str | Message = "\n"  # punctuation, or a message (" and ")

    def render(self, language: str) -> str:
        sep = self.sep if isinstance(self.sep, str) else self.sep.render(language)
        rendered = (render(part, language) for part in self.parts)
        return sep.join(text for text in rendered if text)

    def __str__(self) -> str:
        return self.render(ENGLISH)


@dataclass(frozen=True, slots=True)
class Verbatim:
    """Text that is not Convener's words (a member's question, a title, a name): the same in
    every language."""

    text: str

    def render(self, language: str) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Day:
    """A date or a moment (already in the reader's zone) in the reader's conventions;
    `pattern` is a CLDR pattern (English "Sun 20 Dec 2026 10:00" is `EEE dd MMM y HH:mm`)."""

    value: date | datetime
    pattern: str = "EEE dd MMM y"

    def render(self, language: str) -> str:
        locale = babel_locale(language)
        if isinstance(self.value, datetime):
            return format_datetime(
                self.value, self.pattern, tzinfo=self.value.tzinfo, locale=locale
            )
        return format_date(self.value, self.pattern, locale=locale)


@dataclass(frozen=True, slots=True)
class Number:
    """A number in the reader's conventions (12,345.5 / 12 345,5)."""

    value: float | int
    places: int = 0

    def render(self, language: str) -> str:
        pattern = "#,##0" + ("." + "0" * self.places if self.places else "")
        return format_decimal(self.value, format=pattern, locale=babel_locale(language))


def _(msgid: str, /, **params: object) -> Text:
    """The catalog's message `msgid` with its `{placeholders}` filled in."""
    return Text(msgid, params)


def n_(singular: str, plural: str, n: int, /, **params: object) -> Text:
    """A message with a singular and a plural form, chosen by `n` in the reader's language;
    `{n}` is available in both."""
    return Text(singular, {"n": n, **params}, plural, n)


def N_(msgid: str, /) -> str:
    """Mark a constant for the catalog; it is translated where it is said (`_(constant)`)."""
    return msgid


def lines(*parts: Message | None, sep: str = "\n") -> Lines:
    return Lines(tuple(part for part in parts if part is not None), sep)


def join(parts: Iterable[Message], sep: str | Message = ", ") -> Lines:
    return Lines(tuple(parts), sep)


def verbatim(text: str) -> Verbatim:
    return Verbatim(text)


def pattern(message: Text, language: str) -> str:
    """A message's translation as written, its `{placeholders}` unfilled (a template a
    facilitator reads before writing their own)."""
    return translations(language).gettext(message.msgid)


_ZONE: ContextVar[str | None] = ContextVar("reader_zone", default=None)
_SAME = object()


def render(said: Message | str | None, language: str, zone: str | object | None = _SAME) -> str:
    """The text a reader of `language` reads; with `zone`, a reader whose own time zone is
    `zone` (None: they have none). Without it, the zone of the reader being rendered for."""
    if said is None:
        return ""
    if isinstance(said, str):
        if _strict():
            raise TypeError(f"not a catalog message (wrap it with `_`): {said[:80]!r}")
        return said
    if zone is _SAME:
        return said.render(language)
    token = _ZONE.set(zone)  # type: ignore[arg-type]
    try:
        return said.render(language)
    finally:
        _ZONE.reset(token)


def reader_zone() -> str | None:
    """The own time zone (IANA name) of the reader a message is being rendered for, if any."""
    return _ZONE.get()


def _value(value: object, language: str) -> object:
    if isinstance(value, str | int | float):  # most parameters; a Protocol check is slow
        return value
    said = getattr(value, "render", None)
    return said(language) if said is not None else value


def preload() -> None:
    """Read every catalog and its Babel locale now (at start, before the runtime is tuned),
    not at the first reply in each language."""
    for language in available():
        translations(language)
        babel_locale(language).datetime_formats  # noqa: B018 (loads the locale's data)


# The catalogs.


def available() -> tuple[str, ...]:
    """The languages shipped: English and each catalog in `bot/locale`."""
    return _available(LOCALE_DIR)


@lru_cache(maxsize=4)
def _available(folder: Path) -> tuple[str, ...]:
    found = (
        {path.parent.parent.name for path in folder.glob(f"*/LC_MESSAGES/{DOMAIN}.[mp]o")}
        if folder.is_dir()
        else set()
    )
    return (ENGLISH, *sorted(found - {ENGLISH}))


def code(text: str) -> str | None:
    """The shipped language a code or locale means (`fr`, `FR`, `fr-FR`, `pt_BR`), or None."""
    value = text.strip().replace("-", "_").lower()
    if not value:
        return None
    base = value.split("_", 1)[0]
    return base if base in available() else None


def name_of(language: str) -> str:
    """The language's name in itself (français, español)."""
    locale = babel_locale(language)
    display = locale.get_display_name(locale) or language
    return display[:1].upper() + display[1:]


@lru_cache(maxsize=16)
def babel_locale(language: str) -> Locale:
    try:
        return Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(ENGLISH)


@lru_cache(maxsize=16)
def translations(language: str) -> gettext.NullTranslations:
    """The language's catalog (English, with a warning, when it cannot be read)."""
    if language == ENGLISH:
        return gettext.NullTranslations()
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    compiled, source = folder / f"{DOMAIN}.mo", folder / f"{DOMAIN}.po"
    try:
        if compiled.exists() and (
            not source.exists() or compiled.stat().st_mtime >= source.stat().st_mtime
        ):
            with compiled.open("rb") as fp:
                return gettext.GNUTranslations(fp)
        if source.exists():
            return gettext.GNUTranslations(io.BytesIO(_compile(source)))
    except Exception:
        log.warning("the %s catalog could not be read; speaking English", language, exc_info=True)
        return gettext.NullTranslations()
    log.warning("no %s catalog in %s; speaking English", language, folder)
    return gettext.NullTranslations()


def _compile(source: Path) -> bytes:
    """A `.po` compiled in memory (a checkout where `make translations` has not run)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with source.open("rb") as fp:
        catalog = read_po(fp)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


@lru_cache(maxsize=1)
def _template_ids() -> frozenset[str]:
    """Every message id in `bot/locale/convener.pot` (`make translations` writes it from
    the code): a message built at run time, or added without updating it, is not there."""
    from babel.messages.pofile import read_po

    with TEMPLATE.open("rb") as fp:
        return frozenset(
            message.id[0] if isinstance(message.id, tuple) else message.id
            for message in read_po(fp)
            if message.id
        )


def placeholders(text: str) -> set[str]:
    """The names of a message's `{placeholders}`."""
    return set(PLACEHOLDER.findall(BRACES.sub("", text)))
