"""Service tickets as stories: each ticket's whole life, generated day by day.

A day's arrivals are drawn first (when, which client, channel, priority, issue), sorted
by creation time and numbered; then each ticket's life is played out: dispatch to a
first-line technician, first response, work sessions (each one a time entry logged some
time after it ends), escalation to tier 2 or 3, sideways reassignment, waiting on the
customer, a second technician helping, an on-site visit, resolution, the workflow member
closing it three days later, sometimes a reopen, a survey response, and sometimes the
same issue coming back as a new ticket days later (a repeat). RMM alerts open tickets of
their own; most clear by themselves and auto-close. Duplicates sent twice by e-mail are
merged into the first.

Rates (first-touch resolution, escalation, reopen, repeat, survey response, CSAT) follow
the industry figures in ``market_and_metrics.md`` and depend on the technician's traits;
``tests/test_simulate.py`` asserts the bounds. A life may run past the world's end; the
story is then cut at "now" exactly as a PSA would show it (still open, late time entries
not yet logged, no survey yet).

Only repeats cross days: they are queued for the day they happen, which keeps memory
bounded by about two weeks of repeats, whatever the size of the world.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from podium.simulate import catalog
from podium.simulate.catalog import BOARDS, IDS, PRIORITIES, SLAS, SURVEY, Alert, Issue, Priority
from podium.simulate.clients import SimClient, SimEndpoint
from podium.simulate.org import SimPerson, duration, entry_delay
from podium.simulate.records import Record, time_entry
from podium.simulate.streams import clamp, derive, lognormal, pick, poisson, whole_seconds

if TYPE_CHECKING:
    from podium.simulate.world import World

UTC = dt.timezone.utc
SECOND = dt.timedelta(seconds=1)
MINUTE = dt.timedelta(minutes=1)
CLOSE_AFTER = dt.timedelta(hours=72)
"""The workflow closes a resolved ticket this long after resolution."""
REOPEN_WINDOW = dt.timedelta(days=10)
SURVEY_RESPONSE_RATE = 0.2
ALERT_SHARE = 0.18


@dataclass
class Header:
    """What is known when a ticket arrives; ``external_id`` is assigned after sorting."""

    seq: tuple[int, ...]
    rng: random.Random
    created_at: dt.datetime
    client: SimClient
    kind: str
    """``service``, ``alert``, ``duplicate`` or ``repeat``."""
    source: str
    priority: Priority
    summary: str
    issue: Issue | None = None
    alert: Alert | None = None
    contact: dict[str, str] | None = None
    endpoint: SimEndpoint | None = None
    parent: Header | None = None
    repeat_of: str | None = None
    external_id: str = ""
    owner: SimPerson | None = None


@dataclass
class Story:
    """One ticket at "now": its record, events, time entries and survey."""

    ticket: Record
    events: list[Record]
    time_entries: list[Record]
    survey: Record | None


@dataclass
class _Life:
    """The full timeline of a ticket, possibly beyond "now" (cut by :func:`_materialise`)."""

    header: Header
    creator: str | None
    statuses: list[tuple[dt.datetime, str, str | None]] = field(default_factory=list)
    owners: list[tuple[dt.datetime, SimPerson, str | None]] = field(default_factory=list)
    tiers: list[tuple[dt.datetime, int, str | None]] = field(default_factory=list)
    boards: list[tuple[dt.datetime, str]] = field(default_factory=list)
    resolutions: list[tuple[dt.datetime, SimPerson | None]] = field(default_factory=list)
    closures: list[tuple[dt.datetime, str | None]] = field(default_factory=list)
    reopens: list[tuple[dt.datetime, str]] = field(default_factory=list)
    work: list[tuple[SimPerson, dt.datetime, dt.datetime, str, dt.timedelta]] = field(default_factory=list)
    first_response: dt.datetime | None = None
    due_response: dt.datetime | None = None
    due_resolution: dt.datetime | None = None
    sla: str | None = None
    survey: tuple[dt.datetime, int] | None = None
    clock: dt.datetime = dt.datetime.min.replace(tzinfo=UTC)

    def at(self, instant: dt.datetime) -> dt.datetime:
        """``instant`` to the second, strictly after every earlier event of this ticket."""
        instant = max(whole_seconds(instant), self.clock + SECOND)
        self.clock = instant
        return instant

    def status(self, instant: dt.datetime, name: str, actor: str | None) -> dt.datetime:
        instant = self.at(instant)
        self.statuses.append((instant, name, actor))
        return instant

    def assign(self, instant: dt.datetime, person: SimPerson, actor: str | None) -> dt.datetime:
        instant = self.at(instant)
        self.owners.append((instant, person, actor))
        return instant


# -- arrivals --------------------------------------------------------------------------


def _local(world: World, day: dt.date, minutes: float) -> dt.datetime:
    return whole_seconds(world.org.calendar.local_time(day, 0) + dt.timedelta(minutes=minutes))


def _arrival_minute(rng: random.Random, business: bool) -> float:
    if business and rng.random() < 0.8:
        return rng.triangular(8 * 60, 17 * 60, 10 * 60)
    return rng.uniform(6.5 * 60, 22 * 60)


def day_headers(world: World, index: int, day: dt.date) -> list[Header]:
    """The tickets opened on local ``day`` (the ``index``-th day of the world)."""
    rng = derive(world.seed, "arrivals", index)
    staff = sum(1 for p in world.org.people if p.grade != "M" and p.employed_on(day))
    business = world.org.calendar.is_business_day(day)
    factor = (1.2, 1.05, 1.0, 1.0, 0.8, 1.0, 1.0)[day.weekday()] if business else 0.12
    mean = staff * world.config.tickets_per_tech_day
    headers: list[Header] = []
    for n in range(poisson(rng, mean * (1 - ALERT_SHARE) * factor)):
        hrng = derive(world.seed, "ticket", index, n)
        client = world.pick_client(hrng)
        contact = hrng.choice(client.contacts) if client.contacts else None
        issue = pick(hrng, [(issue, issue.weight) for issue in catalog.ISSUES])
        template = hrng.choice(issue.summaries)
        header = Header(
            seq=(0, n),
            rng=hrng,
            created_at=_local(world, day, _arrival_minute(hrng, business)),
            client=client,
            kind="service",
            source=pick(hrng, catalog.SERVICE_SOURCES),
            priority=pick(hrng, [(p, p.weight) for p in PRIORITIES]),
            issue=issue,
            contact=contact,
            summary=template.format(contact=contact["first_name"] if contact else "a user"),
        )
        headers.append(header)
        if header.source in ("Email", "Portal") and hrng.random() < 0.025:
            headers.append(
                Header(
                    seq=(1, n),
                    rng=derive(world.seed, "duplicate", index, n),
                    created_at=header.created_at + dt.timedelta(minutes=hrng.uniform(2, 40)),
                    client=client,
                    kind="duplicate",
                    source=header.source,
                    priority=header.priority,
                    issue=issue,
                    contact=contact,
                    summary=f"RE: {header.summary}",
                    parent=header,
                )
            )
    for n in range(poisson(rng, mean * ALERT_SHARE * (1.0 if business else 0.9))):
        hrng = derive(world.seed, "alert", index, n)
        client = world.pick_client(hrng, endpoints=True)
        alert = hrng.choice(catalog.ALERTS)
        devices = world.endpoints_by_client.get(client.external_id, [])
        matching = [e for e in devices if e.device_class == alert.device_class] or devices
        endpoint = hrng.choice(matching) if matching else None
        headers.append(
            Header(
                seq=(2, n),
                rng=hrng,
                created_at=_local(world, day, hrng.uniform(0, 24 * 60 - 1)),
                client=client,
                kind="alert",
                source="Monitoring",
                priority=PRIORITIES[alert.priority - 1],
                alert=alert,
                endpoint=endpoint,
                summary=alert.summary.format(device=endpoint.name if endpoint else client.code, pct=hrng.randint(2, 9)),
            )
        )
    return headers


# -- lives -----------------------------------------------------------------------------


class _Player:
    """Plays out one ticket's life on the world's calendars."""

    def __init__(self, world: World, header: Header) -> None:
        self.world, self.org, self.h, self.rng = world, world.org, header, header.rng

    def day(self, instant: dt.datetime) -> dt.date:
        return self.org.calendar.local_day(self.org.calendar.next_business_time(instant))

    def touch(
        self,
        life: _Life,
        person: SimPerson,
        not_before: dt.datetime,
        work_type: str = "Remote Support",
        factor: float = 1.0,
    ) -> dt.datetime:
        """A work session of ``person`` starting at their next working moment; returns its end."""
        start = whole_seconds(self.org.person_calendar(person).next_business_time(not_before))
        grade = person.grade_on(self.org.calendar.local_day(start))
        end = start + duration(self.rng, grade, person.pace, factor)
        life.work.append((person, start, end, work_type, entry_delay(self.rng, person.diligence)))
        return end

    def wait(self, person: SimPerson | None, after: dt.datetime, median_hours: float) -> dt.datetime:
        calendar = self.org.person_calendar(person) if person else self.org.calendar
        return calendar.add_business_hours(after, lognormal(self.rng, median_hours, 0.8))

    def close(self, resolved: dt.datetime) -> dt.datetime:
        """When the workflow closes a ticket resolved at ``resolved``: its first hourly run
        after the 72 hours are up."""
        due = resolved + CLOSE_AFTER
        return due.replace(minute=0, second=0) + dt.timedelta(hours=1, minutes=self.rng.uniform(1, 10))

    def start(self, life: _Life, region: int, sla_name: str) -> SimPerson:
        """SLA clocks start, a first-line technician takes the ticket and responds."""
        h, rng = self.h, self.rng
        sla = SLAS[sla_name]
        calendar = self.world.sla_calendar(sla_name)
        life.sla = sla_name
        life.due_response = calendar.add_business_hours(h.created_at, sla.respond_hours[h.priority.sort - 1])
        life.due_resolution = calendar.add_business_hours(h.created_at, sla.resolve_hours[h.priority.sort - 1])
        owner = self.org.pick(rng, 1, region, self.day(h.created_at))
        owner_calendar = self.org.person_calendar(owner)
        taken = life.assign(
            owner_calendar.next_business_time(h.created_at) + MINUTE * rng.uniform(0, 10), owner, owner.member_id
        )
        response = owner_calendar.add_business_hours(
            h.created_at, lognormal(rng, h.priority.response_median_hours / owner.pace, 0.9)
        )
        life.first_response = life.status(max(response, taken + MINUTE), "In Progress", owner.member_id)
        return owner

    def work(
        self, life: _Life, owner: SimPerson, region: int, *, single: float, full: bool
    ) -> tuple[SimPerson, dt.datetime]:
        """Work until resolved; returns who resolved it and when the last session ended.

        ``full`` enables what only service tickets have (waiting on the customer, helpers,
        on-site visits).
        """
        rng = self.rng
        issue = self.h.issue
        onsite = full and issue is not None and rng.random() < issue.onsite
        t = self.touch(life, owner, life.first_response or self.h.created_at)
        current = owner
        if rng.random() >= single or onsite:
            path = rng.random()
            if path < 0.36:
                current, t = self.escalate(life, current, region, t, 2)
                if rng.random() < 0.15:
                    current, t = self.escalate(life, current, region, t, 3)
                if rng.random() < 0.4:
                    t = self.touch(life, current, self.wait(current, t, 1.0))
            elif path < 0.48:
                other = self.org.pick(rng, 1, region, self.day(t), exclude=current)
                life.assign(t + MINUTE, other, current.member_id)
                t, current = self.touch(life, other, self.wait(other, t, 1.0)), other
            elif full and not onsite:
                for _ in range(rng.choice((1, 1, 2))):
                    life.status(t + MINUTE, "Waiting Customer", current.member_id)
                    reply = self.wait(None, t, 2.0)
                    life.status(reply, "In Progress", None)
                    t = self.touch(life, current, reply + MINUTE * rng.uniform(5, 40))
            elif not full:  # an alert has no customer to wait on: another look later
                t = self.touch(life, current, self.wait(current, t, 1.0))
        if onsite:
            t = self.touch(life, current, self.wait(current, t, 4.0), "Onsite Support", 2.5)
        if full and rng.random() < 0.08:
            helper = self.org.pick(rng, 2, region, self.day(t), exclude=current)
            first = life.first_response or self.h.created_at
            self.touch(life, helper, first + (t - first) * rng.uniform(0.2, 0.8))
        return current, t

    def escalate(
        self, life: _Life, current: SimPerson, region: int, t: dt.datetime, tier: int
    ) -> tuple[SimPerson, dt.datetime]:
        at = life.at(t + 2 * MINUTE)
        life.tiers.append((at, tier, current.member_id))
        if tier == 2:
            life.boards.append((at, "Tier 2"))
        engineer = self.org.pick(self.rng, tier, region, self.day(at), exclude=current)
        life.assign(at, engineer, current.member_id)
        return engineer, self.touch(life, engineer, self.wait(engineer, at, 1.5), factor=1.3)

    def resolve(self, life: _Life, person: SimPerson, t: dt.datetime) -> dt.datetime:
        resolved = life.status(t + MINUTE * self.rng.uniform(1, 5), "Resolved", person.member_id)
        life.resolutions.append((resolved, person))
        return resolved


def play(world: World, h: Header) -> tuple[_Life, Header | None]:
    """Play out a ticket; returns its life and, when the issue will come back, the repeat."""
    if h.kind == "duplicate":
        return _duplicate(world, h), None
    if h.kind == "alert":
        return _alert(world, h), None
    return _service(world, h)


def _service(world: World, h: Header) -> tuple[_Life, Header | None]:
    player, rng = _Player(world, h), h.rng
    life = _Life(h, creator=None)
    life.statuses.append((life.at(h.created_at), "New", None))
    life.boards.append((h.created_at, "Service Desk"))
    life.tiers.append((h.created_at, 1, None))
    owner = player.start(life, h.client.region, h.client.sla)
    h.owner = owner
    assert h.issue is not None
    single = clamp(0.5 + 0.3 * owner.skill + h.issue.ease - (0.1 if h.priority.sort == 1 else 0), 0.25, 0.92)
    resolver, t = player.work(life, owner, h.client.region, single=single, full=True)
    resolved = player.resolve(life, resolver, t)
    reopened = False
    closing = player.close(resolved)
    if rng.random() < 0.012 + 0.05 * (1 - resolver.skill):
        reply = resolved + dt.timedelta(hours=lognormal(rng, 18, 1.1))
        if reply - resolved <= REOPEN_WINDOW:
            if reply > closing:
                life.closures.append((life.status(closing, "Closed", world.workflow_id), world.workflow_id))
            was = life.statuses[-1][1]
            reopen_at = life.status(reply, "Reopened", None)
            life.reopens.append((reopen_at, was))
            t = player.touch(life, resolver, player.wait(resolver, reopen_at, 1.5))
            life.status(life.work[-1][1], "In Progress", resolver.member_id)
            closing = player.close(player.resolve(life, resolver, t))
            reopened = True
    life.closures.append((life.status(closing, "Closed", world.workflow_id), world.workflow_id))
    if h.contact and rng.random() < SURVEY_RESPONSE_RATE:
        late = life.due_resolution is not None and life.resolutions[0][0] > life.due_resolution
        positive = rng.random() < 0.9 + 0.095 * resolver.warmth - (0.25 if reopened else 0) - (0.08 if late else 0)
        score = (5 if rng.random() < 0.75 else 4) if positive else pick(rng, [(3, 0.5), (2, 0.25), (1, 0.25)])
        life.survey = (life.statuses[-1][0] + dt.timedelta(hours=lognormal(rng, 3, 1.2)), score)
    repeat = None
    if rng.random() < 0.02 + 0.06 * (1 - resolver.skill):
        repeat = _repeat(world, h, life.resolutions[0][0])
    return life, repeat


def _repeat(world: World, h: Header, resolved: dt.datetime) -> Header:
    """The same problem at the same client, reported again 1–14 days later."""
    rng = derive(world.seed, "repeat", h.external_id)
    day = world.org.calendar.local_day(resolved + dt.timedelta(days=rng.uniform(1, 14)))
    while not world.org.calendar.is_business_day(day):
        day += dt.timedelta(days=1)
    return Header(
        seq=(3, int(h.external_id)),
        rng=rng,
        created_at=_local(world, day, rng.uniform(8.5 * 60, 16.5 * 60)),
        client=h.client,
        kind="repeat",
        source=pick(rng, [("Email", 0.6), ("Phone", 0.4)]),
        priority=h.priority,
        issue=h.issue,
        contact=h.contact,
        summary=h.summary,
        repeat_of=h.external_id,
    )


def _alert(world: World, h: Header) -> _Life:
    player, rng = _Player(world, h), h.rng
    assert h.alert is not None
    life = _Life(h, creator=world.rmm_id)
    life.statuses.append((life.at(h.created_at), "New", world.rmm_id))
    life.boards.append((h.created_at, "Monitoring"))
    life.tiers.append((h.created_at, 1, None))
    if rng.random() < h.alert.auto_close:
        cleared = life.status(
            h.created_at + dt.timedelta(minutes=lognormal(rng, 25, 1.0)), "Auto Resolved", world.rmm_id
        )
        life.resolutions.append((cleared, None))
        closed = life.status(cleared + MINUTE * rng.uniform(1, 5), "Closed", world.rmm_id)
        life.closures.append((closed, world.rmm_id))
        return life
    owner = player.start(life, h.client.region, "Standard SLA")
    resolver, t = player.work(life, owner, h.client.region, single=0.85, full=False)
    closing = player.close(player.resolve(life, resolver, t))
    life.closures.append((life.status(closing, "Closed", world.workflow_id), world.workflow_id))
    return life


def _duplicate(world: World, h: Header) -> _Life:
    """Merged into the ticket it duplicates by whoever owns that one."""
    assert h.parent is not None
    merger = h.parent.owner.member_id if h.parent.owner else None
    life = _Life(h, creator=None)
    life.statuses.append((life.at(h.created_at), "New", None))
    life.boards.append((h.created_at, "Service Desk"))
    life.tiers.append((h.created_at, 1, None))
    merged = life.status(h.created_at + dt.timedelta(minutes=lognormal(h.rng, 30, 0.8)), "Closed", merger)
    life.closures.append((merged, merger))
    return life


# -- the ticket as seen at "now" -------------------------------------------------------


def _last(items: list[Any], now: dt.datetime) -> Any:
    seen = [item for item in items if item[0] <= now]
    return seen[-1] if seen else None


def _materialise(world: World, life: _Life, now: dt.datetime) -> Story:
    h = life.header
    ticket_id = h.external_id
    board = _last(life.boards, now)[1]
    _, status, _ = _last(life.statuses, now)
    category = BOARDS[board].status(status).category
    resolution = _last(life.resolutions, now) if category != "open" else None
    closure = _last(life.closures, now) if category == "closed" else None
    owner = _last(life.owners, now)
    tier = _last(life.tiers, now)[1]
    first_response = life.first_response if life.first_response and life.first_response <= now else None
    first_resolution = life.resolutions[0][0] if life.resolutions and life.resolutions[0][0] <= now else None

    def met(done: dt.datetime | None, due: dt.datetime | None) -> bool | None:
        if due is None:
            return None
        if done is not None:
            return done <= due
        return False if now > due else None

    entries = []
    for k, (person, start, end, work_type, delay) in enumerate(life.work[:99]):
        entered = whole_seconds(end + delay)
        if entered <= now:
            entries.append(
                time_entry(
                    int(ticket_id) * 100 + k,
                    person,
                    start,
                    end,
                    work_type,
                    entered,
                    billable=h.client.billable_time,
                    ticket_id=ticket_id,
                    client_id=h.client.external_id,
                    notes=f"{work_type}: {h.summary}"[:200],
                )
            )
    events = _events(life, ticket_id, now)
    updated = max([h.created_at, *(e.data["at"] for e in events)])
    assigned = [person.identifier for at, person, _actor in life.owners if at <= now]
    resources = list(dict.fromkeys(assigned + [e.vendor["member_identifier"] for e in entries]))
    data = {
        "external_id": ticket_id,
        "number": ticket_id,
        "summary": h.summary,
        "client_external_id": h.client.external_id,
        "contact_external_id": h.contact["id"] if h.contact else None,
        "board": board,
        "type": h.issue.type if h.issue else "Alert",
        "subtype": h.issue.subtype if h.issue else "Monitoring",
        "item": h.issue.item if h.issue else h.alert.item if h.alert else None,
        "priority": h.priority.name,
        "impact": h.priority.impact,
        "weight": None,
        "source": h.source,
        "status": status,
        "status_category": category,
        "closed": category == "closed",
        "created_at": h.created_at,
        "first_response_at": first_response,
        "resolved_at": resolution[0] if resolution else None,
        "closed_at": closure[0] if closure else None,
        "sla_response_due_at": life.due_response,
        "sla_resolution_due_at": life.due_resolution,
        "sla_response_met": met(first_response, life.due_response),
        "sla_resolution_met": met(first_resolution, life.due_resolution),
        "sla_source": "vendor" if life.sla else None,
        "owner_external_id": owner[1].member_id if owner else None,
        "resolved_by_external_id": resolution[1].member_id if resolution and resolution[1] else None,
        "tier": tier,
        "parent_external_id": h.parent.external_id if h.parent else None,
        "merged": h.kind == "duplicate",
        "is_project": False,
        "configuration_external_id": h.endpoint.external_id if h.endpoint else None,
        "root_cause_documented_at": None,  # the simulated MSP files no Problem tickets to analyse
        "vendor_updated_at": updated,
    }
    vendor = {
        "record_type": "ServiceTicket",
        "sla": life.sla,
        "severity": h.priority.severity,
        "priority_id": h.priority.id,
        "board_id": BOARDS[board].id,
        "source_id": catalog.SOURCES[h.source],
        "resources": resources,
        "created_by": world.identifier_of(life.creator) or h.source,
        "closed_by": world.identifier_of(closure[1]) if closure else None,
        "company_identifier": h.client.identifier,
        "agreement_external_id": world.managed_agreement.get(h.client.external_id),
        "contact_name": f"{h.contact['first_name']} {h.contact['last_name']}" if h.contact else None,
        "repeat_of": h.repeat_of,
        "actual_hours": round(sum(e.data["hours"] for e in entries), 2),
        "escalated_at": life.tiers[1][0] if len(life.tiers) > 1 and life.tiers[1][0] <= now else None,
    }
    survey = None
    if life.survey and life.survey[0] <= now and resolution:
        submitted, score = life.survey
        submitted = whole_seconds(submitted)
        survey = Record(
            "survey",
            {
                "external_id": ticket_id,
                "ticket_external_id": ticket_id,
                "identity_external_id": life.resolutions[-1][1].member_id if life.resolutions[-1][1] else None,
                "score": float(score),
                "scale_min": float(SURVEY["scale"][0]),
                "scale_max": float(SURVEY["scale"][1]),
                "positive": score >= SURVEY["positive_from"],
                "submitted_at": submitted,
                "vendor_updated_at": submitted,
            },
            {
                "survey_id": SURVEY["id"],
                "answers": [{"question_id": SURVEY["question_id"], "answer": score - 1}],
                "total_points": score,
                "contact_external_id": h.contact["id"] if h.contact else None,
                "company_external_id": h.client.external_id,
            },
        )
    return Story(Record("ticket", data, vendor), events, entries, survey)


def _events(life: _Life, ticket_id: str, now: dt.datetime) -> list[Record]:
    """Status changes, (re)assignments, escalations and reopens, as an audit trail gives them."""
    raw: list[tuple[dt.datetime, str, str | None, str | None, str]] = []
    for (_, before, _), (at, after, actor) in zip(life.statuses, life.statuses[1:], strict=False):
        raw.append((at, "status_change", actor, before, after))
    previous = None
    for at, person, actor in life.owners:
        raw.append((at, "reassignment", actor, previous, person.member_id))
        previous = person.member_id
    for (_, before, _), (at, after, actor) in zip(life.tiers, life.tiers[1:], strict=False):
        raw.append((at, "escalation", actor, str(before), str(after)))
    for at, was in life.reopens:
        raw.append((at, "reopen", None, was, "Reopened"))
    return [
        Record(
            "ticket_event",
            {
                "ticket_external_id": ticket_id,
                "kind": kind,
                "at": at,
                "actor_external_id": actor,
                "from_value": before,
                "to_value": after,
                "source": "audit",
            },
        )
        for at, kind, actor, before, after in sorted(raw, key=lambda e: (e[0], e[1]))
        if at <= now
    ]


def stories(world: World) -> Iterator[Story]:
    """Every service and alert ticket of the world, in creation order, as seen at "now"."""
    waiting: dict[dt.date, list[Header]] = defaultdict(list)
    next_id = IDS.first_ticket
    for index, day in enumerate(world.days()):
        headers = day_headers(world, index, day) + waiting.pop(day, [])
        headers.sort(key=lambda h: (h.created_at, h.seq))
        for header in headers:
            header.external_id = str(next_id)
            next_id += 1
        for header in headers:
            life, repeat = play(world, header)
            if repeat is not None and repeat.created_at < world.now:
                waiting[world.org.calendar.local_day(repeat.created_at)].append(repeat)
            yield _materialise(world, life, world.now)


def client_weights(clients: list[SimClient], *, endpoints: bool) -> list[float]:
    """Cumulative weights for picking the client a ticket comes from (bigger clients call more)."""
    cumulative, total = [], 0.0
    for client in clients:
        weight = 3.0 if client.internal else client.users + (5 * client.servers if endpoints else 0)
        if endpoints and client.internal:
            weight = 0.0
        total += weight
        cumulative.append(total)
    return cumulative


def weighted(rng: random.Random, items: list[Any], cumulative: list[float]) -> Any:
    return items[bisect.bisect(cumulative, rng.random() * cumulative[-1])]
