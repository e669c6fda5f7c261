"""A ticket's audit trail (or two snapshots of it) → canonical ticket events, and its resolver."""

from __future__ import annotations

import datetime as dt
from typing import Any

from podium.schemas.canonical import load
from podium.ticket_history import Change, TicketState, transition_events
from podium_connectwise.history import (
    HistoryRules,
    parse_trail,
    replay,
    snapshot_events,
)
from podium_connectwise.mapping import MemberBook, StatusBook, Tiers

UTC = dt.UTC
MEMBERS = MemberBook.build([
    {"id": 104, "identifier": "akim", "licenseClass": "F"},
    {"id": 105, "identifier": "bshah", "licenseClass": "F"},
    {"id": 2, "identifier": "Workflow", "licenseClass": "A"},
    {"id": 3, "identifier": "NinjaRMM", "licenseClass": "A", "type": {"name": "API Member"}},
])
STATUSES = StatusBook.build(
    [{"name": name, "board": {"name": board}, "closedStatus": closed, "escalationStatus": stage}
     for board in ("Service Desk", "Tier 2")
     for name, closed, stage in (("New", False, "NotResponded"), ("In Progress", False, "Responded"),
                                 ("Reopened", False, "Responded"), ("Resolved", False, "Resolved"),
                                 ("Closed", True, "NoEscalation"))]
)
RULES = HistoryRules(STATUSES, MEMBERS, Tiers(teams={"Help Desk*": 1, "Escalations*": 2, "Projects*": 3}))


def entry(
    sub_type: str, before: str, after: str, at: str, by: str = "akim", label: str | None = None
) -> dict[str, Any]:
    return {"text": f'{label or sub_type} changed from "{before}" to "{after}"', "enteredDate": at, "enteredBy": by,
            "auditType": "Ticket", "auditSubType": sub_type, "auditSource": "Web"}


TRAIL = [
    entry("Owner", "", "akim", "2025-01-06T14:05:00Z", label="Ticket Owner"),
    entry("Status", "New", "In Progress", "2025-01-06T14:30:00Z"),
    entry("Board", "Service Desk", "Tier 2", "2025-01-06T15:00:00Z"),
    entry("Team", "Help Desk East", "Escalations East", "2025-01-06T15:00:00Z"),
    entry("Owner", "akim", "bshah", "2025-01-06T15:00:01Z", label="Ticket Owner"),
    entry("Status", "In Progress", "Resolved", "2025-01-07T10:00:00Z", by="bshah"),
    entry("Status", "Resolved", "Closed", "2025-01-10T11:00:00Z", by="Workflow"),
    entry("Status", "Closed", "Reopened", "2025-01-10T12:00:00Z", by="Email"),
    entry("Status", "Reopened", "In Progress", "2025-01-10T13:00:00Z", by="bshah"),
    entry("Status", "In Progress", "Resolved", "2025-01-10T14:00:00Z", by="bshah"),
    entry("Owner", "bshah", "Workflow", "2025-01-10T14:30:00Z", by="Workflow", label="Ticket Owner"),
]
TICKET = {"id": 10001, "board": {"id": 2, "name": "Tier 2"}, "status": {"id": 25, "name": "Resolved"},
          "team": {"id": 201, "name": "Escalations East"}, "owner": {"id": 2, "identifier": "Workflow"}}


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_the_trail_is_read_by_sub_type_or_by_the_texts_subject() -> None:
    changes = parse_trail([
        {"text": 'Status has been changed from "New" to "Assigned"', "enteredDate": "2025-01-02T00:00:00Z",
         "enteredBy": "akim"},
        entry("Status", "Assigned", "Done", "2025-01-01T00:00:00Z"),
        {"text": "Note added", "enteredDate": "2025-01-01T00:00:00Z", "auditSubType": "Notes"},
        {"text": 'Priority changed from "Low" to "High"', "enteredDate": "2025-01-01T00:00:00Z",
         "auditSubType": "Priority"},
        {"text": 'Status changed from "A" to "B"', "auditSubType": "Status"},
    ])
    assert [(c.field, c.before, c.after, c.actor) for c in changes] == [
        ("status", "Assigned", "Done", "akim"), ("status", "New", "Assigned", "akim")]
    assert changes[0].at == dt.datetime(2025, 1, 1, tzinfo=UTC)


