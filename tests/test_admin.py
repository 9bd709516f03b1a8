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


async def test_help_for_one_command_shows_the_usage_its_arguments_declare(bot):
    await bot.say("alice", "!help rsvp")
    assert bot.last_reply_to("alice") == (
        "• `rsvp <id> [yes|no|maybe]` — say whether you'll come to an event (e.g. `rsvp 3 yes`)"
    )
    await bot.say("fac", "!help audit")
    assert bot.last_reply_to("fac") == (
        "• `audit [days]` — role changes, links, erasures and report pulls "
        "(default: last 30 days) (e.g. `audit 90`)"
    )
    await bot.say("fac", "!help report")
    assert bot.last_reply_to("fac").startswith(
        "• `report [YYYY-MM-DD [YYYY-MM-DD]] [pseudonymous]` — the engagement workbook"
    )
    await bot.say("alice", "!help")
    assert "• `help [command]` — what I can do for you\n" in bot.last_reply_to("alice")


async def test_declared_arguments_answer_with_the_usage(bot):
    usage = "\nUsage: `audit [days]`"
    await bot.say("fac", "!audit lots")
    assert bot.last_reply_to("fac") == "Give a number of days, for example: audit 30" + usage
    await bot.say("fac", "!audit 7 days")
    assert bot.last_reply_to("fac") == "Give a number of days, for example: audit 30" + usage
    await bot.say("fac", "!audit 0")
    assert bot.last_reply_to("fac") == "Choose between 1 and 3650 days." + usage
    await bot.say("fac", "!audit 7")
    assert bot.last_reply_to("fac") == "Nothing in the audit log for the last 7 days."
    await bot.say("fac", "!roles please")
    assert bot.last_reply_to("fac") == "Just `roles`.\nUsage: `roles`"
    await bot.say("bob", "hi")
    usage = "\nUsage: `role grant @user facilitator|coordinator`"
    await bot.say("fac", f"!role grant {bot.mention('bob')} coordinator today")
    assert bot.last_reply_to("fac") == "Name one member and one role." + usage
    await bot.say("fac", f"!role grant {bot.mention('bob')} Emperor")
    assert bot.last_reply_to("fac") == (
        "`Emperor` is not a role; use facilitator or coordinator." + usage
    )
    await bot.say("fac", "!audit")
    assert bot.last_reply_to("fac") == "Nothing in the audit log for the last 30 days."
    await bot.say("fac", f"!role grant {bot.mention('bob')} Coordinators")
    assert bot.last_reply_to("fac") == "bob is now a coordinator."
