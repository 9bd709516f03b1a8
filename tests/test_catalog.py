"""The catalogs: every message the code says is in `bot/locale/convener.pot` and translated in
each shipped language with the same placeholders; messages are literals Babel can extract;
a language whose catalog is missing falls back to English with one warning.

The whole suite runs with `CONVENER_CATALOG_STRICT` (tests/conftest.py), so a plain string
that reaches a person, or a message built at run time, fails the test that sends it."""

from __future__ import annotations

import ast
import gettext
import logging
from pathlib import Path

import pytest

from bot import catalog, i18n
from bot.i18n import Day, Number, _, lines, n_

pytestmark = pytest.mark.one_database

ROOT = Path(__file__).resolve().parent.parent
MARKERS = {"_", "n_", "N_"}


def summaries() -> list[str]:
    from handlers import all_routers

    return [spec.summary for router in all_routers() for spec in router.commands.values()]


@pytest.fixture(scope="module")
def template():
    return catalog.template(summaries())


def _ids(messages) -> set[str]:
    return {m.id[0] if isinstance(m.id, tuple) else m.id for m in messages if m.id}


def test_the_template_on_disk_is_the_code_s(template):
    with i18n.TEMPLATE.open("rb") as fp:
        from babel.messages.pofile import read_po

        on_disk = _ids(read_po(fp))
    wanted = _ids(template)
    assert wanted - on_disk == set(), "run `make translations`: messages missing from the .pot"
    assert on_disk - wanted == set(), "run `make translations`: the .pot holds stale messages"


@pytest.mark.parametrize("language", ["fr", "es", "pt"])
def test_every_message_is_translated_with_its_placeholders(template, language):
    assert language in i18n.available()
    assert catalog.problems(language, template) == []


def test_messages_are_literals_babel_can_extract():
    """`_(f"...")` or `_(name)` would be skipped by the extraction: every marker takes string
    literals."""
    found = []
    for folder in catalog.SOURCES:
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                    continue
                if node.func.id not in MARKERS:
                    continue
                texts = node.args[:2] if node.func.id == "n_" else node.args[:1]
                if not texts or not all(
                    isinstance(a, ast.Constant) and isinstance(a.value, str) for a in texts
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_a_plain_string_or_a_message_built_at_run_time_is_refused():
    with pytest.raises(TypeError):
        i18n.render("Hello there", "en")
    with pytest.raises(LookupError):
        i18n.render(i18n.Text("A sentence nobody marked"), "en")


def test_rendering_follows_the_reader():
    said = _("Usage: `{usage}`", usage="help")
    assert i18n.render(said, "en") == "Usage: `help`"
    assert i18n.render(said, "fr") == i18n.translations("fr").gettext("Usage: `{usage}`").format(
        usage="help"
    )
    assert i18n.render(said, "fr") != i18n.render(said, "en")
    when = Day(__import__("datetime").datetime(2026, 12, 20, 10, 0), "EEE dd MMM y HH:mm")
    assert when.render("en") == "Sun 20 Dec 2026 10:00"
    assert when.render("fr") == "dim. 20 déc. 2026 10:00"
    assert Number(12345.5, 1).render("fr") == "12\u202f345,5"
    assert Number(12345.5, 1).render("en") == "12,345.5"
    assert Number(12345.5, 1).render("pt") == "12.345,5"
    both = lines(_("Which timezone?"), None, _("Usage: `{usage}`", usage="x"))
    assert both.render("en") == "Which timezone?\nUsage: `x`"


def test_plurals_follow_each_language():
    singular = "I have {n} quick question so that others can find you."
    plural = "I have {n} quick questions so that others can find you."
    one, many = n_(singular, plural, 1), n_(singular, plural, 3)
    assert one.render("en") == "I have 1 quick question so that others can find you."
    assert many.render("en") == "I have 3 quick questions so that others can find you."
    for language in ("fr", "es", "pt"):
        forms = i18n.translations(language)
        assert one.render(language) == forms.ngettext(singular, plural, 1).format(n=1)
        assert many.render(language) == forms.ngettext(singular, plural, 3).format(n=3)
        assert one.render(language) != many.render(language)


def test_a_language_whose_catalog_is_missing_speaks_english_with_one_warning(
    tmp_path, monkeypatch, caplog
):
    (tmp_path / "de" / "LC_MESSAGES").mkdir(parents=True)
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.translations.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="bot.i18n"):
            first = i18n.render(_("Usage: `{usage}`", usage="x"), "de")
            again = i18n.render(_("Usage: `{usage}`", usage="y"), "de")
        assert (first, again) == ("Usage: `x`", "Usage: `y`")
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "de" in warnings[0].getMessage()
    finally:
        i18n.translations.cache_clear()


def test_an_unreadable_catalog_speaks_english(tmp_path, monkeypatch, caplog):
    folder = tmp_path / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "convener.mo").write_bytes(b"not a catalog")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.translations.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="bot.i18n"):
            assert i18n.render(_("Which timezone?"), "fr") == "Which timezone?"
        assert isinstance(i18n.translations("fr"), gettext.NullTranslations)
        assert any("fr" in r.getMessage() for r in caplog.records)
    finally:
        i18n.translations.cache_clear()


def test_a_checkout_without_compiled_catalogs_reads_the_po(tmp_path, monkeypatch):
    source = i18n.LOCALE_DIR / "fr" / "LC_MESSAGES" / "convener.po"
    folder = tmp_path / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "convener.po").write_bytes(source.read_bytes())
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.translations.cache_clear()
    try:
        said = _("Which timezone?")
        assert i18n.render(said, "fr") == catalog.read("fr").get("Which timezone?").string
    finally:
        i18n.translations.cache_clear()


def test_codes_people_and_platforms_write():
    assert i18n.code("fr") == "fr"
    assert i18n.code("FR") == "fr"
    assert i18n.code("fr-FR") == "fr"
    assert i18n.code("pt_BR") == "pt"
    assert i18n.code("en-US") == "en"
    assert i18n.code("xx") is None
    assert i18n.code("") is None
    assert i18n.name_of("fr") == "Français"
    assert i18n.name_of("es") == "Español"


def test_a_fifth_language_is_a_catalog_and_nothing_else(tmp_path, monkeypatch):
    """A `de` catalog beside the others: Convener offers German, reads its catalog and stems
    German library entries with German's Snowball stemmer."""
    import shutil

    from bot import stemming

    for code in ("fr", "es", "pt"):
        shutil.copytree(i18n.LOCALE_DIR / code, tmp_path / code)
    german = catalog.read("fr")
    german.locale = None
    for message in german:
        if message.id and message.id == "Which timezone?":
            message.string = "Welche Zeitzone?"
    (tmp_path / "de" / "LC_MESSAGES").mkdir(parents=True)
    catalog.write(german, tmp_path / "de" / "LC_MESSAGES" / "convener.po")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.translations.cache_clear()
    try:
        assert i18n.available() == ("en", "de", "es", "fr", "pt")
        assert i18n.code("de-AT") == "de"
        assert i18n.render(_("Which timezone?"), "de") == "Welche Zeitzone?"
        assert stemming._snowball_names()["de"] == "german"
    finally:
        i18n.translations.cache_clear()
