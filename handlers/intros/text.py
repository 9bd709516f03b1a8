"""The words of an introduction: who each member is (city, organisation, role, what they
offer and want to learn) and the meeting times, each member's times in their own zone and
language; and the follow-up asking whether they met."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot import i18n
from bot.i18n import Day, Message, _, join, lines, verbatim
from bot.types import Action

TIME_PATTERN = "EEE dd MMM HH:mm"


@dataclass(frozen=True, slots=True)
class Person:
    """A member of an introduction as the text needs them."""

    member_id: int
    name: str
    city: str | None
    org: str | None
    role: str | None
    zone: str
    language: str
    offers: tuple[str, ...] = ()
    wants: tuple[str, ...] = ()


def introduction(people: Sequence[Person], slots: Sequence[datetime], next_ask: int) -> Message:
    """The introduction: one line per member, then the meeting times (each member's in their
    own zone and language), or, with no overlap, a suggestion to write instead."""
    return lines(
        _("👋 Introductions between cities: meet each other!"),
        *(_who(person) for person in people),
        _("Here are times inside everyone's working hours (09:00-17:00, Monday to Friday); "
          "pick one, or any time that suits you:") if slots else
        _("Your working hours (09:00-17:00, Monday to Friday) do not overlap in the coming "
          "week: write to each other here instead, and meet when it suits you."),
        *((_times(person, slots) for person in people) if slots else ()),
        _("In {days} days I'll ask whether you met.", days=next_ask),
    )  # fmt: skip


def _who(person: Person) -> Message:
    details = " · ".join(v for v in (person.city, person.org, person.role) if v)
    return lines(
        _("• **{name}** · {details}", name=person.name, details=details)
        if details else _("• **{name}**", name=person.name),
        _("offers: {topics}", topics=", ".join(person.offers)) if person.offers else None,
        _("wants to learn: {topics}", topics=", ".join(person.wants)) if person.wants else None,
        sep=" · ",
    )  # fmt: skip


def _times(person: Person, slots: Sequence[datetime]) -> Message:
    """The times for one member, in their zone and already in their language."""
    zone = ZoneInfo(person.zone)
    shown = join((Day(slot.astimezone(zone), TIME_PATTERN) for slot in slots), " · ")
    said = _("For {name} ({zone}): {times}", name=person.name, zone=person.zone, times=shown)
    return verbatim(i18n.render(said, person.language))


def follow_up() -> Message:
    return _(
        "🤝 Did you manage to meet? Answer `met yes` or `met no`, reply yes or no to this "
        "message, or react 👍 or 👎."
    )


def follow_up_actions() -> list[Action]:
    return [Action(_("Yes, we met"), "met yes"), Action(_("Not yet"), "met no")]


def no_city() -> Message:
    return _(
        "I introduce members of different cities to each other, but your profile has no city, "
        "so I can't introduce you to someone from another city yet. Add yours with "
        "`profile city <name>` (for example: profile city Nairobi, Kenya)."
    )
