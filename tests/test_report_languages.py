"""The engagement workbook in the language of whoever pulls it (`report` in chat: the
puller's; `convener report --language`): sheet names, headers, figure names, definitions and
notes from the catalog, dates in the language's conventions, numbers kept as numbers, sheet
names valid for Excel whatever the translation, and the file opens in LibreOffice.

Until the fr/es catalogs are translated a French workbook reads like the English one, so the
expected texts are the catalog's (`render(_(msgid), language)`), and a pseudo-translation
(every message made longer, with characters a sheet name may not hold) checks now that every
word goes through the catalog."""

from __future__ import annotations

import gettext
import io
import os
import shutil
from datetime import datetime
from types import SimpleNamespace

import pytest
from openpyxl import Workbook, load_workbook

from bot import i18n
from bot.i18n import Number, _, render
from bot.workbook import Sheet, cell_format, day_pattern, new_book, sheet_title
from handlers.reports.build import write_report
from handlers.reports.definitions import DEFINITIONS
from handlers.reports.overview import FIGURES, POINTS, formats
from handlers.reports.pdf import to_pdf
from handlers.reports.period import parse_period
from handlers.reports.sheets import STATUS
from tests.harness import BotHarness
from tests.test_cli import convener
from tests.test_report import community, rows

LANGUAGES = ["fr", "es"]
SHEETS = [
    _("Overview"), _("Summary"), _("Weekly"), _("Charts"), _("Members"), _("Channels"),
    _("Questions"), _("Prompts"), _("Knowledge"), _("Events"), _("Calls"), _("Connections"),
    _("Definitions"),
]  # fmt: skip
ENGLISH_SHEETS = [render(name, "en") for name in SHEETS]
NOT_IN_A_SHEET_NAME = set("\\/?*:[]")
# What Babel's CLDR data gives for 2026-04-01 00:00 and the cells' formats.
PULLED = {"fr": "01/04/2026 00:00", "es": "1/4/2026, 0:00"}
MOMENT_FORMAT = {"fr": "dd/mm/yyyy hh:mm", "es": 'd/m/yyyy", "h:mm'}
DAY_FORMAT = {"fr": "dd/mm/yyyy", "es": "d/m/yyyy"}


def workbook(bot, language: str, *words: str, pseudonymous: bool = False) -> Workbook:
    period = parse_period(list(words), bot.clock().date(), "UTC")
    buffer = io.BytesIO()
    write_report(
        bot.app.db.sync_url, period, buffer, now=bot.clock(), timezone="UTC",
        pseudonymous=pseudonymous, community=bot.settings.community_name, language=language,
    )  # fmt: skip
    buffer.seek(0)
    return load_workbook(buffer)


def sheet_names(language: str) -> list[str]:
    """The sheets' names as the catalog gives them, made valid for Excel in order."""
    book, names = new_book(), []
    for name in SHEETS:
        names.append(sheet_title(book, name, language))
        book.create_sheet(names[-1])
    return names


def assert_valid_sheet_names(names: list[str]) -> None:
    assert len({name.casefold() for name in names}) == len(names), names
    for name in names:
        assert 1 <= len(name.encode("utf-16-le")) // 2 <= 31, name
        assert not NOT_IN_A_SHEET_NAME & set(name), name
        assert not name.startswith("'") and not name.endswith("'"), name


class Pseudo(gettext.NullTranslations):
    """Every message longer, with characters a sheet name may not hold and an apostrophe;
    placeholders kept."""

    def gettext(self, message: str) -> str:
        return f"ƒ{message} : [l'équipe/traduction*longue?]"

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


