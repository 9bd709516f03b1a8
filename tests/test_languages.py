"""Every member in their own language, end to end on each platform name: a member who chose
French, Spanish or Portuguese completes onboarding, asks a question routed to an expert who
reads another language, gets an event reminder and (as a facilitator) the weekly digest, and
every line Convener wrote to them is in their language; the expert reads theirs.

"In their language" is checked two ways: lines known in advance equal the catalog's
translation, and no English sentence of the catalog (any stretch of a message's own words
that its translation does not keep) appears in anything the member read."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot import i18n, members
from bot.i18n import _
from bot.models import KnowledgeEntry
from handlers.digest import jobs as digest_jobs
from handlers.events import jobs as event_jobs
from tests.harness import BotHarness

OTHER = {"fr": "es", "es": "pt", "pt": "fr"}
QUESTIONS = {  # asked in the member's language; the topic given, since topics are English here
    "fr": "Comment les autres villes planifient-elles un budget d'investissement pluriannuel ?",
    "es": "¿Cómo planifican las otras ciudades un presupuesto de inversión plurianual?",
    "pt": "Como as outras cidades planejam um orçamento de investimento plurianual?",
}
SEARCHED = {"fr": "budgets pluriannuels", "es": "presupuestos", "pt": "orcamentos"}
PLACEHOLDER = re.compile(r"\{\w+\}")


def english_stretches(language: str) -> list[str]:
    """The stretches of English that each catalog message's translation into `language`
    does not keep: words of at least three letters, four or more in a row (so command
    syntax, names and placeholders, which translations keep, never count)."""
    found = set()
    translations = i18n.translations(language)
    for message in _catalog_ids():
        translated = translations.gettext(message)
        if translated == message:
            continue
        for piece in PLACEHOLDER.split(message.replace("{{", "").replace("}}", "")):
            piece = re.sub(r"`[^`]*`", " ", piece)
            words = re.findall(r"[A-Za-z][A-Za-z']+", piece)
            for start in range(0, max(len(words) - 3, 0)):
                stretch = words[start : start + 4]
                if all(len(w) >= 3 for w in stretch):
                    found.add(" ".join(stretch))
    return sorted(found)


def _catalog_ids() -> list[str]:
    from babel.messages.pofile import read_po

    with i18n.TEMPLATE.open("rb") as fp:
        return [m.id if isinstance(m.id, str) else m.id[1] for m in read_po(fp) if m.id]


def english_in(texts: list[str], language: str) -> list[tuple[str, str]]:
    stretches = english_stretches(language)
    leaks = []
    for text in texts:
        flat = " ".join(re.findall(r"[A-Za-z][A-Za-z']+", re.sub(r"`[^`]*`", " ", text)))
        leaks += [(stretch, text) for stretch in stretches if stretch in flat]
    return leaks


def said(reader: str, msgid: str, **params: object) -> str:
    return i18n.render(_(msgid, **params), reader)


async def language_of(bot: BotHarness, name: str) -> str | None:
    async with bot.app.db.sessions() as session:
        member = await members.find(session, bot.user(name))
        return member.language if member else None


# On the console once per language, and on Slack and Matrix in one language each.
@pytest.mark.parametrize(
    ("platform_name", "language"),
    [("console", "fr"), ("console", "es"), ("console", "pt"), ("slack", "pt"), ("matrix", "fr")],
)
async def test_a_member_reads_everything_in_their_language(bot, language):
    other = OTHER[language]
    assert english_stretches(language), "the catalog has no translation to check against"
    await bot.say("fac", "!topic add budgeting: budget, multi-year")
    await bot.say("kofi", f"!profile language {other}")
    await bot.say("kofi", "!expertise add budgeting")
    await bot.say("dana", f"!profile language {language}")
    assert await language_of(bot, "dana") == language
    await bot.join("dana")
    await bot.dm("dana", "Nairobi")
    await bot.dm("dana", "City of Nairobi, budget officer")
    await bot.dm("dana", "procurement")
    await bot.dm("dana", "budgeting")
    onboarding = bot.replies_to("dana")
    assert said(language, "Question {number} of {total}: {question}", number=1, total=4,
                question=_("Which city do you work in?")) in "\n".join(onboarding)  # fmt: skip

    question = QUESTIONS[language]
    await bot.say("dana", f"!ask {question}: budgeting")
    await bot.deliver()
    asked = bot.posts_in()[-2]
    expert_dm = [t for t in bot.replies_to("kofi") if question in t]
    assert expert_dm, "the expert was asked"
    assert english_in(expert_dm, other) == []  # the expert reads their own language

    await bot.say("kofi", "We phase it over three years.", thread_id=asked.message_id)
    await bot.say("dana", "!questions mine")
    await bot.say("dana", "!solved 1")
    await bot.deliver()
    async with bot.app.db.sessions() as session:
        kept = (await session.scalars(select(KnowledgeEntry))).one()
    assert kept.language == language  # indexed in its own language
    await bot.say("dana", f"!search {SEARCHED[language]}")
    assert question[:40] in bot.last_reply_to("dana")  # other forms of its words find it

    await bot.say("fac", f"!role grant {bot.mention('dana')} facilitator")
    start = bot.clock().astimezone(UTC).replace(second=0, microsecond=0)
    await bot.say("fac", f'!event add {start:%Y-%m-%d} 23:30 UTC "Budget calendar clinic"')
    await bot.say("dana", "!rsvp 1")
    bot.clock.now = datetime(start.year, start.month, start.day, 23, 30, tzinfo=UTC)
    bot.clock.advance(hours=-1)  # an hour before
    await event_jobs.remind(bot.app.services())
    await bot.deliver()
    bot.clock.now = datetime(start.year, start.month, start.day, 9, 0, tzinfo=UTC)
    assert await digest_jobs.send_weekly(bot.app.services()) >= 1
    await bot.deliver()

    read = bot.replies_to("dana")
    heading = i18n.translations(language).gettext(
        "**Weekly digest** for {community}: {start} to {end}"
    )
    assert any(text.startswith(heading.split("{")[0]) for text in read), "the digest came"
    reminder = [t for t in read if "Budget calendar clinic" in t]
    assert len(reminder) >= 2, "the RSVP's answer and the reminder"
    assert english_in(read, language) == []
    assert len(read) >= 12


@pytest.mark.slow
def test_the_real_console_speaks_each_member_s_language(tmp_path):
    """`convener run` on the console, scripted: the community speaks Spanish
    (CONVENER_LANGUAGE=es), so `you` and a newcomer's welcome read Spanish; the newcomer
    chooses French and the rest of onboarding is in French."""
    from tests.test_console import convener

    script = (
        "!help\n/as dana\n!profile language fr\n/join #general\n/dm Nairobi\n/dm stop\n!profile\n"
    )
    done = convener(tmp_path, script, CONVENER_LANGUAGE="es")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    spanish_help = said("es", "Here is what you can ask me:")
    assert f"[DM @you] convener: {spanish_help}" in out or f"convener: {spanish_help}" in out
    french = {
        "saved": said("fr", "Saved: your language is {language}.", language="Français"),
        "stopped": said("fr", "All right, no more questions."),
        "noted": said("fr", "Noted: {value}.", value="Nairobi"),
    }
    for line in french.values():
        assert line in out, line
    assert said("es", "Which city do you work in?") in out  # welcomed before she chose
    assert "Which city do you work in?" not in out and "All right" not in out
    assert "Traceback" not in done.stderr
