"""ConnectWise JSON → canonical records: the translation rules, one by one.

Inputs are shaped like ConnectWise's own JSON (facts §3: django-connectwise fixtures;
empty fields left out), and every output is loaded through Podium's canonical schema,
so a rule that produced an invalid record would fail here, not in a sync.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from podium.schemas.canonical import load
from podium_connectwise import mapping
from podium_connectwise.mapping import MemberBook, StatusBook, TicketContext, Tiers

UTC = dt.UTC
STATUSES = [
    {"id": 11, "name": "New", "board": {"id": 1, "name": "Service Desk"}, "closedStatus": False,
     "escalationStatus": "NotResponded"},
    {"id": 15, "name": "Resolved", "board": {"id": 1, "name": "Service Desk"}, "closedStatus": False,
     "escalationStatus": "Resolved"},
    {"id": 16, "name": "Closed", "board": {"id": 1, "name": "Service Desk"}, "closedStatus": True,
     "escalationStatus": "NoEscalation"},
    {"id": 41, "name": "Completed", "board": {"id": 4, "name": "Projects"}, "closedStatus": True,
     "escalationStatus": "NoEscalation"},
    {"id": 31, "name": "Resolved", "board": {"id": 3, "name": "Odd Board"}, "closedStatus": False,
     "escalationStatus": "Responded"},
]
PRIORITIES = [
    {"id": 4, "name": "Priority 4 - Low", "sortOrder": 4},
    {"id": 1, "name": "Priority 1 - Critical", "sortOrder": 1},
    {"id": 3, "name": "Priority 3 - Medium", "sortOrder": 3},
    {"id": 2, "name": "Priority 2 - High", "sortOrder": 2},
]
CONTEXT = TicketContext(
    statuses=StatusBook.build(STATUSES),
    impacts=mapping.priority_impacts(PRIORITIES),
    slas=mapping.sla_targets([
        {"sla": {"id": 3, "name": "Standard SLA"}, "priority": {"id": 4}, "respondHours": 8.0, "resolutionHours": 40.0},
    ]),
    tiers=Tiers(teams={"Help Desk*": 1, "Escalations*": 2}, boards={"Tier 2": 2}),
)


def api_ticket(**changes: Any) -> dict[str, Any]:
    """django-connectwise's ``API_SERVICE_TICKET`` (facts §3), trimmed, with ``changes``."""
    ticket = {
        "id": 69, "summary": "Schedule and Execute Conversion", "recordType": "ServiceTicket",
        "board": {"id": 1, "name": "Service Desk"}, "status": {"id": 11, "name": "New"},
        "company": {"id": 2, "identifier": "Big", "name": "Big Design"}, "contact": {"id": 2, "name": "Arnie Bellini"},
        "owner": {"id": 176, "identifier": "User1", "name": "User One"},
        "priority": {"id": 4, "name": "Priority 4 - Low", "sort": 4}, "source": {"id": 2, "name": "Phone"},
        "team": {"id": 7, "name": "Help Desk East"}, "type": {"id": 1, "name": "Incident"},
        "severity": "Medium", "impact": "Medium", "closedFlag": False, "isInSla": True,
        "sla": {"id": 3, "name": "Standard SLA"}, "respondMinutes": 0, "resolveMinutes": 0,
        "_info": {"dateEntered": "2005-05-27T17:30:19Z", "lastUpdated": "2016-03-08T21:59:20Z", "updatedBy": "User1"},
    }
    ticket.update(changes)
    return {k: v for k, v in ticket.items() if v is not None}


# -- setup tables ----------------------------------------------------------------------


@pytest.mark.parametrize(("status", "category"), [
    ({"closedStatus": True, "escalationStatus": "Resolved"}, "closed"),
    ({"closedStatus": False, "escalationStatus": "Resolved"}, "resolved"),
    ({"closedStatus": False, "escalationStatus": "Responded"}, "open"),
    ({"escalationStatus": "NoEscalation"}, "open"),
])
def test_status_category_reads_closed_status_before_escalation_status(status: dict[str, Any], category: str) -> None:
    assert mapping.status_category(status) == category


def test_status_book_prefers_the_tickets_own_board_then_any_board() -> None:
    book = StatusBook.build(STATUSES)
    assert book.category("Service Desk", "Resolved") == "resolved"
    assert book.category("odd board", "resolved") == "open"  # names compare without case
    assert book.category("Unknown Board", "Completed") == "closed"
    assert book.category("Service Desk", "Nowhere") is None


