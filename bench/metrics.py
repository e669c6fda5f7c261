"""``python -m bench metrics``: the metric engine against hand-written SQL, one quarter.

What it measures, on SQLite and on PostgreSQL, for the metrics the seed plans use:

* **Podium**: ``MetricEngine.compute(session, tenant, key, grain, quarter)`` — every
  person (grain ``person``) and every team (grain ``team``) in one quarter of the
  simulated world, live: the tenant's context (calendar, scope filters, overrides), the
  definition look-up, the pooled statement (built once per process and cached, as in a
  long-running server), the figures and their data version.
* **The floor**, in the same run on the same database: one hand-written ``text()``
  statement per metric and grain, straight against the canonical tables (and the time
  grid — the tenant's local days and business spans, which Podium writes once per
  tenant and which SQLite could not compute otherwise) giving the same figures. Before
  a figure is timed, the floor's subjects, record counts and values must equal the
  engine's (values within 1e-9), or the benchmark stops: a floor that computes
  something else would make the comparison meaningless.
* **Incremental recompute**: the metrics are tracked (materialised) for the quarter at
  both grains, then one ticket's resolver changes, as a sync would write it, and
  ``podium.metrics.changes.records_changed`` recomputes what that can move — against the
  floor of recomputing the affected figures (every metric that reads tickets, both
  grains, the ticket's quarter) with the hand-written SQL. The floor only computes; the
  engine also finds what the change touched, stores the values and remembers the
  ticket's days. The stored values are then checked against the floor's.

Each timing is a warm-up, then the median of ``--repeat`` runs, engine and floor
alternating so that load from elsewhere on the machine hits both alike. The target
(issue 6) is engine ≤ 1.5× the floor.

Metrics: ``fcr_pct``, ``mttr_business_hours``, ``reopen_rate_pct``,
``sla_response_met_pct``, ``csat_positive_pct``, ``time_entry_timeliness_pct``,
``productive_utilization_pct``, each with its default parameters. Left out: the plans'
``endpoint_integrity_pct`` and the money/project attainment metrics (client-attributed
through responsibility shares, with definitions too intricate to restate faithfully
here). The floor assumes the tenant's default scope filters and no overrides or
exclusion windows, and checks that this is so.

The world is loaded directly (``podium.simulate.loader``) into a database per backend
and preset, reused while the world and the schema stay the same (``bench/_world.py``).
Planner statistics are gathered (``ANALYZE``) after the load and again once the engine
has written the tenant's time grid, as a maintained database has them (autovacuum on
PostgreSQL). Without them SQLite reads every ticket event of the tenant for each ticket
through the ``tenant_id`` index (``reopen_rate_pct`` 200× its floor on the default
world), so a SQLite deployment should ``ANALYZE`` (or ``PRAGMA optimize``) after large syncs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, exists, select, text, update
from sqlalchemy.orm import Session

from bench._world import analyze, loaded_world, runtime
from bench.sync import PG_URL, machine
from podium.metrics.changes import records_changed
from podium.metrics.engine import MetricEngine, Value
from podium.metrics.periods import Period, containing
from podium.metrics.timegrid import settings_of
from podium.models import (
    Identity,
    MetricExclusionWindow,
    MetricOverride,
    MetricScope,
    MetricTracked,
    MetricValue,
    MetricValueRecord,
    Tenant,
    Ticket,
)
from podium.models.base import UTCDateTime
from podium.runtime import Podium
from podium.simulate import PRESETS, preset

GRAINS = ("person", "team")
TOLERANCE = 1e-9
USED_BY = "bench:metrics"

# --- the floor: hand-written SQL ------------------------------------------------------------
#
# Each metric is a ``rows`` CTE chain of (person_id, at, day, num, den) for the records
# anchored in [:range_start, :range_end); ``day`` is the local day when the row knows it
# (else NULL). The grain wraps it into one statement. Dialect differences are the few
# functions below.


@dataclass(frozen=True)
class Dialect:
    name: str

    def epoch(self, value: str) -> str:
        if self.name == "sqlite":
            return f"CAST(strftime('%s', {value}) AS INTEGER)"
        return f"CAST(FLOOR(EXTRACT(EPOCH FROM {value})) AS BIGINT)"

    def least(self, a: str, b: str) -> str:
        """The smaller of two values, NULL only when both are."""
        if self.name == "sqlite":
            return f"MIN(COALESCE({a}, {b}), COALESCE({b}, {a}))"
        return f"LEAST({a}, {b})"


SCOPED = """
scoped AS (
    SELECT t.* FROM tickets t
    WHERE t.tenant_id = :tenant AND NOT t.merged AND t.parent_external_id IS NULL
      AND NOT EXISTS (SELECT 1 FROM clients c WHERE c.id = t.client_id AND c.is_internal)
      AND NOT EXISTS (SELECT 1 FROM mappings m
                      WHERE m.tenant_id = :tenant AND m.kind = 'board' AND m.confirmed
                        AND m.vendor_value = t.board AND m.podium_value = 'alert'
                        AND (m.connection_id IS NULL OR m.connection_id = t.connection_id))
)"""
"""Tickets in the default scope: not merged, not a child, not the MSP's own, not on an alert board."""


