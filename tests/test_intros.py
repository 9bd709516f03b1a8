"""Introductions between cities, on every platform name: a round pairs members of different
cities (complementary topics first) in one conversation each, with meeting times in each
member's zone and language; opt-outs and `away` are respected, an odd member makes a trio, no
pair meets twice within a year across restarts, a round is made once by two processes; the
rhythm, the follow-up and its answers (command, button, reply, reaction); roles and bad input."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.models import IntroGroup, IntroMember, IntroRound, IntroSchedule
from bot.types import Message, ReactionAdded
from handlers.intros import jobs, service
from tests.harness import BotHarness

# the clock starts on Mon 2 Mar 2026 09:00 UTC
PEOPLE = {
    "amina": ("Nairobi, Kenya", "Africa/Nairobi"),
    "jin": ("Seoul, Korea", "Asia/Seoul"),
    "ana": ("Lisbon, Portugal", "Europe/Lisbon"),
    "raj": ("Pune, India", "Asia/Kolkata"),
}


async def member(bot: BotHarness, name: str, city: str | None = None, zone: str | None = None):
    await bot.say(name, "!profile" if city is None else f"!profile city {city}")
    if zone:
        await bot.say(name, f"!profile timezone {zone}")


async def community(bot: BotHarness, *names: str) -> None:
    await bot.say("fac", "!intros off me")
    for name in names:
        await member(bot, name, *PEOPLE[name])
    bot.clear()


async def groups(bot: BotHarness) -> list[tuple[str, ...]]:
    """Each group's members, by display name, in the order made."""
    async with bot.app.db.sessions() as session:
        rows = (
            await session.execute(
                select(IntroMember.group_id, IntroMember.member_id).order_by(
                    IntroMember.group_id, IntroMember.member_id
                )
            )
        ).all()
        names = await _names(session)
    found: dict[int, list[str]] = {}
    for group_id, member_id in rows:
        found.setdefault(group_id, []).append(names[member_id])
    return [tuple(sorted(v)) for v in found.values()]


async def _names(session) -> dict[int, str]:
    from bot.models import Member

    return {m.id: m.display_name for m in (await session.scalars(select(Member))).all()}


def group_posts(bot: BotHarness) -> list:
    return [s for s in bot.platform.sent if s.channel.id.startswith("group-")]


async def test_intros_now_introduces_two_cities_in_one_conversation_with_times(bot):
    await community(bot, "amina", "jin")
    await bot.say("amina", "!expertise add budgeting")
    await bot.say("jin", "!expertise learn budgeting")
    await bot.say("jin", "!profile org Seoul Academy")
    bot.clear()
    await bot.say("fac", "!intros now")
    assert "Made 1 introduction" in bot.last_reply_to("fac")
    assert await groups(bot) == [("amina", "jin")]
    [post] = group_posts(bot)
    text = post.text
    assert "**amina** · Nairobi, Kenya" in text and "offers: budgeting" in text
    assert "**jin** · Seoul, Korea · Seoul Academy" in text and "wants to learn: budgeting" in text
    # Nairobi 09-17 is 06-14 UTC, Seoul 09-17 is 00-08 UTC: 09:00 Nairobi, 15:00 Seoul
    assert "For amina (Africa/Nairobi): Wed 04 Mar 09:00" in text
    assert "For jin (Asia/Seoul): Wed 04 Mar 15:00" in text
    assert text.count(" · ") >= 4
    async with bot.app.db.sessions() as session:
        group = (await session.scalars(select(IntroGroup))).one()
    assert (group.platform, group.channel_id) == (bot.platform_name, post.channel.id)


async def test_each_members_times_are_in_their_language(bot):
    await community(bot, "amina", "jin")
    await bot.say("jin", "!profile language fr")
    await bot.say("fac", "!intros now")
    text = group_posts(bot)[0].text
    assert "(Asia/Seoul)\xa0: mer. 04 mars 15:00" in text
    assert "(Africa/Nairobi): Wed 04 Mar 09:00" in text


async def test_no_shared_working_hours_says_to_write_instead(bot):
    await member(bot, "kai", "Honolulu", "Pacific/Honolulu")
    await community(bot, "amina")
    await bot.say("fac", "!intros now")
    text = group_posts(bot)[0].text
    assert "do not overlap" in text and "write to each other" in text
    assert "For kai" not in text


async def test_complementary_topics_are_preferred(bot):
    await community(bot, "amina", "jin", "ana", "raj")
    await bot.say("amina", "!expertise add property tax")
    await bot.say("raj", "!expertise learn property tax")
    await bot.say("fac", "!intros now")
    assert sorted(await groups(bot)) == [("amina", "raj"), ("ana", "jin")]


async def test_an_odd_member_joins_a_trio_with_times_for_all_three(bot):
    await community(bot, "amina", "ana", "raj")
    await bot.say("fac", "!intros now")
    assert await groups(bot) == [("amina", "ana", "raj")]
    text = group_posts(bot)[0].text
    assert all(f"For {n} (" in text for n in ("amina", "ana", "raj"))


