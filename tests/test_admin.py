"""help, roles, role grant|revoke: run once per platform."""

from __future__ import annotations


async def test_help_lists_only_what_a_member_may_use(bot):
    await bot.say("alice", "!help")
    answer = bot.last_reply_to("alice")
    assert "`help [command]`" in answer
    assert "role grant" not in answer


async def test_help_for_facilitator_lists_admin_commands_with_examples(bot):
    await bot.say("fac", "!help")
    answer = bot.last_reply_to("fac")
    assert "role grant" in answer and "e.g." not in answer  # the overview stays short
    await bot.say("fac", "!help role")
    assert bot.last_reply_to("fac").count("• ") == 2
    assert "e.g. `role grant @amina coordinator`" in bot.last_reply_to("fac")
    await bot.say("fac", "!help nonsense")
    assert "no command `nonsense`" in bot.last_reply_to("fac")


async def test_help_for_a_command_one_may_not_use_says_so(bot):
    await bot.say("alice", "!help stats")
    assert bot.last_reply_to("alice") == "Only facilitators and coordinators can use `stats`."
    await bot.say("alice", "!help role")
    assert bot.last_reply_to("alice") == "Only facilitators can use `role grant`."
    await bot.say("alice", "!help stat")
    assert "Did you mean `stats`?" in bot.last_reply_to("alice")


async def test_member_cannot_grant_roles(bot):
    await bot.say("alice", f"!role grant {bot.mention('bob')} facilitator")
    assert bot.last_reply_to("alice") == "Only facilitators can use `role grant`."
    await bot.say("bob", "!roles")
    assert bot.last_reply_to("bob") == "Only facilitators can use `roles`."


async def test_facilitator_grants_and_revokes(bot):
    await bot.say("amina", "hello")  # amina is known to the bot
    await bot.say("fac", f"!role grant {bot.mention('amina')} coordinator")
    assert bot.last_reply_to("fac") == "amina is now a coordinator."
    await bot.say("fac", f"!role grant {bot.mention('amina')} coordinator")
    assert bot.last_reply_to("fac") == "amina is already a coordinator."
    await bot.say("fac", "!roles")
    assert "Coordinators: amina" in bot.last_reply_to("fac")
    await bot.say("fac", f"!role revoke {bot.mention('amina')} coordinators")
    assert bot.last_reply_to("fac") == "amina is no longer a coordinator."
    await bot.say("fac", f"!role revoke {bot.mention('fac')} facilitator")
    assert "by configuration" in bot.last_reply_to("fac")


async def test_role_grant_bad_input(bot):
    await bot.say("fac", "!role grant")
    assert bot.last_reply_to("fac").endswith("Usage: `role grant @user facilitator|coordinator`")
    await bot.say("fac", f"!role grant {bot.mention('bob')} emperor")
    assert "`emperor` is not a role" in bot.last_reply_to("fac")


async def test_granted_facilitator_can_use_facilitator_commands(bot):
    await bot.say("bob", "hi")
    await bot.say("fac", f"!role grant {bot.mention('bob')} facilitator")
    await bot.say("bob", "!roles")
    assert "Facilitators:" in bot.last_reply_to("bob")


async def test_slash_command_and_direct_message_forms(bot):
    await bot.slash("alice", "help")
    assert "`help [command]`" in bot.last_reply_to("alice")
    await bot.dm("alice", "help")
    assert "`help [command]`" in bot.last_reply_to("alice")
    await bot.dm("alice", "good morning")
    assert "Type `help`" in bot.last_reply_to("alice")


async def test_unknown_command_and_bot_messages(bot):
    await bot.say("alice", "!frobnicate")
    assert "I don't know `frobnicate`" in bot.last_reply_to("alice")
    count = len(bot.platform.sent)
    await bot.app.handle(
        __import__("bot.types", fromlist=["Message"]).Message(
            "evbot", bot.platform.bot_user, bot.channel(), bot.clock(), "!help", "m"
        )
    )
    assert len(bot.platform.sent) == count
