"""A ConnectWise ticket's history: its audit trail (or two snapshots) → canonical ticket events.

ConnectWise keeps no reopen flag or status history on the ticket (facts §1.7); the
history is ``GET system/audittrail?type=Ticket&id=``, a list of ``{text, enteredDate,
enteredBy, auditType, auditSubType, auditSource}`` entries whose text names the old and
new value of one field, e.g. ``Status changed from "New" to "In Progress"``. The exact
wording of real entries is [UNCONFIRMED] (facts §4), so the parser keys on
``auditSubType`` (or the text's first words) and on the quoted ``from "…" to "…"`` pair,
and skips any entry it cannot read rather than guessing.

:func:`replay` walks the trail from the ticket's first known state and asks
:func:`podium.ticket_history.transition_events` — Podium's vendor-neutral rules — what
each change amounts to (status change, reopen, reassignment between two people,
escalation to a higher configured tier). It also finds the ticket's resolver: whoever
last moved it from an open status to a resolved or closed one, if that was a person.

When no audit trail was fetched, :func:`snapshot_events` compares the stored ticket with
the fetched one: coarser (one net change, dated at ``lastUpdated``, by ``updatedBy``),
but free of extra requests.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from podium.ticket_history import (
    DONE_CATEGORIES,
    Change,
    TicketState,
    transition_events,
)
from podium.vendor_mapping import utc

from .mapping import MemberBook, StatusBook, Tiers, info, ref_id, ref_name

FIELDS = {"status": "status", "owner": "owner", "ticket owner": "owner", "board": "board", "team": "team"}
"""Audit sub-types (and text prefixes) the history reads, and the ticket field each changes."""
_FROM_TO = re.compile(r'from\s+"(?P<before>[^"]*)"\s+to\s+"(?P<after>[^"]*)"', re.IGNORECASE)
_SUBJECT = re.compile(r"^\s*(?P<subject>[A-Za-z ]+?)\s+(?:has been\s+|was\s+)?changed\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class AuditChange:
    """One readable audit-trail entry: ``field`` went from ``before`` to ``after``.

    A connector keeps many of these (a first sync reuses every ticket's trail for its
    events), so the instances have slots and their strings are interned: the same few
    status names and member identifiers repeat across thousands of trails.
    """

    at: dt.datetime
    actor: str | None
    """The member ``identifier`` in ``enteredBy`` (or another name, e.g. ``Email``)."""
    field: str
    before: str | None
    after: str | None


def parse_trail(entries: Iterable[Mapping[str, Any]]) -> list[AuditChange]:
    """The entries that change a field the history follows, oldest first."""
    changes = []
    for entry in entries:
        text = str(entry.get("text") or "")
        subject = str(entry.get("auditSubType") or "").strip().lower()
        if subject not in FIELDS:
            found = _SUBJECT.match(text)
            subject = found["subject"].strip().lower() if found else ""
        values = _FROM_TO.search(text)
        if subject not in FIELDS or values is None or not entry.get("enteredDate"):
            continue
        changes.append(
            AuditChange(
                at=utc(entry["enteredDate"]),
                actor=_interned(entry.get("enteredBy")),
                field=FIELDS[subject],
                before=_interned(values["before"]),
                after=_interned(values["after"]),
            )
        )
    return sorted(changes, key=lambda change: change.at)


def _interned(text: str | None) -> str | None:
    return sys.intern(text) if text else None


@dataclass(frozen=True)
class HistoryRules:
    """What turns ConnectWise values into Podium's terms while replaying."""

    statuses: StatusBook
    members: MemberBook
    tiers: Tiers


@dataclass
class History:
    events: list[dict[str, Any]] = field(default_factory=list)
    resolver: str | None = None
    """External id of the person who last resolved the ticket (None: nobody, or not a person)."""


@dataclass
class _State:
    status: str | None
    board: str | None
    team: str | None
    owner: str | None

    def canonical(self, rules: HistoryRules, project: bool) -> TicketState:
        return TicketState(
            status=self.status,
            status_category=rules.statuses.category(self.board, self.status),
            owner=self.owner,
            tier=None if project else rules.tiers.of(self.team, self.board),
        )


def replay(
    ticket: Mapping[str, Any], changes: list[AuditChange], rules: HistoryRules, *, project: bool
) -> History:
    """The events of ``ticket`` (a ConnectWise ticket record) from its parsed audit trail."""
    ticket_id = str(ticket["id"])

    def first_before(name: str, current: str | None) -> str | None:
        change = next((c for c in changes if c.field == name), None)
        return current if change is None else change.before

    first_owner = next((c for c in changes if c.field == "owner"), None)
    state = _State(
        status=first_before("status", ref_name(ticket.get("status"))),
        board=first_before("board", ref_name(ticket.get("board"))),
        team=first_before("team", ref_name(ticket.get("team"))),
        owner=rules.members.id_of(first_owner.before) if first_owner else ref_id(ticket.get("owner")),
    )
    history = History()
    for change in changes:
        before = state.canonical(rules, project)
        value = rules.members.id_of(change.after) if change.field == "owner" else change.after
        setattr(state, change.field, value)
        after = state.canonical(rules, project)
        actor = rules.members.id_of(change.actor)
        history.events += transition_events(
            ticket_id, before, after, Change(change.at, actor, "audit"), is_person=rules.members.is_person
        )
        if (
            change.field == "status"
            and before.status_category == "open"
            and after.status_category in DONE_CATEGORIES
        ):
            history.resolver = actor if actor is not None and rules.members.is_person(actor) else None
    return history


def snapshot_events(
    stored: Mapping[str, Any] | None, fetched: Mapping[str, Any], actor: str | None, members: MemberBook
) -> list[dict[str, Any]]:
    """Events between the stored canonical ticket and the fetched one (none for a new ticket).

    The change is dated at the ticket's ``lastUpdated`` and credited to its
    ``updatedBy``: the last edit, which is at or after the change itself.
    """
    if stored is None or fetched.get("vendor_updated_at") is None:
        return []
    at = fetched["vendor_updated_at"]
    change = Change(at if isinstance(at, dt.datetime) else utc(at), actor, "snapshot")
    return transition_events(
        str(fetched["external_id"]), ticket_state(stored), ticket_state(fetched), change, is_person=members.is_person
    )


def ticket_state(ticket: Mapping[str, Any]) -> TicketState:
    """What the history follows of a canonical ticket: status (and its category), owner, tier."""
    return TicketState(ticket.get("status"), ticket.get("status_category"), ticket.get("owner_external_id"),
                       ticket.get("tier"))


def updated_by(ticket: Mapping[str, Any], members: MemberBook) -> str | None:
    """The member who last edited ``ticket`` (its ``_info.updatedBy``), when it is a member."""
    return members.id_of(info(ticket, "updatedBy"))
