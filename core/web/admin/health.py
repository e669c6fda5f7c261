"""Health: the server's own checks (the ``/healthz`` answer), how far behind each
connection's entities are (time since their last successful sync, their state and last
error), and the jobs that failed for good (:func:`podium.jobs.failed_jobs`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from podium.api.introspection import healthz
from podium.auth import current_podium, tenant_session
from podium.jobs import failed_jobs
from podium.models import Connection, SyncState, utcnow
from podium.web.admin.guard import admin_page, bp, page
from sqlalchemy import select

FAILED_SHOWN = 20


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    """Stored times are UTC; SQLite hands them back naive."""
    return moment.replace(tzinfo=dt.timezone.utc) if moment is not None and moment.tzinfo is None else moment


def lag_text(since: dt.timedelta | None) -> str:
    """``3 h 12 min`` — how long ago an entity last synced successfully ("never" if it has not)."""
    if since is None:
        return "never synced"
    minutes = int(since.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min"]
    return " ".join(part for part in parts if part)


@bp.get("/health")
@admin_page("admin", "auditor")
def health() -> Any:
    # Both open transactions of their own: on SQLite they must run before this request's
    # session takes the database's one write lock with its first query.
    checks_response, _code = healthz()
    report = checks_response.get_json()
    session = tenant_session()
    tenant_id = session.info["tenant_id"]
    failed = [job for job in failed_jobs(current_podium()) if job["tenant_id"] == tenant_id]
    names = {c.id: c.name for c in session.scalars(select(Connection))}
    now = _aware(utcnow())
    lags = []
    for state in session.scalars(select(SyncState).order_by(SyncState.connection_id, SyncState.entity)):
        last = _aware(state.last_success_at)
        lags.append({"connection": names.get(state.connection_id, "?"), "connection_id": state.connection_id,
                     "entity": state.entity, "status": state.status, "last_success_at": last,
                     "lag": lag_text(now - last if last else None), "last_error": state.last_error})
    return page("admin/health.html", report=report, lags=lags, failed=failed[:FAILED_SHOWN], failed_count=len(failed))