def person(identity: str) -> str:
    """The person of an identity column (a linked identity of a real person), as a scalar."""
    return (f"(SELECT i.person_id FROM identities i WHERE i.id = {identity} AND i.tenant_id = :tenant "
            f"AND i.is_person)")


def resolved(d: Dialect) -> str:
    """``resolved``: in-scope tickets first resolved in the range, with their resolver."""
    return SCOPED + f""",
done AS (
    SELECT e.ticket_id, MIN(e.at) AS at FROM ticket_events e
    WHERE e.tenant_id = :tenant AND e.kind = 'status_change'
      AND EXISTS (SELECT 1 FROM mappings m
                  WHERE m.tenant_id = :tenant AND m.kind = 'status' AND m.confirmed
                    AND m.vendor_value = e.to_value AND m.podium_value IN ('resolved', 'closed')
                    AND (m.connection_id IS NULL OR m.connection_id = e.connection_id))
    GROUP BY e.ticket_id
),
firsts AS (
    SELECT t.id, t.created_at, {d.least('COALESCE(t.resolved_at, t.closed_at)', 'done.at')} AS at,
           COALESCE({person('t.resolved_by_identity_id')}, {person('t.owner_identity_id')}) AS person_id
    FROM scoped t LEFT JOIN done ON done.ticket_id = t.id
),
resolved AS (SELECT * FROM firsts WHERE at >= :range_start AND at < :range_end)"""


def reopened_within(d: Dialect, days: int) -> str:
    return (f"EXISTS (SELECT 1 FROM ticket_events e WHERE e.ticket_id = r.id AND e.kind = 'reopen' "
            f"AND {d.epoch('e.at')} <= {d.epoch('r.at')} + {days * 86400})")


def fcr_rows(d: Dialect) -> str:
    return resolved(d) + f""",
entries AS (
    SELECT te.ticket_id, COUNT(*) AS n, MAX(i.person_id) AS person_id
    FROM time_entries te LEFT JOIN identities i ON i.id = te.identity_id AND i.is_person
    WHERE te.tenant_id = :tenant AND NOT te.rejected AND te.ticket_id IN (SELECT id FROM resolved)
    GROUP BY te.ticket_id
),
rows AS (
    SELECT r.person_id, r.at, CAST(NULL AS DATE) AS day,
           CASE WHEN en.n = 1 AND en.person_id = r.person_id
                 AND NOT EXISTS (SELECT 1 FROM ticket_events e WHERE e.ticket_id = r.id
                                 AND e.kind IN ('reassignment', 'escalation'))
                 AND NOT {reopened_within(d, 7)}
                THEN 1.0 ELSE 0.0 END AS num,
           1.0 AS den
    FROM resolved r LEFT JOIN entries en ON en.ticket_id = r.id
)"""