@pytest.fixture
def pseudo_french(monkeypatch):
    """French as the pseudo-translation (other languages as they are)."""
    real = i18n.translations

    def translations(language: str) -> gettext.NullTranslations:
        return Pseudo() if language == "fr" else real(language)

    monkeypatch.setattr(i18n, "translations", translations)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_sheets_headers_and_definitions_are_the_catalogs(bot, language):
    await community(bot)
    book = workbook(bot, language, "2026-03-01", "2026-03-31")
    assert book.sheetnames == sheet_names(language)
    assert_valid_sheet_names(book.sheetnames)
    overview, summary, members = (book.sheetnames[i] for i in (0, 1, 4))

    assert rows(book, summary)[4] == tuple(
        render(_(header), language)
        for header in ("Figure", "This period", "Previous period", "Change")
    )
    figures = {row[0]: row[1] for row in rows(book, summary)[5:]}
    assert figures[render(FIGURES["active"], language)] == 3  # numbers stay numbers
    assert rows(book, summary)[0][0] == render(
        _("Engagement summary: {community}", community=bot.settings.community_name), language
    )
    assert rows(book, overview)[0][0] == render(
        _("Community engagement: {community}", community=bot.settings.community_name), language
    )
    assert rows(book, members)[0][:3] == tuple(
        render(_(header), language) for header in ("Name", "City", "Organisation")
    )
    statuses = {row[0]: row[14] for row in rows(book, members)[1:]}
    assert statuses["alice"] == render(STATUS["new"], language)
    assert statuses["olga"] == render(STATUS["quiet"], language)

    definitions = {row[0]: row[1] for row in rows(book, book.sheetnames[-1])[1:]}
    for term, meaning in DEFINITIONS:
        assert definitions[render(term, language)] == render(meaning, language)
    assert rows(book, book.sheetnames[-1])[0] == (
        render(_("Term"), language),
        render(_("Meaning"), language),
    )


@pytest.mark.parametrize("language", LANGUAGES)
async def test_dates_and_numbers_follow_the_language(bot, language):
    await community(bot)
    book = workbook(bot, language, "2026-03-01", "2026-03-31")
    overview, summary, weekly, members = (book.sheetnames[i] for i in (0, 1, 2, 4))
    assert PULLED[language] in rows(book, summary)[2][0]
    assert rows(book, summary)[2][0] == render(
        _("Pulled {moment} ({zone})", moment=PULLED[language], zone="UTC"), language
    )
    assert day_pattern(language, time=True) != day_pattern("en", time=True)
    # Dates stay dates, shown in the language's order.
    ws = book[members]
    assert isinstance(ws["E2"].value, datetime)
    assert ws["E2"].number_format == MOMENT_FORMAT[language]
    assert book[weekly]["A2"].number_format == DAY_FORMAT[language]
    assert book[overview]["F6"].number_format == DAY_FORMAT[language]
    # Numbers stay numbers; a share's change is in the language's percentage points.
    summary_rows = {row[0].value: row for row in book[summary].iter_rows(min_row=6)}
    unanswered = summary_rows[render(FIGURES["unanswered_24h"], language)]
    assert isinstance(unanswered[1].value, float) and unanswered[1].number_format == "0%"
    report = SimpleNamespace(say=lambda message: render(message, language))
    change = formats(report, "unanswered_24h")[1]
    assert change == '+0" {pp}";-0" {pp}";0" {pp}"'.format(pp=render(POINTS, language))
    hours = hours_row(summary_rows, language)
    assert hours[1].value == pytest.approx(24) and hours[1].number_format == "0.0"


def hours_row(summary_rows: dict, language: str) -> tuple:
    return summary_rows[render(FIGURES["median_hours"], language)]


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_french_and_spanish_workbooks_are_translated(bot, language):
    await community(bot)
    book = workbook(bot, language, "2026-03-01", "2026-03-31")
    # Some words are the same in both languages (Questions in French): most are not.
    pairs = zip(book.sheetnames, ENGLISH_SHEETS, strict=True)
    differ = [name for name, english in pairs if name != english]
    assert len(differ) >= len(ENGLISH_SHEETS) // 2, book.sheetnames
    assert book.sheetnames[0] != "Overview"
    terms = [row[0] for row in rows(book, book.sheetnames[-1])[1:]]
    assert render(_("Status: dormant"), "en") not in terms


