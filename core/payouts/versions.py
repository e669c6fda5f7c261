"""Applying plan files: versions with effective dates that never rewrite a closed period.

``podium plans apply FILE`` stores the file as the plan's next version, in force from its
``effective_from`` (or the file's, or the start of the current period). A period is paid
by the version in force on its first day, so a new version changes only periods that
start on or after its date — and a date inside or before a closed period is refused,
because a closed period never changes. One plan keeps one currency and one period
length across versions (periods must tile, and amounts must add up).

After applying, the plan's metrics are materialised for its periods (:func:`track`, or
the ``track_plan_metrics`` job the API queues, since computing a year of values does not
belong in a request), so previews read stored values.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from podium import jobs
from podium.audit import record
from podium.models import Acknowledgment, PayoutPeriod, Plan, PlanVersion, Tenant, User
from podium.payouts.engine import PayoutEngine, PayoutError, tenant_today
from podium.payouts.periods import METRIC_KINDS, containing
from podium.payouts.plan import PlanDefinition
from podium.runtime import Podium
from sqlalchemy import func, select
from sqlalchemy.orm import Session


def summary(version: PlanVersion) -> dict[str, Any]:
    """What the audit trail and the API show about a version."""
    return {"plan_id": version.plan_id, "version": version.version, "effective_from": version.effective_from,
            "title": version.title, "currency": version.currency, "period": version.period_kind,
            "source": version.source_name, "content_hash": version.content_hash}


def apply_plan(
    session: Session,
    engine: PayoutEngine,
    tenant_id: int,
    definition: PlanDefinition,
    actor: User | str,
    *,
    source_name: str,
    effective_from: dt.date | None = None,
) -> tuple[PlanVersion, bool]:
    """Store ``definition`` as a new version; returns (version, created). Applying the same
    file with the same date again changes nothing."""
    tenant = session.get(Tenant, tenant_id)
    assert tenant is not None
    plan = session.scalars(select(Plan).where(Plan.key == definition.key)).one_or_none()
    if plan is None:
        plan = Plan(tenant_id=tenant_id, key=definition.key, title=definition.title)
        session.add(plan)
        session.flush()
    effective = (effective_from or definition.effective_from
                 or containing(definition.period, tenant_today(tenant), tenant.fiscal_year_start_month).start)
    latest = session.scalars(select(PlanVersion).where(PlanVersion.plan_id == plan.id)
                             .order_by(PlanVersion.version.desc())).first()
    if latest is not None:
        if latest.content_hash == definition.content_hash and latest.effective_from == effective:
            return latest, False
        if latest.currency != definition.currency:
            raise PayoutError(f"currency: plan {plan.key!r} pays in {latest.currency}; one plan has one currency "
                              "(start a new plan to pay in another)")
        if latest.period_kind != definition.period:
            raise PayoutError(f"period: plan {plan.key!r} is {latest.period_kind}; its periods cannot change length "
                              "(start a new plan)")
    closed_through = session.scalar(select(func.max(PayoutPeriod.ends_on)).where(
        PayoutPeriod.plan_id == plan.id, PayoutPeriod.status == "closed"))
    if closed_through is not None and effective < closed_through:
        raise PayoutError(f"effective_from: {effective.isoformat()} falls in a closed period; closed periods never "
                          f"change, so a new version can start on {closed_through.isoformat()} at the earliest")
    start = containing(definition.period, effective, tenant.fiscal_year_start_month).start
    if start != effective:
        raise PayoutError(f"effective_from: {effective.isoformat()} is not the first day of a "
                          f"{definition.period.replace('_', '-')} period (the next one starts {start.isoformat()} "
                          "or use the current one's first day)")
    version = PlanVersion(
        tenant_id=tenant_id, plan_id=plan.id, version=(latest.version + 1) if latest else 1, effective_from=effective,
        title=definition.title, currency=definition.currency, period_kind=definition.period,
        source_name=source_name, source_text=definition.source_text, content_hash=definition.content_hash,
        applied_by=actor.email if isinstance(actor, User) else actor,
    )
    session.add(version)
    plan.title = definition.title
    session.flush()
    record(session, actor, "plan.apply", version, before=summary(latest) if latest else None, after=summary(version))
    return version, True


def track(session: Session, engine: PayoutEngine, version: PlanVersion) -> int:
    """Have the metric engine keep ``version``'s metrics materialised for its period kind
    from its first day (a half year has no period kind: it is computed live). Returns how
    many (metric, grain) pairs are tracked."""
    kind = METRIC_KINDS[version.period_kind]
    if kind == "custom":
        return 0
    definition = engine.definition(version)
    uses = {(key, json_key(params), grain): params
            for rule in definition.build_rules(engine.podium.plugins.payout_rules)
            for key, params, grain in rule.metrics_used()}
    for (key, _params, grain), params in uses.items():
        engine.metrics.track(session, version.tenant_id, key, grain, kind, f"plan:{definition.key}",
                             version.effective_from, params)
    return len(uses)


def json_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def track_plan_metrics(podium: Podium, *, tenant_id: int, plan_version_id: int) -> None:
    """Job: :func:`track` for a version just applied through the API."""
    engine = PayoutEngine(podium)
    with podium.db.session(tenant_id) as session:
        version = session.get(PlanVersion, plan_version_id)
        if version is not None:
            track(session, engine, version)


jobs.register_job_type(jobs.JobType(
    name="track_plan_metrics", func=track_plan_metrics, timeout=3600, max_attempts=2, backoff=(60,),
    queue="metrics", key=lambda a: f"track-plan-{a['tenant_id']}-{a['plan_version_id']}",
))


def acknowledge(session: Session, version: PlanVersion, person_id: int, actor: User | str) -> Acknowledgment:
    """Record ``person_id``'s signed acknowledgment of ``version`` (once; later calls return it)."""
    found = session.scalars(select(Acknowledgment).where(Acknowledgment.plan_version_id == version.id,
                                                         Acknowledgment.person_id == person_id)).one_or_none()
    if found is not None:
        return found
    acknowledgment = Acknowledgment(tenant_id=version.tenant_id, plan_version_id=version.id, person_id=person_id,
                                    recorded_by=actor.email if isinstance(actor, User) else actor)
    session.add(acknowledgment)
    session.flush()
    record(session, actor, "plan.acknowledge", acknowledgment, None,
           {"plan_version_id": version.id, "version": version.version, "person_id": person_id})
    return acknowledgment
