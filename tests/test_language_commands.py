"""`profile language`, `channel language` and `language <code>` in the onboarding
conversation, once per platform. Until the catalogs are translated a French reply reads like
the English one, so what is checked after a change is the language kept; the answers to a
language Convener does not speak are read in English (nothing was changed)."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import func, select

from bot import i18n
from bot.models import Channel, Identity, Member, Onboarding
from handlers.onboarding import _language_asked
from tests.harness import BotHarness
from tests.test_link import OtherPlatform, code_in


async def language_of(bot, name: str) -> str | None:
    """The language stored for `name`'s member (None: the community's)."""
    user = bot.user(name)
    async with bot.app.db.sessions() as session:
        return await session.scalar(
            select(Member.language)
            .join(Identity, Identity.member_id == Member.id)
            .where(Identity.platform == user.platform, Identity.user_id == user.id)
        )


async def channel_row_language(bot, channel: str = "general") -> str | None:
    ref = bot.channel(channel)
    async with bot.app.db.sessions() as session:
        return await session.scalar(
            select(Channel.language).where(
                Channel.platform == ref.platform, Channel.channel_id == ref.id
            )
        )


async def onboarding_step(bot, name: str) -> tuple[int, str]:
    user = bot.user(name)
    async with bot.app.db.sessions() as session:
        row = await session.scalar(
            select(Onboarding).join(Identity, Identity.member_id == Onboarding.member_id)
            .where(Identity.platform == user.platform, Identity.user_id == user.id)
        )  # fmt: skip
    return row.step, row.status


def offered_in_english() -> str:
    return ", ".join(f"`{code}` ({i18n.name_of(code)})" for code in i18n.available())


def test_the_languages_shipped_include_french():
    assert {"en", "fr"} <= set(i18n.available())
    assert i18n.name_of("fr") == "Français"
    assert offered_in_english().startswith("`en` (English), ")
    for typed in ("fr", "FR", "fr-FR", "fr_CA", " Fr "):
        assert i18n.code(typed) == "fr"


async def test_profile_language_sets_the_members_language(bot):
    await bot.say("alice", "hello")
    assert await language_of(bot, "alice") is None
    await bot.say("alice", "!profile language fr")
    assert await language_of(bot, "alice") == "fr"  # and the answer was said in French
    await bot.say("alice", "!profile language EN")
    assert await language_of(bot, "alice") == "en"
    assert bot.last_reply_to("alice") == "Saved: your language is English."
    await bot.say("alice", "!profile language fr-FR")
    assert await language_of(bot, "alice") == "fr"
    await bot.say("bob", f"!profile {bot.mention('alice')}")  # bob reads English
    assert "\nLanguage: Français\n" in bot.last_reply_to("bob")
    await bot.say("bob", "!profile")
    assert "\nLanguage: English (the community's)\n" in bot.last_reply_to("bob")
    assert "`profile city|org|role|timezone|language <value>`" in bot.last_reply_to("bob")


async def test_profile_language_bad_input_names_the_languages_and_changes_nothing(bot):
    await bot.say("alice", "!profile language xx")
    assert bot.last_reply_to("alice") == (
        f"`xx` is not a language I speak. Choose one of: {offered_in_english()}."
    )
    assert "`fr` (Français)" in bot.last_reply_to("alice")
    await bot.say("alice", "!profile language")
    assert bot.last_reply_to("alice") == f"Which language? Choose one of: {offered_in_english()}."
    await bot.say("alice", "!profile language french please")
    assert bot.last_reply_to("alice").startswith("`french please` is not a language I speak.")
    assert await language_of(bot, "alice") is None
    await bot.say("alice", "!profile language fr")
    await bot.say("alice", "!profile language klingon")
    assert await language_of(bot, "alice") == "fr"  # a bad choice keeps the one made before


async def test_channel_language_by_a_facilitator(bot):
    general = bot.channel("general")
    await bot.say("fac", "!channel language")
    assert bot.last_reply_to("fac") == ("This channel follows the community's language, English.")
    await bot.say("fac", "!channel language FR")
    assert bot.app.languages.of_channel(general) == "fr"
    assert await channel_row_language(bot) == "fr"
    assert bot.last_reply_to("fac") == "Saved: this channel's language is Français."
    assert bot.app.languages.of_channel(bot.channel("random")) == "en"  # only that channel
    await bot.say("fac", "!channel language")
    assert bot.last_reply_to("fac") == "This channel's language is Français."

    await bot.say("fac", "!channel language xx")
    assert bot.last_reply_to("fac") == (
        f"`xx` is not a language I speak. Choose one of: {offered_in_english()}."
    )
    assert bot.app.languages.of_channel(general) == "fr"

    again = await BotHarness(bot.platform_name, bot.settings, bot.clock).start()
    try:  # another process (or a restart) reads the channel's language from the database
        assert again.app.languages.of_channel(general) == "fr"
    finally:
        await again.close()

    await bot.say("fac", "!channel language default")
    assert bot.app.languages.of_channel(general) == "en"
    assert bot.app.languages.channel_choice(general) is None
    assert await channel_row_language(bot) is None
    assert bot.last_reply_to("fac") == (
        "Saved: this channel now follows the community's language, English."
    )


async def test_channel_language_is_for_facilitators_in_a_channel(bot):
    await bot.say("alice", "!channel language fr")
    assert bot.last_reply_to("alice") == "Only facilitators can use `channel language`."
    assert bot.app.languages.channel_choice(bot.channel("general")) is None
    assert await channel_row_language(bot) is None
    await bot.dm("fac", "!channel language fr")
    assert bot.last_reply_to("fac") == (
        "Type `channel language` in the channel whose language you want to set."
    )
    assert await language_of(bot, "fac") is None


async def test_language_during_the_onboarding_conversation(bot):
    await bot.join("dana")
    _welcome, opening = bot.replies_to("dana")
    assert opening.splitlines()[-1] == (
        f"To answer in another language, type `language <code>`: {offered_in_english()}."
    )
    await bot.dm("dana", "language xx")
    assert bot.last_reply_to("dana") == (
        f"`xx` is not a language I speak. Choose one of: {offered_in_english()}.\n"
        "Question 1 of 4: Which city do you work in?"
    )
    assert await language_of(bot, "dana") is None
    await bot.dm("dana", "Language FR")
    assert await language_of(bot, "dana") == "fr"
    assert await onboarding_step(bot, "dana") == (0, "active")  # the same question, again
    assert len(bot.replies_to("dana")) == 4
    await bot.dm("dana", "Nairobi")
    assert await onboarding_step(bot, "dana") == (1, "active")
    await bot.dm("dana", "language policy")  # an answer like any other
    assert await onboarding_step(bot, "dana") == (2, "active")
    assert await language_of(bot, "dana") == "fr"


def test_what_counts_as_language_code_in_the_conversation():
    assert _language_asked("language fr") == "fr"
    assert _language_asked("LANGUAGE pt-BR.") == "pt-BR"
    assert _language_asked("language xx") == "xx"
    assert _language_asked("language policy") is None
    assert _language_asked("language") is None
    assert _language_asked("language fr please") is None
    assert _language_asked("Nairobi") is None


async def test_mydata_lists_the_language(bot):
    await bot.say("alice", "!profile language fr")
    await bot.say("alice", "!mydata")
    [sent] = bot.files_to("alice")
    book = load_workbook(io.BytesIO(sent.data))
    profile = dict(book.worksheets[0].iter_rows(min_row=2, values_only=True))
    assert "fr" in profile.values()  # beside "Language", in French once translated


async def test_the_language_survives_linking_and_goes_with_erasure(bot):
    other = OtherPlatform(bot)
    await bot.say("alice", "hello")  # the older member, who survives the link
    await other.dm("alice", "!profile language fr")
    await bot.say("alice", "!link")
    await other.dm("alice", f"!link {code_in(bot.last_reply_to('alice'))}")
    await other.dm("alice", "!link confirm")
    async with bot.app.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Member)) == 1
    assert await language_of(bot, "alice") == "fr"
    await bot.say("alice", "!forgetme confirm")
    async with bot.app.db.sessions() as session:
        kept = await session.scalar(select(Member.language).where(Member.erased_at.is_not(None)))
    assert kept is None
