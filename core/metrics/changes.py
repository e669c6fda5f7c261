"""Incremental recompute: which tracked values a synced change can move, and only those.

After a sync batch (``podium_records_changed``) every (grain, period) inside the changed
records' windows is recomputed — and nothing else, so a busy tenant's metrics stay live
without recomputing history. A record's window is the days it touches now and the days
it touched when last seen (:mod:`podium.metrics.spans`), widened by each metric's
look-back/look-ahead (a reopen moves the reopen rate of resolutions up to 14 days
earlier). Besides the entities with spans:

* a ticket event or an endpoint status names its day in its key (they have no vendor
  id), and a ticket event also touches its ticket's days;
* a time entry or survey also touches its ticket's days (FCR counts time on the ticket);
* identities and clients touch everything (attribution and scope change everywhere).

Only metrics that read the changed entity (``Metric.requires``) are recomputed. The
result equals a full recompute (a property test asserts it). Changed values are
published to the pods (:func:`publish`, through :mod:`podium.live`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from podium import live
from podium.metrics import sla_clock
from podium.metrics.base import Metric
from podium.metrics.engine import Context, MetricEngine, Value
from podium.metrics.periods import Period, containing, overlapping
from podium.metrics.spans import OPEN_END, chunks, current, remember, remember_tickets, remembered, span_select
from podium.models import MetricDefinition, MetricExclusionWindow, MetricOverride, MetricTracked, utcnow
from podium.runtime import Podium

EVERYWHERE = frozenset({"identity", "client"})
"""Entities whose change can move any value (attribution, scope)."""


# --- what a change touched ------------------------------------------------------------


@dataclass
class Touched:
    """Days a change touched: inclusive (first, last) UTC-day ranges, or everything."""

    ranges: list[tuple[dt.date, dt.date]] = field(default_factory=list)
    everything: bool = False
    tickets: set[int] = field(default_factory=set)
    """Parent tickets of changed events, time entries and surveys (their spans grow with them)."""

    def add(self, first: Any, last: Any) -> None:
        if first is None or last is None:
            return
        self.ranges.append((_as_date(first), _as_date(last)))


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _add_tickets(session: Session, tenant_id: int, touched: Touched, ticket_ids: set[int]) -> None:
    touched.tickets |= ticket_ids
    for chunk in chunks(sorted(ticket_ids)):
        for row in [*remembered(session, tenant_id, "ticket", record_id=chunk),
                    *current(session, tenant_id, "ticket", record_id=chunk)]:
            touched.add(row.first_day, row.last_day)


def touched_days(
    session: Session, tenant_id: int, connection_id: int, entity: str, keys: Sequence[str]
) -> Touched:
    """The days the records ``keys`` of ``entity`` touch now or touched when last seen."""
    touched = Touched()
    if entity in EVERYWHERE:
        touched.everything = True
        return touched
    if entity in ("ticket_event", "endpoint_status"):
        parents: list[str] = []
        for key in keys:
            parts = key.split("|", 3 if entity == "ticket_event" else 1)
            try:
                day = _as_date(dt.datetime.fromisoformat(parts[2]) if entity == "ticket_event" else parts[1])
            except (IndexError, ValueError):
                touched.everything = True  # a key we cannot read (truncated): be safe
                return touched
            touched.add(day, day)
            parents.append(parts[0])
        if entity == "ticket_event":
            tickets: set[int] = set()
            for chunk in chunks(parents):
                tickets |= {r.record_id for r in remembered(session, tenant_id, "ticket",
                                                            connection_id=connection_id, external_id=chunk)}
                tickets |= {r.record_id for r in current(session, tenant_id, "ticket",
                                                         connection_id=connection_id, external_id=chunk)}
            _add_tickets(session, tenant_id, touched, tickets)
        return touched
    if span_select(entity) is None:
        touched.everything = True  # an entity Podium does not know how to place in time
        return touched
    tickets = set()
    for chunk in chunks(list(keys)):
        for row in [*remembered(session, tenant_id, entity, connection_id=connection_id, external_id=chunk),
                    *current(session, tenant_id, entity, connection_id=connection_id, external_id=chunk)]:
            touched.add(row.first_day, row.last_day)
            if row.ticket_id is not None and entity != "ticket":
                tickets.add(row.ticket_id)
    _add_tickets(session, tenant_id, touched, tickets)
    return touched


# --- recompute --------------------------------------------------------------------------


def affected_periods(entry: MetricTracked, metric: Metric, touched: Touched, ctx: Context) -> list[list[Period]]:
    """Runs of consecutive periods of ``entry`` the change can have moved."""
    current_end = containing(entry.period_kind, ctx.today, ctx.settings).end
    if touched.everything:
        bounds = [(entry.since, current_end)]
    else:
        back, ahead = metric.window()
        # One extra day each side: spans are UTC days, periods local ones.
        bounds = [
            (first - dt.timedelta(days=math.ceil(back.total_seconds() / 86400) + 1),
             min(last, current_end) + dt.timedelta(days=math.ceil(ahead.total_seconds() / 86400) + 2))
            for first, last in touched.ranges
        ]
    # Tracking starts with the whole period containing ``since`` (as a full refresh does).
    first = containing(entry.period_kind, entry.since, ctx.settings).start
    periods: set[Period] = set()
    for start, end in bounds:
        start, end = max(start, first), min(end, current_end)
        if start < end:
            periods.update(overlapping(entry.period_kind, start, end, ctx.settings))
    runs: list[list[Period]] = []
    for period in sorted(periods):
        if runs and runs[-1][-1].end == period.start:
            runs[-1].append(period)
        else:
            runs.append([period])
    return runs


def recompute(
    engine: MetricEngine, session: Session, tenant_id: int, touched: Touched, entity: str | None = None
) -> list[Value]:
    """Recompute the tracked periods ``touched`` can move, for the metrics that read
    ``entity`` (None: every metric); returns the values that changed."""
    tracked = engine.tracked(session, tenant_id)
    if not tracked:
        return []
    ctx = engine.context(session, tenant_id)
    changed: list[Value] = []
    for entry in tracked:
        definition = session.get(MetricDefinition, entry.definition_id)
        assert definition is not None
        metric = engine.metric(definition.metric_key, definition.params)
        if entity is not None and entity not in EVERYWHERE and entity not in metric.requires:
            continue
        for run in affected_periods(entry, metric, touched, ctx):
            changed += engine.refresh_isolated(session, ctx, entry, run)
    return changed


def records_changed(
    podium: Podium, tenant_id: int, connection_id: int, entity: str, external_ids: Sequence[str],
    engine: MetricEngine | None = None,
) -> list[Value]:
    """Recompute what a synced change of ``external_ids`` of ``entity`` can move; returns
    the values that changed (also published to the pods, see :func:`publish`)."""
    engine = engine or MetricEngine(podium)
    keys = list(dict.fromkeys(str(key) for key in external_ids))
    with podium.db.session(tenant_id) as session:
        if not engine.tracked(session, tenant_id):
            return []
        touched = touched_days(session, tenant_id, connection_id, entity, keys)
        changed = recompute(engine, session, tenant_id, touched, entity)
        remember(session, tenant_id, connection_id, entity, keys)
        remember_tickets(session, tenant_id, touched.tickets)
    publish(podium, tenant_id, changed)
    return changed


def refresh_tenant(podium: Podium, tenant_id: int, engine: MetricEngine | None = None) -> list[Value]:
    """Recompute every SLA clock and every open tracked value of a tenant; returns (and
    publishes) the values that changed.

    What the ``refresh_metrics`` job and ``podium metrics refresh`` run. Each tracked entry
    is stamped with the instant the refresh started (``refreshed_at``): the scheduler reads
    it to know when the next periodic refresh is due.
    """
    started = engine.clock() if engine is not None else utcnow()
    engine = engine or MetricEngine(podium, clock=lambda: started)
    with podium.db.session(tenant_id) as session:
        moved = sla_clock.update_clocks(session, tenant_id, now=started)
        tracked = engine.tracked(session, tenant_id)
        changed = engine.refresh(session, tenant_id, tracked)
        if tracked:
            remember_tickets(session, tenant_id, moved)  # a later recompute must see the new due days
        for entry in tracked:
            entry.refreshed_at = started
    publish(podium, tenant_id, changed)
    return changed


def override_changed(engine: MetricEngine, session: Session, tenant_id: int, override: MetricOverride) -> list[Value]:
    """Recompute what creating or revoking ``override`` moved: the periods its record counts in.

    Call it in the transaction that changed the override; publish the result after the commit.
    """
    touched = Touched()
    for row in current(session, tenant_id, override.record_type, record_id=[override.record_id]):
        touched.add(row.first_day, row.last_day)
        if row.ticket_id is not None and override.record_type != "ticket":
            _add_tickets(session, tenant_id, touched, {row.ticket_id})
    return recompute(engine, session, tenant_id, touched)


def window_changed(
    engine: MetricEngine, session: Session, tenant_id: int, window: MetricExclusionWindow
) -> list[Value]:
    """Recompute what creating or revoking ``window`` moved: its tickets resolve, breach
    and are credited from its start on, so every tracked period from then is recomputed."""
    touched = Touched()
    touched.add(window.starts_at.date() - dt.timedelta(days=1), OPEN_END)
    return recompute(engine, session, tenant_id, touched)


def publish(podium: Podium, tenant_id: int, changed: Sequence[Value]) -> None:
    """Tell open pods which figures changed (:mod:`podium.live`; no figures in the events).

    A changed person figure reaches that person (and the people who may see others); a
    changed team, role, client or company figure is a tenant-wide event naming the metrics.
    """
    people = {int(v.subject) for v in changed if v.grain == "person"}
    if people:
        live.metrics_changed(podium, tenant_id, people)
    others = sorted({v.metric_key for v in changed if v.grain != "person"})
    if others:
        live.publish(podium, live.LiveEvent("metrics", tenant_id, data={"metrics": others}))
