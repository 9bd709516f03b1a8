"""Declaring expertise twice, and `expertise learn` / `expertise unlearn` (once per
platform)."""

from __future__ import annotations


async def test_adding_a_topic_already_offered_says_so(bot):
    await bot.say("amina", "!expertise add Budgeting")
    await bot.say("amina", "!expertise add budget")
    assert bot.last_reply_to("amina") == "You already offer Budgeting."
    await bot.say("amina", "!expertise add BUDGETING, Audit")
    assert bot.last_reply_to("amina") == (
        "Added to what you can help with: Audit (new topic: Audit). You already offer Budgeting."
    )
    await bot.say("amina", "!topics")
    assert bot.last_reply_to("amina").startswith("Topics (2):")


async def test_learn_then_unlearn(bot):
    await bot.say("fac", "!topic add Debt management")
    await bot.say("amina", "!expertise add Budgeting")
    await bot.say("amina", "!expertise learn debt, Audit")
    assert bot.last_reply_to("amina") == (
        "Added to what you want to learn: Debt management, Audit (new topic: Audit)."
    )
    await bot.say("amina", "!expertise learn audits")
    assert bot.last_reply_to("amina") == "You already want to learn Audit."
    await bot.say("amina", "!expertise")
    assert bot.last_reply_to("amina") == (
        "You can help with: Budgeting\nYou want to learn: Audit, Debt management"
    )
    await bot.say("amina", "!expertise unlearn DEBT")
    assert bot.last_reply_to("amina") == "Removed from what you want to learn: Debt management."
    await bot.say("amina", "!expertise")
    assert bot.last_reply_to("amina") == "You can help with: Budgeting\nYou want to learn: Audit"
    await bot.say("amina", "!topics")
    assert "• Audit (0 can help, 1 want to learn)" in bot.last_reply_to("amina")


async def test_learn_and_unlearn_bad_input_change_nothing(bot):
    await bot.say("amina", "!expertise add Budgeting")
    await bot.say("amina", "!expertise learn Audit")
    await bot.say("amina", "!expertise learn")
    assert bot.last_reply_to("amina") == (
        "Which topic? For example: budgeting, procurement\n"
        "Usage: `expertise learn <topic>[, <topic>...]`"
    )
    await bot.say("amina", "!expertise learn procurement, ???")
    assert bot.last_reply_to("amina").startswith("A topic needs a name with letters or digits.")
    await bot.say("amina", "!expertise unlearn")
    assert bot.last_reply_to("amina").endswith("Usage: `expertise unlearn <topic>[, <topic>...]`")
    await bot.say("amina", "!expertise unlearn audit, budgeting")  # she offers it, not wants it
    assert bot.last_reply_to("amina") == (
        "`budgeting` is not on what you want to learn, so nothing was removed. "
        "You want to learn: Audit."
    )
    await bot.say("amina", "!expertise")
    assert bot.last_reply_to("amina") == "You can help with: Budgeting\nYou want to learn: Audit"
    await bot.say("amina", "!topics")
    assert bot.last_reply_to("amina").startswith("Topics (2):")


async def test_unlearn_asks_which_one_when_two_fit(bot):
    await bot.say("amina", "!expertise learn Debt management, Debt relief, Audit")
    await bot.say("amina", "!expertise unlearn audit, debt")
    assert bot.last_reply_to("amina") == (
        "`debt` could mean Debt management or Debt relief: which one?\n"
        "Usage: `expertise unlearn <topic>[, <topic>...]`"
    )
    await bot.say("amina", "!expertise unlearn debt relief")
    assert bot.last_reply_to("amina") == "Removed from what you want to learn: Debt relief."
    await bot.say("amina", "!expertise")
    assert bot.last_reply_to("amina") == (
        "You can help with: nothing listed yet\nYou want to learn: Audit, Debt management"
    )


async def test_help_lists_learn_and_unlearn(bot):
    await bot.say("amina", "!help expertise")
    answer = bot.last_reply_to("amina")
    assert "`expertise learn <topic>[, <topic>...]` — say what you want to learn" in answer
    assert "`expertise unlearn <topic>[, <topic>...]` — take topics off what you want" in answer