def test_replay_finds_every_kind_of_event_and_the_resolver() -> None:
    history = replay(TICKET, parse_trail(TRAIL), RULES, project=False)
    events = [(e["kind"], e["at"], e["actor_external_id"], e["from_value"], e["to_value"]) for e in history.events]
    assert events == [
        ("status_change", at("2025-01-06T14:30:00Z"), "104", "New", "In Progress"),
        ("escalation", at("2025-01-06T15:00:00Z"), "104", "1", "2"),
        ("reassignment", at("2025-01-06T15:00:01Z"), "104", "104", "105"),
        ("status_change", at("2025-01-07T10:00:00Z"), "105", "In Progress", "Resolved"),
        ("status_change", at("2025-01-10T11:00:00Z"), "2", "Resolved", "Closed"),
        ("status_change", at("2025-01-10T12:00:00Z"), None, "Closed", "Reopened"),
        ("reopen", at("2025-01-10T12:00:00Z"), None, "Closed", "Reopened"),
        ("status_change", at("2025-01-10T13:00:00Z"), "105", "Reopened", "In Progress"),
        ("status_change", at("2025-01-10T14:00:00Z"), "105", "In Progress", "Resolved"),
    ]
    assert all(e["source"] == "audit" for e in history.events)
    assert [load("ticket_event", e)["kind"] for e in history.events]  # every event is a valid canonical record
    assert history.resolver == "105"


def test_a_resolution_by_an_integration_credits_nobody() -> None:
    trail = [entry("Status", "New", "Resolved", "2025-01-06T14:30:00Z", by="NinjaRMM"),
             entry("Status", "Resolved", "Closed", "2025-01-06T14:35:00Z", by="NinjaRMM")]
    ticket = {**TICKET, "status": {"name": "Closed"}, "board": {"name": "Service Desk"}}
    assert replay(ticket, parse_trail(trail), RULES, project=False).resolver is None


def test_without_a_trail_the_ticket_starts_as_it_is_now() -> None:
    history = replay(TICKET, [], RULES, project=False)
    assert history.events == [] and history.resolver is None


def test_project_tickets_never_escalate() -> None:
    trail = [entry("Team", "Help Desk", "Projects", "2025-01-06T15:00:00Z")]
    assert replay(TICKET, parse_trail(trail), RULES, project=True).events == []


def test_snapshot_differences_are_dated_at_the_last_update() -> None:
    stored = {"external_id": "10001", "status": "Resolved", "status_category": "resolved", "owner_external_id": "104",
              "tier": 1}
    fetched = {**stored, "status": "Reopened", "status_category": "open", "owner_external_id": "105", "tier": 2,
               "vendor_updated_at": "2025-01-10T12:00:00Z"}
    events = snapshot_events(stored, fetched, "105", MEMBERS)
    assert {(e["kind"], e["from_value"], e["to_value"]) for e in events} == {
        ("status_change", "Resolved", "Reopened"), ("reopen", "Resolved", "Reopened"),
        ("reassignment", "104", "105"), ("escalation", "1", "2")}
    assert {e["at"] for e in events} == {at("2025-01-10T12:00:00Z")}
    assert {(e["source"], e["actor_external_id"]) for e in events} == {("snapshot", "105")}
    assert snapshot_events(None, fetched, "105", MEMBERS) == []


def test_a_hand_over_to_or_from_a_non_person_is_not_a_reassignment() -> None:
    change = Change(at("2025-01-10T12:00:00Z"), None, "webhook")
    to_workflow = transition_events("1", TicketState(owner="104"), TicketState(owner="2"), change,
                                    is_person=MEMBERS.is_person)
    first = transition_events("1", TicketState(owner=None), TicketState(owner="104"), change)
    unchanged = TicketState(status="New", owner="104")
    same = transition_events("1", unchanged, unchanged, change)
    assert to_workflow == first == same == []
    down = transition_events("1", TicketState(tier=2), TicketState(tier=1), change)
    assert down == []
