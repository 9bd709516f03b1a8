"""profile, profile city|org|role|timezone, expertise, experts: once per platform."""

from __future__ import annotations

import pytest

from bot.errors import UsageError
from bot.timezones import name as timezone_name


async def test_set_and_show_profile_fields(bot):
    await bot.say("alice", "!profile city Nairobi")
    assert bot.last_reply_to("alice") == "Saved: your city is Nairobi."
    await bot.say("alice", "!profile org   City of   Nairobi")
    assert bot.last_reply_to("alice") == "Saved: your organisation is City of Nairobi."
    await bot.say("alice", "!profile role Budget officer")
    assert bot.last_reply_to("alice") == "Saved: your role is Budget officer."
    await bot.say("alice", "!profile timezone africa/nairobi")
    assert bot.last_reply_to("alice") == "Saved: your timezone is Africa/Nairobi."
    await bot.say("alice", "!profile")
    profile = bot.last_reply_to("alice")
    assert profile.startswith("**alice**\nCity: Nairobi\nOrganisation: City of Nairobi\n")
    assert "Role: Budget officer\nTimezone: Africa/Nairobi" in profile
    assert f"Accounts: {bot.platform_name}" in profile
    await bot.say("alice", "!profile city -")
    assert bot.last_reply_to("alice") == "Cleared your city."
    await bot.say("alice", "!profile timezone -")
    assert bot.last_reply_to("alice") == "Cleared your timezone."
    await bot.say("alice", "!profile")
    assert "City: not set" in bot.last_reply_to("alice")
    assert "Timezone: not set" in bot.last_reply_to("alice")


async def test_profile_bad_values_change_nothing(bot):
    await bot.say("alice", "!profile city Kisumu")
    await bot.say("alice", "!profile city")
    assert bot.last_reply_to("alice") == "What is your city?\nUsage: `profile city <city>`"
    await bot.say("alice", "!profile city " + "K" * 81)
    assert bot.last_reply_to("alice").startswith("That is too long for a city (at most 80")
    await bot.say("alice", "!profile org " + "O" * 121)
    assert bot.last_reply_to("alice").startswith("That is too long for an organisation")
    await bot.say("alice", "!profile timezone Mars/Olympus_Mons")
    answer = bot.last_reply_to("alice")
    assert answer.startswith("`Mars/Olympus_Mons` is not a timezone I know.")
    assert "Africa/Nairobi" in answer and answer.endswith("Usage: `profile timezone <Area/City>`")
    await bot.say("alice", "!profile timezone nairobi")
    assert "Did you mean Africa/Nairobi?" in bot.last_reply_to("alice")
    await bot.say("alice", "!profile timezone ../../etc/passwd")  # not a path
    assert "is not a timezone I know" in bot.last_reply_to("alice")
    await bot.say("alice", "!profile timezone")
    assert bot.last_reply_to("alice").startswith("Which timezone?")
    await bot.say("alice", "!profile")
    assert "City: Kisumu" in bot.last_reply_to("alice")
    assert "Timezone: not set" in bot.last_reply_to("alice")


async def test_someone_elses_profile(bot):
    await bot.say("amina", "!profile city Mombasa")
    await bot.say("amina", "!expertise add budgeting")
    await bot.say("bob", f"!profile {bot.mention('amina')}")
    answer = bot.last_reply_to("bob")
    assert answer.startswith("**amina**\nCity: Mombasa")
    assert "Can help with: budgeting" in answer
    assert "Accounts:" not in answer
    await bot.say("bob", "!profile Nairobi")
    answer = bot.last_reply_to("bob")
    assert answer.startswith("I don't know anyone called Nairobi.")
    assert "`profile city|org|role|timezone <value>`" in answer


