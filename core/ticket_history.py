"""Podium's ticket-history rules: which change of a ticket is which kind of event.

Vendors record history differently (ConnectWise an audit trail of text lines, others a
history table or nothing at all, leaving only snapshots to compare), but what counts as
a reopen, a reassignment or an escalation is Podium's definition, the same for every
vendor, because metrics and payouts built on it must mean the same thing whichever PSA
the work came from. A connector turns what its vendor records into a sequence of
:class:`TicketState` values and asks :func:`transition_events` for the events between
two of them:

* ``status_change`` — the status text changed;
* ``reopen`` — the ticket went from a resolved or closed status category back to open;
* ``reassignment`` — the owner changed from one person to another (a first assignment,
  an unassignment, or a hand-over to or from a workflow or API account is not one);
* ``escalation`` — the ticket moved to a higher support tier (tiers are configured,
  e.g. per board; a vendor's SLA escalation stage is not a tier).

Events are canonical ``ticket_event`` records (:mod:`podium.schemas.canonical`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DONE_CATEGORIES = frozenset({"resolved", "closed"})


@dataclass(frozen=True)
class TicketState:
    """The parts of a ticket the history rules compare, in canonical terms.

    ``owner`` is the owner's identity external id; ``None`` for any field means "not
    known / nobody", and a rule that needs a field on both sides does not fire on None.
    """

    status: str | None = None
    status_category: str | None = None
    owner: str | None = None
    tier: int | None = None


@dataclass(frozen=True)
class Change:
    """Who moved a ticket from one state to another, and when."""

    at: dt.datetime
    actor: str | None
    """The acting identity's external id, when the vendor says who it was."""
    source: str
    """Where the change was learnt from: ``audit``, ``snapshot``, ``webhook``."""


def transition_events(
    ticket: str,
    before: TicketState,
    after: TicketState,
    change: Change,
    *,
    is_person: Callable[[str], bool] = lambda _identity: True,
) -> list[dict[str, Any]]:
    """The canonical events one change of ``ticket`` amounts to (possibly none).

    ``is_person`` says whether an identity is a human (reassignments between people
    only). A status change into the same status, or any change of nothing, gives no
    event, so replaying a history is harmless.
    """
    events: list[dict[str, Any]] = []

    def event(kind: str, from_value: Any, to_value: Any) -> None:
        events.append(
            {
                "ticket_external_id": ticket,
                "kind": kind,
                "at": change.at,
                "actor_external_id": change.actor,
                "from_value": None if from_value is None else str(from_value),
                "to_value": "" if to_value is None else str(to_value),
                "source": change.source,
            }
        )

    if after.status is not None and before.status != after.status:
        event("status_change", before.status, after.status)
        if before.status_category in DONE_CATEGORIES and after.status_category == "open":
            event("reopen", before.status, after.status)
    if (
        before.owner is not None
        and after.owner is not None
        and before.owner != after.owner
        and is_person(before.owner)
        and is_person(after.owner)
    ):
        event("reassignment", before.owner, after.owner)
    if before.tier is not None and after.tier is not None and after.tier > before.tier:
        event("escalation", before.tier, after.tier)
    return events
