"""The simulated MSP's people: teams, grades, traits, moves, hires, leavers, PTO, calendars.

The org is small even for the large preset (a few hundred people), so it is built once
and kept; everything voluminous (tickets, time, statuses) is streamed from it. Each
person has traits that make scorecards differ the way real ones do: ``diligence``
(time-entry timeliness, the hygiene of the clients they own), ``skill`` (first-touch
resolution, reopens, repeats), ``pace`` (speed) and ``warmth`` (survey scores).
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from podium.org.calendars import OFFICE_HOURS, BusinessCalendar
from podium.simulate import catalog
from podium.simulate.catalog import GRADES, IDS, TEAM_KINDS, Grade
from podium.simulate.streams import clamp, derive, lognormal, pick

PART_TIME_HOURS = {
    day: ([["08:00", "16:00"]] if day in ("mon", "tue", "wed", "thu") else [])
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}
ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class SimTeam:
    index: int
    kind: str
    name: str
    description: str
    region: int


@dataclass(frozen=True)
class Change:
    """From ``day`` on, the person has another grade, team and salary (a promotion/move)."""

    day: dt.date
    grade: str
    team: int
    salary: int


@dataclass
class SimPerson:
    key: int
    first: str
    last: str
    email: str
    identifier: str
    """The ConnectWise member ``identifier`` (the vendor key)."""
    grade: str
    team: int
    time_zone: str
    employed_from: dt.date
    employed_to: dt.date | None
    """Last day employed (inclusive); None = still employed."""
    capacity: float
    salary: int
    """Annual base in whole dollars."""
    diligence: float
    skill: float
    pace: float
    warmth: float
    hired_at: dt.date
    part_time: bool = False
    change: Change | None = None
    pto: dict[dt.date, float] = field(default_factory=dict)

    @property
    def member_id(self) -> str:
        return str(IDS.first_member + self.key)

    @property
    def display_name(self) -> str:
        return f"{self.first} {self.last}"

    def grade_on(self, day: dt.date) -> Grade:
        code = self.change.grade if self.change and day >= self.change.day else self.grade
        return GRADES[code]

    def team_on(self, day: dt.date) -> int:
        return self.change.team if self.change and day >= self.change.day else self.team

    def employed_on(self, day: dt.date) -> bool:
        return self.employed_from <= day and (self.employed_to is None or day <= self.employed_to)


def us_holidays(year: int) -> list[tuple[dt.date, str]]:
    """The company holidays (US federal-style, weekend dates observed on Friday/Monday)."""

    def nth(weekday: int, month: int, n: int) -> dt.date:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))

    def last(weekday: int, month: int) -> dt.date:
        day = dt.date(year, month + 1, 1) - ONE_DAY
        return day - dt.timedelta(days=(day.weekday() - weekday) % 7)

    def observed(day: dt.date) -> dt.date:
        return day - ONE_DAY if day.weekday() == 5 else day + ONE_DAY if day.weekday() == 6 else day

    thanksgiving = nth(3, 11, 4)
    return [
        (observed(dt.date(year, 1, 1)), "New Year's Day"),
        (last(0, 5), "Memorial Day"),
        (observed(dt.date(year, 7, 4)), "Independence Day"),
        (nth(0, 9, 1), "Labor Day"),
        (thanksgiving, "Thanksgiving"),
        (thanksgiving + ONE_DAY, "Day after Thanksgiving"),
        (observed(dt.date(year, 12, 25)), "Christmas Day"),
    ]


def team_count(technicians: int) -> int:
    """Teams of about nine, never fewer than one of each kind."""
    return max(3, round(technicians / 9))


class Org:
    """People and teams of one world, with who is working when."""

    def __init__(self, seed: int, technicians: int, start: dt.date, end: dt.date) -> None:
        self.seed, self.start, self.end = seed, start, end
        self.holidays = [
            (day, name)
            for year in range(start.year, end.year + 1)
            for day, name in us_holidays(year)
            if start - dt.timedelta(days=366) <= day < end + dt.timedelta(days=366)
        ]
        self.calendar = BusinessCalendar(catalog.TENANT["time_zone"], OFFICE_HOURS, [d for d, _ in self.holidays])
        self.teams = self._teams(team_count(technicians))
        self.people = self._people(technicians)
        self.managers = {team.index: self._manager_of(team.index) for team in self.teams}
        self._calendars: dict[int, BusinessCalendar] = {}
        self._pools: dict[tuple[dt.date, int, int], tuple[list[SimPerson], list[float]]] = {}

    # -- construction ------------------------------------------------------------------

    def _teams(self, count: int) -> list[SimTeam]:
        teams = []
        for index in range(count):
            kind, name, description = TEAM_KINDS[index % 3]
            region = index // 3
            suffix = catalog.REGIONS[region] if region < len(catalog.REGIONS) else f"{region + 1}"
            teams.append(SimTeam(index, kind, f"{name} {suffix}".strip(), description, region))
        return teams

    @property
    def regions(self) -> int:
        return (len(self.teams) + 2) // 3

    def team_of_kind(self, kind: str, region: int) -> SimTeam:
        """The team of ``kind`` in ``region`` (region 0's when the region has none)."""
        for team in self.teams:
            if team.kind == kind and team.region == region:
                return team
        return next(team for team in self.teams if team.kind == kind and team.region == 0)

    def _grades(self, technicians: int) -> list[tuple[str, int]]:
        """(grade, team index) for every position, managers first."""
        positions = [("M", team.index) for team in self.teams]
        rest = technicians - len(self.teams)
        l1, l3 = round(0.45 * rest), max(1, round(0.18 * rest))
        l2 = rest - l1 - l3
        rng = derive(self.seed, "org", "grades")
        for n in range(l1):
            positions.append(("L1", self.team_of_kind("help_desk", n % self.regions).index))
        for n in range(l2):
            kind = "help_desk" if rng.random() < 0.25 else "escalations"
            positions.append(("L2", self.team_of_kind(kind, n % self.regions).index))
        for n in range(l3):
            kind = "escalations" if rng.random() < 0.4 else "projects"
            positions.append(("L3", self.team_of_kind(kind, n % self.regions).index))
        return positions

    def _people(self, technicians: int) -> list[SimPerson]:
        rng = derive(self.seed, "org", "people")
        names = rng.sample([(f, last) for f in catalog.FIRST_NAMES for last in catalog.LAST_NAMES], technicians)
        identifiers: set[str] = set()
        people = []
        for key, ((grade, team), (first, last)) in enumerate(zip(self._grades(technicians), names, strict=True), 1):
            person_rng = derive(self.seed, "person", key)
            identifier = _unique(f"{first[0]}{last}"[:13].lower(), identifiers)
            low, high = GRADES[grade].salary_range
            part_time = grade in ("L1", "L2") and person_rng.random() < 0.08
            hired = self.start - dt.timedelta(days=person_rng.randint(120, 3000))
            people.append(
                SimPerson(
                    key=key,
                    first=first,
                    last=last,
                    identifier=identifier,
                    email=f"{first}.{last}@{catalog.DOMAIN}".lower(),
                    grade=grade,
                    team=team,
                    time_zone=pick(person_rng, catalog.TIME_ZONES),
                    employed_from=hired,
                    employed_to=None,
                    hired_at=hired,
                    capacity=32.0 if part_time else 40.0,
                    part_time=part_time,
                    salary=round(person_rng.uniform(low, high), -2),
                    diligence=person_rng.betavariate(5, 2),
                    skill=person_rng.betavariate(4, 2),
                    pace=lognormal(person_rng, 1.0, 0.15),
                    warmth=person_rng.betavariate(8, 1.5),
                )
            )
        self._lifecycle(people)
        for person in people:
            person.pto = self._pto(person)
        return people

    def _lifecycle(self, people: list[SimPerson]) -> None:
        """Promotions with a team move, hires and leavers — about one of each per 25
        people per quarter, so effective-dated facts change inside every world."""
        days = (self.end - self.start).days
        if days < 30:
            return
        rng = derive(self.seed, "org", "lifecycle")
        each = max(1, round(len(people) / 25 * days / 90))
        l1s = [p for p in people if p.grade == "L1"]
        rng.shuffle(l1s)
        moved, hired, left = l1s[:each], l1s[each : 2 * each], l1s[2 * each : 3 * each]
        for person in moved:
            day = _monday(self.start + dt.timedelta(days=rng.randint(days // 3, 2 * days // 3)))
            region = self.teams[person.team].region
            team = self.team_of_kind("escalations", region).index
            person.change = Change(day, "L2", team, round(person.salary * 1.08, -2))
        for person in hired:
            person.employed_from = person.hired_at = _monday(self.start + dt.timedelta(days=rng.randint(5, days // 2)))
        for person in left:
            person.employed_to = _monday(
                self.start + dt.timedelta(days=rng.randint(days // 2, days - 5))
            ) - dt.timedelta(days=3)

    def _pto(self, person: SimPerson) -> dict[dt.date, float]:
        """About 14 days off a year in blocks of 1–5 days, some of them half days."""
        rng = derive(self.seed, "pto", person.key)
        pto: dict[dt.date, float] = {}
        day = self.start
        while day < self.end:
            if self.calendar.is_business_day(day) and rng.random() < 14 / 250 / 2.2:
                length = pick(rng, [(1, 0.4), (2, 0.2), (3, 0.15), (5, 0.25)])
                hours = 4.0 if length == 1 and rng.random() < 0.3 else person.capacity / 5
                for off in self.calendar.business_days(day, day + dt.timedelta(days=length + 4))[:length]:
                    pto[off] = hours
                day += dt.timedelta(days=length + 7)
            day += ONE_DAY
        return pto

    def _manager_of(self, team: int) -> SimPerson:
        return next(p for p in self.people if p.grade == "M" and p.team == team)

    # -- who works when ----------------------------------------------------------------

    def person_calendar(self, person: SimPerson) -> BusinessCalendar:
        """Their hours in their own zone, closed on holidays and whole PTO days."""
        calendar = self._calendars.get(person.key)
        if calendar is None:
            hours = PART_TIME_HOURS if person.part_time else OFFICE_HOURS
            off = [day for day, h in person.pto.items() if h >= person.capacity / 5]
            calendar = BusinessCalendar(person.time_zone, hours, [*self.calendar.closed_days, *off])
            self._calendars[person.key] = calendar
        return calendar

    def working(self, person: SimPerson, day: dt.date) -> bool:
        return person.employed_on(day) and self.person_calendar(person).is_business_day(day)

    def pick(
        self, rng: random.Random, tier: int, region: int, day: dt.date, exclude: SimPerson | None = None
    ) -> SimPerson:
        """Someone of ``tier`` in ``region`` working on ``day``, weighted by pace; falls back
        to other regions, then to anyone employed, so tiny worlds still get an owner."""
        people, cumulative = self._pool(day, tier, region)
        if not people:
            people, cumulative = self._pool(day, tier, -1)
        if not people:
            staff = [p for p in self.people if p.grade != "M" and p.employed_on(day)] or self.people
            return staff[rng.randrange(len(staff))]
        for _ in range(4):
            chosen = people[bisect.bisect(cumulative, rng.random() * cumulative[-1]) if len(people) > 1 else 0]
            if chosen is not exclude:
                return chosen
        return chosen

    def _pool(self, day: dt.date, tier: int, region: int) -> tuple[list[SimPerson], list[float]]:
        key = (day, tier, region)
        if key not in self._pools:
            if len(self._pools) > 4096:
                self._pools.clear()
            people, weights = [], []
            for person in self.people:
                if not self.working(person, day):
                    continue
                team = self.teams[person.team_on(day)]
                if region >= 0 and tier < 3 and team.region != region:
                    continue
                weight = _tier_weight(tier, person.grade_on(day).code, team.kind) * person.pace
                if person.part_time:
                    weight *= 0.8
                if weight > 0:
                    people.append(person)
                    weights.append(weight)
            cumulative, total = [], 0.0
            for weight in weights:
                total += weight
                cumulative.append(total)
            self._pools[key] = (people, cumulative)
        return self._pools[key]

    def manager_on(self, person: SimPerson, day: dt.date) -> SimPerson | None:
        manager = self.managers[person.team_on(day)]
        return None if manager is person else manager

    def owners(self) -> list[SimPerson]:
        """Engineers who can own clients: L2/L3 employed for the whole world."""
        return [
            p
            for p in self.people
            if p.grade in ("L2", "L3") and p.employed_from <= self.start and p.employed_to is None
        ] or [p for p in self.people if p.grade != "M"]

    def internal_duties(self, person: SimPerson, day: dt.date) -> Iterator[tuple[str, float, int]]:
        """(work type, hours, local start minute) of the planned internal duties on ``day``:
        a weekly team meeting, fortnightly training, a manager's daily admin."""
        grade = person.grade_on(day).code
        if day.weekday() == 1:
            yield "Internal Meeting", 1.0, 14 * 60
        if day.weekday() == 3 and day.isocalendar().week % 2 == 0 and grade in ("L1", "L2"):
            yield "Training", 2.0, 10 * 60
        if grade == "M":
            yield "Admin", 2.0, 15 * 60

    # -- org data as Podium imports it --------------------------------------------------

    def org_rows(self, kind: str, clients: list[Any]) -> list[dict[str, Any]]:
        """The org in the CSV shape of :mod:`podium.org.csvio` (what the loader imports)."""
        builder = getattr(self, f"_rows_{kind}", None)
        if builder is None:
            raise KeyError(f"no org rows of kind {kind!r}")
        return builder(clients)

    def _rows_people(self, clients: list[Any]) -> list[dict[str, Any]]:
        tenant_zone = catalog.TENANT["time_zone"]
        return [
            {
                "email": p.email,
                "display_name": p.display_name,
                "time_zone": None if p.time_zone == tenant_zone else p.time_zone,
                "employed_from": p.employed_from,
                "employed_to": p.employed_to,
                "active": p.employed_to is None,
            }
            for p in self.people
        ]

    def _rows_teams(self, clients: list[Any]) -> list[dict[str, Any]]:
        return [{"name": t.name, "description": t.description} for t in self.teams]

    def _rows_calendars(self, clients: list[Any]) -> list[dict[str, Any]]:
        def row(
            name: str, kind: str, zone: str, hours: dict[str, list[list[str]]], person: str | None = None
        ) -> dict[str, Any]:
            cells = {day: " ".join(f"{a}-{b}" for a, b in spans) for day, spans in hours.items()}
            return {"name": name, "kind": kind, "time_zone": zone, "person": person, **cells}

        rows = [row(catalog.BUSINESS_CALENDAR, "tenant", catalog.TENANT["time_zone"], OFFICE_HOURS)]
        rows += [
            row(s.calendar, "sla", catalog.TENANT["time_zone"], catalog.PREMIUM_HOURS)
            for s in catalog.SLAS.values()
            if s.calendar
        ]
        rows += [
            row(f"{p.display_name} (part time)", "person", p.time_zone, PART_TIME_HOURS, p.email)
            for p in self.people
            if p.part_time
        ]
        return rows

    def _rows_holidays(self, clients: list[Any]) -> list[dict[str, Any]]:
        return [{"calendar": catalog.BUSINESS_CALENDAR, "day": day, "name": name} for day, name in self.holidays]

    def _periods(self, person: SimPerson) -> list[tuple[dt.date, dt.date | None, str, int, int]]:
        """(from, to exclusive, grade, team, salary) spans of a person's employment."""
        end = person.employed_to + ONE_DAY if person.employed_to else None
        if person.change is None:
            return [(person.employed_from, end, person.grade, person.team, person.salary)]
        change = person.change
        return [
            (person.employed_from, change.day, person.grade, person.team, person.salary),
            (change.day, end, change.grade, change.team, change.salary),
        ]

    def _rows_memberships(self, clients: list[Any]) -> list[dict[str, Any]]:
        return [
            {"person": p.email, "team": self.teams[team].name, "valid_from": start, "valid_to": end, "share": 1.0}
            for p in self.people
            for start, end, _grade, team, _salary in self._periods(p)
        ]

    def _rows_facts(self, clients: list[Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for p in self.people:
            for start, end, grade, team, salary in self._periods(p):
                manager = self.managers[team]
                facts = [
                    ("role", GRADES[grade].role, None),
                    ("level", GRADES[grade].level, None),
                    ("compensation", f"{salary:.2f}", catalog.TENANT["currency"]),
                ]
                if manager is not p:
                    facts.append(("manager", manager.email, None))
                for kind, value, currency in facts:
                    rows.append(
                        {
                            "person": p.email,
                            "kind": kind,
                            "value": value,
                            "currency": currency,
                            "valid_from": start,
                            "valid_to": end,
                        }
                    )
            rows.append(
                {
                    "person": p.email,
                    "kind": "capacity_hours_week",
                    "value": f"{p.capacity:g}",
                    "currency": None,
                    "valid_from": p.employed_from,
                    "valid_to": p.employed_to + ONE_DAY if p.employed_to else None,
                }
            )
        return rows

    def _rows_responsibilities(self, clients: list[Any]) -> list[dict[str, Any]]:
        rows = []
        for client in clients:
            if client.internal:
                continue
            base = {"client": client.name, "connection": catalog.CONNECTION_NAME, "person": None, "team": None}
            rows.append(
                {
                    **base,
                    "team": self.team_of_kind("help_desk", client.region).name,
                    "share": 1.0,
                    "valid_from": client.since,
                    "valid_to": None,
                }
            )
            for owner, share, start, end in client.owners:
                rows.append({**base, "person": owner.email, "share": share, "valid_from": start, "valid_to": end})
        return rows

    def _rows_availability(self, clients: list[Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for p in self.people:
            for day, hours in sorted(p.pto.items()):
                if p.employed_on(day):
                    rows.append({"person": p.email, "day": day, "kind": "pto", "hours": hours})
            day = self.start
            while day < self.end:
                if self.working(p, day) and day not in p.pto:
                    hours = sum(h for _, h, _ in self.internal_duties(p, day))
                    if hours:
                        rows.append({"person": p.email, "day": day, "kind": "internal", "hours": hours})
                day += ONE_DAY
        return rows

    def _rows_mappings(self, clients: list[Any]) -> list[dict[str, Any]]:
        base = {"connection": catalog.CONNECTION_NAME, "confirmed": True}
        rows = [
            {**base, "kind": "work_type", "vendor_value": w.name, "podium_value": w.mapping}
            for w in catalog.WORK_TYPES.values()
        ]
        rows += [
            {**base, "kind": "agreement_type", "vendor_value": a.name, "podium_value": a.category}
            for a in catalog.AGREEMENT_TYPES.values()
        ]
        statuses = {s.name: s.category for board in catalog.BOARDS.values() for s in board.statuses}
        rows += [
            {**base, "kind": "status", "vendor_value": name, "podium_value": category}
            for name, category in sorted(statuses.items())
        ]
        rows += [
            {**base, "kind": "board", "vendor_value": b.name, "podium_value": b.kind} for b in catalog.BOARDS.values()
        ]
        return rows


def _tier_weight(tier: int, grade: str, team_kind: str) -> float:
    if tier == 1:
        return {"L1": 1.0, "L2": 0.5}.get(grade, 0.0) if team_kind == "help_desk" else 0.0
    if tier == 2:
        return 1.0 if grade == "L2" and team_kind != "help_desk" else 0.3 if grade == "L3" else 0.0
    return 1.0 if grade == "L3" else 0.0


def _unique(base: str, taken: set[str]) -> str:
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}{n}"
    taken.add(candidate)
    return candidate


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def entry_delay(rng: random.Random, diligence: float) -> dt.timedelta:
    """How long after the work someone logs it: mostly within minutes (timers), some within
    the hour, some later that day, and a tail days late — more so for the less diligent."""
    if rng.random() < 0.5 + 0.4 * diligence:
        return dt.timedelta(minutes=rng.uniform(0.5, 6))
    u = rng.random()
    if u < 0.55:
        return dt.timedelta(minutes=rng.uniform(6, 60))
    if u < 0.85:
        return dt.timedelta(hours=rng.uniform(1, 9))
    return dt.timedelta(days=rng.uniform(1, 6))


def duration(rng: random.Random, grade: Grade, pace: float, factor: float = 1.0) -> dt.timedelta:
    """One work session, to the minute (6 minutes at least, 6 hours at most)."""
    hours = clamp(lognormal(rng, grade.touch_hours * factor / pace, 0.55), 0.1, 6.0)
    return dt.timedelta(minutes=round(hours * 60))