def reopen_rows(d: Dialect) -> str:
    return resolved(d) + f""",
rows AS (
    SELECT r.person_id, r.at, CAST(NULL AS DATE) AS day,
           CASE WHEN {reopened_within(d, 14)} THEN 1.0 ELSE 0.0 END AS num, 1.0 AS den
    FROM resolved r
)"""


def mttr_rows(d: Dialect) -> str:
    def cumulative(instant: str) -> str:
        into = f"{d.epoch(instant)} - s.start_epoch"
        return (f"COALESCE((SELECT s.cumulative + CASE WHEN {into} > s.seconds THEN s.seconds ELSE {into} END "
                f"FROM metric_business_spans s WHERE s.tenant_id = :tenant AND s.starts_at <= {instant} "
                f"ORDER BY s.starts_at DESC LIMIT 1), 0)")

    return resolved(d) + f""",
rows AS (
    SELECT r.person_id, r.at, CAST(NULL AS DATE) AS day,
           CASE WHEN r.at <= r.created_at THEN 0
                ELSE {cumulative('r.at')} - {cumulative('r.created_at')} END AS num,
           1.0 AS den
    FROM resolved r
)"""


def sla_response_rows(d: Dialect) -> str:
    met_flag = ("(t.sla_response_met IS TRUE OR (t.sla_response_met IS NULL AND t.first_response_at IS NOT NULL "
                "AND t.sla_response_due_at IS NOT NULL AND t.first_response_at <= t.sla_response_due_at))")
    return SCOPED + f""",
sla AS (
    SELECT COALESCE({person('t.resolved_by_identity_id')}, {person('t.owner_identity_id')}) AS person_id,
           CASE WHEN {met_flag} THEN COALESCE(t.first_response_at, t.sla_response_due_at)
                ELSE COALESCE(t.sla_response_due_at, t.first_response_at) END AS at,
           CASE WHEN {met_flag} THEN 1.0 ELSE 0.0 END AS num
    FROM scoped t
    WHERE t.sla_response_met IS NOT NULL
       OR (t.sla_response_due_at IS NOT NULL AND (t.first_response_at IS NOT NULL OR t.sla_response_due_at <= :now))
),
rows AS (
    SELECT person_id, at, CAST(NULL AS DATE) AS day, num, 1.0 AS den FROM sla
    WHERE at >= :range_start AND at < :range_end
)"""


def csat_rows(d: Dialect) -> str:
    return SCOPED + f""",
rows AS (
    SELECT CASE WHEN s.identity_id IS NULL
                THEN COALESCE({person('t.resolved_by_identity_id')}, {person('t.owner_identity_id')})
                ELSE {person('s.identity_id')} END AS person_id,
           s.submitted_at AS at, CAST(NULL AS DATE) AS day,
           CASE WHEN s.positive IS TRUE THEN 1.0 WHEN s.positive IS FALSE THEN 0.0
                WHEN CAST(s.score - s.scale_min AS FLOAT) / CAST(s.scale_max - s.scale_min AS FLOAT) >= 0.75
                THEN 1.0 ELSE 0.0 END AS num,
           1.0 AS den
    FROM surveys s LEFT JOIN scoped t ON t.id = s.ticket_id
    WHERE s.tenant_id = :tenant AND (s.ticket_id IS NULL OR t.id IS NOT NULL)
      AND s.submitted_at >= :range_start AND s.submitted_at < :range_end
)"""


def timeliness_rows(d: Dialect) -> str:
    ended = f"COALESCE({d.epoch('te.end_at')}, {d.epoch('te.start_at')} + te.hours * 3600)"
    return f"""
rows AS (
    SELECT {person('te.identity_id')} AS person_id, COALESCE(te.end_at, te.start_at) AS at,
           CAST(NULL AS DATE) AS day,
           CASE WHEN {d.epoch('te.entered_at')} - {ended} <= 3600 THEN 1.0 ELSE 0.0 END AS num, 1.0 AS den
    FROM time_entries te
    WHERE te.tenant_id = :tenant AND NOT te.rejected AND te.entered_at IS NOT NULL
      AND COALESCE(te.end_at, te.start_at) >= :range_start AND COALESCE(te.end_at, te.start_at) < :range_end
)"""


