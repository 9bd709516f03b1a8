"""Library candidates (answered threads found in imported history), on every platform name
and database: facilitators list them, keep one as a library entry (attributed, linked to its
thread, with its answers under their authors' names) or drop it; bad input changes nothing;
the text goes after 30 days; `forgetme` takes a member's words out of them, and `mydata`
shows them."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta

from openpyxl import load_workbook
from sqlalchemy import select

from bot import members
from bot.models import KnowledgeEntry, KnowledgeTopic, LibraryCandidate, Topic
from handlers.knowledge import candidates
from tests.harness import BotHarness

ROOT = "1700000000.000100"
QUESTION = "How do cities phase a property revaluation over several years?"
ASKED = datetime(2025, 11, 3, 14, 0, tzinfo=UTC)
KOFI = "We phased ours over three years, with a cap on yearly increases."
LENA = "Publish the new values early and open an appeals desk."
EMPTY = (
    "No library candidates are waiting. When past history is imported, the answered threads "
    "found in it wait here for a facilitator to keep or drop."
)


async def member(bot: BotHarness, name: str) -> int:
    """A member made the way people arrive: by typing a command."""
    await bot.say(name, "!topics")
    async with bot.app.db.sessions() as session:
        return (await members.find(session, bot.user(name))).id


async def offer(
    bot: BotHarness,
    asker: str | None,
    question: str = QUESTION,
    answers: tuple[tuple[str, str], ...] = (("kofi", KOFI), ("lena", LENA)),
    *,
    root: str = ROOT,
    asked: datetime = ASKED,
    channel: str = "general",
) -> int:
    """A candidate as the importer stores it, found now."""
    asked_by = await member(bot, asker) if asker else None
    said = [{"member_id": await member(bot, name), "text": text} for name, text in answers]
    async with bot.app.db.sessions() as session:
        where = await members.resolve_channel(session, bot.channel(channel))
        row = LibraryCandidate(
            channel_id=where.id, message_id=root, asked_by=asked_by, asked_at=asked,
            question=question, answers=said, signal="reaction", found_at=bot.clock(),
            status="open",
        )  # fmt: skip
        session.add(row)
        await session.commit()
        return row.id


async def rows(bot: BotHarness) -> list[LibraryCandidate]:
    async with bot.app.db.sessions() as session:
        return list(await session.scalars(select(LibraryCandidate).order_by(LibraryCandidate.id)))


async def entries(bot: BotHarness) -> list[KnowledgeEntry]:
    async with bot.app.db.sessions() as session:
        return list(await session.scalars(select(KnowledgeEntry).order_by(KnowledgeEntry.id)))


def state(found: list[LibraryCandidate]) -> list[tuple]:
    return [(c.id, c.status, c.question, c.answers, c.decided_by, c.entry_id) for c in found]


def link(bot: BotHarness, root: str = ROOT) -> str | None:
    channel = bot.channel().id
    return {
        "slack": f"https://example.slack.com/archives/{channel}/p{root}",
        "matrix": f"https://matrix.to/#/{channel}/{root}",
    }.get(bot.platform_name)


async def test_nothing_waiting_is_said_plainly(bot):
    await bot.say("fac", "!library candidates")
    assert bot.last_reply_to("fac") == EMPTY


async def test_candidates_are_listed_oldest_first_with_excerpt_asker_day_answers_and_place(bot):
    long = "Which " + "very " * 30 + "long question is this?"
    await offer(bot, "amina", long, asked=ASKED + timedelta(days=2), root="1700000000.000200")
    await offer(bot, None, answers=(("kofi", KOFI),))
    await bot.say("fac", "!library candidates")
    heading, first, second, hint = bot.last_reply_to("fac").splitlines()
    assert heading == "2 answered threads from imported history are waiting for the library:"
    where = f"#general · {link(bot)}" if link(bot) else "#general"
    assert first == f"• #2 {QUESTION} — someone, 03 Nov 2025 · 1 answer · {where}"
    assert second.startswith("• #1 Which very very") and "… — amina, 05 Nov 2025" in second
    assert " · 2 answers · #general" in second
    assert len(second.split(" — ")[0]) == len("• #1 ") + 80
    assert hint == "Keep one with `library keep <n>`, or let it go with `library drop <n>`."


async def test_the_day_is_the_readers_own(bot):
    await offer(bot, "amina", asked=datetime(2025, 11, 3, 22, 30, tzinfo=UTC))
    await bot.say("fac", "!profile timezone Asia/Seoul")
    await bot.say("fac", "!library candidates")
    assert "— amina, 04 Nov 2025 ·" in bot.last_reply_to("fac")
    await bot.say("fac", "!profile language fr")
    await bot.say("fac", "!library candidates")
    assert "— amina, 04 nov. 2025 · 2 réponses" in bot.last_reply_to("fac")


async def test_a_long_list_says_how_many_more(bot):
    for n in range(17):
        await offer(bot, "amina", f"Question {n}?", root=f"17000000{n:02}.000100",
                    asked=ASKED + timedelta(hours=n))  # fmt: skip
    await bot.say("fac", "!library candidates")
    said = bot.last_reply_to("fac").splitlines()
    assert said[0].startswith("17 answered threads")
    assert [line.split(" — ")[0] for line in said[1:16]] == [
        f"• #{n + 1} Question {n}?" for n in range(15)
    ]
    assert said[16] == "… and 2 more."


async def test_keep_makes_an_entry_linked_to_the_thread_attributed_with_the_answers(bot):
    await bot.say("fac", "!topic add budgeting: revaluation")
    amina = await member(bot, "amina")
    fac = await member(bot, "fac")
    number = await offer(bot, "amina")
    await bot.say("kofi", "!profile")  # kofi's name now is what the entry shows
    await bot.say("fac", f"!library keep {number}")
    [entry] = await entries(bot)
    assert bot.last_reply_to("fac") == (
        f"Kept candidate #{number} in the library as #{entry.id} ({QUESTION}). "
        "Anyone finds it with `search`."
    )
    [candidate] = await rows(bot)
    assert (entry.channel_id, entry.message_id) == (candidate.channel_id, ROOT)
    assert entry.created_by == amina and entry.question_id is None
    assert entry.body.splitlines() == [QUESTION, "", f"kofi: {KOFI}", f"lena: {LENA}"]
    assert state([candidate]) == [(number, "kept", None, None, fac, entry.id)]
    assert candidate.decided_at == bot.clock()
    async with bot.app.db.sessions() as session:
        kept_topics = await session.scalars(
            select(Topic.name).join(KnowledgeTopic, KnowledgeTopic.topic_id == Topic.id)
        )
        assert list(kept_topics) == ["budgeting"]
    await bot.say("ben", "!search appeals desk")
    found = bot.last_reply_to("ben")
    assert f"#{entry.id} {QUESTION}" in found and "appeals desk" in found
    if link(bot):
        assert link(bot) in found
    else:  # no link on this platform: the thread's channel, never "question #None"
        assert found.rstrip().endswith("· #general") and "None" not in found
    await bot.say("fac", "!library candidates")
    assert bot.last_reply_to("fac") == EMPTY


async def test_keeping_twice_makes_one_entry(bot):
    number = await offer(bot, "amina")
    await bot.say("fac", f"!library keep {number}")
    await bot.say("fac", f"!library keep #{number}")
    [entry] = await entries(bot)
    already = f"Candidate #{number} is already in the library as #{entry.id}."
    assert bot.last_reply_to("fac") == already


async def test_two_facilitators_keeping_at_once_make_one_entry(bot):
    number = await offer(bot, "amina")
    await member(bot, "ama")
    await bot.say("fac", f"!role grant {bot.mention('ama')} facilitator")
    await asyncio.gather(
        bot.say("fac", f"!library keep {number}"), bot.say("ama", f"!library keep {number}")
    )
    assert len(await entries(bot)) == 1
    said = sorted([bot.last_reply_to("fac"), bot.last_reply_to("ama")])
    assert said[0].startswith(f"Candidate #{number} is ")  # already in, or being kept
    assert said[1].startswith(f"Kept candidate #{number} in the library as #1 (")


async def test_drop_lets_the_text_go(bot):
    fac = await member(bot, "fac")
    first = await offer(bot, "amina")
    second = await offer(bot, "kofi", "Who audits municipal bonds?", root="1700000000.000300")
    await bot.say("fac", f"!library drop {first}")
    assert bot.last_reply_to("fac") == f"Dropped candidate #{first}; its text is gone."
    dropped, waiting = await rows(bot)
    assert state([dropped]) == [(first, "dropped", None, None, fac, None)]
    assert waiting.status == "open" and waiting.question == "Who audits municipal bonds?"
    assert await entries(bot) == []
    await bot.say("fac", "!library candidates")
    assert f"#{second} Who audits" in bot.last_reply_to("fac")
    assert QUESTION not in bot.last_reply_to("fac")
    await bot.say("fac", f"!library keep {first}")
    assert bot.last_reply_to("fac") == f"Candidate #{first} was dropped already."
    await bot.say("fac", f"!library drop {first}")
    assert bot.last_reply_to("fac") == f"Candidate #{first} was dropped already."


async def test_only_facilitators_see_and_decide_candidates(bot):
    number = await offer(bot, "amina")
    before = state(await rows(bot))
    for command in ("library candidates", f"library keep {number}", f"library drop {number}"):
        await bot.say("amina", f"!{command}")
        name = command.rsplit(" ", 1)[0] if command[-1].isdigit() else command
        assert bot.last_reply_to("amina") == f"Only facilitators can use `{name}`."
    assert state(await rows(bot)) == before and await entries(bot) == []
    await bot.say("amina", "!help")
    assert "library" not in bot.last_reply_to("amina")
    await bot.say("amina", "!help library")
    assert bot.last_reply_to("amina") == "Only facilitators can use `library candidates`."
    await bot.say("fac", "!help library")
    shown = bot.last_reply_to("fac").splitlines()
    assert [line.split("`")[1] for line in shown] == [
        "library candidates", "library drop <n>", "library keep <n>",
    ]  # fmt: skip
    assert "(e.g. `library keep 3`)" in shown[2]


async def test_bad_input_gets_one_line_and_changes_nothing(bot):
    number = await offer(bot, "amina")
    before = state(await rows(bot))
    cases = {
        "library keep 99": "There is no library candidate #99. Type `library candidates` to "
        "see them.",
        "library drop 99": "There is no library candidate #99. Type `library candidates` to "
        "see them.",
        "library keep": "Which candidate? For example: library keep 3\nUsage: `library keep <n>`",
        "library drop": "Which candidate? For example: library drop 3\nUsage: `library drop <n>`",
        "library keep first": "`first` is not an item number (they look like 3 or #3).\n"
        "Usage: `library keep <n>`",
        f"library drop {number} {number}": "Which candidate? For example: library drop 3\n"
        "Usage: `library drop <n>`",
        "library candidates all": "Just `library candidates`.\nUsage: `library candidates`",
    }
    for command, answer in cases.items():
        await bot.say("fac", f"!{command}")
        assert bot.last_reply_to("fac") == answer, command
    assert state(await rows(bot)) == before and await entries(bot) == []


async def test_text_expires_after_30_days(bot):
    old = await offer(bot, "amina")
    bot.clock.advance(days=2)
    recent = await offer(bot, "kofi", "Who audits municipal bonds?", root="1700000000.000300")
    await bot.say("fac", "!library candidates")
    assert f"#{old} How do cities" in bot.last_reply_to("fac")
    bot.clock.advance(days=28, minutes=1)
    assert await candidates.expire(bot.app.services()) == 1
    expired, waiting = await rows(bot)
    assert state([expired]) == [(old, "expired", None, None, None, None)]
    assert expired.decided_at == bot.clock()
    assert waiting.status == "open" and waiting.answers
    assert await candidates.expire(bot.app.services()) == 0
    await bot.say("fac", f"!library keep {old}")
    assert bot.last_reply_to("fac") == (
        f"Candidate #{old} waited more than 30 days, so its text was let go."
    )
    bot.clock.advance(days=2)  # no job ran: the list lets it go all the same
    await bot.say("fac", "!library candidates")
    assert bot.last_reply_to("fac") == EMPTY
    assert [(c.id, c.status, c.question) for c in await rows(bot)] == [
        (old, "expired", None),
        (recent, "expired", None),
    ]
    assert await entries(bot) == []
    assert any(job.id == "library-candidates" for job in bot.app.router.jobs)


async def test_forgetme_takes_the_members_words_out_of_candidates(bot):
    asked = await offer(bot, "amina")
    both = (("amina", "Our state auditor."), ("lena", "A private firm."))
    answered = await offer(bot, "kofi", "Who audits municipal bonds?", both,
                           root="1700000000.000300")  # fmt: skip
    alone = await offer(bot, "lena", "Is there a template for arrears?",
                        root="1700000000.000400", answers=(("amina", "Yes, ours."),))  # fmt: skip
    lena = await member(bot, "lena")
    await bot.say("amina", "!forgetme confirm")
    assert [(c.id, c.status, c.question, c.answers) for c in await rows(bot)] == [
        (asked, "dropped", None, None),
        (answered, "open", "Who audits municipal bonds?", [{"member_id": lena,
                                                             "text": "A private firm."}]),
        (alone, "dropped", None, None),
    ]  # fmt: skip
    await bot.say("fac", "!library candidates")
    listed = bot.last_reply_to("fac")
    assert f"#{answered} Who audits municipal bonds? — kofi" in listed and "1 answer" in listed
    assert "template" not in listed and QUESTION not in listed
    await bot.say("fac", f"!library keep {answered}")
    [entry] = await entries(bot)
    assert entry.body.splitlines() == ["Who audits municipal bonds?", "", "lena: A private firm."]


async def test_mydata_holds_the_members_words_in_waiting_candidates(bot):
    await offer(bot, "amina")
    await offer(bot, "kofi", "Who audits municipal bonds?", root="1700000000.000300",
                answers=(("amina", "Our state auditor."),))  # fmt: skip
    dropped = await offer(bot, "amina", "Anything else?", root="1700000000.000400")
    await bot.say("fac", f"!library drop {dropped}")
    await bot.say("amina", "!mydata")
    [sent] = bot.files_to("amina")
    library = list(load_workbook(io.BytesIO(sent.data))["Library"].iter_rows(values_only=True))
    assert library[1:] == [
        (None, "your question, offered to the library", QUESTION, None, QUESTION),
        (None, "your answer, offered to the library", "Who audits municipal bonds?", None,
         "Our state auditor."),
    ]  # fmt: skip
