"""Incremental recompute: the ``podium_records_changed`` hook, and properties that hold
after random edits — incremental equals full recompute, rates stay within 0–100 %, and a
team's figure pools its members' records."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from podium import dbqueue, live
from podium.db import Database
from podium.metrics import changes
from podium.metrics.engine import MetricEngine
from podium.metrics.overrides import create_exclusion_window, create_override, revoke
from podium.metrics.periods import Period
from podium.models import (
    DbJob,
    Endpoint,
    EndpointStatus,
    Identity,
    MetricValue,
    Survey,
    Ticket,
    TicketEvent,
    TimeEntry,
)
from podium.runtime import Podium
from podium.sync import record_key
from tests.metrics.world import World, ny, ticket

MARCH_1 = dt.date(2024, 3, 1)


def track_all(engine: MetricEngine, db: Database, world: World, tracked: list[tuple[str, str, str]]) -> None:
    with db.session(world.tenant_id) as session:
        for key, grain, kind in tracked:
            engine.track(session, world.tenant_id, key, grain, kind, "plan:test", MARCH_1)


def snapshot(db: Database, world: World) -> list[tuple[Any, ...]]:
    with db.session(world.tenant_id) as session:
        return [tuple(row) for row in session.execute(
            select(MetricValue.metric_key, MetricValue.version, MetricValue.grain, MetricValue.subject,
                   MetricValue.period_kind, MetricValue.period_start, MetricValue.numerator,
                   MetricValue.denominator, MetricValue.value, MetricValue.records)
            .order_by(MetricValue.metric_key, MetricValue.grain, MetricValue.period_kind, MetricValue.period_start,
                      MetricValue.subject))]


def external_id(session: Session, model: Any, row_id: int) -> str:
    return session.scalar(select(model.external_id).where(model.id == row_id))


# -- the hook ---------------------------------------------------------------------------------


def test_hook_podium_records_changed_queues_a_recompute(runtime: Podium, db: Database, world: World) -> None:
    engine = MetricEngine(runtime)
    march = Period("month", MARCH_1, dt.date(2024, 4, 1))
    # Nothing tracked yet: a change queues nothing.
    runtime.plugins.call_each("podium_records_changed", podium=runtime, tenant_id=world.tenant_id,
                              connection_id=world.connection_id, entity="ticket", external_ids=["x1"])
    with db.session() as session:
        assert session.scalars(select(DbJob)).all() == []
    track_all(engine, db, world, [("sla_response_met_pct", "person", "month")])
    with db.session(world.tenant_id) as session:
        session.execute(update(Ticket).where(Ticket.id == world["T9"]).values(first_response_at=ny(3, 27, 9, 45)))
        key = external_id(session, Ticket, world["T9"])
    errors = runtime.plugins.call_each("podium_records_changed", podium=runtime, tenant_id=world.tenant_id,
                                       connection_id=world.connection_id, entity="ticket", external_ids=[key])
    assert errors == []
    with db.session() as session:
        [job] = session.scalars(select(DbJob)).all()
    assert (job.func, job.queue, job.kwargs["external_ids"]) == ("recompute_metrics", "metrics", [key])
    with db.session(world.tenant_id) as session:
        before = engine.values(session, world.tenant_id, "sla_response_met_pct", "person", march)
    assert [(v.subject, v.numerator, v.denominator) for v in before] == [("1", 3, 4), ("2", 1, 2)]
    claimed = dbqueue.claim(runtime, ["metrics"])
    assert claimed is not None and dbqueue.run_claimed(runtime, claimed)
    with db.session(world.tenant_id) as session:
        after = engine.values(session, world.tenant_id, "sla_response_met_pct", "person", march)
    assert [(v.subject, v.numerator, v.denominator) for v in after] == [("1", 4, 4), ("2", 1, 2)]


def test_changes_recompute_only_the_affected_periods(engine: MetricEngine, db: Database, world: World) -> None:
    track_all(engine, db, world, [("time_entry_timeliness_pct", "person", "week")])
    with db.session(world.tenant_id) as session:
        session.execute(update(TimeEntry).where(TimeEntry.id == world["e2"]).values(entered_at=ny(3, 12, 10, 30)))
        key = external_id(session, TimeEntry, world["e2"])
    ana = live.broker(engine.podium).subscribe([live.person_channel(world.tenant_id, world["ana"])])
    ben = live.broker(engine.podium).subscribe([live.person_channel(world.tenant_id, world["ben"])])
    try:
        changed = changes.records_changed(engine.podium, world.tenant_id, world.connection_id, "time_entry",
                                          [key], engine)
        # Only Ana's figure of the week of 03-11 moved (e2 is now on time: 4 of 4) …
        assert [(v.subject, str(v.period), v.numerator, v.denominator) for v in changed] == [
            ("1", "week:2024-03-11", 4, 4)]
        # … and only Ana's open pods hear of it (an event without figures).
        assert ana.get(timeout=1) == live.LiveEvent("metrics", world.tenant_id, world["ana"])
        assert ben.get(timeout=0) is None
    finally:
        ana.close()
        ben.close()


# -- properties after random edits ---------------------------------------------------------------

TRACKED = [
    ("fcr_pct", "person", "month"),
    ("reopen_rate_pct", "team", "month"),
    ("mttr_business_hours", "team", "month"),
    ("csat_positive_pct", "person", "week"),
    ("productive_utilization_pct", "person", "month"),
    ("endpoint_integrity_pct", "person", "month"),
    ("time_entry_timeliness_pct", "company", "month"),
]
RATES = {"fcr_pct", "reopen_rate_pct", "csat_positive_pct", "endpoint_integrity_pct", "time_entry_timeliness_pct"}
"""Metrics whose figures are shares of their records (utilisation can pass 100 % with overtime)."""

OPS = ("redate_entry", "delete_entry", "resolver", "move_resolution", "delete_ticket", "reopen", "delete_event",
       "survey", "new_ticket", "endpoint_status")

Change = tuple[str, list[str]]


def pick(session: Session, model: Any, index: int) -> Any:
    rows = session.scalars(select(model).order_by(model.id)).all()
    return rows[index % len(rows)] if rows else None


def apply(session: Session, world: World, op: str, index: int, shift: int) -> Change | None:
    """Edit the canonical store as a sync would, and say what the hook would be told."""
    days = dt.timedelta(days=shift)
    if op in ("redate_entry", "delete_entry"):
        entry = pick(session, TimeEntry, index)
        if entry is None:
            return None
        key = entry.external_id
        if op == "delete_entry":
            session.delete(entry)
        else:
            entry.start_at, entry.end_at = entry.start_at + days, entry.end_at + days
            entry.entered_at = None if entry.entered_at is None else entry.entered_at + days
        return "time_entry", [key]
    if op in ("resolver", "move_resolution", "delete_ticket"):
        found = pick(session, Ticket, index)
        if found is None:
            return None
        key = found.external_id
        if op == "delete_ticket":
            session.delete(found)
        elif op == "resolver":
            people = session.scalars(select(Identity.id).order_by(Identity.id)).all()
            found.resolved_by_identity_id = [None, *people][abs(shift) % (len(people) + 1)]
        elif found.resolved_at is not None:
            found.resolved_at = found.resolved_at + days
        return "ticket", [key]
    if op == "reopen":
        found = pick(session, Ticket, index)
        if found is None or found.resolved_at is None:
            return None
        at = found.resolved_at + dt.timedelta(days=abs(shift), hours=1)
        if session.scalar(select(TicketEvent.id).where(TicketEvent.ticket_id == found.id, TicketEvent.at == at)):
            return None  # a sync upserts the same event idempotently: nothing changes
        session.add(TicketEvent(tenant_id=world.tenant_id, connection_id=world.connection_id, ticket_id=found.id,
                                kind="reopen", at=at, to_value="In Progress", source="audit"))
        return "ticket_event", [record_key("ticket_event", {"ticket_external_id": found.external_id,
                                                            "kind": "reopen", "at": at, "to_value": "In Progress"})]
    if op == "delete_event":
        event = pick(session, TicketEvent, index)
        if event is None:
            return None
        parent = session.get(Ticket, event.ticket_id)
        key = record_key("ticket_event", {"ticket_external_id": parent.external_id, "kind": event.kind,
                                          "at": event.at, "to_value": event.to_value})
        session.delete(event)
        return "ticket_event", [key]
    if op == "survey":
        survey = pick(session, Survey, index)
        if survey is None:
            return None
        survey.submitted_at = survey.submitted_at + days
        survey.score = survey.scale_min if shift % 2 else survey.scale_max
        return "survey", [survey.external_id]
    if op == "new_ticket":
        day = 1 + abs(shift) % 28
        made = ticket(session, world, f"N{world.counter}", created_at=ny(3, day, 9), resolved_at=ny(3, day, 15),
                      resolved_by_identity_id=world["ben_id"] if shift % 2 else world["ana_id"])
        return "ticket", [made.external_id]
    status = pick(session, EndpointStatus, index)
    status.backup_ok = not status.backup_ok if status.backup_ok is not None else True
    endpoint = session.get(Endpoint, status.endpoint_id)
    return "endpoint_status", [record_key("endpoint_status", {"endpoint_external_id": endpoint.external_id,
                                                              "day": status.day})]


edits = st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 50), st.integers(-20, 20)), min_size=1, max_size=4)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=edits)
def test_incremental_recompute_equals_full_recompute(engine: MetricEngine, db: Database, world: World,
                                                     edits: list[tuple[str, int, int]]) -> None:
    if not snapshot(db, world):
        track_all(engine, db, world, TRACKED)
    for op, index, shift in edits:
        with db.session(world.tenant_id) as session:
            change = apply(session, world, op, index, shift)
        if change is not None:
            changes.records_changed(engine.podium, world.tenant_id, world.connection_id, *change, engine)
    incremental = snapshot(db, world)
    with db.session(world.tenant_id) as session:
        engine.refresh(session, world.tenant_id)
    full = snapshot(db, world)
    assert incremental == full, sorted(set(incremental) ^ set(full))
    for key, *_rest, value, _records in incremental:
        if key in RATES and value is not None:
            assert 0 <= value <= 100, (key, value)
    # A team pools its members' records: over days when both are Help Desk members
    # (Ben from 03-16), the team's sums are the sums of Ana's and Ben's.
    both = Period("custom", dt.date(2024, 3, 16), dt.date(2024, 5, 1))
    with db.session(world.tenant_id) as session:
        for key in ("fcr_pct", "csat_positive_pct", "productive_utilization_pct"):
            team = {v.subject: v for v in engine.compute(session, world.tenant_id, key, "team", both)}
            people = engine.compute(session, world.tenant_id, key, "person", both)
            pooled = (sum(v.numerator for v in people), sum(v.denominator for v in people))
            helpdesk = team.get(str(world["helpdesk"]))
            pooled_by_team = (helpdesk.numerator, helpdesk.denominator) if helpdesk else (0, 0)
            assert pooled_by_team == pytest.approx(pooled, abs=1e-6), key


def test_deleting_a_record_recomputes_where_it_used_to_count(engine: MetricEngine, db: Database,
                                                             world: World) -> None:
    track_all(engine, db, world, [("productive_utilization_pct", "person", "month")])
    with db.session(world.tenant_id) as session:
        key = external_id(session, TimeEntry, world["e7"])
        session.execute(delete(TimeEntry).where(TimeEntry.id == world["e7"]))
    changed = changes.records_changed(engine.podium, world.tenant_id, world.connection_id, "time_entry", [key],
                                      engine)
    assert [(v.subject, v.numerator, v.denominator) for v in changed] == [("1", 6.0, 150.0)]


def test_overrides_and_windows_recompute_tracked_values(engine: MetricEngine, db: Database, world: World) -> None:
    track_all(engine, db, world, [("fcr_pct", "person", "month"), ("mttr_business_hours", "person", "week")])
    with db.session(world.tenant_id) as session:
        override = create_override(session, world.tenant_id, "manager@acme.test", record_type="ticket",
                                   record_id=world["T2"], action="reattribute", person_id=world["ben"],
                                   metric_key="fcr_pct", reason="Ben did the work")
        changed = changes.override_changed(engine, session, world.tenant_id, override)
    # T2 (not a first-contact fix) moves from Ana's March to Ben's; MTTR is not affected.
    assert [(v.metric_key, v.subject, str(v.period), v.numerator, v.denominator) for v in changed] == [
        ("fcr_pct", "1", "month:2024-03-01", 1, 2), ("fcr_pct", "2", "month:2024-03-01", 1, 4)]
    with db.session(world.tenant_id) as session:
        window = create_exclusion_window(session, world.tenant_id, "manager@acme.test", starts_at=ny(3, 8),
                                         ends_at=ny(3, 9), reason="RMM outage")
        changed = changes.window_changed(engine, session, world.tenant_id, window)
        # T1 (created 03-08) leaves Ana's MTTR of the week of 03-11; FCR has no windows.
        assert [(v.metric_key, v.subject, str(v.period), v.records) for v in changed] == [
            ("mttr_business_hours", "1", "week:2024-03-11", 1)]
        revoke(session, world.tenant_id, "manager@acme.test", window, "the outage did not affect tickets")
        changed = changes.window_changed(engine, session, world.tenant_id, window)
    assert [(v.subject, v.records) for v in changed] == [("1", 2)]
