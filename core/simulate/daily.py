"""Time that is not ticket or project work: PTO, internal duties, proactive maintenance.

Utilisation needs the whole day, not just tickets: PTO entries (the same days as the
org's PTO availability), the daily stand-up, the planned internal duties of
:meth:`podium.simulate.org.Org.internal_duties`, and proactive maintenance that brings
a technician's productive time to a believable level (about 60–80% of available hours).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING

from podium.simulate.catalog import IDS
from podium.simulate.org import SimPerson, entry_delay
from podium.simulate.records import Record, time_entry
from podium.simulate.streams import clamp, derive, whole_seconds

if TYPE_CHECKING:
    from podium.simulate.world import World


def day_entries(world: World, index: int, day: dt.date, person: SimPerson) -> Iterator[Record]:
    """``person``'s non-ticket entries on the ``index``-th day (as seen at "now")."""
    if not person.employed_on(day):
        return
    rng = derive(world.seed, "daily", index, person.key)
    pto = person.pto.get(day)
    calendar = world.org.person_calendar(person)
    if not calendar.is_business_day(day) and not pto:
        return
    if calendar.is_business_day(day):
        day_start = calendar.intervals_on(day)[0][0]
    else:  # a whole day of PTO: the person's calendar is closed that day
        day_start = world.org.calendar.local_time(day, 8 * 60)
    planned: list[tuple[str, float, dt.datetime]] = []
    if pto:
        planned.append(("PTO", pto, day_start))
    if calendar.is_business_day(day):
        local_midnight = calendar.local_time(day, 0)
        planned.append(("Internal Meeting", 0.25, day_start + dt.timedelta(minutes=30)))
        for work_type, hours, minute in world.org.internal_duties(person, day):
            planned.append((work_type, hours, local_midnight + dt.timedelta(minutes=minute)))
        fill = clamp(rng.gauss(person.grade_on(day).fill_hours, 0.6), 0, 4) * (0.5 if pto else 1)
        if fill >= 0.25:
            hours = round(fill * 4) / 4
            planned.append(("Proactive Maintenance", hours, local_midnight + dt.timedelta(hours=16 - hours)))
    for j, (work_type, hours, start) in enumerate(planned[:10]):
        start = whole_seconds(start)
        end = start + dt.timedelta(minutes=round(hours * 60))
        # PTO is requested ahead; everything else is logged after the fact.
        if work_type == "PTO":
            entered = start - dt.timedelta(days=rng.randint(3, 20))
        else:
            entered = whole_seconds(end + entry_delay(rng, person.diligence))
        if entered <= world.now:
            yield time_entry(
                IDS.daily_entry_base + index * 10_000 + person.key * 10 + j,
                person,
                start,
                end,
                work_type,
                entered,
                notes=work_type,
            )


def daily_entries(world: World) -> Iterator[Record]:
    """Every person's non-ticket entries, day by day."""
    for index, day in enumerate(world.days()):
        for person in world.org.people:
            yield from day_entries(world, index, day, person)