def test_impact_is_the_priority_rank_most_urgent_highest() -> None:
    assert mapping.priority_impacts(PRIORITIES) == {"1": 4, "2": 3, "3": 2, "4": 1}


def test_tiers_match_team_patterns_first_then_boards() -> None:
    tiers = Tiers(teams={"Help Desk*": 1, "Escalations*": 2}, boards={"Tier 2": 2, "Service*": 1})
    assert tiers.of("Help Desk West", "Tier 2") == 1
    assert tiers.of("escalations", None) == 2
    assert tiers.of("Projects", "Tier 2") == 2
    assert tiers.of(None, "Service Desk") == 1
    assert tiers.of("Projects", "Monitoring") is None


def test_survey_scale_sums_included_selection_questions() -> None:
    questions = [
        {"id": 1, "type": "Selection", "options": [{"caption": c, "points": p, "includeFlag": True}
                                                   for c, p in (("Bad", 1), ("OK", 3), ("Great", 5))]},
        {"id": 2, "type": "Selection", "options": [{"points": 0}, {"points": 2}, {"points": 9, "includeFlag": False}]},
        {"id": 3, "type": "OpenEnded", "options": []},
        {"id": 4, "type": "Selection", "includeFlag": False, "options": [{"points": 100}]},
    ]
    assert mapping.survey_scale(questions) == (1.0, 7.0)
    assert mapping.survey_scale([{"type": "OpenEnded"}]) is None


# -- members and companies ------------------------------------------------------------------


@pytest.mark.parametrize(("member", "person"), [
    ({"licenseClass": "F", "type": {"id": 1, "name": "Employee"}}, True),
    ({"licenseClass": "A", "type": {"id": 1, "name": "Employee"}}, False),
    ({"licenseClass": "F", "type": {"id": 2, "name": "Workflow"}}, False),
    ({"licenseClass": "F", "type": {"id": 3, "name": "API Member"}}, False),
    ({"licenseClass": "C"}, True),
])
def test_api_and_workflow_members_are_not_people(member: dict[str, Any], person: bool) -> None:
    assert mapping.is_person(member) is person


def test_identity_keeps_the_identifier_as_vendor_key_and_falls_back_to_office_email() -> None:
    record = load("identity", mapping.identity({
        "id": 176, "identifier": "User1", "firstName": "Jane", "lastName": "Doe", "officeEmail": " Jane@MSP.example ",
        "licenseClass": "F", "type": {"id": 1, "name": "Employee"},
    }))
    assert record["external_id"] == "176" and record["vendor_key"] == "User1"
    assert record["email"] == "jane@msp.example" and record["display_name"] == "Jane Doe" and record["is_person"]
    workflow = load("identity", mapping.identity({"id": 2, "identifier": "Workflow", "firstName": "Workflow Automation",
                                                  "licenseClass": "A"}))
    assert workflow["display_name"] == "Workflow Automation" and workflow["email"] is None
    assert not workflow["is_person"]


def test_the_msp_itself_is_the_internal_client() -> None:
    own = {"id": 1, "identifier": "SummitRidge", "name": "Summit Ridge IT", "types": [{"id": 1, "name": "Internal"}]}
    by_login = {"id": 9, "identifier": "SUMMITRIDGE", "name": "Summit Ridge IT"}
    customer = {"id": 2, "identifier": "Big", "name": "Big Design", "types": [{"id": 2, "name": "Managed"}],
                "status": {"id": 1, "name": "Active"}}
    deleted = {**customer, "id": 3, "deletedFlag": True}
    inactive = {**customer, "id": 4, "status": {"id": 2, "name": "Inactive - Gone"}}
    results = [load("client", mapping.client(c, company_id="summitridge"))
               for c in (own, by_login, customer, deleted, inactive)]
    assert [r["is_internal"] for r in results] == [True, True, False, False, False]
    assert [r["active"] for r in results] == [True, True, True, False, False]


# -- tickets -------------------------------------------------------------------------------


def test_an_open_service_ticket() -> None:
    record = load("ticket", mapping.ticket(api_ticket(), CONTEXT, project=False))
    assert record["number"] == "69" and record["client_external_id"] == "2" and record["contact_external_id"] == "2"
    assert record["owner_external_id"] == "176" and record["board"] == "Service Desk"
    assert record["status"] == "New" and record["status_category"] == "open" and not record["closed"]
    assert record["impact"] == 1 and record["priority"] == "Priority 4 - Low" and record["source"] == "Phone"
    assert record["created_at"] == dt.datetime(2005, 5, 27, 17, 30, 19, tzinfo=UTC)
    assert record["vendor_updated_at"] == dt.datetime(2016, 3, 8, 21, 59, 20, tzinfo=UTC)
    assert record["tier"] == 1 and not record["is_project"]
    assert record["sla_response_met"] is None and record["sla_source"] == "vendor"
    assert record["resolved_at"] is None and record["resolved_by_external_id"] is None


