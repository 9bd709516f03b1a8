"""The welcome on joining, and `welcome`, `welcome set`, `welcome test`: once per platform."""

from __future__ import annotations

import pytest

from bot import patience
from bot.platform import RateLimited
from bot.types import MemberJoined
from tests.harness import BotHarness


async def with_settings(bot, **changes) -> BotHarness:
    """Another harness on the same database and clock, with some settings changed."""
    settings = bot.settings.model_copy(update=changes)
    return await BotHarness(bot.platform_name, settings, bot.clock).start()


async def test_welcome_is_sent_once_across_leave_and_rejoin(bot):
    await bot.join("dana")
    welcome, first_question = bot.replies_to("dana")
    assert welcome.startswith("Welcome to Municipal Finance Practice, dana!")
    assert "#general" in welcome and "`help`" in welcome
    assert "Question 1 of 4: Which city do you work in?" in first_question
    assert "`skip`" in first_question and "`stop`" in first_question
    assert bot.posts_in("general") == []  # no greeting in the channel unless enabled

    await bot.leave("dana")
    bot.clock.advance(days=3)
    await bot.join("dana")
    await bot.join("dana", channel="random")
    assert len(bot.replies_to("dana")) == 2


async def test_same_join_delivered_twice_welcomes_once(bot):
    await bot.join("dana", event_id="join-1")
    await bot.join("dana", event_id="join-1")
    assert len(bot.replies_to("dana")) == 2


async def test_greeting_in_channel_when_enabled(bot):
    loud = await with_settings(bot, welcome_in_channel=True)
    try:
        await loud.join("erin", channel="newcomers")
        assert [p.text for p in loud.posts_in("newcomers")] == [
            "Welcome, erin! 👋 Glad to have you in Municipal Finance Practice."
        ]
        assert loud.replies_to("erin")[0].startswith("Welcome to Municipal Finance Practice")
    finally:
        await loud.close()


async def test_bot_joins_are_ignored(bot):
    me = bot.platform.bot_user
    await bot.app.handle(MemberJoined("bot-join", me, bot.channel(), bot.clock()))
    assert bot.platform.sent == []


async def test_existing_poster_is_not_welcomed_when_joining_another_channel(bot):
    await bot.say("olga", "I have been here since before the bot")
    bot.clock.advance(minutes=5)
    await bot.join("olga", channel="budgets")
    assert bot.replies_to("olga") == []
    await bot.dm("olga", "Nairobi")  # no conversation was opened
    assert "Type `help`" in bot.last_reply_to("olga")


async def test_welcome_set_changes_what_newcomers_get(bot):
    await bot.say("fac", "!welcome set Karibu {name}! This is {community}; start in {channel}.")
    answer = bot.last_reply_to("fac")
    assert answer.startswith("Saved the welcome message in English. A newcomer will read:")
    assert "Karibu fac! This is Municipal Finance Practice; start in #general." in answer
    await bot.join("dana")
    assert bot.replies_to("dana")[0] == (
        "Karibu dana! This is Municipal Finance Practice; start in #general.\n\n"
        "I speak English (`en`), Español (`es`), Français (`fr`), Português (`pt`): "
        "type `profile language <code>` to choose."
    )
    await bot.say("fac", "!welcome")
    assert "set by a facilitator" in bot.last_reply_to("fac")
    assert "Karibu {name}!" in bot.last_reply_to("fac")


async def test_welcome_set_bad_templates_change_nothing(bot):
    await bot.say("fac", "!welcome set Hello {nmae}, welcome!")
    answer = bot.last_reply_to("fac")
    assert answer.startswith("`{nmae}` is not a placeholder I know; use {name}, {community}")
    assert answer.endswith("Usage: `welcome set [<language>] <template>`")
    for bad in ("Hello {name", "Hello name}", "Hi {}", "Hi {name!r}", "Hi {name.upper}"):
        await bot.say("fac", f"!welcome set {bad}")
        assert "Usage: `welcome set [<language>] <template>`" in bot.last_reply_to("fac"), bad
    await bot.say("fac", "!welcome set")
    assert bot.last_reply_to("fac").startswith("Give the new welcome text")
    await bot.say("fac", "!welcome set " + "x" * 3001)
    assert "too long" in bot.last_reply_to("fac")
    await bot.say("fac", "!welcome")
    assert "(the default)" in bot.last_reply_to("fac")


async def test_literal_braces_and_reset_to_default(bot):
    await bot.say("fac", "!welcome set Hi {name} {{not a placeholder}}")
    assert "Hi fac {not a placeholder}" in bot.last_reply_to("fac")
    await bot.say("fac", "!welcome set default")
    assert bot.last_reply_to("fac") == "The welcome message in English is back to the default."
    await bot.join("dana")
    assert bot.replies_to("dana")[0].startswith("Welcome to Municipal Finance Practice, dana!")


async def test_welcome_test_sends_the_preview(bot):
    await bot.say("fac", "!welcome test")
    preview, note = bot.replies_to("fac")
    assert preview.startswith("Welcome to Municipal Finance Practice, fac!")
    assert note.startswith("Sent you the welcome by direct message")
    await bot.dm("fac", "Nairobi")  # a preview opens no conversation
    assert "Type `help`" in bot.last_reply_to("fac")


