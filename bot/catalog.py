"""The message catalogs, kept with Babel: `convener catalog` (`make translations`) extracts
every message from the code into `bot/locale/convener.pot`, updates each language's `.po`
from it and compiles the `.mo` files Convener reads.

Messages are what the code marks with `_`, `n_` (singular, plural) and `N_`, plus each
command's summary (`help` shows it in the reader's language; the composition root hands them
over, since the core knows no feature). `problems()` is what the catalog test asserts: every
message translated in every language, with the same placeholders.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from bot.i18n import DOMAIN, ENGLISH, LOCALE_DIR, TEMPLATE, placeholders

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("bot", "handlers", "adapters", "schedules")
KEYWORDS = {"_": None, "n_": (1, 2), "N_": None}
METHODS = [("**.py", "python")]
STAMP = datetime(2026, 12, 1, tzinfo=UTC)  # fixed, so that a run changes only what changed
# Two forms, as translators expect them (CLDR's third French form is for round millions).
PLURALS = {"fr": (2, "(n > 1)"), "pt": (2, "(n > 1)"), "es": (2, "(n != 1)")}


def _source_messages() -> Iterator[tuple[str | tuple[str, str], str, int, list[str]]]:
    for folder in SOURCES:
        for filename, lineno, message, comments, _context in extract_from_dir(
            ROOT / folder, METHODS, keywords=KEYWORDS, comment_tags=("Translators:",),
            strip_comment_tags=True,
        ):  # fmt: skip
            yield message, f"{folder}/{filename}", lineno, comments


def template(summaries: Iterable[str] = ()) -> Catalog:
    """Every message Convener can say, as Babel extracts it, and the commands' `summaries`."""
    catalog = Catalog(project="Convener", domain=DOMAIN, charset="utf-8", fuzzy=False,
                      creation_date=STAMP, revision_date=STAMP)  # fmt: skip
    for message, where, lineno, comments in _source_messages():
        if isinstance(message, tuple):
            message = tuple(part for part in message if part)  # n_'s count is not text
            if len(message) == 1:
                message = message[0]
        if not message:
            continue
        catalog.add(message, locations=[(where, lineno)], auto_comments=comments,
                    flags=_flags(message))  # fmt: skip
    for summary in summaries:
        if summary and summary not in catalog:
            catalog.add(summary, auto_comments=["A command's summary in help."])
    return catalog


def _flags(message: str | tuple[str, ...]) -> tuple[str, ...]:
    text = message if isinstance(message, str) else " ".join(message)
    return ("python-brace-format",) if placeholders(text) else ()


def languages() -> list[str]:
    return sorted(
        path.name for path in LOCALE_DIR.iterdir()
        if (path / "LC_MESSAGES" / f"{DOMAIN}.po").exists() and path.name != ENGLISH
    )  # fmt: skip


def read(language: str) -> Catalog:
    with _po(language).open("rb") as fp:
        catalog = read_po(fp, locale=language, domain=DOMAIN)
    if language in PLURALS:
        catalog._num_plurals, catalog._plural_expr = PLURALS[language]
    catalog.creation_date = catalog.revision_date = STAMP
    catalog.fuzzy = False
    return catalog


def _po(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fp:
        write_po(fp, catalog, width=100, sort_output=False, omit_header=False,
                 include_previous=False)  # fmt: skip


def compile_all() -> list[str]:
    """Compile each language's `.po` into the `.mo` Convener reads; the languages done."""
    done = []
    for language in languages():
        catalog = read(language)
        with (_po(language).with_suffix(".mo")).open("wb") as fp:
            write_mo(fp, catalog)
        done.append(language)
    return done


def update(summaries: Iterable[str] = ()) -> Catalog:
    """Extract the template and bring every language's catalog up to date with it."""
    pot = template(summaries)
    write(pot, TEMPLATE)
    for language in languages():
        catalog = read(language)
        catalog.update(pot, no_fuzzy_matching=True)
        write(catalog, _po(language))
    return pot


def problems(language: str, pot: Catalog) -> list[str]:
    """What is wrong with a language's catalog against the template: messages missing or not
    translated, placeholders that differ."""
    catalog = read(language)
    found = []
    for message in pot:
        if not message.id:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        translated = catalog.get(key)
        if translated is None or translated.fuzzy:
            found.append(f"{language}: missing {key!r}")
            continue
        strings = (
            translated.string if isinstance(translated.string, tuple) else (translated.string,)
        )
        if not all(strings):
            found.append(f"{language}: not translated {key!r}")
            continue
        wanted = placeholders(" ".join(message.id) if isinstance(message.id, tuple) else key)
        for string in strings:
            if placeholders(string) != wanted and not (
                isinstance(message.id, tuple) and placeholders(string) <= wanted
            ):
                found.append(f"{language}: placeholders differ in {key!r}: {string!r}")
    return found


def main(check: bool, compile_only: bool, summaries: Iterable[str]) -> int:
    """`convener catalog`: update and compile (`--check`: report only; `--compile-only`)."""
    if compile_only:
        print("compiled:", ", ".join(compile_all()) or "none")
        return 0
    if check:
        pot = template(summaries)
        found = [line for language in languages() for line in problems(language, pot)]
        print("\n".join(found) or "every message is translated")
        return 1 if found else 0
    pot = update(summaries)
    print(f"{len(pot)} messages in {TEMPLATE.relative_to(ROOT)}")
    for language in languages():
        print(f"{language}: {len(problems(language, pot))} to translate")
    print("compiled:", ", ".join(compile_all()) or "none")
    return 0
