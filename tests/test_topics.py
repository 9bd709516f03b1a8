"""topics, topic add, topic remove (once per platform), and topic name matching."""

from __future__ import annotations

import pytest

from bot.errors import UsageError
from handlers.topics import service as topics


async def test_topics_empty_then_listed_with_counts(bot):
    await bot.say("alice", "!topics")
    assert bot.last_reply_to("alice").startswith("No topics yet.")
    await bot.say("fac", "!topic add Budgeting: budget, PFM")
    assert bot.last_reply_to("fac") == "Added topic Budgeting with keywords budget, PFM."
    await bot.say("amina", "!expertise add budgeting, Audit")
    await bot.join("dana")
    for answer in ("skip", "skip", "skip", "audit"):
        await bot.dm("dana", answer)
    await bot.say("alice", "!topics")
    assert bot.last_reply_to("alice") == (
        "Topics (2):\n"
        "• Audit (1 can help, 1 want to learn)\n"
        "• Budgeting (1 can help; keywords: budget, PFM)\n"
        "Type `experts <topic>` to see who can help."
    )
    await bot.say("alice", "!topics budget")
    assert bot.last_reply_to("alice") == (
        "`topics` lists them all; to find people, type `experts <topic>`.\nUsage: `topics`"
    )


async def test_keywords_find_the_topic(bot):
    await bot.say("fac", "!topic add Public financial management: PFM")
    await bot.say("amina", "!expertise add pfm")
    await bot.say("alice", "!experts PFM")
    assert bot.last_reply_to("alice") == "Who can help with Public financial management:\n• amina"


async def test_topic_add_again_merges_keywords(bot):
    await bot.say("fac", "!topic add Budgeting: budget")
    await bot.say("fac", "!topic add budgeting: Budget, MTEF")
    assert bot.last_reply_to("fac") == (
        "Topic Budgeting already existed; its keywords are now: budget, MTEF."
    )
    await bot.say("fac", "!topic add BUDGETING")
    assert bot.last_reply_to("fac") == "Topic Budgeting already exists (keywords: budget, MTEF)."
    await bot.say("fac", "!topic add Budgets")
    assert bot.last_reply_to("fac") == (
        "Added topic Budgets. Similar topics already exist: Budgeting."
    )


async def test_topic_add_bad_input(bot):
    await bot.say("fac", "!topic add")
    assert bot.last_reply_to("fac") == "Which topic?\nUsage: `topic add <name>[: keyword, ...]`"
    await bot.say("fac", "!topic add : budget")
    assert bot.last_reply_to("fac").startswith("A topic needs a name with letters or digits.")
    await bot.say("fac", "!topic add Budgeting:")
    assert bot.last_reply_to("fac").startswith("Give keywords after the colon")
    await bot.say("fac", "!topic add " + "b" * 61)
    assert "too long for a topic" in bot.last_reply_to("fac")
    await bot.say("alice", "!topics")
    assert bot.last_reply_to("alice").startswith("No topics yet.")


async def test_topic_remove(bot):
    await bot.say("fac", "!topic add Procurement")
    await bot.say("amina", "!expertise add procurement, audit")
    await bot.say("fac", "!topic remove procurment")  # removal needs the exact name
    assert bot.last_reply_to("fac") == (
        "There is no topic called `procurment`, so nothing was removed. Closest: Procurement."
    )
    await bot.say("fac", "!topic remove PROCUREMENT")
    assert bot.last_reply_to("fac") == "Removed topic Procurement. It was on 1 member profile."
    await bot.say("amina", "!expertise")
    assert bot.last_reply_to("amina") == "You can help with: audit"
    await bot.say("fac", "!topic remove")
    assert bot.last_reply_to("fac").endswith("Usage: `topic remove <name>`")


async def test_topic_commands_are_for_facilitators(bot):
    await bot.say("alice", "!topic add Budgeting")
    assert bot.last_reply_to("alice") == "Only facilitators can use `topic add`."
    await bot.say("alice", "!topic remove Budgeting")
    assert bot.last_reply_to("alice") == "Only facilitators can use `topic remove`."


@pytest.mark.parametrize(
    ("typed", "topic"),
    [
        ("budgeting", "Budget"),
        ("BUDGET", "budget"),
        ("budgets", "Budgeting"),
        ("procurment", "Procurement"),
        ("Participatory-budgeting", "participatory budgeting"),
        ("Évaluation", "evaluation"),
        ("audits", "Audit"),
    ],
)
def test_names_that_mean_the_same_topic(typed, topic):
    assert topics.similarity(typed, topic) >= topics.MATCH_CUTOFF


@pytest.mark.parametrize(
    ("typed", "topic"),
    [("audio", "audit"), ("tax", "transport"), ("health", "wealth"), ("budget", "public budget")],
)
def test_names_that_are_different_topics(typed, topic):
    assert topics.similarity(typed, topic) < topics.MATCH_CUTOFF


def test_split_names():
    assert topics.split_names(" budgeting ,Audit; audit\nPFM ") == ["budgeting", "Audit", "PFM"]
    for bad in ("", " , ;", "#", ",".join(["x"] * 11)):
        with pytest.raises(UsageError):
            topics.split_names(bad)