async def test_welcome_commands_are_for_facilitators(bot):
    for command in ("!welcome", "!welcome set Hi {name}", "!welcome test"):
        await bot.say("alice", command)
        assert bot.last_reply_to("alice").startswith("Only facilitators can use `welcome")
    await bot.say("fac", "!welcome")
    assert "(the default)" in bot.last_reply_to("fac")


async def test_a_welcome_that_could_not_be_sent_is_not_counted_as_sent(bot):
    bot.platform.fail_next = 1
    await bot.join("dana")
    assert bot.replies_to("dana") == []
    await bot.join("dana", channel="random")
    assert len(bot.replies_to("dana")) == 2


async def test_welcome_commands_refuse_words_left_over(bot):
    await bot.say("fac", "!welcome test now")
    assert bot.replies_to("fac") == [
        "`now` is not a language I speak; say en, es, fr or pt.\nUsage: `welcome test [<language>]`"
    ]
    await bot.say("fac", "!welcome default now")
    assert bot.last_reply_to("fac") == (
        "`default` is not a language I speak; say en, es, fr or pt.\nUsage: `welcome [<language>]`"
    )
    await bot.say("fac", "!welcome fr now")
    assert bot.last_reply_to("fac") == (
        "Use `welcome set [<language>] <template>` or `welcome test [<language>]`.\n"
        "Usage: `welcome [<language>]`"
    )
    await bot.say("fac", "!welcome")
    assert "(the default)" in bot.last_reply_to("fac")


async def test_a_welcome_told_to_slow_down_is_sent_when_the_platform_allows(bot):
    """A burst of joins meets the platform's limit: the welcome waits as long as it is told
    (and notices pause as long), then goes, once."""
    bot.platform.errors = [RateLimited(0.05)]
    await bot.join("dana")
    welcome, first_question = bot.replies_to("dana")
    assert welcome.startswith("Welcome to Municipal Finance Practice, dana!")
    assert "Question 1 of 4" in first_question
    assert bot.app.outbox.pacer.slot(bot.platform_name) == pytest.approx(0.05)


async def test_a_welcome_given_up_past_a_persons_patience_is_tried_at_the_next_join(
    bot, monkeypatch, caplog
):
    monkeypatch.setattr(patience, "PATIENCE_SECONDS", 0.05)
    bot.platform.errors = [RateLimited(0.03), RateLimited(0.03)]
    await bot.join("dana")
    assert bot.replies_to("dana") == []
    assert "gave up welcoming" in caplog.text
    await bot.join("dana", channel="random")
    assert len(bot.replies_to("dana")) == 2


# languages --------------------------------------------------------------------------------


async def test_each_language_has_its_own_template_or_the_built_in_one(bot):
    from bot import i18n
    from handlers import welcome

    await bot.say("fac", "!welcome set fr Bienvenue {name} ! Présentez-vous dans {channel}.")
    assert bot.last_reply_to("fac").startswith(
        "Saved the welcome message in Français. A newcomer will read:"
    )
    await bot.say("fac", "!welcome set Karibu {name}!")  # the community's language (en)
    await bot.say("amelie", "!profile language fr")
    await bot.say("lucia", "!profile language es")
    await bot.say("dana", "!help")  # seen, with no language of her own
    bot.clear()
    for name in ("amelie", "lucia", "dana"):
        await bot.join(name)
    assert bot.replies_to("amelie")[0].startswith(
        "Bienvenue amelie ! Présentez-vous dans #general."
    )
    spanish = i18n.render(
        welcome.render(None, "lucia", "Municipal Finance Practice", "#general", "es"), "es"
    )
    assert bot.replies_to("lucia")[0].startswith(spanish)  # never the French or English text
    assert "Bienvenue" not in bot.replies_to("lucia")[0]
    assert "Karibu" not in bot.replies_to("lucia")[0]
    assert bot.replies_to("dana")[0].startswith("Karibu dana!")

    await bot.say("fac", "!welcome fr")
    assert "Bienvenue {name} !" in bot.last_reply_to("fac")
    await bot.say("fac", "!welcome es")
    assert "(the default)" in bot.last_reply_to("fac")
    assert i18n.pattern(welcome.DEFAULT_TEMPLATE, "es") in bot.last_reply_to("fac")
    await bot.say("fac", "!welcome set fr default")
    assert bot.last_reply_to("fac") == "The welcome message in Français is back to the default."
    await bot.say("fac", "!welcome test fr")
    french = i18n.render(
        welcome.render(None, "fac", "Municipal Finance Practice", "#general", "fr"), "fr"
    )
    assert french in bot.replies_to("fac")


async def test_a_template_stored_before_languages_is_the_community_language_s(bot):
    from bot import state
    from handlers import welcome

    async with bot.app.db.sessions() as session:
        await state.put(session, welcome.SCOPE, welcome.LEGACY_KEY, "Old hello, {name}.")
        await session.commit()
    await bot.say("pedro", "!profile language pt")
    bot.clear()
    await bot.join("dana")
    await bot.join("pedro")
    assert bot.replies_to("dana")[0].startswith("Old hello, dana.")
    assert not bot.replies_to("pedro")[0].startswith("Old hello")
