"""Times in the reader's zone, on every platform name: what Convener writes to one person (a
reply, a reminder, a call's DM, their home) shows a time in their own zone, named, when their
profile has one, else in the event's zone and UTC; a channel post keeps the event's zone and
UTC; Slack keeps its `<!date>` for every reader; daylight saving is the reader's."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.slack.text import to_mrkdwn
from bot import i18n, moments
from bot.i18n import _, lines
from bot.languages import rendered_home
from bot.types import Home, Item, Section
from handlers.calls import jobs as call_jobs
from handlers.events import jobs as event_jobs
from tests.harness import BotHarness

# the clock starts on Mon 2 Mar 2026 09:00 UTC; Nairobi is UTC+3, Seoul UTC+9
ADD = '!event add 2026-04-14 15:00 Africa/Nairobi "Deep dive: property tax"'
STARTS = datetime(2026, 4, 14, 12, 0, tzinfo=UTC)
EVENT_ZONE = "Tue 14 Apr 2026 15:00 Africa/Nairobi (12:00 UTC)"
SEOUL = "Tue 14 Apr 2026 21:00 Asia/Seoul"


def shown(bot: BotHarness, text: str) -> str:
    """What the reader sees: Slack's mrkdwn, or the text with each moment's fallback."""
    return to_mrkdwn(text) if bot.platform_name == "slack" else moments.plain(text)


def in_zone(bot: BotHarness, text: str | None, expected: str, at: datetime = STARTS) -> bool:
    """`text` shows `at` as `expected` (on Slack, as `<!date>` with `expected` as fallback)."""
    assert text is not None
    if bot.platform_name == "slack":
        return f"<!date^{int(at.timestamp())}^" in shown(bot, text) and expected in text
    return expected in shown(bot, text)


def reply(bot: BotHarness, name: str, word: str) -> str:
    """The last reply to `name` that has `word` (a file for one's calendar may follow)."""
    return [text for text in bot.replies_to(name) if word in text][-1]


async def announce(bot: BotHarness, command: str = ADD) -> str:
    await bot.say("fac", command)
    return [post.text for post in bot.posts_in() if "When:" in post.text][-1]


async def test_a_member_with_a_zone_reads_event_times_in_it(bot):
    await bot.say("seo", "!profile timezone Asia/Seoul")
    post = await announce(bot)
    assert in_zone(bot, post, EVENT_ZONE) and SEOUL not in post  # the channel's post
    await bot.say("seo", "!event 1")
    assert in_zone(bot, bot.last_reply_to("seo"), SEOUL)
    assert "Africa/Nairobi" not in moments.plain(bot.last_reply_to("seo"))
    await bot.say("seo", "!events")
    assert in_zone(bot, bot.last_reply_to("seo"), SEOUL)
    await bot.say("seo", "!rsvp 1")
    assert in_zone(bot, reply(bot, "seo", "coming"), SEOUL)
    await bot.say("seo", "!home")
    assert in_zone(bot, bot.last_reply_to("seo"), SEOUL)

    bot.clear()
    bot.clock.now = datetime(2026, 4, 13, 12, 0, tzinfo=UTC)  # a day before
    assert await event_jobs.remind(bot.app.services()) == 1
    await bot.deliver()
    assert in_zone(bot, reply(bot, "seo", "Reminder"), SEOUL)


async def test_a_member_without_a_zone_reads_the_events_zone_and_utc(bot):
    await announce(bot)
    await bot.say("ama", "!event 1")
    assert in_zone(bot, bot.last_reply_to("ama"), EVENT_ZONE)
    await bot.say("ama", "!rsvp 1 maybe")
    assert in_zone(bot, reply(bot, "ama", "maybe"), EVENT_ZONE)
    await bot.say("ama", "!profile timezone Asia/Seoul")  # from now on, in their zone
    await bot.say("ama", "!event 1")
    assert in_zone(bot, bot.last_reply_to("ama"), SEOUL)


async def test_the_readers_own_time_across_daylight_saving(bot):
    await bot.say("lena", "!profile timezone Europe/Berlin")  # CET, then CEST from 29 March
    await announce(bot, '!event add 2026-03-27 10:00 Africa/Nairobi "Before the change"')
    await announce(bot, '!event add 2026-03-30 10:00 Africa/Nairobi "After the change"')
    await bot.say("lena", "!event 1")
    before = datetime(2026, 3, 27, 7, 0, tzinfo=UTC)
    assert in_zone(bot, bot.last_reply_to("lena"), "Fri 27 Mar 2026 08:00 Europe/Berlin", before)
    await bot.say("lena", "!event 2")
    after = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert in_zone(bot, bot.last_reply_to("lena"), "Mon 30 Mar 2026 09:00 Europe/Berlin", after)


async def test_a_calls_deadline_dm_is_in_the_members_zone(bot):
    await bot.say("fac", "!topic add budgeting")
    await bot.say("seo", "!profile timezone Asia/Seoul")
    await bot.say("seo", "!expertise add budgeting")
    await bot.say("ama", "!expertise add budgeting")
    await bot.say("fac", '!call add 2026-03-20 "Peer review panel": budgeting')
    (post,) = [s.text for s in bot.posts_in()]
    assert "until the end of Fri 20 Mar 2026 (UTC)" in post  # the channel's post, unchanged
    bot.clear()
    assert await call_jobs.follow_up(bot.app.services()) == 2  # one DM to each
    await bot.deliver()
    (seo,) = bot.replies_to("seo")  # the deadline is midnight UTC: 09:00 the next day in Seoul
    assert "open until Sat 21 Mar 2026 09:00 (Asia/Seoul)" in seo
    (ama,) = bot.replies_to("ama")
    assert "open until the end of Fri 20 Mar 2026 (UTC)" in ama
    await bot.say("seo", "!calls")
    assert "until Sat 21 Mar 2026 09:00 (Asia/Seoul)" in bot.last_reply_to("seo")


async def test_a_readers_zone_reaches_nested_messages_and_no_further():
    when = moments.When(STARTS, "Africa/Nairobi")
    said = lines(_("When: {when}", when=when), _("When: {when}", when=when))
    assert moments.plain(i18n.render(said, "en", "Asia/Seoul")) == f"When: {SEOUL}\nWhen: {SEOUL}"
    assert moments.plain(i18n.render(said, "en")) == f"When: {EVENT_ZONE}\nWhen: {EVENT_ZONE}"
    assert moments.plain(i18n.render(said, "en", "Not/AZone")).endswith(EVENT_ZONE)
    assert moments.plain(i18n.render(when, "en", "Africa/Nairobi")) == (
        "Tue 14 Apr 2026 15:00 Africa/Nairobi"
    )
    assert "mar. 14 avr." in moments.plain(i18n.render(when, "fr", "Asia/Seoul"))


def test_a_home_page_is_in_its_readers_zone():
    home = Home((Section(_("Upcoming events"), (Item(moments.When(STARTS, "Africa/Nairobi")),)),))
    [item] = rendered_home(home, "en", "Asia/Seoul").sections[0].items
    assert moments.plain(item.text or "") == SEOUL
    [item] = rendered_home(home, "en").sections[0].items
    assert moments.plain(item.text or "") == EVENT_ZONE


async def test_a_prompt_schedules_next_post_is_in_the_facilitators_zone(bot):
    # Monday 9 Mar 2026 09:00 in Nairobi is 06:00 UTC and 15:00 in Seoul
    first = datetime(2026, 3, 9, 6, 0, tzinfo=UTC)
    await bot.say("fac", "!prompt schedule mon 09:00 Africa/Nairobi")
    nairobi = "Mon 09 Mar 2026 09:00 Africa/Nairobi (06:00 UTC)"
    assert in_zone(bot, bot.last_reply_to("fac"), nairobi, first)
    await bot.say("fac", "!profile timezone Asia/Seoul")
    await bot.say("fac", "!prompt schedules")
    assert in_zone(bot, bot.last_reply_to("fac"), "Mon 09 Mar 2026 15:00 Asia/Seoul", first)
