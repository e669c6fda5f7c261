"""Approving and closing pay periods, adjustments, and restatement reports.

The process (issue 7, design §7):

1. A period can be **approved** (by a manager or an admin) only once it is over *and*
   the plan's settling days have passed — the reopen window and the late-entry tail —
   and only if every rule evaluated without error.
2. An admin **closes** an approved period. Closing freezes the metric values inside it
   (the metric engine keeps their drill-down from then on) and writes an immutable
   snapshot: the plan version, every metric reading (value, numerator, denominator,
   definition version, record ids), the participants, every line, and the vendor links
   of the records, so a statement of a closed period is rendered from the snapshot alone
   and never changes, whatever syncs later.
3. A closed period is never reopened. A correction is an :class:`Adjustment` in an open
   period, with an author, a reason and a link to what it corrects.
4. A **restatement report** recomputes a closed period from the data as it is now and
   lists every line later data would have changed — information, never a change.

Every step is audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

from podium.audit import record
from podium.metrics.periods import Period
from podium.models import (
    Adjustment,
    PayoutPeriod,
    PayoutSnapshot,
    Person,
    Plan,
    SnapshotLine,
    Tenant,
    User,
    utcnow,
)
from podium.payouts.base import line_from_dict
from podium.payouts.engine import (
    Evaluation,
    LineChange,
    PayoutEngine,
    PayoutError,
    diff,
    tenant_today,
)
from podium.payouts.links import record_links
from podium.payouts.periods import PayPeriod, containing
from podium.payouts.readings import EngineMetricReader, MetricReading
from sqlalchemy import select
from sqlalchemy.orm import Session

Actor = User | str


def _label(actor: Actor) -> str:
    return actor.email if isinstance(actor, User) else actor


def canonical_json(value: Any) -> str:
    """The one JSON form snapshots are hashed and compared in."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def period_summary(row: PayoutPeriod) -> dict[str, Any]:
    return {"plan_id": row.plan_id, "label": row.label, "start": row.starts_on, "end": row.ends_on,
            "status": row.status, "approved_by": row.approved_by, "closed_by": row.closed_by}


def approvable_from(engine: PayoutEngine, session: Session, plan: Plan, period: PayPeriod) -> dt.date:
    """The first day the period may be approved: its end plus the plan's settling days."""
    definition = engine.definition(engine.version_for(session, plan, period.start))
    return period.end + dt.timedelta(days=definition.settling_days)


def approve(session: Session, engine: PayoutEngine, plan: Plan, period: PayPeriod, actor: Actor,
            today: dt.date | None = None) -> PayoutPeriod:
    """Approve a finished, settled period whose rules all evaluate (manager or admin)."""
    tenant = session.get(Tenant, plan.tenant_id)
    assert tenant is not None
    today = today or tenant_today(tenant)
    row = engine.period_row(session, plan, period)
    if row.status != "open":
        raise PayoutError(f"period: {period.label} is already {row.status}")
    earliest = approvable_from(engine, session, plan, period)
    if today < earliest:
        raise PayoutError(f"period: {period.label} can be approved from {earliest.isoformat()} (its end plus the "
                          "plan's settling days, when late entries and reopens have settled)")
    evaluation = engine.evaluate(session, plan, period)
    if evaluation.errors:
        raise PayoutError("period: rules failed, fix them before approving: " + "; ".join(evaluation.errors))
    before = period_summary(row)
    row.status, row.approved_at, row.approved_by = "approved", utcnow(), _label(actor)
    session.flush()
    record(session, actor, "period.approve", row, before, period_summary(row))
    return row


def close(session: Session, engine: PayoutEngine, plan: Plan, period: PayPeriod, actor: Actor) -> PayoutSnapshot:
    """Close an approved period (admin): freeze its metrics, write the immutable snapshot."""
    row = engine.period_row(session, plan, period)
    if row.status != "approved":
        raise PayoutError(f"period: {period.label} is {row.status}; a manager approves it before an admin closes it")
    engine.metrics.close_period(session, plan.tenant_id, Period("custom", period.start, period.end))
    evaluation = engine.evaluate(session, plan, period, as_of=period.last_day,
                                 reader=engine.reader(session, plan.tenant_id, with_records=True))
    if evaluation.errors:
        raise PayoutError("period: rules failed: " + "; ".join(evaluation.errors))
    content = snapshot_content(session, engine, plan, evaluation)
    snapshot = PayoutSnapshot(tenant_id=plan.tenant_id, period_id=row.id, plan_version_id=evaluation.plan_version_id,
                              content=content, content_hash=hashlib.sha256(canonical_json(content).encode()).hexdigest())
    session.add(snapshot)
    session.flush()
    for seq, line in enumerate(evaluation.lines):
        session.add(SnapshotLine(
            tenant_id=plan.tenant_id, snapshot_id=snapshot.id, period_id=row.id, person_id=line.person_id, seq=seq,
            rule=line.rule, kind=line.kind, amount_minor=line.amount_minor, currency=line.currency,
            explanation=line.explanation, inputs=json.loads(canonical_json(line.inputs)), readings=list(line.readings),
        ))
    before = period_summary(row)
    row.status, row.closed_at, row.closed_by = "closed", utcnow(), _label(actor)
    row.plan_version_id = evaluation.plan_version_id
    session.flush()
    record(session, actor, "period.close", row, before,
           {**period_summary(row), "snapshot_id": snapshot.id, "content_hash": snapshot.content_hash,
            "total_minor": sum(evaluation.totals().values())})
    return snapshot