def test_a_resolved_then_closed_ticket_keeps_both_times_and_its_resolver() -> None:
    raw = api_ticket(status={"id": 16, "name": "Closed"}, closedFlag=True, closedDate="2024-05-03T09:00:00Z",
                     closedBy="Workflow", dateResponded="2024-05-01T09:30:00Z", respondMinutes=30,
                     dateResolved="2024-05-01T12:00:00Z", resolveMinutes=180)
    record = load("ticket", mapping.ticket(raw, CONTEXT, project=False, resolved_by="176"))
    assert record["status_category"] == "closed" and record["closed"]
    assert record["resolved_at"] == dt.datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert record["closed_at"] == dt.datetime(2024, 5, 3, 9, tzinfo=UTC)
    assert record["resolved_by_external_id"] == "176"
    assert (record["sla_response_met"], record["sla_resolution_met"]) == (True, True)


def test_a_reopened_ticket_has_no_resolution() -> None:
    raw = api_ticket(status={"id": 11, "name": "New"}, dateResolved="2024-05-01T12:00:00Z")
    record = load("ticket", mapping.ticket(raw, CONTEXT, project=False, resolved_by="176"))
    assert record["resolved_at"] is None and record["resolved_by_external_id"] is None


def test_a_merged_ticket_points_at_its_parent() -> None:
    raw = api_ticket(status={"id": 16, "name": "Closed"}, closedFlag=True, mergedParentTicket={"id": 68})
    record = load("ticket", mapping.ticket(raw, CONTEXT, project=False))
    assert record["merged"] and record["parent_external_id"] == "68"


def test_project_tickets_have_no_tier_even_on_a_tiered_team() -> None:
    raw = api_ticket(board={"id": 4, "name": "Projects"}, status={"id": 41, "name": "Completed"}, closedFlag=True,
                     team={"id": 9, "name": "Escalations"}, sla=None, project={"id": 1000, "name": "Migration"})
    record = load("ticket", mapping.ticket(raw, CONTEXT, project=True))
    assert record["is_project"] and record["tier"] is None and record["status_category"] == "closed"
    assert record["sla_source"] is None and record["sla_response_met"] is None


@pytest.mark.parametrize(("fields", "met"), [
    ({"isInSla": True, "dateResponded": "x", "respondMinutes": 999}, (True, None)),
    ({"isInSla": True, "dateResponded": "x", "dateResolved": "y", "resolveMinutes": 9999}, (True, True)),
    ({"isInSla": False}, (False, None)),
    ({"isInSla": False, "dateResponded": "x", "respondMinutes": 480}, (True, False)),
    ({"isInSla": False, "dateResponded": "x", "respondMinutes": 481}, (False, None)),
    ({"isInSla": False, "dateResponded": "x", "respondMinutes": 30, "dateResolved": "y", "resolveMinutes": 2401},
     (True, False)),
    ({"isInSla": None, "dateResponded": "x", "respondMinutes": 30}, (True, None)),
    ({"sla": None, "isInSla": False}, (None, None)),
])
def test_sla_verdicts_follow_connectwise_clock(fields: dict[str, Any], met: tuple[bool | None, bool | None]) -> None:
    """Standard SLA, priority 4: respond within 8 business hours, resolve within 40."""
    raw = api_ticket(**{"isInSla": None, **fields})
    assert mapping.sla_met(raw, CONTEXT.slas) == met


# -- time, projects, money, surveys ---------------------------------------------------------


def api_time_entry(**changes: Any) -> dict[str, Any]:
    """django-connectwise's ``API_TIME_ENTRY`` (facts §3), with ``changes``."""
    entry = {
        "id": 2, "company": {"id": 2, "identifier": "Big"}, "chargeToId": 69, "chargeToType": "ServiceTicket",
        "member": {"id": 176, "identifier": "User1"}, "workType": {"id": 3, "name": "Regular"},
        "timeStart": "2005-05-16T08:00:00Z", "timeEnd": "2005-05-16T10:00:00Z", "actualHours": 2,
        "billableOption": "Billable", "notes": "server was infected", "hoursBilled": 2, "enteredBy": "user10",
        "dateEntered": "2005-05-16T10:45:00Z", "status": "Billed",
        "_info": {"lastUpdated": "2017-10-17T18:33:20Z", "updatedBy": "CONVERSION"},
    }
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not None}


