"""What vendors suggest for the org data, listed for an admin to confirm.

Podium never takes a vendor's word for org data: the people behind unlinked vendor
accounts and the vendor values (statuses, boards, work types, agreement types) that no
mapping covers yet are offered as CSV rows marked ``confirmed=false``, with a guessed
Podium value; an admin corrects them and imports the file back
(:mod:`podium.org.csvio`).
"""

from __future__ import annotations

import re

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from podium.models import Agreement, Connection, Identity, Person, Ticket, TimeEntry
from podium.models import Mapping as VendorMapping
from podium.org.csvkinds import PeopleKind, kind_of

_KEYWORDS: dict[str, list[tuple[tuple[str, ...], str]]] = {
    "work_type": [
        (("pto", "vacation", "holiday", "sick", "leave", "time off"), "pto"),
        (("internal", "admin", "meeting", "training"), "internal"),
        (("proactive", "maintenance", "documentation"), "productive"),
    ],
    "board": [
        (("project", "professional"), "project"),
        (("alert", "monitor", "rmm", "noc"), "alert"),
        (("internal",), "internal"),
    ],
}


def _guess(kind: str, value: str, fallback: str) -> str:
    lowered = value.lower()
    for words, podium_value in _KEYWORDS.get(kind, []):
        if any(word in lowered for word in words):
            return podium_value
    return fallback


def slug(text: str) -> str:
    """``"Managed Services"`` → ``"managed_services"`` (a revenue-category guess)."""
    cleaned = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "other"
    return cleaned if cleaned[0].isalpha() else f"c_{cleaned}"[:64]


def suggestions(session: Session, kind: str) -> list[dict[str, str]]:
    """Rows of ``kind`` the vendors suggest and nobody confirmed yet (people, mappings)."""
    if kind == "people":
        return _people_suggestions(session)
    if kind == "mappings":
        return _mapping_suggestions(session)
    kind_of(kind)
    return []


def _people_suggestions(session: Session) -> list[dict[str, str]]:
    known = {e.lower() for e in session.scalars(select(Person.email).where(Person.email.is_not(None)))}
    rows: dict[str, dict[str, str]] = {}
    candidates = session.scalars(
        select(Identity)
        .where(Identity.person_id.is_(None), Identity.is_person.is_(True), Identity.email.is_not(None))
        .order_by(Identity.id)
    )
    for identity in candidates:
        email = (identity.email or "").lower()
        if email and email not in known and email not in rows:
            rows[email] = {"email": email, "display_name": identity.display_name, "active": "true"}
    return [{c: row.get(c, "") for c in PeopleKind.columns} for _, row in sorted(rows.items())]


def _mapping_suggestions(session: Session) -> list[dict[str, str]]:
    mapped = {(m.connection_id, m.kind, m.vendor_value) for m in session.scalars(select(VendorMapping))}
    names = dict(session.execute(select(Connection.id, Connection.name)).all())
    found: dict[tuple[int, str, str], str] = {}

    def offer(connection_id: int, kind: str, value: str | None, podium_value: str) -> None:
        if not value or (connection_id, kind, value) in mapped or (None, kind, value) in mapped:
            return
        found.setdefault((connection_id, kind, value), podium_value)

    for cid, status, category in session.execute(
        select(Ticket.connection_id, Ticket.status, func.max(Ticket.status_category)).group_by(
            Ticket.connection_id, Ticket.status
        )
    ):
        offer(cid, "status", status, category)
    for cid, board, projects in session.execute(
        select(Ticket.connection_id, Ticket.board, func.max(cast(Ticket.is_project, Integer))).group_by(
            Ticket.connection_id, Ticket.board
        )
    ):
        offer(cid, "board", board, "project" if projects else _guess("board", board or "", "service"))
    for cid, work_type, billable in session.execute(
        select(TimeEntry.connection_id, TimeEntry.work_type, func.avg(cast(TimeEntry.billable, Integer))).group_by(
            TimeEntry.connection_id, TimeEntry.work_type
        )
    ):
        fallback = "billable" if billable and float(billable) >= 0.5 else "productive"
        offer(cid, "work_type", work_type, _guess("work_type", work_type or "", fallback))
    for cid, agreement_type, category in session.execute(
        select(Agreement.connection_id, Agreement.agreement_type, func.max(Agreement.category)).group_by(
            Agreement.connection_id, Agreement.agreement_type
        )
    ):
        offer(cid, "agreement_type", agreement_type, category or slug(agreement_type))
    rows = [
        {
            "connection": names.get(cid, ""),
            "kind": kind,
            "vendor_value": value,
            "podium_value": podium_value,
            "confirmed": "false",
        }
        for (cid, kind, value), podium_value in found.items()
    ]
    return sorted(rows, key=lambda r: (r["connection"], r["kind"], r["vendor_value"]))