def snapshot_content(session: Session, engine: PayoutEngine, plan: Plan, evaluation: Evaluation) -> dict[str, Any]:
    """Everything the period was paid on, as JSON."""
    definition = evaluation.plan
    version = engine.version_for(session, plan, evaluation.period.start)
    readings = [reading.as_dict() for reading in evaluation.readings.values()]
    return json.loads(canonical_json({
        "plan": {"key": definition.key, "title": definition.title, "version": version.version,
                 "version_id": version.id, "content_hash": version.content_hash, "source_name": version.source_name},
        "period": {"label": evaluation.period.label, "kind": evaluation.period.kind,
                   "start": evaluation.period.start, "end": evaluation.period.end},
        "currency": definition.currency,
        "as_of": evaluation.as_of,
        "participants": [{"person_id": p.person_id, "name": p.name, "email": p.email, "role": p.role,
                          "level": p.level} for p in evaluation.participants],
        "readings": sorted(readings, key=lambda r: r["ref"]),
        "links": record_links(session, engine.podium, [tuple(ref) for r in readings for ref in r["records"]]),
        "lines": [{"seq": seq, **line.as_dict()} for seq, line in enumerate(evaluation.lines)],
        "totals": {str(k): v for k, v in sorted(evaluation.totals().items())},
    }))


# -- adjustments ----------------------------------------------------------------------------------


def add_adjustment(session: Session, plan: Plan, row: PayoutPeriod, person_id: int, amount_minor: int, reason: str,
                   actor: Actor, *, link: str | None = None, currency: str) -> Adjustment:
    """A correction in an open period: who, why, what it corrects; audited."""
    if row.status == "closed":
        raise PayoutError(f"period: {row.label} is closed; put the adjustment in an open period and link it")
    if not reason or not reason.strip():
        raise PayoutError("reason: say why the amount is adjusted")
    if session.get(Person, person_id) is None:
        raise PayoutError(f"person_id: no person {person_id}")
    adjustment = Adjustment(tenant_id=plan.tenant_id, period_id=row.id, person_id=person_id,
                            amount_minor=amount_minor, currency=currency, reason=reason.strip(), link=link,
                            author_user_id=actor.id if isinstance(actor, User) else None,
                            author_label=_label(actor))
    session.add(adjustment)
    session.flush()
    record(session, actor, "adjustment.create", adjustment, None,
           {"period": row.label, "person_id": person_id, "amount_minor": amount_minor, "currency": currency,
            "link": link}, reason=adjustment.reason)
    return adjustment


def open_period_for(session: Session, engine: PayoutEngine, plan: Plan, today: dt.date | None = None) -> PayoutPeriod:
    """The plan's earliest period that is still open, from the current one on."""
    tenant = session.get(Tenant, plan.tenant_id)
    assert tenant is not None
    today = today or tenant_today(tenant)
    kind = engine.version_for(session, plan, today).period_kind
    period = containing(kind, today, tenant.fiscal_year_start_month)
    while True:
        row = engine.period_row(session, plan, period)
        if row.status == "open":
            return row
        period = containing(kind, period.end, tenant.fiscal_year_start_month)


# -- restatement ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Restatement:
    """What later data would change in a closed period (nothing is changed)."""

    period: str
    snapshot_hash: str
    changes: list[LineChange]
    totals_then: dict[int, int]
    totals_now: dict[int, int]

    def as_dict(self) -> dict[str, Any]:
        return {"period": self.period, "snapshot_hash": self.snapshot_hash,
                "changes": [c.as_dict() for c in self.changes],
                "totals_then": {str(k): v for k, v in self.totals_then.items()},
                "totals_now": {str(k): v for k, v in self.totals_now.items()}}


class LiveReader(EngineMetricReader):
    """Computes every figure from the records as they are now, ignoring frozen values."""

    def _read(self, metric_key: str, params: dict[str, Any], grain: str, subject: str, start: dt.date,
              end: dt.date) -> MetricReading:
        metric = self._metric(metric_key, params)
        values = self.engine.compute(self.session, self.tenant_id, metric_key, grain, self.period(start, end),
                                     params, [subject])
        reading = MetricReading(metric_key=metric_key, params=metric.dumped_params(), grain=grain, subject=subject,
                                start=start, end=end, numerator=0.0, denominator=0.0, factor=metric.factor,
                                unit=metric.unit, label=getattr(metric, "label", metric_key), note="recomputed now")
        if not values:
            return reading
        return replace(reading, numerator=values[0].numerator, denominator=values[0].denominator,
                       version=values[0].version, computed_at=values[0].computed_at)


def restatement(session: Session, engine: PayoutEngine, plan: Plan, period: PayPeriod) -> Restatement:
    """Recompute a closed period from today's data and list the lines that would differ."""
    row = engine.period_row(session, plan, period)
    snapshot = session.scalars(select(PayoutSnapshot).where(PayoutSnapshot.period_id == row.id)).one_or_none()
    if snapshot is None:
        raise PayoutError(f"period: {period.label} is not closed; its preview is already current")
    base = engine.reader(session, plan.tenant_id)
    live = LiveReader(base.engine, session, plan.tenant_id, base.settings)
    now = engine.evaluate(session, plan, period, as_of=period.last_day, reader=live)
    then = [line_from_dict(line) for line in snapshot.content["lines"]]
    totals_then = {int(k): v for k, v in snapshot.content["totals"].items()}
    return Restatement(period.label, snapshot.content_hash, diff(then, now.lines), totals_then, now.totals())
