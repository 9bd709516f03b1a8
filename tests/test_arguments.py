"""Declared arguments: one declaration parses, answers bad input with one line, and renders
the usage `help` shows."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.arguments import (
    Choice,
    Day,
    Days,
    Grammar,
    Mention,
    Number,
    Rest,
    Time,
    TopicNames,
    Weekday,
    Word,
    Zone,
)
from bot.errors import UsageError

RSVP = Grammar(
    (
        Number("id", "event", missing="Which event, and will you come?"),
        Choice("answer", ("yes", "no", "maybe"), default="yes"),
    ),
    extra="Which event, and will you come?",
)
EVENT_ADD = Grammar((Day(), Time(), Zone(optional=True), Rest("title", missing="What title?")))


def test_usage_is_rendered_from_the_declaration():
    assert RSVP.usage("rsvp") == "rsvp <id> [yes|no|maybe]"
    assert EVENT_ADD.usage("event add") == "event add <YYYY-MM-DD> <HH:MM> [Area/City] <title>"
    assert Grammar((TopicNames(),)).usage("expertise add") == (
        "expertise add <topic>[, <topic>...]"
    )
    assert Grammar((Mention(optional=True),)).usage("profile") == "profile [@user]"
    assert Grammar().usage("events") == "events"


def test_values_are_typed_and_defaults_fill_what_is_left_out():
    assert RSVP.parse("#3") == {"id": 3, "answer": "yes"}
    assert RSVP.parse("3 MAYBE").answer == "maybe"
    values = EVENT_ADD.parse('2026-12-24 9:30 "Deep dive: budgets"')
    assert values.date == date(2026, 12, 24) and values.time == "09:30"
    assert values.zone is None and values.title == '"Deep dive: budgets"'


def test_an_optional_argument_in_the_middle_is_taken_only_when_it_fits():
    values = EVENT_ADD.parse("2026-12-24 09:30 africa/nairobi Budgets")
    assert values.zone == "Africa/Nairobi" and values.title == "Budgets"


@pytest.mark.parametrize(
    ("grammar", "text", "line"),
    [
        (RSVP, "", "Which event, and will you come?"),
        (RSVP, "3 yes please", "Which event, and will you come?"),
        (RSVP, "three", "`three` is not an event number (they look like 3 or #3)."),
        (RSVP, "3 perhaps", "`perhaps` is not an answer; say yes, no or maybe."),
        (
            EVENT_ADD,
            "2026-02-30 10:00 Talk",
            "`2026-02-30` is not a date; write it like 2026-12-24.",
        ),
        (EVENT_ADD, "2026-12-24 25:00 Talk", "`25:00` is not a time"),
        (EVENT_ADD, "2026-12-24 10:00", "What title?"),
        (Grammar((Weekday(),)), "funday", "`funday` is not a weekday"),
        (Grammar((Days(most=90, example="stats 30"),)), "x", "for example: stats 30"),
        (Grammar((Days(most=90),)), "91", "Choose between 1 and 90 days."),
        (Grammar((Zone(),)), "Mars/Olympus", "is not a timezone I know"),
    ],
)
def test_bad_input_is_one_clear_line(grammar, text, line):
    with pytest.raises(UsageError) as raised:
        grammar.parse(text)
    assert line in str(raised.value)
    assert "\n" not in str(raised.value)


def test_rest_keeps_the_text_as_typed_and_topic_names_are_split():
    grammar = Grammar((Word("url"), Rest("title")))
    assert grammar.parse("https://x.org  A  guide: budgets").title == "A  guide: budgets"
    assert Grammar((TopicNames(),)).parse("budgeting, property tax;audit").topics == [
        "budgeting",
        "property tax",
        "audit",
    ]


def test_a_declaration_that_cannot_parse_is_refused_when_declared():
    with pytest.raises(ValueError):
        Grammar((Rest("a"), Word("b")))
    with pytest.raises(ValueError):
        Grammar((Word("a"), Word("a")))


@given(st.text(max_size=60))
def test_any_text_parses_or_is_one_usage_line(text):
    for grammar in (RSVP, EVENT_ADD, Grammar((Mention(optional=True),), extra="Just one.")):
        try:
            grammar.parse(text)
        except UsageError as exc:
            assert len(str(exc)) < 300
