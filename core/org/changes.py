"""Org changes queue a metrics refresh of their tenant, whichever path made them.

Org data is not synced, so no ``podium_records_changed`` announces it; yet moving a person
to another team moves that team's figures, and a new holiday or SLA target moves SLA due
times. Rather than a call in every service function (CSV import, the identity resolver,
the effective-dating helpers, admin pages …), one listener on the runtime's session
factory watches what is flushed: when a transaction that wrote any :data:`ORG_MODELS` row
through the ORM commits, a ``refresh_metrics`` job is queued for each tenant it touched.
The job key (``metrics-refresh-<tenant>``) coalesces a burst of edits into one refresh; a
rolled-back transaction queues nothing.

Only tenants that use metrics are refreshed: those tracking something (plans, pods) or
stating SLA targets (whose clocks the refresh recomputes). Vendor syncs write identities
and clients with bulk upserts, not the ORM, so they are not seen here — they already
trigger their own recompute.

The job is queued after the commit, so a failure to queue (Redis unreachable) cannot undo
the edit; it is logged, and the periodic refresh catches up within
``metrics_refresh_minutes``.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event, exists, select
from sqlalchemy.orm import Session

from podium.db import Database
from podium.models import (
    Availability,
    Budget,
    Calendar,
    Client,
    ClientLink,
    ClientResponsibility,
    Holiday,
    Identity,
    Mapping,
    MetricTracked,
    Person,
    PersonFact,
    SlaTarget,
    Team,
    TeamMembership,
)
from podium.runtime import Podium

log = logging.getLogger(__name__)

ORG_MODELS: tuple[type, ...] = (
    Person, Team, TeamMembership, PersonFact, ClientResponsibility, Calendar, Holiday, Availability, Mapping,
    Client, ClientLink, Identity, Budget, SlaTarget,
)
"""Rows whose change can move a metric: memberships, roles, capacity and compensation facts,
responsibilities, calendars and holidays, availability, mappings, identity links, budgets,
SLA targets."""

PENDING = "podium.org_changed_tenants"
"""``Session.info`` key holding the tenants this transaction changed org data of."""


def watch(podium: Podium, database: Database) -> None:
    """Queue refreshes for org changes committed through ``database``'s sessions."""
    sessions = database.sessions
    event.listen(sessions, "after_flush", _note)
    event.listen(sessions, "after_commit", lambda session: _queue(podium, session))
    event.listen(sessions, "after_rollback", _forget)


def _note(session: Session, _context: Any) -> None:
    """Remember the tenants of org rows in this flush (``new``/``dirty``/``deleted`` still
    hold the flushed objects here; a dirty object whose columns did not change is skipped)."""
    changed = [
        *session.new, *session.deleted,
        *(obj for obj in session.dirty if session.is_modified(obj, include_collections=False)),
    ]
    tenants = {obj.tenant_id for obj in changed if isinstance(obj, ORG_MODELS) and obj.tenant_id is not None}
    if tenants:
        session.info.setdefault(PENDING, set()).update(tenants)


def _forget(session: Session) -> None:
    session.info.pop(PENDING, None)


def _queue(podium: Podium, session: Session) -> None:
    tenants = session.info.pop(PENDING, set())
    for tenant_id in sorted(tenants):
        try:
            queue_refresh(podium, tenant_id)
        except Exception:  # noqa: BLE001 - the edit is committed; the periodic refresh catches up
            log.exception("org change in tenant %s: could not queue refresh_metrics", tenant_id)


def queue_refresh(podium: Podium, tenant_id: int) -> bool:
    """Queue (or join) ``refresh_metrics`` for a tenant that uses metrics; True if it did."""
    from podium import jobs  # noqa: PLC0415 - jobs imports the runtime, which installs this module
    from podium.metrics.sla_clock import has_targets  # noqa: PLC0415 - the metrics need the runtime too

    with podium.db.session(tenant_id) as session:
        wanted = session.scalar(select(exists().where(MetricTracked.tenant_id == tenant_id))) or has_targets(
            session, tenant_id)
    if not wanted:
        return False
    try:
        jobs.enqueue(podium, "refresh_metrics", tenant_id=tenant_id, trigger="org")
    except jobs.UnknownJobType:
        log.warning("org change in tenant %s: the metrics plugin is not loaded; nothing to refresh", tenant_id)
        return False
    return True