async def test_expertise_add_list_remove(bot):
    await bot.say("alice", "!expertise")
    assert bot.last_reply_to("alice").startswith("You have not listed any topics yet.")
    await bot.say("fac", "!topic add Budgeting")
    await bot.say("alice", "!expertise add budget, Procurement, budgeting")
    assert bot.last_reply_to("alice") == (
        "Added to what you can help with: Budgeting, Procurement (new topic: Procurement)."
    )
    await bot.say("alice", "!expertise add procurment")  # a near spelling is the same topic
    assert bot.last_reply_to("alice") == "You already offer Procurement."
    await bot.say("alice", "!expertise")
    assert bot.last_reply_to("alice") == "You can help with: Budgeting, Procurement"
    await bot.say("alice", "!expertise remove PROCUREMENT")
    assert bot.last_reply_to("alice") == "Removed from your profile: Procurement."
    await bot.say("alice", "!expertise")
    assert bot.last_reply_to("alice") == "You can help with: Budgeting"


async def test_expertise_bad_input_changes_nothing(bot):
    await bot.say("alice", "!expertise add budgeting")
    await bot.say("alice", "!expertise add")
    assert bot.last_reply_to("alice") == (
        "Which topic? For example: budgeting, procurement\n"
        "Usage: `expertise add <topic>[, <topic>...]`"
    )
    await bot.say("alice", "!expertise add , ;")
    assert bot.last_reply_to("alice").startswith("Which topic?")
    await bot.say("alice", "!expertise add audit, ???")
    assert bot.last_reply_to("alice").startswith("A topic needs a name with letters or digits.")
    await bot.say("alice", "!expertise add audit, " + "t" * 61)
    assert "too long for a topic" in bot.last_reply_to("alice")
    await bot.say("alice", "!expertise remove budgeting, fisheries")
    assert bot.last_reply_to("alice") == (
        "`fisheries` is not on your profile, so nothing was removed. Your topics: budgeting."
    )
    await bot.say("alice", "!expertise remove")
    assert bot.last_reply_to("alice").endswith("Usage: `expertise remove <topic>[, <topic>...]`")
    await bot.say("alice", "!expertise rubbish")
    assert bot.last_reply_to("alice").startswith("Use `expertise add|remove <topic>`")
    await bot.say("alice", "!expertise")
    assert bot.last_reply_to("alice") == "You can help with: budgeting"


async def test_experts(bot):
    await bot.say("amina", "!profile city Mombasa")
    await bot.say("amina", "!profile org County of Mombasa")
    await bot.say("amina", "!expertise add Budgeting")
    await bot.say("bob", "!expertise add budget")
    await bot.say("alice", "!experts BUDGETTING")
    assert bot.last_reply_to("alice") == (
        "Who can help with Budgeting:\n• amina (Mombasa, County of Mombasa)\n• bob"
    )


async def test_experts_unknown_or_empty_topic(bot):
    await bot.say("amina", "!expertise add Budgeting, Public procurement")
    await bot.say("alice", "!experts procurement")
    assert bot.last_reply_to("alice") == "Who can help with Public procurement:\n• amina"
    await bot.say("alice", "!experts astrophysics")
    assert bot.last_reply_to("alice") == (
        "I don't know the topic `astrophysics`. Type `topics` to see them all."
    )
    await bot.say("alice", "!experts")
    assert bot.last_reply_to("alice").endswith("Usage: `experts <topic>`")
    await bot.say("alice", "!experts ...")
    assert bot.last_reply_to("alice").startswith("A topic needs a name")
    await bot.say("fac", "!topic add Audit")
    await bot.say("alice", "!experts audit")
    assert bot.last_reply_to("alice") == "Nobody has said they can help with Audit yet."


def test_timezone_names():
    assert timezone_name("UTC") == "UTC"
    assert timezone_name("america/sao_paulo") == "America/Sao_Paulo"
    for bad in ("", "Africa", "Nowhere/Land", "/etc/passwd"):
        with pytest.raises(UsageError):
            timezone_name(bad)


async def test_profile_timezone_takes_one_zone(bot):
    await bot.say("alice", "!profile timezone Africa/Nairobi")
    await bot.say("alice", "!profile timezone Europe/Berlin please")
    assert bot.last_reply_to("alice") == (
        "Give one timezone. Use a name like Africa/Nairobi, Europe/Berlin or America/Sao_Paulo."
        "\nUsage: `profile timezone <Area/City>`"
    )
    await bot.say("alice", "!profile")
    assert "Timezone: Africa/Nairobi" in bot.last_reply_to("alice")
