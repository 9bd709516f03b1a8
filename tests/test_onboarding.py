"""The guided welcome conversation and introductions: once per platform."""

from __future__ import annotations

from handlers.onboarding import split_org_role
from tests.harness import BotHarness


async def test_full_conversation_fills_the_profile(bot):
    await bot.join("dana")
    await bot.dm("dana", "Nairobi")
    assert bot.last_reply_to("dana") == (
        "Noted: Nairobi.\nQuestion 2 of 4: Which organisation do you work for, and what is your "
        "role there? (for example: City of Kisumu, budget officer)"
    )
    await bot.dm("dana", "City of Nairobi, budget officer")
    assert bot.last_reply_to("dana").startswith(
        "Noted: budget officer at City of Nairobi.\nQuestion 3 of 4: Which topics can you help"
    )
    await bot.dm("dana", "budgeting; procurement")
    assert bot.last_reply_to("dana").startswith(
        "Noted that you can help with: budgeting, procurement.\nQuestion 4 of 4:"
    )
    await bot.dm("dana", "Audit")
    end = bot.last_reply_to("dana")
    assert end.startswith("Noted what you want to learn: Audit.\nThank you, that's all!")
    assert "Type `experts <topic>` any time" in end  # nobody to introduce yet
    await bot.dm("dana", "thanks!")  # the conversation is over: a usual direct message
    assert "Type `help`" in bot.last_reply_to("dana")
    await bot.say("dana", "!profile")
    profile = bot.last_reply_to("dana")
    for line in (
        "City: Nairobi",
        "Organisation: City of Nairobi",
        "Role: budget officer",
        "Can help with: budgeting, procurement",
        "Wants to learn: Audit",
    ):
        assert line in profile


async def test_skip_and_stop(bot):
    await bot.join("dana")
    await bot.dm("dana", "skip")
    assert bot.last_reply_to("dana").startswith("Skipped.\nQuestion 2 of 4")
    await bot.dm("dana", "Stop.")
    assert bot.last_reply_to("dana").startswith(
        "All right, no more questions.\nYou can fill in your profile any time"
    )
    await bot.dm("dana", "City of Nairobi")
    assert "Type `help`" in bot.last_reply_to("dana")
    await bot.say("dana", "!profile")
    assert "City: not set" in bot.last_reply_to("dana")
    assert "Organisation: not set" in bot.last_reply_to("dana")


async def test_conversation_survives_a_restart(bot):
    await bot.join("dana")
    await bot.dm("dana", "Mombasa")
    await bot.close()
    again = await BotHarness(bot.platform_name, bot.settings, bot.clock).start()
    try:
        await again.dm("dana", "budget officer at County of Mombasa")
        assert again.last_reply_to("dana").startswith(
            "Noted: budget officer at County of Mombasa.\nQuestion 3 of 4"
        )
        await again.say("dana", "!profile")
        assert "City: Mombasa" in again.last_reply_to("dana")
        assert "Organisation: County of Mombasa" in again.last_reply_to("dana")
    finally:
        await again.close()


async def test_bad_answers_are_asked_again_and_change_nothing(bot):
    await bot.join("dana")
    await bot.dm("dana", "N" * 81)
    assert bot.last_reply_to("dana") == (
        "That is too long for a city (at most 80 characters).\n"
        "Question 1 of 4: Which city do you work in?"
    )
    await bot.dm("dana", "Kisumu")
    await bot.dm("dana", "County of Kisumu, " + "r" * 121)
    assert bot.last_reply_to("dana").startswith("That is too long for a role")
    await bot.dm("dana", "skip")
    await bot.dm("dana", " , ;")
    assert bot.last_reply_to("dana").startswith("Which topic?")
    assert bot.last_reply_to("dana").endswith("(for example: budgeting, procurement).")
    await bot.say("dana", "!profile")
    assert "Organisation: not set" in bot.last_reply_to("dana")
    assert "Can help with: nothing listed yet" in bot.last_reply_to("dana")


async def test_commands_during_the_conversation(bot):
    await bot.join("dana")
    await bot.dm("dana", "help")
    *_, help_text, again = bot.replies_to("dana")
    assert help_text.startswith("Here is what you can ask me:")
    assert again == "When you are ready: Question 1 of 4: Which city do you work in?"
    await bot.dm("dana", "!profile city Eldoret")  # a prefixed command never reaches the listener
    assert bot.last_reply_to("dana") == "Saved: your city is Eldoret."
    await bot.dm("dana", "skip")
    await bot.dm("dana", "skip")
    await bot.dm("dana", "report writing, expertise add")  # an answer, not commands
    assert bot.last_reply_to("dana").startswith(
        "Noted that you can help with: report writing, expertise add."
    )


async def test_a_member_who_never_answers_is_not_asked_again(bot):
    await bot.join("dana")
    bot.clock.advance(days=30)
    await bot.join("dana", channel="random")
    assert len(bot.replies_to("dana")) == 2
    await bot.dm("dana", "hello, sorry for the silence")  # the conversation has lapsed
    assert "Type `help`" in bot.last_reply_to("dana")
    assert len(bot.replies_to("dana")) == 3


async def test_introductions_when_the_conversation_ends(bot):
    await bot.say("amina", "!profile city Mombasa")
    await bot.say("amina", "!expertise add budgeting")
    await bot.say("bob", "!profile city nairobi")
    await bot.say("eve", "!expertise add fisheries")
    await bot.join("carl")
    for answer in ("skip", "skip", "skip", "procurement"):
        await bot.dm("carl", answer)
    await bot.join("dana")
    for answer in ("Nairobi", "skip", "procurement"):
        await bot.dm("dana", answer)
    await bot.dm("dana", "budget")
    end = bot.last_reply_to("dana")
    assert end.splitlines()[-4:] == [
        "People you might like to meet:",
        "• amina: can help with budgeting, which you want to learn",
        "• carl: wants to learn procurement, which you can help with",
        "• bob: also in nairobi",
    ]


async def test_introductions_after_stop(bot):
    await bot.say("bob", "!profile city Kisumu")
    await bot.join("dana")
    await bot.dm("dana", "kisumu")
    await bot.dm("dana", "stop")
    assert bot.last_reply_to("dana").endswith(
        "People you might like to meet:\n• bob: also in Kisumu"
    )


def test_split_org_role():
    assert split_org_role("City of Kisumu, budget officer") == ("City of Kisumu", "budget officer")
    assert split_org_role("Treasurer at City of Accra") == ("City of Accra", "Treasurer")
    assert split_org_role("Ministry of Finance") == ("Ministry of Finance", None)


async def test_onboarding_ends_with_the_resources_for_what_one_wants_to_learn(bot):
    await bot.say("fac", "!topic add audit")
    await bot.say("fac", "!topic add procurement")
    await bot.say("fac", "!resource add https://example.org/audit Audit checklist: audit")
    await bot.say("fac", "!resource add https://example.org/proc Procurement guide: procurement")
    await bot.join("dana")
    for answer in ("Nairobi", "skip", "procurement", "audits"):
        await bot.dm("dana", answer)
    end = bot.last_reply_to("dana")
    assert "To start learning, from the community's library:" in end
    assert "• Audit checklist — https://example.org/audit" in end
    assert "Procurement guide" not in end  # offered, not wanted
