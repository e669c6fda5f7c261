"""Appeals: a technician disputes a line; a manager accepts, partly accepts or rejects it
within the plan's turnaround (``appeals.turnaround_days``).

An accepted amount is paid as an :class:`~podium.models.Adjustment` in an open period (the
appealed one if it is still open, else the plan's current open period), linked back to
the appeal — a closed period is never changed. Every step is audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from podium.audit import record
from podium.models import Appeal, PayoutPeriod, Plan, User, utcnow
from podium.payouts.close import Actor, add_adjustment, open_period_for
from podium.payouts.engine import PayoutEngine, PayoutError
from sqlalchemy.orm import Session

DECISIONS = {"accept": "accepted", "partly_accept": "partly_accepted", "reject": "rejected"}


def _label(actor: Actor) -> str:
    return actor.email if isinstance(actor, User) else actor


def snapshot(appeal: Appeal) -> dict[str, Any]:
    return {"period_id": appeal.period_id, "person_id": appeal.person_id, "rule": appeal.rule,
            "status": appeal.status, "due_at": appeal.due_at, "decided_by": appeal.decided_by,
            "accepted_minor": appeal.accepted_minor, "adjustment_id": appeal.adjustment_id}


def overdue(appeal: Appeal, now: dt.datetime | None = None) -> bool:
    """Still undecided past its turnaround."""
    return appeal.status == "open" and (now or utcnow()) > appeal.due_at


def open_appeal(session: Session, engine: PayoutEngine, plan: Plan, row: PayoutPeriod, person_id: int, rule: str,
                reason: str, actor: Actor) -> Appeal:
    """Record a dispute of ``person_id``'s ``rule`` line(s) in the period."""
    if not reason or not reason.strip():
        raise PayoutError("reason: say what is wrong with the line")
    definition = engine.definition(engine.version_for(session, plan, row.starts_on))
    now = utcnow()
    appeal = Appeal(tenant_id=plan.tenant_id, period_id=row.id, person_id=person_id, rule=rule, reason=reason.strip(),
                    status="open", opened_by=_label(actor), opened_at=now,
                    due_at=now + dt.timedelta(days=definition.appeal_turnaround_days))
    session.add(appeal)
    session.flush()
    record(session, actor, "appeal.open", appeal, None, snapshot(appeal), reason=appeal.reason)
    return appeal


def decide(session: Session, engine: PayoutEngine, plan: Plan, appeal: Appeal, decision: str, note: str,
           actor: Actor, *, amount_minor: int | None = None) -> Appeal:
    """Accept (``amount_minor`` paid), partly accept (a smaller amount) or reject, with a note."""
    if decision not in DECISIONS:
        raise PayoutError(f"decision: one of {', '.join(DECISIONS)}")
    if appeal.status != "open":
        raise PayoutError(f"decision: appeal {appeal.id} was already {appeal.status}")
    if not note or not note.strip():
        raise PayoutError("note: say why, for the technician and the audit trail")
    if decision != "reject" and not amount_minor:
        raise PayoutError("amount_minor: an accepted appeal says how much it corrects (non-zero, minor units)")
    before = snapshot(appeal)
    if decision != "reject":
        appealed = session.get(PayoutPeriod, appeal.period_id)
        assert appealed is not None
        target = appealed if appealed.status == "open" else open_period_for(session, engine, plan)
        currency = engine.version_for(session, plan, appealed.starts_on).currency
        adjustment = add_adjustment(session, plan, target, appeal.person_id, int(amount_minor or 0),
                                    f"Appeal {appeal.id} {DECISIONS[decision].replace('_', ' ')}: {note.strip()}",
                                    actor, link=f"appeal:{appeal.id} ({appealed.label}, {appeal.rule})",
                                    currency=currency)
        appeal.adjustment_id = adjustment.id
        appeal.accepted_minor = adjustment.amount_minor
    appeal.status = DECISIONS[decision]
    appeal.decided_at, appeal.decided_by, appeal.decision_note = utcnow(), _label(actor), note.strip()
    session.flush()
    record(session, actor, f"appeal.{decision}", appeal, before, snapshot(appeal), reason=appeal.decision_note)
    return appeal