def test_a_time_entry_keeps_when_it_was_entered() -> None:
    record = load("time_entry", mapping.time_entry(api_time_entry()))
    assert record["ticket_external_id"] == "69" and record["identity_external_id"] == "176"
    assert record["hours"] == 2 and record["billable"] and record["billed_hours"] == 2
    assert record["entered_at"] - record["end_at"] == dt.timedelta(minutes=45)
    assert not record["rejected"] and record["work_type"] == "Regular"


@pytest.mark.parametrize("status", ["Rejected", "RejectBySecondTier"])
def test_rejected_entries_are_flagged(status: str) -> None:
    assert load("time_entry", mapping.time_entry(api_time_entry(status=status)))["rejected"]


def test_time_charged_to_a_charge_code_has_no_ticket_and_unbilled_time_no_billed_hours() -> None:
    record = load("time_entry", mapping.time_entry(
        api_time_entry(chargeToType="ChargeCode", chargeToId=4, billableOption="DoNotBill", hoursBilled=0.0)))
    assert record["ticket_external_id"] is None and not record["billable"] and record["billed_hours"] is None


def test_project_dates_are_calendar_dates() -> None:
    record = load("project", mapping.project({
        "id": 1000, "name": "Migration", "company": {"id": 2}, "manager": {"id": 176, "identifier": "User1"},
        "status": {"id": 3, "name": "Completed"}, "estimatedEnd": "2025-03-14T00:00:00Z",
        "actualEnd": "2025-03-18T00:00:00Z", "budgetHours": 40.0, "actualHours": 43.5,
    }))
    assert (record["estimated_end"], record["actual_end"]) == (dt.date(2025, 3, 14), dt.date(2025, 3, 18))
    assert record["manager_external_id"] == "176" and record["billable_minor"] is None


def test_an_agreement_is_its_additions_per_month() -> None:
    raw = {"id": 20, "name": "MSA - Big", "type": {"id": 1, "name": "Managed Services"}, "company": {"id": 2},
           "billingCycle": {"id": 2, "name": "Quarterly"}, "startDate": "2025-01-01T00:00:00Z",
           "endDate": "2025-12-31T00:00:00Z", "cancelledFlag": True, "dateCancelled": "2025-06-15T00:00:00Z",
           "_info": {"lastUpdated": "2025-06-15T15:00:00Z"}}
    additions = [
        {"id": 1, "extPrice": 300.0, "extCost": 90.0, "billCustomer": "Billable"},
        {"id": 2, "extPrice": 0.01, "extCost": 0.02},
        {"id": 3, "extPrice": 600.0, "extCost": 30.0, "billCustomer": "NoCharge"},
    ]
    record = load("agreement", mapping.agreement(raw, additions, "USD"))
    assert record["monthly_price_minor"] == 10000  # (300.00 + 0.01) / 3, rounded to the cent
    assert record["monthly_cost_minor"] == 4001  # (90 + 0.02 + 30) / 3
    assert record["agreement_type"] == "Managed Services" and record["category"] is None
    assert (record["effective_from"], record["effective_to"], record["cancelled_at"]) == (
        dt.date(2025, 1, 1), dt.date(2025, 12, 31), dt.date(2025, 6, 15))


def test_an_invoice_is_paid_at_its_last_payment_once_its_balance_is_zero() -> None:
    raw = {"id": 5001, "invoiceNumber": "INV-5001", "company": {"id": 2}, "date": "2025-02-01T00:00:00Z",
           "dueDate": "2025-03-03T00:00:00Z", "total": 1234.5, "balance": 0.0, "payments": 1234.5,
           "currency": {"id": 1, "currencyCode": "CAD"}}
    payments = [{"id": 1, "amount": 600.0, "paymentDate": "2025-02-20T10:00:00Z"},
                {"id": 2, "amount": 634.5, "paymentDate": "2025-03-01T10:00:00Z"}]
    assert mapping.is_paid(raw)
    record = load("invoice", mapping.invoice(raw, payments, "USD"))
    assert record["total_minor"] == 123450 and record["balance_minor"] == 0 and record["currency"] == "CAD"
    assert record["paid_at"] == dt.datetime(2025, 3, 1, 10, tzinfo=UTC)
    unpaid = load("invoice", mapping.invoice({**raw, "balance": 634.5, "currency": None}, payments[:1], "USD"))
    assert unpaid["paid_at"] is None and unpaid["currency"] == "USD"
    payment = load("payment", mapping.payment(payments[1], "5001", "CAD"))
    assert payment["amount_minor"] == 63450 and payment["invoice_external_id"] == "5001"