async def test_opted_out_and_away_members_are_left_out(bot):
    await community(bot, "amina", "jin", "ana", "raj")
    await bot.say("jin", "!intros off")  # a member: opts out
    assert "left out of introductions" in bot.last_reply_to("jin")
    await bot.say("raj", "!away")
    await bot.say("fac", "!intros now")
    assert await groups(bot) == [("amina", "ana")]
    await bot.say("jin", "!intros")
    assert "You have opted out" in bot.last_reply_to("jin")
    await bot.say("jin", "!intros on")
    assert bot.last_reply_to("jin") == "You take part in introductions between cities."


async def test_a_member_without_a_city_is_left_out_and_told_why_once(bot):
    await community(bot, "amina", "jin")
    await member(bot, "zoe")
    await bot.say("fac", "!intros now")
    bot.clock.advance(days=7)
    await bot.say("fac", "!intros now")
    told = [t for t in bot.replies_to("zoe") if "no city" in t]
    assert len(told) == 1 and "profile city" in told[0]
    assert all("zoe" not in g for g in await groups(bot))


async def test_no_pair_meets_twice_within_a_year_across_a_restart(bot, settings, clock):
    await community(bot, "amina", "jin", "ana", "raj")
    await bot.say("fac", "!intros now")
    first = await groups(bot)
    await bot.close()
    again = await BotHarness(bot.platform_name, settings, clock).start()
    try:
        seen = set()
        for _round in range(2):
            clock.advance(days=7)
            await again.say("fac", "!intros now")
        made = await groups(again)
        for group in made:
            assert group not in seen
            seen.add(group)
        assert len(made) == 6 and set(first) <= seen  # every pair of four, once
        clock.advance(days=7)
        await again.say("fac", "!intros now")
        assert "Nobody could be introduced" in again.last_reply_to("fac")
        clock.advance(days=366)
        await again.say("fac", "!intros now")
        assert len(await groups(again)) == 8
    finally:
        await again.close()
    bot.app = again.app


async def test_two_processes_make_one_round(bot, settings, clock):
    await community(bot, "amina", "jin", "ana")
    await bot.say("fac", "!intros on every 2 weeks")
    other = await BotHarness(bot.platform_name, settings, clock).start()
    try:
        done = await asyncio.gather(jobs.tick(bot.app.services()),
                                    jobs.tick(other.app.services()))  # fmt: skip
        assert sum(done) == 1
        await asyncio.gather(bot.deliver(), other.deliver())
        assert len(group_posts(bot)) + len(group_posts(other)) == 1
        assert await asyncio.gather(jobs.tick(bot.app.services()),
                                    jobs.tick(other.app.services())) == [0, 0]  # fmt: skip
        async with bot.app.db.sessions() as session:
            assert len((await session.scalars(select(IntroRound))).all()) == 1
    finally:
        await other.close()


async def test_the_rhythm_the_follow_up_and_its_answers(bot, clock):
    await community(bot, "amina", "jin", "ana", "raj")
    await bot.say("fac", "!intros on every 2 weeks")
    assert "every 2 weeks; the next round is Mon 02 Mar 2026 09:00 (UTC)" in bot.last_reply_to(
        "fac"
    )
    assert await jobs.tick(bot.app.services()) == 1
    await bot.deliver()
    assert len(group_posts(bot)) == 2
    async with bot.app.db.sessions() as session:
        rhythm = await session.get(IntroSchedule, 1)
    assert rhythm.next_round_at == clock().replace(day=16)
    clock.advance(days=7)
    assert await jobs.tick(bot.app.services()) == 1
    await bot.deliver()
    asks = [s for s in group_posts(bot) if "Did you manage to meet?" in s.text]
    assert len(asks) == 2
    if bot.platform_name == "slack":
        assert [a.command for a in asks[0].extra["actions"]] == ["met yes", "met no"]
    assert await jobs.tick(bot.app.services()) == 0
    names = dict(await groups_by_channel(bot))
    first, second = asks
    a, b = names[first.channel.id]
    await react(bot, a, "👍", first)
    await reply(bot, b, "no", first)
    c, _d = names[second.channel.id]
    await bot.say(c, "!met yes")
    assert "Noted: you met" in bot.last_reply_to(c)
    answers = await met(bot)
    assert answers == {a: True, b: False, c: True, _d: None}
    await bot.say("fac", "!intros")
    assert "every 2 weeks; next round Mon 16 Mar 2026 09:00 (UTC)" in bot.last_reply_to("fac")


async def groups_by_channel(bot: BotHarness) -> list[tuple[str, tuple[str, ...]]]:
    async with bot.app.db.sessions() as session:
        rows = (await session.scalars(select(IntroGroup).order_by(IntroGroup.id))).all()
    made = await groups(bot)
    return [(g.channel_id, names) for g, names in zip(rows, made, strict=True)]


