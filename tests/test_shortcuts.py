"""Shortcuts chosen on a message, on every platform name, driving the core `Shortcut` event
(Slack's message shortcuts reach it so: tests/test_slack_shortcuts.py): *Ask the experts*
makes a member's message a question asked on their behalf, who is told and may withdraw it;
*Add to the library* keeps a thread, for facilitators only; both go through the one pipeline
and answer the presser privately."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from bot.models import KnowledgeEntry, Member, Question, QuestionOffer
from bot.types import Message, Shortcut
from handlers.questions import jobs
from tests.harness import BotHarness

TOPIC = "!topic add budgeting: budget, multi-year"
QUESTION = "How do other cities phase a multi-year budget reform?"


async def setup(bot: BotHarness, *experts: str) -> None:
    await bot.say("fac", TOPIC)
    for name in experts:
        await bot.say(name, "!expertise add budgeting")
    bot.clear()


async def choose(
    bot: BotHarness, name: str, shortcut: str, message: Message | None, event_id: str = ""
) -> Shortcut:
    """`name` chooses `shortcut` in the menu of `message` (where Slack shows it)."""
    event = Shortcut(
        event_id or f"sc-{name}-{shortcut}-{len(bot.platform.sent)}",
        bot.user(name),
        message.channel if message is not None else bot.channel(),
        bot.clock(),
        name=shortcut,
        message=message,
    )
    await bot._handle(event)
    return event


async def rows(bot: BotHarness, model, *where) -> list:
    async with bot.app.db.sessions() as session:
        return list((await session.scalars(select(model).where(*where))).all())


async def member(bot: BotHarness, name: str) -> Member:
    [found] = await rows(bot, Member, Member.display_name == name)
    return found


def in_thread(bot: BotHarness, root: str) -> list[str]:
    return [s.text for s in bot.posts_in() if s.thread_id == root]


def said_to(bot: BotHarness, name: str, words: str) -> list[str]:
    return [text for text in bot.replies_to(name) if words in text]


def convener_post(bot: BotHarness, text: str) -> Message:
    """One of Convener's posts, as the platform shows it in a message's menu."""
    sent = next(s for s in bot.posts_in() if text in s.text and s.thread_id is None)
    return Message("seen", bot.platform.bot_user, sent.channel, bot.clock(), sent.text,
                   sent.message_id)  # fmt: skip


async def follow_up(bot: BotHarness):
    await bot.app.activity.flush()
    done = await jobs.follow_up(bot.app.services())
    await bot.deliver()
    return done


# Ask the experts ------------------------------------------------------------------------------


async def test_ask_the_experts_makes_a_members_message_her_question(bot):
    await setup(bot, "kofi")
    message = await bot.say("lena", QUESTION)
    await choose(bot, "ben", "ask_experts", message)

    [question] = await rows(bot, Question)
    assert question.asker_id == (await member(bot, "lena")).id  # on her behalf, not ben's
    assert (question.message_id, question.text, question.status) == (
        message.message_id, QUESTION, "open",
    )  # fmt: skip
    [heading] = in_thread(bot, message.message_id)  # the message's own thread
    assert "Question #1" in heading and "budgeting" in heading and "solved 1" in heading
    assert not [s for s in bot.posts_in() if "❓" in s.text]  # the message is the question
    assert said_to(bot, "kofi", QUESTION)  # routed as `ask` routes

    [told] = said_to(bot, "lena", "question #1")
    assert "ben" in told and "#general" in told and QUESTION in told and "withdraw 1" in told
    [dm] = [s for s in bot.platform.sent if s.text == told]
    assert dm.channel.is_direct and not dm.extra.get("ephemeral")
    if bot.platform_name == "slack":
        assert [a.command for a in dm.extra["actions"]] == ["withdraw 1"]
    [answer] = said_to(bot, "ben", "question #1")
    assert "lena" in answer and "withdraw" in answer
    [private] = [s for s in bot.platform.sent if s.text == answer]
    assert private.private_to == bot.user("ben")  # only the presser sees it
    assert bool(private.extra.get("ephemeral")) == (bot.platform_name == "slack")


async def test_a_reply_is_asked_in_the_thread_it_is_in(bot):
    await setup(bot, "kofi")
    root = await bot.say("ben", "Budget season again.")
    reply = await bot.say("lena", QUESTION, thread_id=root.message_id)
    await choose(bot, "fac", "ask_experts", reply)
    [question] = await rows(bot, Question)
    assert question.message_id == root.message_id and question.text == QUESTION
    assert question.asker_id == (await member(bot, "lena")).id
    assert any("Question #1" in text for text in in_thread(bot, root.message_id))


async def test_choosing_it_on_ones_own_message_asks_and_tells_no_one_else(bot):
    await setup(bot, "kofi")
    message = await bot.say("lena", QUESTION)
    await choose(bot, "lena", "ask_experts", message)
    [answer] = bot.replies_to("lena")  # one answer, no separate note to herself
    assert "Your message is now question #1" in answer and "withdraw 1" in answer
    assert said_to(bot, "kofi", QUESTION)


async def test_an_author_convener_never_saw_is_created_in_their_language(bot):
    await setup(bot, "kofi")
    newcomer = replace(bot.user("nadia"), name=None)
    bot.platform.locales = {newcomer.id: "fr-FR"}
    message = Message("m-nadia", newcomer, bot.channel(), bot.clock(), QUESTION, "in-nadia")
    await choose(bot, "fac", "ask_experts", message)
    [question] = await rows(bot, Question)
    [author] = await rows(bot, Member, Member.id == question.asker_id)
    assert author.language == "fr" and author.display_name == newcomer.id
    assert said_to(bot, "nadia", "#1")  # told by direct message


async def test_a_message_that_is_already_a_question_stays_as_it_is(bot):
    await setup(bot, "kofi")
    await bot.say("lena", f"!ask {QUESTION}")
    post = convener_post(bot, "Question #1**")
    reply = await bot.say("ben", "Start with a pilot.", thread_id=post.message_id)
    message = await bot.say("zoe", "Does anyone budget for three years?")
    await choose(bot, "zoe", "ask_experts", message)
    bot.clear()

    await choose(bot, "ben", "ask_experts", post)
    assert "already question #1" in bot.last_reply_to("ben")
    await choose(bot, "ben", "ask_experts", reply)
    assert "in the thread of question #1" in bot.last_reply_to("ben")
    await choose(bot, "ben", "ask_experts", message)
    assert "already question #2" in bot.last_reply_to("ben")
    await bot.say("zoe", "!solved 2")
    await choose(bot, "ben", "ask_experts", message)
    assert "was question #2, solved already" in bot.last_reply_to("ben")
    assert len(await rows(bot, Question)) == 2
    assert not said_to(bot, "kofi", "#3") and not said_to(bot, "lena", "sent your message")


async def test_what_cannot_be_asked_is_refused_with_one_line(bot):
    await setup(bot, "kofi")
    await bot.say("fac", "!prompt add What did your city learn this year?")
    await bot.say("fac", "!prompt now")
    prompt = convener_post(bot, "What did your city learn")
    in_dm = await bot.dm("lena", "How do you phase a reform?")
    empty = replace(await bot.say("lena", "look"), text="  ")
    bot.clear()
    cases = {
        "members' messages": prompt,
        "messages in channels": in_dm,
        "no text": empty,
    }
    for expected, message in cases.items():
        await choose(bot, "lena", "ask_experts", message)
        assert expected in bot.last_reply_to("lena")
    await choose(bot, "lena", "ask_experts", None)  # not a post (a platform notice)
    assert "members' messages" in bot.last_reply_to("lena")
    assert await rows(bot, Question) == []
    assert [s.private_to for s in bot.platform.sent] == [bot.user("lena")] * 4


async def test_a_long_message_becomes_a_question_of_the_longest_length(bot):
    await setup(bot)
    message = await bot.say("lena", "Budget? " + "details " * 400)
    await choose(bot, "ben", "ask_experts", message)
    [question] = await rows(bot, Question)
    assert len(question.text) == 2000 and question.text.endswith("…")


async def test_a_shortcut_delivered_twice_is_handled_once(bot):
    await setup(bot, "kofi")
    message = await bot.say("lena", QUESTION)
    first = await choose(bot, "ben", "ask_experts", message, event_id="sc-twice")
    await bot._handle(first)
    assert len(await rows(bot, Question)) == 1
    assert len(said_to(bot, "ben", "question #1")) == 1
    assert len(said_to(bot, "lena", "question #1")) == 1


async def test_it_closes_the_offer_on_the_message(bot):
    bot.app.settings.store_message_text = True
    await setup(bot, "kofi")
    message = await bot.say("lena", "Does anyone have a multi-year budget template?")
    bot.clock.advance(hours=13)
    assert await follow_up(bot) == (0, 1)
    await choose(bot, "ben", "ask_experts", message)
    [offer] = await rows(bot, QuestionOffer)
    assert offer.status == "accepted"
    hand = "raised_hand" if bot.platform_name == "slack" else "✋"
    await bot.react("lena", hand, message.message_id)
    assert len(await rows(bot, Question)) == 1  # ✋ afterwards asks nothing more


# withdrawing ----------------------------------------------------------------------------------


async def test_the_author_withdraws_it_and_the_experts_asked_are_told(bot):
    await setup(bot, "kofi")
    message = await bot.say("lena", QUESTION)
    await choose(bot, "ben", "ask_experts", message)
    await bot.say("zoe", "!withdraw 1")
    assert "Only the person who asked #1 or a facilitator" in bot.last_reply_to("zoe")
    await bot.slash("lena", "withdraw 1")  # what her button sends on Slack
    assert "I've told the member who was asked" in bot.last_reply_to("lena")
    [question] = await rows(bot, Question)
    assert question.status == "withdrawn"
    [note] = said_to(bot, "kofi", "was withdrawn")
    assert "lena" in note and "no need to answer" in note
    assert "withdrawn by lena, who asked it" in in_thread(bot, message.message_id)[-1]

    bot.clear()
    bot.clock.advance(hours=100)
    assert await follow_up(bot) == (0, 0)  # never escalated
    assert bot.platform.sent == []
    for name, command in (("lena", "!solved 1"), ("kofi", "!decline 1"), ("lena", "!withdraw 1"),
                          ("fac", "!route 1")):  # fmt: skip
        await bot.say(name, command)
        assert bot.last_reply_to(name) == "Question #1 was withdrawn."
    await bot.react("lena", "white_check_mark", message.message_id)
    await bot.say("lena", "!questions all")
    assert "#1 · withdrawn" in bot.last_reply_to("lena")
    assert (await rows(bot, Question))[0].status == "withdrawn"


async def test_a_facilitator_withdraws_it_and_the_asker_is_told(bot):
    await setup(bot)  # nobody offers the topic: the facilitators are told
    await bot.say("lena", f"!ask {QUESTION}")
    assert said_to(bot, "fac", "needs someone")
    await bot.say("fac", "!withdraw 1")  # fac was told, and needs no note of it
    assert "nobody had been asked about it yet" in bot.last_reply_to("fac")
    assert said_to(bot, "lena", "A facilitator withdrew your question #1")
    root = convener_post(bot, "Question #1**").message_id
    assert "withdrawn by a facilitator" in in_thread(bot, root)[-1]


async def test_withdrawing_a_question_nobody_was_asked_about(bot):
    await bot.say("fac", f"!ask {QUESTION}")  # no expert, and the one facilitator asked it
    await bot.say("fac", "!withdraw 1")
    assert "nobody had been asked about it yet" in bot.last_reply_to("fac")
    await bot.say("lena", "!withdraw 2")
    assert "There is no question #2" in bot.last_reply_to("lena")
    await bot.say("lena", "!withdraw")
    assert "Which question?" in bot.last_reply_to("lena")


# Add to the library ---------------------------------------------------------------------------


async def test_a_facilitator_keeps_a_thread_in_the_library(bot):
    message = await bot.say("lena", "Our city phased its reform over three budget cycles.")
    await bot.say("kofi", "We did it in two, with a pilot district.", thread_id=message.message_id)
    await bot.say("lena", "Thanks!", thread_id=message.message_id)  # the author's own: left out
    await choose(bot, "fac", "add_to_library", message)

    [entry] = await rows(bot, KnowledgeEntry)
    assert entry.title == message.text and entry.message_id == message.message_id
    assert entry.body.splitlines() == [message.text, "", "kofi: We did it in two, with a pilot "
                                       "district."]  # fmt: skip
    assert entry.created_by == (await member(bot, "lena")).id
    assert f"Kept in the library as #{entry.id}" in bot.last_reply_to("fac")
    assert "kept in the library (#1)" in in_thread(bot, message.message_id)[-1]
    await bot.say("ben", "!search pilot district")
    assert "#1" in bot.last_reply_to("ben") and "three budget cycles" in bot.last_reply_to("ben")

    await choose(bot, "fac", "add_to_library", message)
    assert "already in the library as #1" in bot.last_reply_to("fac")
    assert len(await rows(bot, KnowledgeEntry)) == 1


async def test_a_message_without_answers_and_a_bots_post_can_be_kept(bot):
    reply_root = await bot.say("ben", "Budget season again.")
    reply = await bot.say("lena", "Here is our guide: it works.", thread_id=reply_root.message_id)
    await choose(bot, "fac", "add_to_library", reply)  # the thread it is in
    [entry] = await rows(bot, KnowledgeEntry)
    assert entry.message_id == reply_root.message_id and entry.body == reply.text

    await bot.say("fac", "!prompt add What did your city learn this year?")
    await bot.say("fac", "!prompt now")
    prompt = convener_post(bot, "What did your city learn")
    await bot.say("kofi", "To plan for three years.", thread_id=prompt.message_id)
    await choose(bot, "fac", "add_to_library", prompt)
    kept = (await rows(bot, KnowledgeEntry))[-1]
    assert kept.created_by is None and kept.body.endswith("kofi: To plan for three years.")


async def test_a_plain_member_cannot_add_to_the_library(bot):
    message = await bot.say("lena", "Our city phased its reform over three budget cycles.")
    await bot.say("kofi", "We did it in two.", thread_id=message.message_id)
    bot.clear()
    await choose(bot, "lena", "add_to_library", message)  # a forged shortcut: refused
    assert bot.replies_to("lena") == ["Only facilitators can use `Add to the library`."]
    assert await rows(bot, KnowledgeEntry) == []
    assert bot.posts_in() == [] and len(bot.platform.sent) == 1


async def test_a_kept_question_thread_is_updated_when_solved_not_kept_twice(bot):
    await setup(bot, "kofi")
    await bot.say("lena", f"!ask {QUESTION}")
    post = convener_post(bot, "Question #1**")
    await bot.say("kofi", "Start with a pilot district.", thread_id=post.message_id)
    await choose(bot, "fac", "add_to_library", post)
    await bot.say("kofi", "And publish the plan.", thread_id=post.message_id)
    await bot.say("lena", "!solved 1")
    [entry] = await rows(bot, KnowledgeEntry)
    assert entry.question_id == 1
    assert entry.body.endswith("kofi: And publish the plan.")


async def test_an_unreadable_thread_keeps_nothing(bot):
    message = await bot.say("lena", "Our city phased its reform over three budget cycles.")
    bot.platform.fail_next = 1  # the thread cannot be read
    await choose(bot, "fac", "add_to_library", message)
    assert "couldn't read that thread" in bot.last_reply_to("fac")
    assert await rows(bot, KnowledgeEntry) == []
    await choose(bot, "fac", "add_to_library", message)  # and trying again works
    assert len(await rows(bot, KnowledgeEntry)) == 1


async def test_a_direct_message_cannot_be_kept_and_unknown_shortcuts_are_said_so(bot):
    in_dm = await bot.dm("fac", "A note to myself.")
    await choose(bot, "fac", "add_to_library", in_dm)
    assert "Only a thread in a channel" in bot.last_reply_to("fac")
    message = await bot.say("lena", "hello")
    await choose(bot, "lena", "make_coffee", message)
    assert "I can't do that (yet)" in bot.last_reply_to("lena")
    assert await rows(bot, KnowledgeEntry) == [] and await rows(bot, Question) == []