def test_a_survey_result_is_scored_on_its_scale() -> None:
    raw = {"id": 7, "surveyId": 1, "ticketId": 69, "totalPoints": 4, "results": [{"questionId": 1, "answer": "3"}],
           "_info": {"dateEntered": "2025-02-01T10:00:00Z", "lastUpdated": "2025-02-01T10:00:00Z"}}
    record = load("survey", mapping.survey(raw, (1.0, 5.0), "176", 0.75))
    assert (record["score"], record["scale_min"], record["scale_max"], record["positive"]) == (4.0, 1.0, 5.0, True)
    assert record["ticket_external_id"] == "69" and record["identity_external_id"] == "176"
    assert not mapping.survey({**raw, "totalPoints": 3}, (1.0, 5.0), None, 0.75)["positive"]


# -- suggestions ------------------------------------------------------------------------------


def test_mapping_suggestions_are_unconfirmed_and_in_podiums_vocabulary() -> None:
    rows = mapping.mapping_rows(
        "CW",
        boards=[{"id": 1, "name": "Service Desk"}, {"id": 3, "name": "Monitoring"},
                {"id": 4, "name": "Projects", "projectFlag": True}],
        statuses=STATUSES,
        work_types=[{"id": 1, "name": "Remote Support", "billTime": "Billable"},
                    {"id": 4, "name": "Proactive Maintenance", "billTime": "NoCharge", "utilizationFlag": True},
                    {"id": 5, "name": "Internal Meeting", "billTime": "DoNotBill"},
                    {"id": 8, "name": "PTO", "billTime": "DoNotBill"}],
        agreement_types=["Managed Services", "365 Licensing"],
    )
    values = {(r["kind"], r["vendor_value"]): r["podium_value"] for r in rows}
    assert all(r["confirmed"] is False and r["connection"] == "CW" for r in rows)
    assert values[("status", "Resolved")] == "resolved" and values[("status", "Closed")] == "closed"
    assert values[("board", "Monitoring")] == "alert" and values[("board", "Projects")] == "project"
    assert values[("work_type", "Remote Support")] == "billable" and values[("work_type", "PTO")] == "pto"
    assert values[("work_type", "Proactive Maintenance")] == "productive"
    assert values[("work_type", "Internal Meeting")] == "internal"
    assert values[("agreement_type", "Managed Services")] == "managed_services"
    assert values[("agreement_type", "365 Licensing")] == "c_365_licensing"


def test_calendar_suggestions_tell_sla_and_personal_calendars_apart() -> None:
    calendars = [
        {"id": 1, "name": "Business Hours", "mondayStartTime": "08:00:00", "mondayEndTime": "17:00:00"},
        {"id": 2, "name": "Premium", "mondayStartTime": "07:00:00", "mondayEndTime": "19:00:00"},
        {"id": 3, "name": "Jo part time", "tuesdayStartTime": "08:00:00", "tuesdayEndTime": "16:00:00"},
    ]
    members = [{"id": 1, "calendar": {"id": 1}}, {"id": 2, "calendar": {"id": 1}},
               {"id": 3, "calendar": {"id": 3}, "primaryEmail": "jo@msp.example"}]
    slas = [{"id": 2, "customCalendar": {"id": 2}}]
    rows = mapping.calendar_rows(calendars, slas, members, time_zone="America/Chicago")
    assert [(r["name"], r["kind"], r["person"]) for r in rows] == [
        ("Business Hours", "tenant", None), ("Premium", "sla", None), ("Jo part time", "person", "jo@msp.example")]
    assert rows[0]["mon"] == "08:00-17:00" and rows[0]["tue"] is None and rows[2]["tue"] == "08:00-16:00"


def test_member_book_finds_technicians_by_identifier() -> None:
    book = MemberBook.build([
        {"id": 176, "identifier": "User1", "licenseClass": "F"},
        {"id": 2, "identifier": "Workflow", "licenseClass": "A"},
    ])
    assert book.technician("user1") == "176"
    assert book.technician("Workflow") is None and book.id_of("Workflow") == "2"
    assert book.technician("Email") is None and book.technician(None) is None
