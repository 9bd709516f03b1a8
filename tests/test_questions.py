"""Questions to experts, on every platform name: ask, route, first response, solve, decline,
escalate, the offer on unanswered messages, and bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.cli import build
from bot.models import Activity, Member, Question, QuestionExpert, QuestionOffer
from handlers.questions import jobs
from tests.harness import BotHarness

TOPIC = "!topic add budgeting: budget, multi-year"
QUESTION = "How do other cities plan a multi-year capital budget?"


async def experts(bot: BotHarness, *names: str, topic: str = "budgeting") -> None:
    for name in names:
        await bot.say(name, f"!expertise add {topic}")


async def setup(bot: BotHarness, *names: str) -> None:
    await bot.say("fac", TOPIC)
    await experts(bot, *names)
    bot.clear()


async def rows(bot: BotHarness, model, *where) -> list:
    async with bot.app.db.sessions() as session:
        return list((await session.scalars(select(model).where(*where))).all())


async def told(bot: BotHarness, question_id: int = 1) -> set[str]:
    """Names of everyone told about a question, from the DMs sent."""
    names = set()
    for name in ("kofi", "ama", "zoe", "fac", "lena", "ben"):
        if any(f"#{question_id}" in text for text in bot.replies_to(name)):
            names.add(name)
    return names


def root_of(bot: BotHarness, question_id: int = 1):
    return next(s for s in bot.posts_in() if f"Question #{question_id}**" in s.text)


async def follow_up(bot: BotHarness):
    await bot.app.activity.flush()  # the job reads the activity log
    done = await jobs.follow_up(bot.app.services())
    await bot.deliver()
    return done


# asking and routing -----------------------------------------------------------------------


async def test_ask_posts_in_the_channel_and_asks_the_experts(bot):
    await setup(bot, "kofi", "ama", "zoe")
    await bot.say("lena", f"!ask {QUESTION}")
    root = root_of(bot)
    assert QUESTION in root.text and "lena" in root.text and root.thread_id is None
    thread = [s for s in bot.posts_in() if s.thread_id == root.message_id]
    assert len(thread) == 1
    assert "Question #1" in thread[0].text and "budgeting" in thread[0].text
    assert "solved 1" in thread[0].text
    buttons = thread[0].extra["actions"]
    if bot.platform_name == "slack":
        assert [a.command for a in buttons] == ["solved 1", "decline 1", "decline 1 not my topic"]
    else:
        assert buttons == []  # no buttons there: the text says which command to type
    asked = await told(bot)
    assert len(asked) == 2 and asked <= {"kofi", "ama", "zoe"}  # CONVENER_EXPERTS_PER_QUESTION
    dm = bot.last_reply_to(sorted(asked)[0])
    assert QUESTION in dm and "lena" in dm and "#general" in dm and "decline 1" in dm
    link = await bot.platform.permalink(bot.channel(), root.message_id)
    assert (link in dm) if link else ("Open the thread" not in dm)
    [question] = await rows(bot, Question)
    assert question.message_id == root.message_id and question.status == "open"


async def test_routing_ranks_by_match_then_load_then_least_recently_asked(bot):
    bot.app.settings.experts_per_question = 1
    await bot.say("fac", TOPIC)
    await bot.say("fac", "!topic add procurement")
    await experts(bot, "kofi", "ama")
    await experts(bot, "zoe", topic="budgeting, procurement")
    bot.clear()
    await bot.say("lena", "!ask Any budget advice for procurement of buses?")
    assert await told(bot, 1) == {"zoe"}  # matches both topics
    await bot.say("lena", "!ask A multi-year budget question?")
    assert await told(bot, 2) == {"kofi"}  # zoe has an open question; kofi before ama by id
    await bot.say("lena", "!ask Another budget question?")
    assert await told(bot, 3) == {"ama"}  # the one with no open question
    await bot.say("lena", "!solved 1")
    await bot.say("lena", "!solved 2")
    await bot.say("lena", "!solved 3")
    bot.clock.advance(minutes=5)
    await bot.say("lena", "!ask One more budget question?")
    assert await told(bot, 4) == {"kofi"}  # nobody has an open one: asked least recently


async def test_away_experts_and_the_asker_are_skipped(bot):
    bot.app.settings.experts_per_question = 1
    await setup(bot, "kofi", "ama")
    await bot.say("kofi", "!away")
    assert "won't route questions to you" in bot.last_reply_to("kofi")
    await bot.say("ama", f"!ask {QUESTION}")
    assert await told(bot, 1) == {"fac"}  # kofi away, ama asked it: nobody left
    await bot.say("kofi", "!back")
    assert "reach you again" in bot.last_reply_to("kofi")
    await bot.say("lena", f"!ask {QUESTION}")
    assert await told(bot, 2) == {"kofi"}


async def test_away_until_a_date_ends_by_itself(bot):
    bot.app.settings.experts_per_question = 1
    await setup(bot, "kofi")
    await bot.say("kofi", "!away until 2026-03-05")
    assert "until 2026-03-05" in bot.last_reply_to("kofi")
    await bot.say("lena", f"!ask {QUESTION}")
    assert "kofi" not in await told(bot, 1)
    bot.clock.advance(days=4)
    await bot.say("lena", "!ask Budget again?")
    assert "kofi" in await told(bot, 2)


async def test_no_expert_at_all_tells_the_facilitators(bot):
    await bot.say("fac", "hello")
    await bot.say("lena", "!ask Where do I find the 2025 audit guidelines?")
    thread = [s for s in bot.posts_in() if s.thread_id]
    assert "told the facilitators" in thread[0].text
    assert "Where do I find" in bot.last_reply_to("fac")
    [row] = await rows(bot, QuestionExpert)
    assert row.status == "facilitator"


async def test_named_topics_are_taken_from_the_end(bot):
    await bot.say("fac", "!topic add procurement")
    await setup(bot, "kofi")
    await bot.say("lena", "!ask What is a good first step? : budgeting")
    assert "kofi" in await told(bot, 1)
    [question] = await rows(bot, Question)
    assert question.text == "What is a good first step?"
    await bot.say("lena", "!ask Anything? : basketweaving")
    assert "don't know the topic `basketweaving`" in bot.last_reply_to("lena")
    assert len(await rows(bot, Question)) == 1


async def test_a_question_asked_by_direct_message_goes_to_the_questions_channel(bot):
    await setup(bot, "kofi")
    await bot.dm("lena", f"ask {QUESTION}")
    assert "Ask in a channel" in bot.last_reply_to("lena")
    assert await rows(bot, Question) == []
    await bot.say("ben", "hello", channel="questions")  # the bot has seen the channel
    await bot.app.activity.flush()  # and stored it (the log writes in batches)
    bot.app.settings.questions_channel = "#questions"
    await bot.dm("lena", f"ask {QUESTION}")
    assert "Posted your question as #1 in #questions" in bot.last_reply_to("lena")
    assert any("Question #1**" in s.text for s in bot.posts_in("questions"))


# first response and solving ---------------------------------------------------------------


async def test_the_first_reply_by_someone_else_is_the_first_response(bot):
    await setup(bot, "kofi", "ama")
    await bot.say("lena", f"!ask {QUESTION}")
    root = root_of(bot)
    await bot.say("lena", "Some more detail", thread_id=root.message_id)
    await follow_up(bot)
    [question] = await rows(bot, Question)
    assert question.first_response_at is None
    bot.clock.advance(hours=2)
    answered_at = bot.clock()
    await bot.say("kofi", "We phase it over three years.", thread_id=root.message_id)
    bot.clock.advance(minutes=1)
    await bot.say("ama", "Same here.", thread_id=root.message_id)
    await follow_up(bot)  # the job finds it in the activity log
    [question] = await rows(bot, Question)
    assert question.first_response_at == answered_at
    assert "kofi answered your question #1" in bot.last_reply_to("lena")
    before = len(bot.replies_to("lena"))
    await follow_up(bot)
    assert len(bot.replies_to("lena")) == before  # told once
    await bot.say("lena", "!questions mine")
    assert "#1 · answered, open" in bot.last_reply_to("lena")


async def test_a_listing_notes_a_first_response_at_once(bot):
    await setup(bot, "kofi")
    await bot.say("lena", f"!ask {QUESTION}")
    await bot.say("kofi", "Answer.", thread_id=root_of(bot).message_id)
    await bot.say("lena", "!questions mine")
    listing, told = bot.replies_to("lena")[-2:]  # the answer to her command comes first
    assert "#1 · answered, open" in listing
    assert "kofi answered your question #1" in told


async def test_solved_by_command_credits_the_first_responder(bot):
    await setup(bot, "kofi")
    await bot.say("lena", f"!ask {QUESTION}")
    root = root_of(bot)
    await bot.say("kofi", "Here is how.", thread_id=root.message_id)
    await bot.say("ben", "!solved 1")
    assert "Only the person who asked #1" in bot.last_reply_to("ben")
    await bot.say("lena", "!solved 99")
    assert "There is no question #99" in bot.last_reply_to("lena")
    await bot.say("lena", "!solved 1")
    assert bot.last_reply_to("lena") == "Marked question #1 solved, thanks to kofi."
    assert any(
        s.thread_id == root.message_id and "solved, thanks to kofi" in s.text
        for s in bot.posts_in()
    )
    await bot.say("lena", "!solved 1")
    assert "already solved" in bot.last_reply_to("lena")
    [question] = await rows(bot, Question)
    assert question.status == "solved" and question.solved_by is not None


async def test_solved_crediting_someone_named(bot):
    await setup(bot, "kofi")
    await bot.say("ama", "hello")
    await bot.say("lena", f"!ask {QUESTION}")
    await bot.say("fac", f"!solved 1 {bot.mention('ama')}")
    assert bot.last_reply_to("fac") == "Marked question #1 solved, thanks to ama."


async def test_solved_by_the_askers_check_mark(bot):
    await setup(bot, "kofi")
    await bot.say("lena", f"!ask {QUESTION}")
    root = root_of(bot)
    emoji = "white_check_mark" if bot.platform_name == "slack" else "✅"
    await bot.react("kofi", emoji, root.message_id)  # not the asker: nothing
    [question] = await rows(bot, Question)
    assert question.status == "open"
    await bot.react("lena", emoji, root.message_id)
    [question] = await rows(bot, Question)
    assert question.status == "solved"


async def test_solved_by_button(bot):
    """A button press reaches the core as the command it stands for (the Slack adapter's
    tests cover the payload)."""
    await setup(bot, "kofi")
    await bot.say("lena", f"!ask {QUESTION}")
    await bot.slash("lena", "solved 1")
    assert "Marked question #1 solved" in bot.last_reply_to("lena")


# declining and escalating -----------------------------------------------------------------


async def test_decline_passes_the_question_to_the_next_expert(bot):
    bot.app.settings.experts_per_question = 1
    await setup(bot, "kofi", "ama")
    await bot.say("lena", f"!ask {QUESTION}")
    assert await told(bot) == {"kofi"}
    await bot.say("ama", "!decline 1")
    assert "weren't asked about question #1" in bot.last_reply_to("ama")
    await bot.say("kofi", "!decline 1")
    assert "passed question #1 to another expert" in bot.last_reply_to("kofi")
    assert "ama" in await told(bot)
    await bot.say("kofi", "!decline 1")
    assert "already passed" in bot.last_reply_to("kofi")
    await bot.say("ama", "!decline 1 not my topic")
    assert "told the facilitators" in bot.last_reply_to("ama")
    statuses = {r.status for r in await rows(bot, QuestionExpert)}
    assert statuses == {"declined", "not_my_topic", "facilitator"}
    await bot.say("ama", "!decline 1 because")
    assert "Usage" in bot.last_reply_to("ama")


async def test_escalation_asks_more_experts_then_the_facilitators_once(bot):
    bot.app.settings.experts_per_question = 1
    await setup(bot, "kofi", "ama", "zoe")
    await bot.say("lena", f"!ask {QUESTION}")
    assert await told(bot) == {"kofi"}
    bot.clock.advance(hours=23)
    assert await follow_up(bot) == (0, 0)
    bot.clock.advance(hours=2)
    assert await follow_up(bot) == (1, 0)
    assert await told(bot) == {"kofi", "ama"}
    assert await follow_up(bot) == (0, 0)
    bot.clock.advance(hours=24)
    assert await follow_up(bot) == (1, 0)
    assert await told(bot) == {"kofi", "ama", "fac"}
    assert "No answer after 48 hours" in bot.last_reply_to("fac")
    assert await follow_up(bot) == (0, 0)
    [question] = await rows(bot, Question)
    assert question.escalations == 2


async def test_an_answered_question_does_not_escalate(bot):
    await setup(bot, "kofi", "ama", "zoe")
    await bot.say("lena", f"!ask {QUESTION}")
    await bot.say("kofi", "Answer", thread_id=root_of(bot).message_id)
    bot.clock.advance(hours=60)
    assert await follow_up(bot) == (0, 0)


async def test_escalation_is_not_repeated_after_a_restart(bot, settings, clock):
    bot.app.settings.experts_per_question = 1
    await setup(bot, "kofi", "ama", "zoe")
    await bot.say("lena", f"!ask {QUESTION}")
    bot.clock.advance(hours=25)
    assert await follow_up(bot) == (1, 0)
    await bot.close()
    again = await BotHarness(bot.platform_name, settings, clock).start()
    again.app.settings.experts_per_question = 1
    try:
        assert await follow_up(again) == (0, 0)
        assert again.platform.sent == []
    finally:
        await again.close()
    bot.app = build(settings, clock=clock, schedule=False)  # closed above; fixture closes this
    bot.app.add_platform(bot.platform)
    await bot.app.start(migrate=False)


async def test_two_processes_on_one_database_tell_each_person_once(bot, settings, clock):
    import asyncio

    bot.app.settings.experts_per_question = 1
    await setup(bot, "kofi", "ama", "zoe")
    await bot.say("fac", "hello")
    await bot.say("lena", f"!ask {QUESTION}")
    bot.clear()
    other = await BotHarness(bot.platform_name, settings, clock).start()
    try:
        clock.advance(hours=49)
        results = await asyncio.gather(follow_up(bot), follow_up(other))
        assert sum(steps for steps, _ in results) == 2
        sent = bot.platform.sent + other.platform.sent
        to = [s.private_to for s in sent if s.private_to is not None]
        assert len(to) == len(set(to)) == 2  # one more expert and the facilitator, once each
        rows_ = await rows(bot, QuestionExpert)
        assert len(rows_) == 3
    finally:
        await other.close()


# the offer on unanswered messages ---------------------------------------------------------


async def test_an_unanswered_question_gets_one_offer_and_a_raised_hand_routes_it(bot):
    bot.app.settings.store_message_text = True
    await setup(bot, "kofi")
    message = await bot.say("lena", "Does anyone have a multi-year budget template?")
    bot.clock.advance(hours=11)
    assert await follow_up(bot) == (0, 0)
    bot.clock.advance(hours=2)
    assert await follow_up(bot) == (0, 1)
    offer = [s for s in bot.posts_in() if s.thread_id == message.message_id]
    assert len(offer) == 1 and "React ✋" in offer[0].text
    assert await follow_up(bot) == (0, 0)  # offered once
    hand = "raised_hand" if bot.platform_name == "slack" else "✋"
    await bot.react("kofi", hand, message.message_id)  # not theirs: nothing
    assert await rows(bot, Question) == []
    await bot.react("lena", hand, message.message_id)
    [question] = await rows(bot, Question)
    assert question.message_id == message.message_id  # the thread stays where it was
    assert question.text == "Does anyone have a multi-year budget template?"
    assert "kofi" in await told(bot)
    [row] = await rows(bot, QuestionOffer)
    assert row.status == "accepted"


async def test_without_stored_text_the_offer_asks_for_the_question(bot):
    await setup(bot, "kofi")
    message = await bot.say("lena", "Does anyone have a budget template?")
    bot.clock.advance(hours=13)
    assert await follow_up(bot) == (0, 1)
    await bot.app.activity.flush()
    assert await rows(bot, Activity, Activity.text.is_not(None)) == []  # no text stored
    [offer] = [s for s in bot.posts_in() if s.thread_id == message.message_id]
    [row] = await rows(bot, QuestionOffer)
    assert row.offer_message_id == offer.message_id  # the outbox told the feature
    await bot.react("lena", "✋" if bot.platform_name != "slack" else "raised_hand",
                    offer.message_id)  # on the offer itself  # fmt: skip
    assert "type your question after `ask`" in bot.last_reply_to("lena")
    await bot.say("lena", "!ask A budget template for three years?", thread_id=message.message_id)
    [question] = await rows(bot, Question)
    assert question.message_id == message.message_id
    assert "kofi" in await told(bot)


async def test_no_offer_after_a_reply_or_for_facilitators(bot):
    await bot.say("fac", "hello")  # a known facilitator
    message = await bot.say("lena", "Is anyone around?")
    await bot.say("ben", "Yes!", thread_id=message.message_id)
    await bot.say("fac", "Who is coming on Friday?")
    await bot.say("lena", "A statement, not a question.")
    lonely = await bot.say("lena", "And is anyone reading?")
    await bot.say("lena", "Hello?", thread_id=lonely.message_id)  # the poster alone
    bot.clock.advance(hours=13)
    assert await follow_up(bot) == (0, 1)
    [row] = await rows(bot, QuestionOffer)
    assert row.message_id == lonely.message_id


# listing and bad input --------------------------------------------------------------------


async def test_questions_lists_open_mine_and_all(bot):
    await setup(bot, "kofi")
    await bot.say("lena", f"!ask {QUESTION}")
    bot.clock.advance(hours=3)
    await bot.say("ben", "!ask What about audits?")
    await bot.say("lena", "!solved 1")
    await bot.say("ben", "!questions")
    listing = bot.last_reply_to("ben")
    assert "#2" in listing and "#1 " not in listing
    await bot.say("ben", "!questions all")
    listing = bot.last_reply_to("ben")
    assert listing.index("#2") < listing.index("#1 ")
    assert "#1 · solved · 3 h ago · lena · budgeting" in listing
    await bot.say("lena", "!questions mine")
    assert "#2" not in bot.last_reply_to("lena")
    await bot.say("lena", "!questions everything")
    assert "Usage" in bot.last_reply_to("lena")


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("!ask", "What is your question?"),
        ("!ask    ", "What is your question?"),
        ("!ask " + "x" * 3000 + "?", "please keep it under 2,000"),
        ("!solved", "Which question?"),
        ("!solved abc", "not a question number"),
        ("!decline 5", "There is no question #5"),
        ("!away until 2020-01-01", "has already come"),
        ("!away until someday", "is not a date"),
        ("!away tomorrow", "Usage"),
        ("!back now", "Usage"),
    ],
)
async def test_bad_input_gets_a_short_answer_and_changes_nothing(bot, command, answer):
    await bot.say("lena", command)
    reply = bot.last_reply_to("lena")
    assert answer in reply and len(reply) < 400
    assert await rows(bot, Question) == []
    [member] = [m for m in await rows(bot, __import__("bot.models").models.Member)]
    assert member.is_away is False


async def test_a_ten_thousand_character_question_is_refused(bot):
    await bot.say("lena", "!ask " + "why " * 2500)
    assert "please keep it under" in bot.last_reply_to("lena")
    async with bot.app.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Question)) == 0


async def test_declared_arguments_answer_a_bad_value_with_the_usage_and_change_nothing(bot):
    await setup(bot, "kofi")
    await bot.say("lena", f"!ask {QUESTION}")
    bot.clear()
    for command, answer in [
        ("!route abc", "`abc` is not a question number (they look like 12 or #12).\n"
         "Usage: `route <id>`"),
        ("!route", "Which question? For example: route 12\nUsage: `route <id>`"),
        ("!route 1 2", "Which question? For example: route 12\nUsage: `route <id>`"),
        ("!solved #x", "`#x` is not a question number (they look like 12 or #12).\n"
         "Usage: `solved <id> [@who | entry <number>]`"),
        ("!solved 1 entry", "Which library entry? For example: solved 12 entry 3\n"
         "Usage: `solved <id> [@who | entry <number>]`"),
        ("!solved 1 entry three", "`three` is not a library entry number (they look like 3 or "
         "#3).\nUsage: `solved <id> [@who | entry <number>]`"),
        ("!questions everything", "`everything` is not a list of questions; say mine, open or "
         "all.\nUsage: `questions [mine|open|all]`"),
        ("!questions mine all", "Which questions? `questions`, `questions mine` or "
         "`questions all`.\nUsage: `questions [mine|open|all]`"),
        ("!away until 2026-13-40", "`2026-13-40` is not a date; write it like 2026-12-24.\n"
         "Usage: `away [until YYYY-MM-DD]`"),
    ]:  # fmt: skip
        await bot.say("lena", command)
        assert bot.last_reply_to("lena") == answer, command
    [question] = await rows(bot, Question)
    assert question.status == "open" and question.solved_at is None
    assert bot.posts_in() == []  # nothing posted
    [lena] = await rows(bot, Member, Member.display_name == "lena")
    assert lena.is_away is False


async def test_a_bare_ask_in_the_offer_thread_accepts_it(bot):
    bot.app.settings.store_message_text = True
    await setup(bot, "kofi")
    message = await bot.say("lena", "Does anyone have a multi-year budget template?")
    bot.clock.advance(hours=13)
    assert await follow_up(bot) == (0, 1)
    await bot.say("lena", "!ask", thread_id=message.message_id)
    [question] = await rows(bot, Question)
    assert question.message_id == message.message_id
    assert "kofi" in await told(bot)
    await bot.say("lena", "!ask")  # outside the thread, the question is needed
    assert bot.last_reply_to("lena") == (
        "What is your question? For example: ask How do you phase a tax reassessment?\n"
        "Usage: `ask <question>[: topic, ...]`"
    )
