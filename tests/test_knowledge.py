"""The knowledge library, on every platform name and database: solved questions kept with
their answers, resources, and the one full-text search."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.models import KnowledgeEntry
from tests.harness import BotHarness

QUESTION = "How do other cities plan a multi-year capital budget?"


async def entries(bot: BotHarness) -> list[KnowledgeEntry]:
    async with bot.app.db.sessions() as session:
        return list(
            (await session.scalars(select(KnowledgeEntry).order_by(KnowledgeEntry.id))).all()
        )


async def test_a_solved_question_is_kept_with_its_answers_as_they_stand(bot):
    await bot.say("fac", "!topic add budgeting: budget, multi-year")
    await bot.say("kofi", "!expertise add budgeting")
    await bot.say("lena", f"!ask {QUESTION}")
    root = next(s for s in bot.posts_in() if "Question #1**" in s.text)
    await bot.say("lena", "We have five years of data.", thread_id=root.message_id)
    kofi = await bot.say("kofi", "We phase it over three yeras.", thread_id=root.message_id)
    ama = await bot.say("ama", "Ask the treasury.", thread_id=root.message_id)
    bot.edit(kofi, "We phase it over three years, with a rolling plan.")
    bot.delete(ama)
    await bot.say("lena", "!solved 1")
    [entry] = await entries(bot)
    assert entry.question_id == 1 and entry.message_id == root.message_id
    assert entry.body.splitlines() == [
        QUESTION,
        "",
        "kofi: We phase it over three years, with a rolling plan.",
    ]
    solved = [s.text for s in bot.posts_in() if s.thread_id == root.message_id][-1]
    assert "solved, thanks to kofi" in solved and "kept in the library" in solved
    await bot.say("ben", "!search budgets")
    answer = bot.last_reply_to("ben")
    assert f"#{entry.id} {QUESTION}" in answer and "rolling plan" in answer
    assert "budgeting" in answer


async def test_a_question_solved_without_answers_is_not_kept(bot):
    await bot.say("lena", "!ask Where is the audit guide?")
    await bot.say("lena", "!solved 1")
    assert await entries(bot) == []
    assert "kept in the library" not in bot.posts_in()[-1].text


async def corpus(bot: BotHarness) -> None:
    await bot.say("fac", "!topic add budgeting")
    await bot.say("fac", "!topic add procurement")
    for line in (
        "https://example.org/a Multi-year budgeting toolkit: budgeting",
        "https://example.org/b Procurement guide for small towns: procurement",
        "https://example.org/c Budget calendar for small towns",
        "https://example.org/d Calendar of training academies",
    ):
        await bot.say("fac", f"!resource add {line}")
        bot.clock.advance(minutes=1)


def titles(answer: str) -> list[str]:
    return [
        line.split(" ", 2)[2].split(" — ")[0].split(" · ")[0] for line in answer.splitlines()[1:]
    ]


@pytest.mark.parametrize(
    ("words", "first", "rest"),
    [
        ("budgets", None, {"Budget calendar for small towns", "Multi-year budgeting toolkit"}),
        ("procurement", "Procurement guide for small towns", set()),
        ('"budget calendar"', "Budget calendar for small towns", set()),
        ('"small towns" procurement', "Procurement guide for small towns", set()),
        ("budget calendar", "Budget calendar for small towns",
         {"Calendar of training academies", "Multi-year budgeting toolkit"}),
    ],
)  # fmt: skip
async def test_search_ranks_by_relevance(bot, words, first, rest):
    await corpus(bot)
    await bot.say("ben", f"!search {words}")
    found = titles(bot.last_reply_to("ben"))
    if first is not None:
        assert found[0] == first
        found = found[1:]
    assert set(found) == rest and len(found) == len(rest)


async def test_search_prefers_the_newer_of_equally_relevant_entries(bot):
    for url in ("https://example.org/old", "https://example.org/new"):
        await bot.say("fac", f"!resource add {url} Revenue forecasting guide")
        bot.clock.advance(days=30)
    await bot.say("ben", "!search forecasting")
    assert "example.org/new" in bot.last_reply_to("ben").splitlines()[1]


async def test_search_with_no_match_says_so(bot):
    await corpus(bot)
    await bot.say("ben", "!search zebra")
    assert bot.last_reply_to("ben").startswith("Nothing in the library matches zebra")


async def test_search_counts_what_it_showed(bot):
    await corpus(bot)
    await bot.say("ben", "!search procurement")
    await bot.say("ben", "!search procurement")
    shown = {e.title: e.shown for e in await entries(bot)}
    assert shown["Procurement guide for small towns"] == 2
    assert shown["Multi-year budgeting toolkit"] == 0


async def test_resources_listed_by_topic_and_removed(bot):
    await corpus(bot)
    await bot.say("ben", "!resources")
    assert bot.last_reply_to("ben").count("• #") == 4
    await bot.say("ben", "!resources budgetting")
    listing = bot.last_reply_to("ben")
    assert "Resources on budgeting:" in listing and "Multi-year budgeting toolkit" in listing
    assert "Procurement" not in listing
    await bot.say("fac", "!resource remove 2")
    assert "Removed resource #2" in bot.last_reply_to("fac")
    await bot.say("ben", "!resources procurement")
    assert "No resources on procurement yet" in bot.last_reply_to("ben")


async def test_titles_are_text_never_markup(bot):
    await bot.say("fac", "!resource add https://example.org/x *Bold* <b>guide</b> [link](y)")
    [entry] = await entries(bot)
    assert entry.title == "Bold bguide/b link(y)"


@pytest.mark.parametrize(
    ("who", "command", "answer"),
    [
        ("fac", "!resource add javascript:alert(1) Nice", "is not a web link"),
        ("fac", "!resource add ftp://example.org/f Files", "is not a web link"),
        ("fac", "!resource add https://example.org/x", "Give a link and a title"),
        ("fac", "!resource add https://example.org/x Guide: weaving", "I don't know the topic"),
        ("fac", "!resource remove 9", "There is no resource #9"),
        ("fac", "!resource remove x", "is not a resource number"),
        ("lena", "!resource add https://example.org/x Guide", "Only facilitators"),
        ("lena", "!resources basketweaving", "I don't know the topic"),
        ("lena", "!search", "What should I look for?"),
    ],
)
async def test_bad_input_gets_a_short_answer_and_changes_nothing(bot, who, command, answer):
    await bot.say(who, command)
    reply = bot.last_reply_to(who)
    assert answer in reply and len(reply) < 400
    assert await entries(bot) == []


# the library at `ask` -----------------------------------------------------------------------


async def library_and_expert(bot: BotHarness) -> None:
    await bot.say("fac", "!topic add budgeting: budget, multi-year")
    await bot.say("kofi", "!expertise add budgeting")
    await bot.say(
        "fac",
        "!resource add https://example.org/cip How cities plan a multi-year capital budget:"
        " budgeting",
    )
    bot.clear()


def kofi_asked(bot: BotHarness) -> bool:
    return any("decline 1" in text for text in bot.replies_to("kofi"))


async def test_a_question_the_library_answers_bothers_no_expert(bot):
    await library_and_expert(bot)
    await bot.say("lena", f"!ask {QUESTION}")
    offer = [s for s in bot.posts_in() if s.thread_id][-1]
    assert "The library may already answer this" in offer.text
    assert "#1 How cities plan a multi-year capital budget" in offer.text
    assert "example.org/cip" in offer.text
    if bot.platform_name == "slack":
        assert [a.command for a in offer.extra["actions"]] == ["solved 1 entry 1", "route 1"]
    assert not kofi_asked(bot)
    await bot.say("lena", "!solved 1 entry 1")
    assert "answered by the library (#1 How cities plan" in bot.last_reply_to("lena")
    [entry] = await entries(bot)
    assert (entry.shown, entry.answered) == (1, 1)
    bot.clock.advance(minutes=30)
    await follow_up(bot)
    assert not kofi_asked(bot)


async def test_route_asks_the_experts_at_once(bot):
    await library_and_expert(bot)
    await bot.say("lena", f"!ask {QUESTION}")
    await bot.say("ben", "!route 1")
    assert "Only the person who asked #1" in bot.last_reply_to("ben")
    await bot.say("lena", "!route 1")
    assert "I've asked a member who knows budgeting" in bot.last_reply_to("lena")
    assert kofi_asked(bot)
    await bot.say("lena", "!route 1")
    assert "already with the experts" in bot.last_reply_to("lena")


async def test_the_experts_are_asked_when_the_wait_is_over(bot):
    await library_and_expert(bot)
    await bot.say("lena", f"!ask {QUESTION}")
    bot.clock.advance(minutes=9)
    await follow_up(bot)
    assert not kofi_asked(bot)
    bot.clock.advance(minutes=2)
    await follow_up(bot)
    assert kofi_asked(bot)
    await follow_up(bot)
    assert sum("decline 1" in t for t in bot.replies_to("kofi")) == 1


async def test_solved_while_waiting_credits_the_best_entry(bot):
    await library_and_expert(bot)
    await bot.say("lena", f"!ask {QUESTION}")
    await bot.say("lena", "!solved 1")
    assert "answered by the library (#1" in bot.last_reply_to("lena")
    await bot.say("lena", "!solved 2 entry 1")
    assert "There is no question #2" in bot.last_reply_to("lena")


async def test_an_unrelated_question_is_routed_at_once(bot):
    await library_and_expert(bot)
    await bot.say("lena", "!ask How do you forecast a budget deficit for pensions?")
    assert kofi_asked(bot)
    assert not any("library may already" in s.text for s in bot.posts_in())


async def follow_up(bot: BotHarness):
    from handlers.questions import jobs

    await bot.app.activity.flush()
    done = await jobs.follow_up(bot.app.services())
    await bot.deliver()
    return done


async def test_declared_arguments_answer_with_the_usage_and_change_nothing(bot):
    await bot.say("fac", "!resource add https://example.org/x Guide")
    await bot.say("fac", "!resource remove 1 2")
    assert bot.last_reply_to("fac") == (
        "Which resource? For example: resource remove 4\nUsage: `resource remove <id>`"
    )
    await bot.say("fac", "!resource add https://example.org/y")
    assert bot.last_reply_to("fac") == (
        "Give a link and a title.\nUsage: `resource add <url> <title>[: topic, ...]`"
    )
    await bot.say("lena", "!search")
    assert bot.last_reply_to("lena") == (
        "What should I look for? For example: search budget forecasting\nUsage: `search <words>`"
    )
    assert [entry.title for entry in await entries(bot)] == ["Guide"]
    await bot.say("fac", "!resource remove #1")
    assert bot.last_reply_to("fac") == "Removed resource #1 (Guide)."
