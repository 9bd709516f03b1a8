"""topics, topic add, topic remove (once per platform), and topic name matching."""

from __future__ import annotations

import pytest

from bot import topics
from bot.errors import UsageError
from bot.models import Topic


async def test_topics_empty_then_listed_with_counts(bot):
    await bot.say("alice", "!topics")
    assert bot.last_reply_to("alice").startswith("No topics yet.")
    await bot.say("fac", "!topic add Budgeting: budget, PFM")
    assert bot.last_reply_to("fac") == "Added topic Budgeting with keywords budget, PFM."
    await bot.say("amina", "!expertise add budgeting, Audit")
    await bot.join("dana")
    for answer in ("skip", "skip", "skip", "audits"):  # "audit" alone is a command
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
        "I don't know the topic `procurment`. Closest: Procurement. Nothing was removed."
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


async def test_experts_finds_a_topic_by_a_word_of_its_name(bot):
    await bot.say("amina", "!expertise add Budgeting, Debt management")
    await bot.say("alice", "!experts debt")
    assert bot.last_reply_to("alice") == "Who can help with Debt management:\n• amina"


async def test_lookup_ranks_exact_names_words_prefixes_then_misspellings(bot):
    for name in ("Budgeting", "Budget planning", "Property tax", "Taxonomy", "Procurement",
                 "Finance", "Financial reporting"):  # fmt: skip
        await bot.say("fac", f"!topic add {name}")
    meant = {
        "budget": "Budgeting",  # whole words, none left over (Budget planning has one)
        "tax": "Property tax",  # a whole word before a prefix (Taxonomy)
        "proc": "Procurement",  # a prefix
        "financi": "Financial reporting",  # a prefix before a misspelling (Finance)
        "procurment": "Procurement",  # a misspelling
    }
    for typed, topic in meant.items():
        await bot.say("alice", f"!experts {typed}")
        assert bot.last_reply_to("alice") == f"Nobody has said they can help with {topic} yet."
    await bot.say("fac", "!topic add Tax")
    await bot.say("alice", "!experts TAX")  # the exact name first
    assert bot.last_reply_to("alice") == "Nobody has said they can help with Tax yet."


async def test_equal_matches_ask_which_one_and_change_nothing(bot):
    await bot.say("amina", "!expertise add Debt management, Debt relief")
    await bot.say("alice", "!experts debt")
    assert bot.last_reply_to("alice") == (
        "`debt` could mean Debt management or Debt relief: which one?\nUsage: `experts <topic>`"
    )
    await bot.say("alice", "!expertise add audit, debt")
    assert bot.last_reply_to("alice").startswith(
        "`debt` could mean Debt management or Debt relief: which one?"
    )
    await bot.say("alice", "!expertise")
    assert bot.last_reply_to("alice").startswith("You have not listed any topics yet.")
    await bot.say("alice", "!topics")
    assert bot.last_reply_to("alice").startswith("Topics (2):")


def _topics(*names: str) -> list[Topic]:
    return [Topic(name=name, key=topics.key_of(name), keywords="") for name in names]


@pytest.mark.parametrize(
    ("typed", "names", "meant"),
    [
        ("tax", ["Property tax", "Tax"], "Tax"),
        ("tax", ["Taxonomy", "Property tax"], "Property tax"),
        ("budget", ["Budget planning", "Budgeting"], "Budgeting"),
        ("accounta", ["Accounting", "Accountability"], "Accountability"),
        ("procurment", ["Audit", "Procurement"], "Procurement"),
        ("astrophysics", ["Audit", "Procurement"], None),
    ],
)
def test_match_ranks(typed, names, meant):
    found = topics.match(_topics(*names), typed)
    assert (found.name if found else None) == meant


def test_match_lists_at_most_five_choices():
    candidates = _topics(*(f"Public {word}" for word in "debt audit budget works land art".split()))
    with pytest.raises(UsageError) as raised:
        topics.match(candidates, "public")
    assert str(raised.value) == (
        "`public` could mean Public art, Public audit, Public budget, Public debt, Public land "
        "or 1 more: which one?"
    )
