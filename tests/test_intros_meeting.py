"""Meeting times for introductions (pure): inside every member's working hours in their own
zone, right across daylight saving changes; none when the hours never overlap."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.intros.meeting import times

BERLIN, MEXICO = "Europe/Berlin", "America/Mexico_City"


def inside_hours(moment: datetime, zone: str) -> bool:
    start = moment.astimezone(ZoneInfo(zone))
    end = (moment + timedelta(hours=1)).astimezone(ZoneInfo(zone))
    return (start.weekday() < 5 and start.date() == end.date()
            and time(9) <= start.time() and end.time() <= time(17))  # fmt: skip


def test_berlin_and_mexico_city_overlap_one_hour_until_berlin_moves_its_clocks():
    # Berlin is UTC+1 until Sun 29 Mar 2026, then UTC+2; Mexico City stays UTC-6: the one
    # common hour (16:00 Berlin, 09:00 Mexico City) is gone after the change
    found = times([BERLIN, MEXICO], datetime(2026, 3, 22, 12, tzinfo=UTC))
    assert found and len(found) <= 3
    for moment in found:
        assert moment < datetime(2026, 3, 29, tzinfo=UTC)
        assert moment.astimezone(ZoneInfo(BERLIN)).hour == 16
        assert moment.astimezone(ZoneInfo(MEXICO)).hour == 9
    assert times([BERLIN, MEXICO], datetime(2026, 4, 1, tzinfo=UTC)) == []


def test_and_overlap_again_once_berlin_moves_them_back_in_october():
    found = times([BERLIN, MEXICO], datetime(2026, 10, 21, 12, tzinfo=UTC))
    assert found
    for moment in found:
        assert moment >= datetime(2026, 10, 25, tzinfo=UTC)
        assert inside_hours(moment, BERLIN) and inside_hours(moment, MEXICO)


def test_new_york_and_berlin_across_the_american_change():
    found = times(["America/New_York", BERLIN], datetime(2026, 3, 5, tzinfo=UTC))
    assert len(found) == 3
    assert all(inside_hours(m, "America/New_York") and inside_hours(m, BERLIN) for m in found)
    assert len({m.date() for m in found}) == 3


def test_honolulu_and_nairobi_never_overlap():
    assert times(["Pacific/Honolulu", "Africa/Nairobi"], datetime(2026, 3, 2, tzinfo=UTC)) == []


def test_honolulu_afternoons_are_tokyo_mornings_of_the_next_day():
    """Honolulu (UTC-10) and Tokyo (UTC+9) do share hours: 14:00-17:00 Monday to Thursday
    in Honolulu is 09:00-12:00 Tuesday to Friday in Tokyo."""
    found = times(["Pacific/Honolulu", "Asia/Tokyo"], datetime(2026, 3, 2, tzinfo=UTC))
    assert found
    for moment in found:
        assert moment.astimezone(ZoneInfo("Pacific/Honolulu")).hour == 14
        assert moment.astimezone(ZoneInfo("Asia/Tokyo")).hour == 9


def test_a_trio_fits_all_three():
    zones = ["Africa/Nairobi", BERLIN, "Asia/Kolkata"]
    found = times(zones, datetime(2026, 3, 2, 9, tzinfo=UTC))
    assert found and all(inside_hours(m, z) for m in found for z in zones)


ZONES = ["UTC", "Africa/Nairobi", BERLIN, MEXICO, "America/New_York", "Asia/Seoul",
         "Asia/Kolkata", "Australia/Sydney", "America/Sao_Paulo"]  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(ZONES), min_size=2, max_size=3),
       st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)))  # fmt: skip
def test_every_time_is_inside_everyones_hours_and_ahead(zones, start):
    start = start.replace(tzinfo=UTC)
    found = times(zones, start)
    assert len(found) <= 3 and found == sorted(found)
    for moment in found:
        assert moment > start
        assert all(inside_hours(moment, zone) for zone in zones)