async def met(bot: BotHarness) -> dict[str, bool | None]:
    async with bot.app.db.sessions() as session:
        names = await _names(session)
        rows = (await session.scalars(select(IntroMember))).all()
    return {names[r.member_id]: r.met for r in rows}


async def react(bot: BotHarness, name: str, emoji: str, post) -> None:
    await bot._handle(ReactionAdded(bot._event_id(), bot.user(name), post.channel, bot.clock(),
                                    post.message_id, emoji))  # fmt: skip


async def reply(bot: BotHarness, name: str, text: str, post) -> None:
    await bot._handle(Message(bot._event_id(), bot.user(name), post.channel, bot.clock(), text,
                              f"r-{bot._event_id()}", post.message_id))  # fmt: skip


async def test_met_with_nothing_to_answer_says_so(bot):
    await bot.say("amina", "!met yes")
    assert "not been introduced to anyone yet" in bot.last_reply_to("amina")
    await bot.say("amina", "!met maybe")
    assert "`maybe` is not an answer" in bot.last_reply_to("amina")


async def test_roles_decide_what_intros_on_and_off_mean(bot):
    await member(bot, "amina", *PEOPLE["amina"])
    await bot.say("amina", "!intros on every 2 weeks")
    assert bot.last_reply_to("amina") == "Only facilitators can use `intros on every`."
    await bot.say("amina", "!intros now")
    assert bot.last_reply_to("amina") == "Only facilitators can use `intros now`."
    await bot.say("amina", "!intros off")
    await bot.say("fac", "!intros on")
    assert "every 2 weeks" in bot.last_reply_to("fac")
    await bot.say("fac", "!intros off me")
    await bot.say("fac", "!intros")
    assert "are on, every 2 weeks" in bot.last_reply_to("fac")
    assert "You have opted out" in bot.last_reply_to("fac")
    await bot.say("amina", "!intros")
    assert "You have opted out" in bot.last_reply_to("amina")
    await bot.say("amina", "!intros on me")
    await bot.say("amina", "!intros")
    assert "You take part;" in bot.last_reply_to("amina")
    await bot.say("fac", "!intros off")
    assert "are off" in bot.last_reply_to("fac")
    await bot.say("amina", "!help intros")
    shown = bot.last_reply_to("amina")
    assert "`intros on [every <n> weeks|me]`" in shown and "intros now" not in shown
    await bot.say("fac", "!help intros")
    shown = bot.last_reply_to("fac")
    assert "`intros now`" in shown and "`intros every [<n> weeks]`" in shown
    assert "facilitators: introductions on a rhythm" in shown


async def test_bad_input_is_answered_and_changes_nothing(bot):
    for command, said in (
        ("!intros every 0 weeks", "Choose between 1 and 12 weeks."),
        ("!intros on every 0 weeks", "Choose between 1 and 12 weeks."),
        ("!intros on every abc", "`abc` is not a number of weeks."),
        ("!intros every 13", "Choose between 1 and 12 weeks."),
        ("!intros on twice", "Say how often"),
        ("!intros off everyone", "Just `intros off`"),
        ("!intros now please", "Just `intros now`."),
    ):
        await bot.say("fac", command)
        assert said in bot.last_reply_to("fac"), command
    async with bot.app.db.sessions() as session:
        assert await session.get(IntroSchedule, 1) is None


async def test_an_ordinary_reaction_or_reply_is_not_an_answer(bot):
    await community(bot, "amina", "jin")
    await bot.say("fac", "!intros now")
    post = group_posts(bot)[0]
    await react(bot, "amina", "👍", post)  # the introduction, not the follow-up
    await reply(bot, "jin", "yes", post)
    assert set((await met(bot)).values()) == {None}
    assert service.FOLLOW_UPS is not None


async def test_mydata_holds_ones_introductions_answers_and_leaving(bot):
    import io

    from openpyxl import load_workbook

    await community(bot, "amina", "jin")
    await bot.say("fac", "!intros now")
    await bot.say("jin", "!met yes")
    await bot.say("jin", "!intros off")
    await bot.say("jin", "!mydata")
    [sent] = bot.files_to("jin")
    book = load_workbook(io.BytesIO(sent.data), read_only=True)
    rows = list(book["Introductions"].iter_rows(values_only=True))
    assert rows[0] == ("Introduction", "Introduced (UTC)", "With", "City", "Met",
                       "Answered (UTC)")  # fmt: skip
    [(_, introduced, with_, city, met, answered)] = rows[1:]
    assert (with_, city, met) == ("amina", "Seoul, Korea", "yes") and introduced <= answered
    profile = {row[0]: row[1:] for row in book["Profile"].iter_rows(values_only=True)}
    assert profile["Left introductions (UTC)"][0] is not None
    assert not any(profile["Calendar feed since (UTC)"])
