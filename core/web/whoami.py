"""The built-in "whoami" pod: who the pod thinks you are, and raw counts from the store.

It is the smallest pod that exercises the whole path — embed handshake or sign-in, pod
token, viewer loaded from the store, access rules, live refresh — so a new vendor embed
can be checked end to end before any metric exists. It is registered through the pods
hook from this module, exactly as a third-party pod is (entry point ``whoami`` in the
``podium`` group).

Counts are attributed like every figure: only through identities linked to the person
(:func:`podium.org.identities.attributable_identities`), so an unlinked vendor account's
work never shows up on anyone's pod.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from flask import render_template
from podium import hookimpl
from podium.models import Person, Ticket, TimeEntry
from podium.org.identities import attributable_identities
from podium.pods import Pod
from podium.registry import Registry
from sqlalchemy import func, select
from sqlalchemy.orm import Session


def month_bounds(today: dt.date, time_zone: str) -> tuple[dt.datetime, dt.datetime]:
    """The tenant-local calendar month containing ``today``, as UTC instants [start, end)."""
    tz = zoneinfo.ZoneInfo(time_zone)
    start = dt.datetime(today.year, today.month, 1, tzinfo=tz)
    end = dt.datetime(today.year + today.month // 12, today.month % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def person_counts(session: Session, person: Person, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """Tickets the person resolved, and their time entries (count, hours), in [start, end)."""
    mine = attributable_identities(person.tenant_id).subquery()
    resolved = session.scalar(
        select(func.count(Ticket.id))
        .join(mine, mine.c.identity_id == Ticket.resolved_by_identity_id)
        .where(mine.c.person_id == person.id, Ticket.resolved_at >= start, Ticket.resolved_at < end)
    )
    entries, hours = session.execute(
        select(func.count(TimeEntry.id), func.coalesce(func.sum(TimeEntry.hours), 0.0))
        .join(mine, mine.c.identity_id == TimeEntry.identity_id)
        .where(mine.c.person_id == person.id, TimeEntry.start_at >= start, TimeEntry.start_at < end)
    ).one()
    return {"tickets_resolved": resolved or 0, "time_entries": entries, "hours": round(float(hours), 2)}


class WhoAmI(Pod):
    key = "whoami"
    title = "Who am I"
    audience = "technician"
    context = "member"

    def render(self, view: Any) -> str:
        viewer, subject = view.viewer, view.subject
        tenant = viewer.tenant
        start, end = month_bounds(viewer.today(), tenant.time_zone)
        counts = person_counts(view.session, subject, start, end) if subject is not None else None
        return render_template(
            "pods/whoami.html",
            viewer=viewer,
            subject=subject,
            counts=counts,
            month=viewer.today().strftime("%B %Y"),
        )


@hookimpl
def podium_register_pods(registry: Registry[Pod]) -> None:
    registry.add(WhoAmI)