def utilization_rows(d: Dialect) -> str:
    return """
rows AS (
    SELECT """ + person("te.identity_id") + """ AS person_id, te.start_at AS at, CAST(NULL AS DATE) AS day,
           CASE WHEN EXISTS (SELECT 1 FROM mappings m
                             WHERE m.tenant_id = :tenant AND m.kind = 'work_type' AND m.confirmed
                               AND m.vendor_value = te.work_type AND m.podium_value IN ('billable', 'productive')
                               AND (m.connection_id IS NULL OR m.connection_id = te.connection_id))
                THEN te.hours ELSE 0.0 END AS num,
           0.0 AS den
    FROM time_entries te
    WHERE te.tenant_id = :tenant AND NOT te.rejected AND te.start_at >= :range_start AND te.start_at < :range_end
    UNION ALL
    SELECT c.person_id, c.at, c.day, 0.0, CASE WHEN c.hours > 0 THEN c.hours ELSE 0.0 END
    FROM (
        SELECT p.id AS person_id, d.starts_at AS at, d.day,
               COALESCE((SELECT f.value_num FROM person_facts f
                         WHERE f.person_id = p.id AND f.tenant_id = :tenant AND f.kind = 'capacity_hours_week'
                           AND f.valid_from <= d.day AND (f.valid_to IS NULL OR f.valid_to > d.day) LIMIT 1), 40.0)
               * d.capacity_fraction
               - COALESCE((SELECT SUM(a.hours) FROM availability a
                           WHERE a.person_id = p.id AND a.tenant_id = :tenant AND a.day = d.day), 0.0) AS hours
        FROM people p JOIN metric_days d ON d.tenant_id = p.tenant_id
        WHERE p.tenant_id = :tenant AND d.capacity_fraction > 0
          AND d.starts_at >= :range_start AND d.starts_at < :range_end
          AND (p.employed_from IS NULL OR p.employed_from <= d.day)
          AND (p.employed_to IS NULL OR p.employed_to >= d.day)
    ) c
)"""


FLOOR_ROWS: dict[str, Callable[[Dialect], str]] = {
    "fcr_pct": fcr_rows,
    "mttr_business_hours": mttr_rows,
    "reopen_rate_pct": reopen_rows,
    "sla_response_met_pct": sla_response_rows,
    "csat_positive_pct": csat_rows,
    "time_entry_timeliness_pct": timeliness_rows,
    "productive_utilization_pct": utilization_rows,
}
"""Metric → its rows; every metric here runs with its default parameters."""

LOCAL_DAY = ("COALESCE(r.day, (SELECT d.day FROM metric_days d WHERE d.tenant_id = :tenant AND d.starts_at <= r.at "
             "ORDER BY d.starts_at DESC LIMIT 1))")

GRAIN_SQL = {
    "person": """
SELECT r.person_id AS subject, SUM(r.num) AS num, SUM(r.den) AS den, COUNT(*) AS records
FROM rows r WHERE r.person_id IS NOT NULL GROUP BY r.person_id""",
    "team": f""",
placed AS MATERIALIZED (SELECT r.person_id, r.num, r.den, {LOCAL_DAY} AS day FROM rows r WHERE r.person_id IS NOT NULL)
SELECT m.team_id AS subject, SUM(r.num * m.share) AS num, SUM(r.den * m.share) AS den, COUNT(*) AS records
FROM placed r JOIN team_memberships m
  ON m.tenant_id = :tenant AND m.person_id = r.person_id
 AND m.valid_from <= r.day AND (m.valid_to IS NULL OR m.valid_to > r.day)
GROUP BY m.team_id""",
}


