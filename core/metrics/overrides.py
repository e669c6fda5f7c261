"""Manual corrections a manager makes to what metrics count, each with a reason and an audit event.

* An **override** names one record (a ticket, survey, time entry or project): ``exclude``
  leaves it out of every metric (or of one, ``metric_key``); ``reattribute`` credits it
  to another person. The engine applies overrides to every metric's rows by
  ``(record_type, record_id)``, so a third-party metric honours them too.
* An **exclusion window** (an outage, a rollout) leaves the tickets *created* inside it —
  optionally only one client's or one board's — out of the metrics that opt in
  (``Metric.exclusion_windows``: SLA and MTTR).

Nothing is deleted: revoking sets ``revoked_at`` (and is audited), so the history of why
a figure changed stays readable. After creating or revoking one, call
:func:`podium.metrics.changes.override_changed` / :func:`~podium.metrics.changes.window_changed`
in the same transaction to recompute the tracked periods it moves (closed periods stay as
they were paid), and publish what changed after the commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium import audit
from podium.models import (
    Client,
    MetricExclusionWindow,
    MetricOverride,
    Person,
    Project,
    Survey,
    Ticket,
    TimeEntry,
    User,
    utcnow,
)

RECORD_TYPES: dict[str, type[Any]] = {"ticket": Ticket, "survey": Survey, "time_entry": TimeEntry, "project": Project}
"""Record types an override can name, and their tables."""


class OverrideError(ValueError):
    """An override or window that cannot be made; ``field`` names the offending input."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(f"{field}: {reason}")


def _actor_label(actor: User | str) -> str:
    return actor.email if isinstance(actor, User) else actor


def _reason(reason: str | None) -> str:
    if not reason or not reason.strip():
        raise OverrideError("reason", "say why: overrides change pay and are audited")
    return reason.strip()


def _snapshot(row: MetricOverride | MetricExclusionWindow) -> dict[str, Any]:
    names = [c.name for c in row.__table__.columns if c.name not in ("tenant_id",)]
    return {name: getattr(row, name) for name in names}


def create_override(
    session: Session,
    tenant_id: int,
    actor: User | str,
    *,
    record_type: str,
    record_id: int,
    action: str,
    reason: str | None,
    person_id: int | None = None,
    metric_key: str | None = None,
) -> MetricOverride:
    """Exclude a record from metrics, or credit it to ``person_id`` (audited)."""
    model = RECORD_TYPES.get(record_type)
    if model is None:
        raise OverrideError("record_type", f"one of {', '.join(RECORD_TYPES)}")
    found = session.scalars(select(model.id).where(model.id == record_id, model.tenant_id == tenant_id)).first()
    if found is None:
        raise OverrideError("record_id", f"no {record_type} {record_id} in this tenant")
    if action not in ("exclude", "reattribute"):
        raise OverrideError("action", "exclude or reattribute")
    if action == "reattribute":
        person = session.scalars(select(Person.id).where(Person.id == person_id, Person.tenant_id == tenant_id)).first()
        if person is None:
            raise OverrideError("person_id", "reattribute needs a person of this tenant")
    elif person_id is not None:
        raise OverrideError("person_id", "only a reattribution names a person")
    override = MetricOverride(
        tenant_id=tenant_id, record_type=record_type, record_id=record_id, action=action, person_id=person_id,
        metric_key=metric_key, reason=_reason(reason), author=_actor_label(actor),
    )
    session.add(override)
    session.flush()
    audit.record(session, actor, f"metrics.override.{action}", override, None, _snapshot(override), override.reason)
    return override


def create_exclusion_window(
    session: Session,
    tenant_id: int,
    actor: User | str,
    *,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    reason: str | None,
    client_id: int | None = None,
    board: str | None = None,
) -> MetricExclusionWindow:
    """Leave tickets created in ``[starts_at, ends_at)`` out of SLA and MTTR (audited)."""
    for name, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if value.tzinfo is None:
            raise OverrideError(name, "give a time with a time zone")
    if ends_at <= starts_at:
        raise OverrideError("ends_at", "must be after starts_at")
    if client_id is not None:
        found = session.scalars(select(Client.id).where(Client.id == client_id, Client.tenant_id == tenant_id)).first()
        if found is None:
            raise OverrideError("client_id", f"no client {client_id} in this tenant")
    window = MetricExclusionWindow(
        tenant_id=tenant_id, starts_at=starts_at, ends_at=ends_at, client_id=client_id, board=board,
        reason=_reason(reason), author=_actor_label(actor),
    )
    session.add(window)
    session.flush()
    audit.record(session, actor, "metrics.exclusion_window.create", window, None, _snapshot(window), window.reason)
    return window


def revoke(
    session: Session, tenant_id: int, actor: User | str, row: MetricOverride | MetricExclusionWindow,
    reason: str | None,
) -> None:
    """Withdraw an override or a window (audited); it stops applying at the next recompute."""
    if row.tenant_id != tenant_id:
        raise OverrideError("id", "not found in this tenant")
    if row.revoked_at is not None:
        raise OverrideError("id", "already revoked")
    before = _snapshot(row)
    row.revoked_at = utcnow()
    session.flush()
    kind = "override" if isinstance(row, MetricOverride) else "exclusion_window"
    audit.record(session, actor, f"metrics.{kind}.revoke", row, before, _snapshot(row), _reason(reason))
