"""Business time, DST, holidays, calendars per tenant/SLA/person, fiscal and week periods."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from podium.db import Database
from podium.models import Calendar, Holiday, Person
from podium.org import calendars
from podium.org.calendars import ALL_HOURS, OFFICE_HOURS, BusinessCalendar, CalendarError

CHICAGO = ZoneInfo("America/Chicago")
UTC = dt.timezone.utc


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=CHICAGO)


OFFICE = BusinessCalendar("America/Chicago", OFFICE_HOURS, [dt.date(2025, 7, 4)])


def test_friday_afternoon_to_monday_afternoon_is_one_business_day() -> None:
    # The industry's own MTTR example: Fri 4 pm → Mon 4 pm is 8 business hours, not 72.
    nine_to_five = BusinessCalendar(
        "America/Chicago", {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    )
    assert nine_to_five.business_hours_between(local(2025, 1, 10, 16), local(2025, 1, 13, 16)) == 8.0
    assert nine_to_five.business_hours_between(local(2025, 1, 13, 16), local(2025, 1, 10, 16)) == 0.0


def test_office_hours_follow_the_wall_clock_across_dst() -> None:
    # 08:00 in Chicago is 14:00 UTC in winter and 13:00 UTC in summer.
    assert OFFICE.intervals_on(dt.date(2025, 3, 7))[0][0] == dt.datetime(2025, 3, 7, 14, tzinfo=UTC)
    assert OFFICE.intervals_on(dt.date(2025, 3, 10))[0][0] == dt.datetime(2025, 3, 10, 13, tzinfo=UTC)
    # Across the spring-forward weekend: 71 wall hours, still 8 + 1 business hours.
    start, end = local(2025, 3, 7, 9), local(2025, 3, 10, 9)
    assert end.astimezone(UTC) - start.astimezone(UTC) == dt.timedelta(hours=71)
    assert OFFICE.business_hours_between(start, end) == 9.0  # Fri 09–17, Mon 08–09
    assert OFFICE.hours_on(dt.date(2025, 3, 7)) == OFFICE.hours_on(dt.date(2025, 3, 10)) == 9.0


def test_a_24_hour_calendar_has_a_23_and_a_25_hour_day() -> None:
    always = BusinessCalendar("America/Chicago", ALL_HOURS)
    assert always.hours_on(dt.date(2025, 3, 9)) == 23.0
    assert always.hours_on(dt.date(2025, 11, 2)) == 25.0
    assert always.hours_on(dt.date(2025, 11, 3)) == 24.0
    # Adding 24 business hours on the fall-back day lands at 23:00 local, not midnight.
    assert always.add_business_hours(local(2025, 11, 2, 0), 24) == local(2025, 11, 2, 23)


def test_a_boundary_inside_the_spring_forward_gap_lands_after_it() -> None:
    night = BusinessCalendar("America/Chicago", {"sun": [["02:30", "04:00"]]})
    ((start, end),) = night.intervals_on(dt.date(2025, 3, 9))
    assert start == dt.datetime(2025, 3, 9, 8, 30, tzinfo=UTC)  # 02:30 read at CST = 03:30 CDT
    assert end - start == dt.timedelta(minutes=30)


def test_add_business_hours_skips_nights_weekends_and_holidays() -> None:
    assert OFFICE.add_business_hours(local(2025, 7, 3, 15), 4) == local(2025, 7, 7, 10)  # Jul 4 is a holiday
    assert OFFICE.add_business_hours(local(2025, 1, 11, 12), 0) == local(2025, 1, 13, 8)  # Saturday → Monday opening
    assert OFFICE.add_business_hours(local(2025, 1, 13, 9), 0.5) == local(2025, 1, 13, 9, 30)
    assert OFFICE.next_business_time(local(2025, 1, 13, 17)) == local(2025, 1, 14, 8)
    assert OFFICE.is_business_time(local(2025, 1, 13, 16, 59))
    assert not OFFICE.is_business_time(local(2025, 1, 13, 17))
    assert OFFICE.business_days(dt.date(2025, 7, 1), dt.date(2025, 7, 8)) == [
        dt.date(2025, 7, 1),
        dt.date(2025, 7, 2),
        dt.date(2025, 7, 3),
        dt.date(2025, 7, 7),
    ]


def test_split_days_and_other_zones() -> None:
    lunch = BusinessCalendar("Europe/London", {"mon": [["13:00", "17:00"], ["09:00", "12:00"]]})
    assert lunch.hours_on(dt.date(2025, 1, 13)) == 7.0
    assert (
        lunch.business_hours_between(dt.datetime(2025, 1, 13, 11, tzinfo=UTC), dt.datetime(2025, 1, 13, 14, tzinfo=UTC))
        == 2.0
    )
    # The same local hours kept in New York open an hour before Chicago's.
    new_york = OFFICE.in_zone("America/New_York")
    assert new_york.intervals_on(dt.date(2025, 1, 13))[0][0] == OFFICE.intervals_on(dt.date(2025, 1, 13))[0][
        0
    ] - dt.timedelta(hours=1)
    assert not new_york.is_business_day(dt.date(2025, 7, 4))
    assert not OFFICE.with_closed_days([dt.date(2025, 1, 13)]).is_business_day(dt.date(2025, 1, 13))


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"mon": [["8:00", "17:00"]]}, "mon: '8:00' is not a time of day"),
        ({"mon": [["09:00", "08:00"]]}, "mon: span 09:00–08:00 ends before it starts"),
        ({"mon": [["08:00", "12:00"], ["11:00", "13:00"]]}, "mon: spans overlap"),
        ({"mon": [["08:00", "24:30"]]}, "'24:30' is not a time of day"),
        ({"monday": [["08:00", "17:00"]]}, "unknown day(s) monday"),
        ({"mon": [["08:00"]]}, "each span is [start, end]"),
        ({}, "at least one day"),
    ],
)
def test_bad_calendar_definitions_say_what_is_wrong(hours: dict, message: str) -> None:
    with pytest.raises(CalendarError) as error:
        BusinessCalendar("UTC", hours)
    assert message in str(error.value)


def test_unknown_zone_and_naive_times_are_refused() -> None:
    with pytest.raises(CalendarError, match="unknown time zone 'Mars/Olympus'"):
        BusinessCalendar("Mars/Olympus")
    with pytest.raises(ValueError, match="naive datetime"):
        OFFICE.business_hours_between(dt.datetime(2025, 1, 13, 9), local(2025, 1, 13, 10))
    with pytest.raises(ValueError, match="must not be negative"):
        OFFICE.add_business_hours(local(2025, 1, 13, 9), -1)


def test_fiscal_year_quarter_week_and_month_bounds() -> None:
    assert calendars.fiscal_year_bounds(dt.date(2025, 3, 31), 4) == (dt.date(2024, 4, 1), dt.date(2025, 4, 1))
    assert calendars.fiscal_year_bounds(dt.date(2025, 4, 1), 4) == (dt.date(2025, 4, 1), dt.date(2026, 4, 1))
    assert calendars.fiscal_year_bounds(dt.date(2025, 12, 31), 1) == (dt.date(2025, 1, 1), dt.date(2026, 1, 1))
    assert calendars.fiscal_quarter_bounds(dt.date(2025, 3, 31), 4) == (dt.date(2025, 1, 1), dt.date(2025, 4, 1))
    assert calendars.fiscal_quarter_bounds(dt.date(2025, 11, 15), 7) == (dt.date(2025, 10, 1), dt.date(2026, 1, 1))
    assert calendars.fiscal_quarter_bounds(dt.date(2026, 1, 15), 11) == (dt.date(2025, 11, 1), dt.date(2026, 2, 1))
    assert calendars.week_bounds(dt.date(2025, 1, 15), 0) == (dt.date(2025, 1, 13), dt.date(2025, 1, 20))
    assert calendars.week_bounds(dt.date(2025, 1, 15), 6) == (dt.date(2025, 1, 12), dt.date(2025, 1, 19))
    assert calendars.week_bounds(dt.date(2025, 1, 12), 6) == (dt.date(2025, 1, 12), dt.date(2025, 1, 19))
    assert calendars.month_bounds(dt.date(2024, 2, 29)) == (dt.date(2024, 2, 1), dt.date(2024, 3, 1))
    assert calendars.month_bounds(dt.date(2024, 12, 5)) == (dt.date(2024, 12, 1), dt.date(2025, 1, 1))
    with pytest.raises(ValueError):
        calendars.fiscal_year_bounds(dt.date(2025, 1, 1), 13)
    with pytest.raises(ValueError):
        calendars.week_bounds(dt.date(2025, 1, 1), 7)


def test_period_bounds_are_local_midnights_in_utc() -> None:
    start, end = calendars.period_bounds_utc(dt.date(2025, 3, 1), dt.date(2025, 4, 1), "America/Chicago")
    assert start == dt.datetime(2025, 3, 1, 6, tzinfo=UTC)
    assert end == dt.datetime(2025, 4, 1, 5, tzinfo=UTC)  # daylight time by then


def test_stored_calendars_resolve_per_tenant_sla_and_person(db: Database, tenant_id: int) -> None:
    """The conftest tenant is in America/New_York."""
    with db.session(tenant_id) as session:
        default = calendars.calendar_for_tenant(session, tenant_id)
        assert default.time_zone == "America/New_York" and default.hours_on(dt.date(2025, 1, 13)) == 9.0
        office = Calendar(name="Office", time_zone="America/Chicago", business_hours=OFFICE_HOURS, kind="tenant")
        premium = Calendar(name="Premium SLA", time_zone="America/Chicago", business_hours=ALL_HOURS, kind="sla")
        remote, part_timer = Person(display_name="Remote", time_zone="America/Denver"), Person(display_name="Part")
        session.add_all([office, premium, remote, part_timer])
        session.flush()
        session.add(Holiday(calendar_id=office.id, day=dt.date(2025, 7, 4), name="Independence Day"))
        session.add(Holiday(calendar_id=office.id, day=dt.date(2025, 9, 1), name="Labor Day"))
        session.add(
            Calendar(
                name="Part time",
                time_zone="America/Chicago",
                kind="person",
                person_id=part_timer.id,
                business_hours={"mon": [["08:00", "12:00"]]},
            )
        )
        ids = (remote.id, part_timer.id)
    with db.session(tenant_id) as session:
        tenant = calendars.calendar_for_tenant(session, tenant_id)
        assert tenant.time_zone == "America/Chicago" and not tenant.is_business_day(dt.date(2025, 7, 4))
        assert calendars.calendar_for_sla(session, tenant_id, "Premium SLA").hours_on(dt.date(2025, 7, 4)) == 24.0
        assert calendars.calendar_for_sla(session, tenant_id, "Standard SLA").hours_on(dt.date(2025, 7, 3)) == 9.0
        remote = calendars.calendar_for_person(session, tenant_id, ids[0])
        assert remote.time_zone == "America/Denver" and not remote.is_business_day(dt.date(2025, 7, 4))
        part = calendars.calendar_for_person(session, tenant_id, ids[1])
        assert part.hours_on(dt.date(2025, 6, 30)) == 4.0
        assert not part.is_business_day(dt.date(2025, 7, 1))  # a Tuesday: not in their hours
        assert not part.is_business_day(dt.date(2025, 9, 1))  # a Monday, but a company holiday
        with pytest.raises(LookupError):
            calendars.calendar_for_person(session, tenant_id, 424242)
