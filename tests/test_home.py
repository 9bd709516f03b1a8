"""The member's home, on every platform name: the `home` command (a member, an expert with a
routed question, the second part for facilitators and coordinators only, in the member's
language), and the page a member opened on their platform, published when opened and again,
paced and coalesced, when it goes stale (across a restart too); and the migration."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, select

from bot.activity import POSTING_KINDS
from bot.db import upgrade
from bot.models import Activity, HomeTab
from bot.platform import RateLimited
from bot.types import Home, HomeOpened, UserRef
from handlers.questions import jobs as question_jobs
from tests.databases import downgrade
from tests.harness import BotHarness, direct

# the clock starts on Mon 2 Mar 2026 09:00 UTC
EVENT = '!event add 2026-03-05 18:00 Africa/Nairobi "Deep dive: property tax"'
CALL = '!call add 2026-03-20 "Peer review panel"'
QUESTION = "How do other cities plan a multi-year capital budget?"


async def community(bot: BotHarness) -> None:
    """A topic, an expert (kofi), an event and a call; lena and kofi past onboarding."""
    for name in ("lena", "kofi"):
        await bot.join(name)
        await bot.dm(name, "stop")
    await bot.say("fac", "!topic add budgeting: budget, multi-year")
    await bot.say("kofi", "!expertise add budgeting")
    await bot.say("fac", EVENT)
    await bot.say("fac", CALL)
    bot.clear()


async def home_of(bot: BotHarness, name: str) -> str:
    await bot.say(name, "!home")
    return bot.last_reply_to(name)


STAFF = ("This week, beside last week", "Posting-active members", "`report`", "Unanswered after")


async def test_a_member_sees_their_questions_events_calls_and_profile(bot):
    await community(bot)
    await bot.say("lena", "!profile city Nairobi")
    await bot.say("lena", f"!ask {QUESTION}")
    await bot.say("lena", "!rsvp 1 yes")
    text = await home_of(bot, "lena")
    assert "**Your profile**" in text and "City: Nairobi" in text
    assert "Edit: `form profile`" in text  # the button, as the command to type
    assert "**Your open questions**" in text
    assert f"#1 · waiting for an answer · 0 min ago — {QUESTION}" in text
    assert "Solved: `solved 1`" in text and "Ask a question: `form ask`" in text
    assert "**Upcoming events**" in text and "**#1 Deep dive: property tax**" in text
    assert "Your answer: you're coming." in text and "`rsvp 1 maybe`" in text
    assert "**Open calls**" in text and "**#1 Peer review panel**" in text
    assert "You haven't expressed interest yet." in text and "`interest 1`" in text
    assert "Questions for you" not in text  # nothing routed to lena
    assert not any(part in text for part in STAFF)
    order = ("Your profile", "Your open questions", "Upcoming events", "Open calls")
    assert [text.index(title) for title in order] == sorted(text.index(t) for t in order)


async def test_an_expert_sees_the_questions_routed_to_them(bot):
    await community(bot)
    await bot.say("lena", f"!ask {QUESTION}")
    await bot.say("kofi", "!interest 1 I chaired our budget committee")
    text = await home_of(bot, "kofi")
    assert "**Questions for you**" in text and "#1 from lena" in text and QUESTION in text
    assert "`decline 1`" in text and "`decline 1 not my topic`" in text
    assert "`solved 1`" not in text  # the expert's message has no Solved button either
    assert "You have no open questions." in text
    assert "Your note: I chaired our budget committee" in text
    assert "Withdraw: `interest withdraw 1`" in text
    await bot.say("kofi", "!decline 1")
    assert "Questions for you" not in await home_of(bot, "kofi")


async def test_facilitators_and_coordinators_see_the_second_part(bot):
    await community(bot)
    await bot.say("fac", "!prompt add What is one revenue idea your city tried this year?")
    await bot.say("lena", f"!ask {QUESTION}")
    await bot.say("lena", "We phased it over three years.")
    bot.clock.advance(hours=25)
    text = await home_of(bot, "fac")
    assert all(part in text for part in STAFF)
    assert "Posting-active members: 1 (last week 0)" in text  # lena's message
    assert "Questions asked: 1 (last week 0)" in text
    assert "**Unanswered after 24 hours**" in text and "#1 · asked 25 h ago by lena" in text
    assert "**Prompt queue: 1 waiting**" in text and "What is one revenue idea" in text
    assert "`digest`" in text
    assert text.index("Open calls") < text.index("This week, beside last week")

    coordinator = await home_of(bot, "coord")
    assert all(part in coordinator for part in STAFF)
    assert "Prompt queue" not in coordinator  # `prompt list` is the facilitators'
    assert "`digest`" not in coordinator  # a button only for a command they may use

    member = await home_of(bot, "kofi")
    assert not any(part in member for part in (*STAFF, "Prompt queue", "`digest`"))


async def test_home_is_in_the_members_language(bot):
    await community(bot)
    await bot.say("lena", "!profile city Nairobi")
    await bot.say("lena", "!profile language fr")
    text = await home_of(bot, "lena")
    assert "Ville\N{NO-BREAK SPACE}: Nairobi" in text  # the profile's own lines, translated
    assert "Je participe\N{NO-BREAK SPACE}: `rsvp 1 yes`" in text  # label, command as typed
    assert "jeu. 05 mars 2026" in text  # the event's day in French
    assert "City: Nairobi" not in text


# the page on the platform --------------------------------------------------------------------


class Pages:
    """What the platform was asked to show: (user id, home) in order."""

    def __init__(self, bot: BotHarness) -> None:
        self.shown: list[tuple[str, Home]] = []
        self.bot = bot

        async def publish_home(user: UserRef, home: Home) -> bool:
            self.shown.append((user.id, home))
            return True

        bot.platform.publish_home = publish_home  # as Slack's adapter would

    def of(self, name: str) -> list[str]:
        """The pages shown to a member, each as its text."""
        user_id = self.bot.user(name).id
        return [_text(home) for shown_to, home in self.shown if shown_to == user_id]


def _text(home: Home) -> str:
    parts = []
    for section in home.sections:
        parts.append(section.title)
        parts += [item.text for item in section.items] or [section.empty or ""]
        parts += [f"[{a.label}|{a.command}]" for item in section.items for a in item.actions]
        parts += [f"[{a.label}|{a.command}]" for a in section.actions]
    return "\n".join(parts)


async def open_home(bot: BotHarness, name: str) -> str:
    user = bot.user(name)
    event_id = f"home-{bot._event_id()}"
    await bot.app.handle(HomeOpened(event_id, user, direct(user), bot.clock()))
    return event_id


async def republish(bot: BotHarness) -> int:
    job = next(job for job in bot.app.router.jobs if job.id == "home")
    return await job.func(bot.app.services())


async def test_an_opened_page_is_published_then_republished_when_it_goes_stale(bot):
    await community(bot)
    pages = Pages(bot)
    await open_home(bot, "kofi")
    [first] = pages.of("kofi")
    assert "Your profile" in first and "Deep dive: property tax" in first
    assert "[Edit|form profile]" in first and "[I'll come|rsvp 1 yes]" in first
    assert await republish(bot) == 0  # nothing changed

    await bot.say("lena", f"!ask {QUESTION}")  # routed to kofi: his page is stale
    await bot.say("lena", "!ask How do you phase in a property tax reassessment? : budgeting")
    assert await republish(bot) == 1  # two changes, one publish
    assert QUESTION in pages.of("kofi")[-1] and "[I can't help|decline 1]" in pages.of("kofi")[-1]
    assert await republish(bot) == 0
    assert pages.of("lena") == []  # lena never opened hers

    await bot.say("kofi", "!profile city Accra")  # his own command may change it
    assert await republish(bot) == 1 and "City: Accra" in pages.of("kofi")[-1]

    await bot.say("fac", '!call add 2026-03-27 "Budget transparency pilots"')  # for everyone
    await bot.say("kofi", "!rsvp 1 no")
    assert await republish(bot) == 1
    assert "Budget transparency pilots" in pages.of("kofi")[-1]
    assert "Your answer: you can't come." in pages.of("kofi")[-1]
    assert len(pages.of("kofi")) == 4


async def test_an_answer_and_solving_make_the_pages_concerned_stale(bot):
    await community(bot)
    pages = Pages(bot)
    await bot.say("lena", f"!ask {QUESTION}")
    await open_home(bot, "lena")
    await open_home(bot, "kofi")
    root = next(p for p in bot.posts_in() if "Question #1**" in p.text)
    await bot.say("kofi", "We phased it over three years.", thread_id=root.message_id)
    assert await republish(bot) == 0  # a reply costs nothing until the questions job
    await bot.app.activity.flush()
    await question_jobs.follow_up(bot.app.services())  # notes the first response
    await bot.deliver()
    assert await republish(bot) == 1
    assert "#1 · answered, open" in pages.of("lena")[-1]

    await bot.react("lena", "✅" if bot.platform_name != "slack" else "white_check_mark",
                    root.message_id)  # fmt: skip
    assert await republish(bot) == 2  # the asker's and the expert's
    assert "You have no open questions." in pages.of("lena")[-1]
    assert "Questions for you" not in pages.of("kofi")[-1]


async def test_a_stale_page_survives_a_restart_and_a_failed_publish(bot, settings, clock):
    await community(bot)
    pages = Pages(bot)
    await open_home(bot, "kofi")
    await bot.say("lena", f"!ask {QUESTION}")
    await bot.close()

    again = await BotHarness(bot.platform_name, settings, clock).start()
    try:

        async def failing(user: UserRef, home: Home) -> bool:
            raise ConnectionError("the platform is down")

        again.platform.publish_home = failing
        assert await republish(again) == 0  # failed: held back a while, still stale
        later = Pages(again)
        assert await republish(again) == 0
        clock.advance(minutes=2)
        assert await republish(again) == 1
        assert QUESTION in later.of("kofi")[-1]
        await again.say("kofi", "!profile city Accra")  # known as an opened page after the start
        assert await republish(again) == 1
        assert pages.shown and len(later.of("kofi")) == 2
    finally:
        await again.close()


async def test_slow_down_holds_the_pages_and_erasing_a_member_forgets_theirs(bot):
    await community(bot)
    pages = Pages(bot)
    await open_home(bot, "kofi")
    await open_home(bot, "lena")
    await bot.say("fac", '!call add 2026-03-27 "Budget transparency pilots"')  # everyone's
    recording = bot.platform.publish_home

    async def slow_down(user: UserRef, home: Home) -> bool:
        raise RateLimited(30)

    bot.platform.publish_home = slow_down
    assert await republish(bot) == 0
    bot.platform.publish_home = recording
    assert await republish(bot) == 0  # held as long as the platform asked
    bot.clock.advance(seconds=31)
    assert await republish(bot) == 2
    assert all("Budget transparency pilots" in pages.of(name)[-1] for name in ("kofi", "lena"))

    await bot.say("lena", "!forgetme confirm")
    async with bot.app.db.sessions() as session:
        left = list(await session.scalars(select(HomeTab.identity_id)))
    assert len(left) == 1  # kofi's; lena's went with her account


async def test_opening_the_page_is_not_posting_activity(bot):
    await community(bot)
    Pages(bot)
    event_id = await open_home(bot, "lena")
    await bot.app.activity.flush()
    async with bot.app.db.sessions() as session:
        kind = await session.scalar(select(Activity.kind).where(Activity.event_id == event_id))
    assert kind is not None and kind not in POSTING_KINDS


def test_the_migration_adds_and_removes_home_tabs(empty_database):
    url = empty_database
    upgrade(url, "0013")
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        tables = inspect(conn).get_table_names()
        columns = {c["name"] for c in inspect(conn).get_columns("home_tabs")}
        diffs = [diff for diff in map(repr, _compare(conn)) if "home_tabs" in diff]
    engine.dispose()
    assert "home_tabs" in tables and diffs == []  # the migration builds what the model says
    assert columns == {
        "identity_id", "opened_at", "version", "published_version", "published_at", "retry_at",
    }  # fmt: skip
    downgrade(url, "0013")
    engine = create_engine(url)
    with engine.connect() as conn:
        assert "home_tabs" not in inspect(conn).get_table_names()
    engine.dispose()
    upgrade(url)


def _compare(conn) -> list:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.models import Base

    return compare_metadata(MigrationContext.configure(conn), Base.metadata)