def floor_statement(key: str, grain: str, dialect: str) -> Any:
    rows = FLOOR_ROWS[key](Dialect(dialect)).strip()
    body = GRAIN_SQL[grain]
    sql = f"WITH {rows}{body}" if grain == "team" else f"WITH {rows}\n{body}"
    instants = [bindparam(name, type_=UTCDateTime()) for name in ("range_start", "range_end", "now")
                if f":{name}" in sql]
    return text(sql).bindparams(*instants)


Figures = dict[str, tuple[float | None, int]]
"""Subject → (value, records)."""


def floor_figures(session: Session, statement: Any, factor: float, params: dict[str, Any]) -> Figures:
    return {str(row.subject): (factor * float(row.num) / float(row.den) if row.den else None, int(row.records))
            for row in session.execute(statement, params)}


def engine_figures(values: list[Value]) -> Figures:
    return {v.subject: (v.value, v.records) for v in values}


def check(what: str, engine: Figures, floor: Figures) -> None:
    """Stop the benchmark when the floor does not compute the engine's figures."""
    if set(engine) != set(floor):
        raise SystemExit(f"{what}: the floor's subjects differ from the engine's: only engine "
                         f"{sorted(set(engine) - set(floor))}, only floor {sorted(set(floor) - set(engine))}")
    for subject, (value, records) in engine.items():
        other, other_records = floor[subject]
        same = (value is None and other is None) or (
            value is not None and other is not None and math.isclose(value, other, rel_tol=0, abs_tol=TOLERANCE))
        if not same or records != other_records:
            raise SystemExit(f"{what}, subject {subject}: engine {value} ({records} records), "
                             f"floor {other} ({other_records} records)")


# --- measuring ----------------------------------------------------------------------------


@dataclass
class Result:
    metric: str
    grain: str
    subjects: int
    engine_ms: float
    floor_ms: float

    @property
    def ratio(self) -> float:
        return self.engine_ms / self.floor_ms


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    begin = time.perf_counter()
    out = call()
    return (time.perf_counter() - begin) * 1000, out


