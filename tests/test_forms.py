"""Forms in the core, once per platform name: what a form opens with (in the member's
language, prefilled), each form's checking (errors by field, nothing stored) and its
submission as a `FormSubmitted` event through the pipeline (the commands it stands for, with
their permission checks, one reply), and `form <name>` where no form is drawn."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from bot import forms, i18n
from bot.cli import every_router
from bot.i18n import _
from bot.models import Call, CallInterest, Event, Onboarding, Question
from bot.types import FieldKind, FormSubmitted
from tests.harness import BotHarness


@pytest.fixture(autouse=True)
def patient_language_lookup(monkeypatch):
    """The errors' language is looked up with a deadline (Slack waits 3 s); on a loaded test
    machine a first PostgreSQL query can pass it, and the errors would come in the default
    language. These tests are about which language, not about the deadline."""
    monkeypatch.setattr(forms, "LANGUAGE_SECONDS", 30.0)


# the clock starts on Mon 2 Mar 2026 09:00 UTC


async def submit(
    bot: BotHarness, name: str, form: str, channel: str = "general", event_id: str = "", **values
) -> FormSubmitted:
    """`name` sends form `form` with `values` (text, or a tuple for a multi-select), as an
    adapter hands a submission over, and what it queued is delivered."""
    event = FormSubmitted(
        event_id or f"form-{uuid.uuid4().hex[:12]}",
        bot.user(name),
        bot.channel(channel),
        bot.clock(),
        form=form,
        values=tuple(values.items()),
    )
    await bot.app.handle(event)
    await bot.deliver()
    return event


async def rows(bot: BotHarness, model) -> list:
    async with bot.app.db.sessions() as session:
        return list((await session.scalars(select(model))).all())


async def profile_of(bot: BotHarness, name: str) -> str:
    await bot.say(name, "!profile")
    return bot.last_reply_to(name)


def test_every_field_is_parsed_by_an_argument_of_a_command_it_runs():
    router = every_router()
    assert set(router.forms) >= {"onboarding", "profile", "ask", "event add", "call add",
                                 "interest"}  # fmt: skip
    for form in router.forms.values():
        assert all(command in router.commands for command in form.commands), form.name
        for field in form.fields:
            forms.parser(router, field)  # raises when the bound argument is not there


# the profile ------------------------------------------------------------------------------


async def test_profile_form_opens_prefilled_in_the_members_language(bot):
    await bot.say("fac", "!topic add Budgeting")
    await bot.say("alice", "!profile city Nairobi")
    await bot.say("alice", "!profile timezone Africa/Nairobi")
    await bot.say("alice", "!expertise add budgeting")
    await bot.say("alice", "!expertise learn audit")
    await bot.say("alice", "!profile language fr")
    view = await bot.app.open_form(bot.user("alice"), "form profile")
    assert view is not None and view.name == "profile"
    assert view.title == i18n.render(_("Your profile"), "fr")  # alice reads French
    fields = {f.name: f for f in view.fields}
    assert list(fields) == ["city", "org", "role", "timezone", "language", "offers", "wants"]
    assert fields["city"].initial == "Nairobi" and fields["org"].initial is None
    assert fields["timezone"].kind is FieldKind.ZONE and fields["timezone"].initial == (
        "Africa/Nairobi"
    )
    assert ("Africa/Nairobi", "Africa/Nairobi") in fields["timezone"].choices
    assert fields["language"].initial == "fr"
    assert ("fr", "Français") in fields["language"].choices
    assert fields["offers"].kind is FieldKind.MULTI_NEW and fields["offers"].other
    assert fields["offers"].initial == ("Budgeting",)
    assert fields["wants"].initial == ("audit",)
    assert {"Budgeting", "audit"} <= {value for value, _label in fields["offers"].choices}
    assert fields["city"].limit == 80
    # a command that has no form, or is given words, opens none
    assert await bot.app.open_form(bot.user("alice"), "profile city") is None
    assert await bot.app.open_form(bot.user("alice"), "ask How?") is None
    assert await bot.app.open_form(bot.user("alice"), "form nothing") is None
    ask = await bot.app.open_form(bot.user("newcomer"), "ask")  # never seen: no member made
    assert ask is not None and [f.name for f in ask.fields] == ["question", "topics"]
    assert ask.title == "Ask the community"


async def test_profile_form_submission_saves_each_field_and_answers_once(bot):
    await bot.say("fac", "!topic add Budgeting")
    await bot.say("alice", "!profile city Kisumu")
    await bot.say("alice", "!expertise add budgeting, audit")
    bot.clear()
    await submit(bot, "alice", "profile", city="Nairobi", org="City of Nairobi",
                 timezone="africa/nairobi", language="en",
                 offers=("Budgeting", "procurement, transport"), wants=("audit",))  # fmt: skip
    (answer,) = bot.replies_to("alice")
    assert answer.splitlines() == [
        "Saved: your city is Nairobi.",
        "Saved: your organisation is City of Nairobi.",
        "Saved: your timezone is Africa/Nairobi.",
        "Saved: your language is English.",
        "Removed from your profile: audit.",
        "Added to what you can help with: procurement, transport (new topic: procurement, "
        "transport).",
        "Added to what you want to learn: audit.",
    ]
    profile = await profile_of(bot, "alice")
    assert "City: Nairobi\nOrganisation: City of Nairobi\nRole: not set" in profile
    assert "Timezone: Africa/Nairobi" in profile
    assert "Can help with: Budgeting, procurement, transport" in profile
    assert "Wants to learn: audit" in profile

    bot.clear()  # unchanged fields run nothing; emptied ones clear; an untick removes
    await submit(bot, "alice", "profile", city="Nairobi", org="City of Nairobi",
                 offers=("Budgeting",), wants=("audit",))  # fmt: skip
    assert bot.replies_to("alice") == [
        "Cleared your timezone.\nRemoved from your profile: procurement, transport."
    ]
    profile = await profile_of(bot, "alice")
    assert "Timezone: not set" in profile and "Can help with: Budgeting\n" in profile

    bot.clear()
    await submit(bot, "alice", "profile", city="Nairobi", org="City of Nairobi",
                 offers=("Budgeting",), wants=("audit",))  # fmt: skip
    assert bot.replies_to("alice") == ["Nothing changed."]


async def test_bad_profile_values_are_errors_by_field_and_change_nothing(bot):
    await bot.say("alice", "!profile city Kisumu")
    await bot.say("alice", "!profile language fr")
    before = await profile_of(bot, "alice")
    values = {"city": "K" * 81, "timezone": "Mars/Olympus_Mons", "language": "xx"}
    errors = await bot.app.check_form(bot.user("alice"), "profile", values)
    assert set(errors) == {"city", "timezone", "language"}
    form = bot.app.router.forms["profile"]
    _parsed, said = forms.check(bot.app.router, form, values, bot.clock(), bot.settings)
    assert errors == {name: i18n.render(message, "fr") for name, message in said.items()}
    english = await bot.app.check_form(bot.user("bob"), "profile", values)  # never seen
    assert english["timezone"].startswith("`Mars/Olympus_Mons` is not a timezone I know.")
    assert english["city"] == "That is too long (at most 80 characters)."
    assert english["language"].startswith("`xx` is not a language I speak.")
    assert await bot.app.check_form(bot.user("alice"), "profile", {"city": "Mombasa"}) == {}

    bot.clear()  # handed over all the same (a forged submission): checked again, not saved
    await submit(bot, "alice", "profile", city="Mombasa", timezone="Mars/Olympus_Mons")
    (answer,) = bot.replies_to("alice")
    assert "Mars/Olympus_Mons" in answer and "Mombasa" not in answer
    assert await profile_of(bot, "alice") == before


# asking -------------------------------------------------------------------------------------


async def test_ask_form_posts_the_question_with_its_topics_and_routes_it(bot):
    await bot.say("fac", "!topic add budgeting")
    await bot.say("fac", "!topic add procurement")
    await bot.say("kofi", "!expertise add procurement")
    bot.clear()
    errors = await bot.app.check_form(bot.user("lena"), "ask", {"question": "   "})
    assert errors == {"question": "Please fill this in."}
    await submit(bot, "lena", "ask", question="Who has tendered: buses?",
                 topics=("procurement",))  # fmt: skip
    (question,) = await rows(bot, Question)
    assert question.text == "Who has tendered: buses?"  # the colon is the question's
    root = next(s for s in bot.posts_in() if "Question #1**" in s.text)
    assert "Who has tendered: buses?" in root.text
    thread = [s for s in bot.posts_in() if s.thread_id == root.message_id]
    assert "Topics: procurement" in thread[0].text
    assert any("#1" in text for text in bot.replies_to("kofi"))  # routed to the expert
    assert bot.replies_to("lena") == []  # asked in a channel: the thread says it all


# events and calls, for facilitators -------------------------------------------------------


async def test_event_add_form_announces_and_a_past_moment_is_an_error_on_the_date(bot):
    await bot.say("fac", "!topic add budgeting")
    errors = await bot.app.check_form(bot.user("fac"), "event add", {
        "title": "Deep dive", "date": "2026-03-01", "time": "10:00",
    })  # fmt: skip
    assert list(errors) == ["date"] and "is in the past" in errors["date"]
    errors = await bot.app.check_form(bot.user("fac"), "event add", {
        "title": "Deep dive", "date": "2026-02-30", "time": "25:00", "zone": "Nowhere/City",
    })  # fmt: skip
    assert set(errors) == {"date", "time", "zone"}
    view = await bot.app.open_form(bot.user("fac"), "event add")
    assert view is not None and {f.name: f.initial for f in view.fields}["zone"] == "UTC"
    bot.clear()
    await submit(bot, "fac", "event add", channel="events", title="Deep dive: property tax",
                 date="2026-03-05", time="18:00", zone="Africa/Nairobi",
                 topics=("budgeting",))  # fmt: skip
    (event,) = await rows(bot, Event)
    assert event.title == "Deep dive: property tax" and event.timezone == "Africa/Nairobi"
    post, invitation = bot.posts_in("events")[-2:]
    assert invitation.file is not None and invitation.file.filename.endswith(".ics")
    assert "Event #1: Deep dive: property tax" in post.text and "Topics: budgeting" in post.text
    assert "Announced event #1" in bot.last_reply_to("fac")


async def test_a_plain_member_is_refused_the_facilitators_forms_and_nothing_changes(bot):
    await bot.say("kofi", "!event add")
    typed = bot.last_reply_to("kofi")
    assert typed == "Only facilitators can use `event add`."
    assert await bot.app.open_form(bot.user("kofi"), "event add") is None  # answered as typed
    assert await bot.app.open_form(bot.user("kofi"), "form call add") is None
    bot.clear()
    await submit(bot, "kofi", "event add", title="Forged", date="2026-03-05", time="18:00")
    await submit(bot, "kofi", "call add", title="Forged", date="2026-03-30")
    assert bot.replies_to("kofi") == [typed, "Only facilitators can use `call add`."]
    assert await rows(bot, Event) == [] and await rows(bot, Call) == []
    assert bot.posts_in() == []


async def test_call_add_and_interest_forms(bot):
    assert await bot.app.open_form(bot.user("ama"), "interest") is None  # no call to choose
    await submit(bot, "fac", "call add", title="Peer review panel", date="2026-03-20")
    (call,) = await rows(bot, Call)
    assert call.title == "Peer review panel"
    errors = await bot.app.check_form(bot.user("fac"), "call add", {
        "title": "Late", "date": "2026-03-01",
    })  # fmt: skip
    assert list(errors) == ["date"] and "has passed" in errors["date"]
    view = await bot.app.open_form(bot.user("ama"), "interest")
    assert view is not None
    (choice,) = {f.name: f for f in view.fields}["call"].choices
    assert choice == (str(call.id), f"#{call.id} Peer review panel")
    bot.clear()
    await submit(bot, "ama", "interest", call=str(call.id), note="I led our budget reform")
    assert bot.last_reply_to("ama").startswith("Noted your interest in call #1")
    (interest,) = await rows(bot, CallInterest)
    assert interest.note == "I led our budget reform"
    errors = await bot.app.check_form(bot.user("ama"), "interest", {"call": "x"})
    assert list(errors) == ["call"]


# onboarding ---------------------------------------------------------------------------------


async def test_onboarding_form_fills_the_profile_and_ends_the_conversation(bot):
    await bot.join("dana")
    opening = bot.platform.sent[-1]
    assert "Question 1 of 4" in opening.text
    if bot.platform_name == "slack":
        assert [a.command for a in opening.extra["actions"]] == ["form onboarding"]
    bot.clear()
    await submit(bot, "dana", "onboarding", channel="general", city="Nairobi",
                 org="City of Nairobi", role="Budget officer", timezone="Africa/Nairobi",
                 offers=("budgeting",), wants=("audit",))  # fmt: skip
    (answer,) = bot.replies_to("dana")
    assert answer.startswith("Saved: your city is Nairobi.\n")
    assert "Thank you, that's all!" in answer
    (row,) = await rows(bot, Onboarding)
    assert row.status == "done"
    await bot.dm("dana", "Mombasa")  # no longer an answer to a question
    assert "Type `help`" in bot.last_reply_to("dana")
    profile = await profile_of(bot, "dana")
    assert "City: Nairobi" in profile and "Role: Budget officer" in profile
    assert "Can help with: budgeting" in profile and "Wants to learn: audit" in profile


# once, and where no form is drawn -----------------------------------------------------------


async def test_a_submission_delivered_twice_runs_once(bot):
    await submit(bot, "alice", "profile", event_id="form-V123", city="Nairobi")
    await submit(bot, "alice", "profile", event_id="form-V123", city="Nairobi")
    assert bot.replies_to("alice") == ["Saved: your city is Nairobi."]


async def test_an_unknown_form_is_answered(bot):
    await submit(bot, "alice", "nothing", city="Nairobi")
    assert bot.replies_to("alice") == ["I have no form called `nothing`."]


async def test_typing_form_names_the_commands_that_do_the_same(bot):
    await bot.say("alice", "!form profile")
    answer = bot.last_reply_to("alice")
    assert answer.startswith("**Your profile**, typed:\n• `profile city <city>`")
    assert "• `expertise add <topic>[, <topic>...]`" in answer
    assert "• `expertise unlearn <topic>[, <topic>...]`" in answer
    await bot.say("kofi", "!form event add")
    assert bot.last_reply_to("kofi") == "Only facilitators can use `event add`."
    await bot.say("fac", "!form event add")
    assert "• `event add <YYYY-MM-DD> <HH:MM>" in bot.last_reply_to("fac")
    await bot.say("alice", "!form nothing")
    assert bot.last_reply_to("alice").startswith("There is no form `nothing`. The forms: `ask`")
    await bot.say("alice", "!form")
    assert bot.last_reply_to("alice").startswith("Which form? The forms: `ask`,")


@pytest.mark.parametrize("junk", [None, 3, ["a"], {"x": 1}, "\x00\u202e"])
async def test_junk_values_are_missing_values(bot, junk):
    errors = await bot.app.check_form(bot.user("alice"), "ask", {"question": junk})
    assert errors == {"question": "Please fill this in."}