async def test_every_word_goes_through_the_catalog(bot, pseudo_french):
    """With a pseudo-translation, every sheet name, header, figure, status, definition and
    note is the translated one, and the sheet names stay valid however long it is."""
    await community(bot)
    book = workbook(bot, "fr", "2026-03-01", "2026-03-31", pseudonymous=True)
    assert book.sheetnames == sheet_names("fr")
    assert_valid_sheet_names(book.sheetnames)
    assert all(name.startswith("ƒ") for name in book.sheetnames)
    assert len(book.sheetnames[0]) == 31  # cut

    def words(sheet: str, row: int) -> list:
        return [value for value in rows(book, sheet)[row] if value is not None]

    overview, summary, weekly, charts, members = book.sheetnames[:5]
    assert all(line[0].startswith("ƒ") for line in rows(book, summary)[:3])
    assert all(word.startswith("ƒ") for word in words(summary, 4))
    assert all(row[0].startswith("ƒ") for row in rows(book, summary)[5:-1])
    assert rows(book, summary)[-1][0].startswith("ƒShares change")
    assert all(word.startswith("ƒ") for word in words(overview, 4))
    assert all(word.startswith("ƒ") for word in words(weekly, 0))
    assert rows(book, charts)[0][0].startswith("ƒWeeks wholly in")
    assert all(word.startswith("ƒ") for word in words(members, 0))
    for row in rows(book, members)[1:]:
        assert row[0].startswith("ƒMember "), row  # the pseudonym's word
        assert row[14].startswith("ƒ"), row
    for sheet in book.sheetnames[5:]:
        assert all(word.startswith("ƒ") for word in words(sheet, 0)), sheet
    notes = [rows(book, sheet)[1][0] for sheet in book.sheetnames[8:11]]  # nothing there
    assert [note.split(" ")[0] for note in notes] == ["ƒThe", "ƒNo", "ƒNo"]
    definitions = rows(book, book.sheetnames[-1])[1:]
    assert all(term.startswith("ƒ") and meaning.startswith("ƒ") for term, meaning in definitions)
    for ws in book.worksheets:
        assert ws.oddFooter.center.text.startswith("ƒ&A, page &P of &N"), ws.title
    titles = [chart_title(chart) for chart in book[charts]._charts + book[overview]._charts]
    assert len(titles) == 4 and all(title.startswith("ƒ") for title in titles), titles


def chart_title(chart) -> str:
    return "".join(run.t for paragraph in chart.title.tx.rich.p for run in paragraph.r or ())


async def test_the_report_command_speaks_the_pullers_language(bot, pseudo_french):
    await community(bot)
    await bot.say("coord", "!profile language fr")
    await bot.say("coord", "!report 2026-03-01 2026-03-31")
    period = parse_period(["2026-03-01", "2026-03-31"], bot.clock().date(), "UTC")
    assert bot.last_reply_to("coord") == render(
        _("I sent you the report for {period} as a direct message.", period=period.said()), "fr"
    )
    [sent] = bot.files_to("coord")
    book = load_workbook(io.BytesIO(sent.data))
    assert book.sheetnames == sheet_names("fr")
    await bot.say("fac", "!report 2026-03-01 2026-03-31")  # in the community's language
    [english] = bot.files_to("fac")
    assert load_workbook(io.BytesIO(english.data)).sheetnames == ENGLISH_SHEETS


async def test_stats_figures_in_the_readers_conventions(bot, pseudo_french):
    await community(bot)
    bot.clock.now = datetime(2026, 3, 26, 9, tzinfo=bot.clock.now.tzinfo)
    await bot.say("fac", "!profile language fr")
    await bot.say("fac", "!stats 30")
    answer = bot.last_reply_to("fac")
    assert answer.startswith("ƒLast 30 days (ƒ2026-02-25 to 2026-03-26")
    assert render(_("{hours} h", hours=Number(24.0, places=1)), "fr") in answer
    assert "24,0 h" in answer  # the French decimal comma


def test_the_command_line_writes_the_workbook_in_the_language_asked(tmp_path):
    done = convener(tmp_path, "report", "--language", "fr-FR", "-o", "fr.xlsx")
    assert done.returncode == 0, done.stderr
    assert load_workbook(tmp_path / "fr.xlsx").sheetnames == sheet_names("fr")
    done = convener(tmp_path, "report", "-o", "es.xlsx", CONVENER_LANGUAGE="es")
    assert done.returncode == 0, done.stderr
    book = load_workbook(tmp_path / "es.xlsx")
    assert book.sheetnames == sheet_names("es")
    assert book[book.sheetnames[2]]["A1"].value == render(_("Week (Monday)"), "es")
    done = convener(tmp_path, "report", "--language", "klingon", "-o", "x.xlsx")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "'klingon' is not a language Convener speaks (en, " in done.stderr
    assert not (tmp_path / "x.xlsx").exists()