def alternate(engine: Callable[[], Any], floor: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median ms of ``engine`` and ``floor`` over ``repeat`` alternating runs, after a warm-up each."""
    engine()
    floor()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        times[0].append(timed(engine)[0])
        times[1].append(timed(floor)[0])
    return statistics.median(times[0]), statistics.median(times[1])


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    config = preset(args.preset)
    url, tenant_id, connection_id = loaded_world(backend, "metrics", args.preset, config, args.work, args.pg_url,
                                                 quiet=args.quiet)
    podium = runtime(url, args.work)
    try:
        now = dt.datetime.combine(config.start + dt.timedelta(days=config.days), dt.time(), dt.timezone.utc)
        engine = MetricEngine(podium, clock=lambda: now)
        dialect = podium.db.engine.dialect.name
        with podium.db.session(tenant_id) as session:
            tenant = session.get(Tenant, tenant_id)
            assert tenant is not None
            quarter = containing("quarter", config.start + dt.timedelta(days=config.days // 2), settings_of(tenant))
            assumptions(session, tenant_id)
            start, end = quarter.utc_bounds(tenant.time_zone)
            # The time grid is written on first use; the planner's statistics are then
            # refreshed, as autovacuum would in a running deployment (not timed).
            engine.compute(session, tenant_id, "hours_worked", "person", quarter)
        analyze(url)
        params = {"tenant": tenant_id, "range_start": start, "range_end": end, "now": now}
        results = [measure(podium, engine, tenant_id, key, grain, quarter, dialect, params, args.repeat)
                   for key in FLOOR_ROWS for grain in GRAINS]
        incremental = measure_incremental(podium, engine, tenant_id, connection_id, quarter, dialect, params,
                                          args.repeat)
    finally:
        podium.db.dispose()
    return {"quarter": str(quarter), "results": [asdict(r) for r in results], "incremental": incremental}


def assumptions(session: Session, tenant_id: int) -> None:
    """The floor hard-codes the default scope and knows no overrides or exclusion windows."""
    for model, what in ((MetricScope, "scope filters"), (MetricOverride, "overrides"),
                        (MetricExclusionWindow, "exclusion windows")):
        if session.scalar(select(exists().where(model.tenant_id == tenant_id))):
            raise SystemExit(f"the benchmark tenant has {what}; the floor assumes none (load the world afresh)")


def measure(podium: Podium, engine: MetricEngine, tenant_id: int, key: str, grain: str, quarter: Period,
            dialect: str, params: dict[str, Any], repeat: int) -> Result:
    statement = floor_statement(key, grain, dialect)
    factor = engine.metric(key).factor
    with podium.db.session(tenant_id) as session:
        def run_engine() -> list[Value]:
            return engine.compute(session, tenant_id, key, grain, quarter)

        def run_floor() -> Figures:
            return floor_figures(session, statement, factor, params)

        computed = engine_figures(run_engine())  # also writes the time grid the floor reads
        check(f"{key} by {grain}", computed, run_floor())
        engine_ms, floor_ms = alternate(run_engine, run_floor, repeat)
    return Result(key, grain, len(computed), engine_ms, floor_ms)


def measure_incremental(podium: Podium, engine: MetricEngine, tenant_id: int, connection_id: int, quarter: Period,
                        dialect: str, params: dict[str, Any], repeat: int) -> dict[str, Any]:
    """Track every metric for the quarter, then time ``records_changed`` after one ticket's
    resolver changes (back and forth) against the floor recomputing what it can move."""
    with podium.db.session(tenant_id) as session:
        untrack(session, tenant_id)
        track_ms = timed(lambda: [engine.track(session, tenant_id, key, grain, "quarter", USED_BY, quarter.start)
                                  for key in FLOOR_ROWS for grain in GRAINS])[0]
        ticket_id, external_id, original, other = pick_ticket(session, tenant_id, quarter)
    affected = [(key, grain) for key in FLOOR_ROWS if "ticket" in engine.metric(key).requires for grain in GRAINS]
    statements = {pair: (floor_statement(*pair, dialect), engine.metric(pair[0]).factor) for pair in affected}

    def set_resolver(identity_id: int) -> None:
        with podium.db.session(tenant_id) as session:
            session.execute(update(Ticket).where(Ticket.id == ticket_id).values(resolved_by_identity_id=identity_id))

    def run_floor() -> dict[tuple[str, str], Figures]:
        with podium.db.session(tenant_id) as session:
            return {pair: floor_figures(session, statement, factor, params)
                    for pair, (statement, factor) in statements.items()}

    engine_ms, floor_ms, changed = [], [], 0
    try:
        for run in range(repeat + 1):  # the first is the warm-up
            set_resolver(other if run % 2 == 0 else original)
            spent, values = timed(lambda: records_changed(podium, tenant_id, connection_id, "ticket", [external_id],
                                                          engine=engine))
            floor_spent, figures = timed(run_floor)
            with podium.db.session(tenant_id) as session:
                for (key, grain), floor in figures.items():
                    check(f"incremental {key} by {grain}",
                          engine_figures(engine.values(session, tenant_id, key, grain, quarter)), floor)
            if run:
                engine_ms.append(spent)
                floor_ms.append(floor_spent)
                changed = len(values)
    finally:
        set_resolver(original)
        records_changed(podium, tenant_id, connection_id, "ticket", [external_id], engine=engine)
        with podium.db.session(tenant_id) as session:
            untrack(session, tenant_id)
    return {"track_ms": track_ms, "engine_ms": statistics.median(engine_ms), "floor_ms": statistics.median(floor_ms),
            "figures_recomputed": len(affected), "values_changed": changed}


def untrack(session: Session, tenant_id: int) -> None:
    """Forget what an earlier run materialised (the cached world stays as loaded)."""
    values = select(MetricValue.id).where(MetricValue.tenant_id == tenant_id)
    session.execute(delete(MetricValueRecord).where(MetricValueRecord.value_id.in_(values)))
    session.execute(delete(MetricValue).where(MetricValue.tenant_id == tenant_id))
    session.execute(delete(MetricTracked).where(MetricTracked.tenant_id == tenant_id))


def pick_ticket(session: Session, tenant_id: int, quarter: Period) -> tuple[int, str, int, int]:
    """A ticket resolved mid-quarter by a person, and another person's identity to credit instead
    (mid-quarter, so its windows stay inside the quarter, as most changes do)."""
    middle = dt.datetime.combine(quarter.start + (quarter.end - quarter.start) / 2, dt.time(), dt.timezone.utc)
    late = dt.datetime.combine(quarter.end - dt.timedelta(days=10), dt.time(), dt.timezone.utc)
    people = select(Identity.id).where(Identity.tenant_id == tenant_id, Identity.is_person.is_(True),
                                       Identity.person_id.is_not(None))
    ticket = session.execute(
        select(Ticket.id, Ticket.external_id, Ticket.resolved_by_identity_id)
        .where(Ticket.tenant_id == tenant_id, Ticket.created_at >= middle, Ticket.closed_at < late,
               Ticket.resolved_by_identity_id.in_(people), Ticket.board == "Service Desk")
        .order_by(Ticket.created_at, Ticket.id).limit(1)
    ).one()
    other = session.scalar(people.where(Identity.id != ticket.resolved_by_identity_id).order_by(Identity.id).limit(1))
    assert other is not None
    return ticket.id, ticket.external_id, ticket.resolved_by_identity_id, other


# --- output -------------------------------------------------------------------------------


def print_table(backend: str, preset_name: str, report: dict[str, Any], repeat: int) -> None:
    """Markdown, so it can go into the README as it is."""
    print(f"\n`{preset_name}` world on {backend}, {report['quarter']}, median of {repeat}\n")
    print("| metric | grain | subjects | engine ms | floor ms | engine ÷ floor |")
    print("|---|---|---:|---:|---:|---:|")
    for r in report["results"]:
        print(f"| {r['metric']} | {r['grain']} | {r['subjects']} | {r['engine_ms']:.1f} | {r['floor_ms']:.1f} "
              f"| {r['engine_ms'] / r['floor_ms']:.2f}× |")
    total_engine = sum(r["engine_ms"] for r in report["results"])
    total_floor = sum(r["floor_ms"] for r in report["results"])
    print(f"| **total** | | | {total_engine:.1f} | {total_floor:.1f} | {total_engine / total_floor:.2f}× |")
    inc = report["incremental"]
    print(f"| incremental: one ticket's resolver changed ({inc['figures_recomputed']} figures) | | "
          f"{inc['values_changed']} changed | {inc['engine_ms']:.1f} | {inc['floor_ms']:.1f} "
          f"| {inc['engine_ms'] / inc['floor_ms']:.2f}× |")
    print(f"\n(tracking the {len(report['results'])} figures for the quarter took {inc['track_ms']:.0f} ms)")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench metrics", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=list(PRESETS), default="default")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--pg-url", default=PG_URL, help="PostgreSQL server (the database bench_metrics_<preset> "
                                                         "is created there and kept)")
    parser.add_argument("--work", type=Path, default=Path("instance/bench"), help="folder for the databases")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (after one warm-up)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat: at least 1")
    args.work.mkdir(parents=True, exist_ok=True)
    backends = ("postgres", "sqlite") if args.db == "both" else (args.db,)
    report: dict[str, Any] = {"preset": args.preset, "world": repr(preset(args.preset)), "repeat": args.repeat,
                              "machine": machine(args.pg_url), "results": {}}
    for backend in backends:
        report["results"][backend] = run_backend(backend, args)
        print_table(backend, args.preset, report["results"][backend], args.repeat)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))
    print(f"machine: {report['machine']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