def test_sheet_names_stay_valid_for_excel_whatever_the_translation():
    book, names = new_book(), []
    for raw in (
        "Vue d'ensemble : [chiffres]*?/\\ pour le conseil d'administration",
        "Overview",
        "overview",
        "'Quoted'",
        "History",
        "Ω" * 40,
        "a" * 30 + "😀",
        "e" * 30 + "e\u0301",
        ":/?",
    ):
        names.append(sheet_title(book, i18n.verbatim(raw)))
        book.create_sheet(names[-1])
    assert names[0] == "Vue d'ensemble chiffres pour le"
    assert names[1:3] == ["Overview", "overview (2)"]
    assert names[3:5] == ["Quoted", "History (2)"]
    assert names[5] == "Ω" * 31 and names[6] == "a" * 30
    assert names[8] == "Sheet"
    assert_valid_sheet_names(names)
    assert load_workbook(io.BytesIO(saved(book))).sheetnames == names


def test_english_dates_stay_iso():
    assert (day_pattern("en"), day_pattern("en", time=True)) == ("yyyy-MM-dd", "yyyy-MM-dd HH:mm")
    assert cell_format(day_pattern("en", time=True)) == "yyyy-mm-dd hh:mm"
    assert cell_format(day_pattern("en")) == "yyyy-mm-dd"
    assert cell_format(day_pattern("de")) == 'd"."m"."yyyy'


def saved(book: Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.mark.slow
@pytest.mark.one_database  # what LibreOffice reads does not depend on the database
@pytest.mark.parametrize("language", [*LANGUAGES, "pseudo"])
async def test_libreoffice_opens_the_workbook(settings, clock, tmp_path, language, monkeypatch):
    if language == "pseudo":
        real = i18n.translations
        monkeypatch.setattr(
            i18n, "translations", lambda code: Pseudo() if code == "fr" else real(code)
        )
    bot = await BotHarness("console", settings, clock).start()
    try:
        await community(bot)
        code = "fr" if language == "pseudo" else language
        path = tmp_path / f"{language}.xlsx"
        path.write_bytes(saved_report(bot, code))
    finally:
        await bot.close()
    # A sheet with a long name, brackets and an apostrophe, referred to by charts and
    # print titles, still makes a file LibreOffice reads.
    if shutil.which("soffice") is None:
        if os.environ.get("CI"):
            pytest.fail("soffice is missing in CI (scripts/install-libreoffice.sh installs it)")
        pytest.skip("LibreOffice is not installed")
    pdf = to_pdf(path)
    from pypdf import PdfReader

    pages = PdfReader(pdf).pages
    assert len(pages) >= len(SHEETS)
    heading = render(_("Community engagement: {community}", community=settings.community_name),
                     code)  # fmt: skip
    assert heading.split(" [")[0] in pages[0].extract_text()


def saved_report(bot, language: str) -> bytes:
    period = parse_period(["2026-03-01", "2026-03-31"], bot.clock().date(), "UTC")
    buffer = io.BytesIO()
    write_report(
        bot.app.db.sync_url, period, buffer, now=bot.clock(), timezone="UTC",
        community=bot.settings.community_name, language=language,
    )  # fmt: skip
    return buffer.getvalue()


def test_a_sheet_of_another_feature_defaults_to_english():
    book = new_book()
    sheet = Sheet(book, _("Members"), [(_("Name"), 10, None), (None, 3, None)])
    sheet.note(_("No members yet."))
    book = load_workbook(io.BytesIO(saved(book)))
    assert book.sheetnames == ["Members"]
    assert list(book["Members"].iter_rows(values_only=True)) == [
        ("Name", None),
        ("No members yet.", None),
    ]
