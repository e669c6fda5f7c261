"""The fidelity bar: a client written for the real ConnectWise API reads the whole simulated world.

``cw_real_client`` knows nothing of the simulator: it discovers the codebase, follows
``Link`` headers and validates every record of every endpoint against strict pydantic
models of ConnectWise's fields. The world is a small one (a few technicians, five weeks),
rendered once per backend.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from podium.simulate import World
from podium_connectwise.simulator.render import load_world
from tests.connectwise.cw_real_client import (
    SLA,
    Addition,
    Agreement,
    AuditTrailEntry,
    Board,
    BoardStatus,
    BoardSubType,
    BoardTeam,
    BoardType,
    Calendar,
    CallbackEntry,
    ChargeCode,
    Company,
    ConfigurationReference,
    ConnectWiseClient,
    Contact,
    Holiday,
    HolidayList,
    Invoice,
    Member,
    MyMemberInfo,
    Payment,
    Priority,
    Project,
    ProjectTicket,
    ServiceNote,
    SLAPriority,
    Survey,
    SurveyQuestion,
    SurveyResult,
    Ticket,
    TimeEntry,
    WorkType,
)
from tests.connectwise.live import CODEBASE, CREDENTIALS, SMALL_WORLD, Live, new_store, serve_live

TOP_LEVEL: list[tuple[str, type[BaseModel], str]] = [
    ("system/members", Member, "members"),
    ("company/companies", Company, "companies"),
    ("company/contacts", Contact, "contacts"),
    ("service/boards", Board, "boards"),
    ("service/priorities", Priority, "priorities"),
    ("service/SLAs", SLA, "slas"),
    ("schedule/calendars", Calendar, "calendars"),
    ("schedule/holidayLists", HolidayList, "holiday_lists"),
    ("time/workTypes", WorkType, "work_types"),
    ("time/chargeCodes", ChargeCode, "charge_codes"),
    ("service/tickets", Ticket, "service_tickets"),
    ("project/tickets", ProjectTicket, "project_tickets"),
    ("time/entries", TimeEntry, "time_entries"),
    ("service/surveys", Survey, "surveys"),
    ("finance/agreements", Agreement, "agreements"),
    ("finance/invoices", Invoice, "invoices"),
    ("project/projects", Project, "projects"),
]
CHILDREN: list[tuple[str, str, type[BaseModel], str]] = [
    ("service/boards", "statuses", BoardStatus, "board_statuses"),
    ("service/boards", "teams", BoardTeam, "board_teams"),
    ("service/boards", "types", BoardType, "board_types"),
    ("service/boards", "subtypes", BoardSubType, "board_subtypes"),
    ("service/SLAs", "priorities", SLAPriority, "sla_priorities"),
    ("schedule/holidayLists", "holidays", Holiday, "holidays"),
    ("service/tickets", "notes", ServiceNote, "ticket_notes"),
    ("service/tickets", "configurations", ConfigurationReference, "ticket_configurations"),
    ("service/surveys", "questions", SurveyQuestion, "survey_questions"),
    ("service/surveys", "results", SurveyResult, "survey_results"),
    ("finance/agreements", "additions", Addition, "additions"),
    ("finance/invoices", "payments", Payment, "invoice_payments"),
]


@pytest.fixture(scope="session")
def world_live(request: pytest.FixtureRequest, backend: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Live, dict[str, int]]]:
    with new_store(request, backend, tmp_path_factory.mktemp("world")) as store:
        counts = load_world(store, World(SMALL_WORLD))
        with serve_live(store) as live:
            yield live, counts


@pytest.fixture(scope="module")
def client(world_live: tuple[Live, dict[str, int]]) -> Iterator[ConnectWiseClient]:
    live, _ = world_live
    client = live.client(page_size=100)
    yield client
    client.close()


def test_the_client_discovers_the_codebase_from_company_info(client: ConnectWiseClient) -> None:
    assert client.info.Codebase == CODEBASE
    assert client.info.CompanyName == "Summit Ridge IT"
    assert client.base.endswith(f"/{CODEBASE}apis/3.0")


@pytest.mark.parametrize(("path", "model", "resource"), TOP_LEVEL, ids=[p for p, _, _ in TOP_LEVEL])
def test_every_record_of_every_list_endpoint_validates(client: ConnectWiseClient, world_live: tuple[Live, dict[str, int]],
                                                       path: str, model: type[BaseModel], resource: str) -> None:
    _, counts = world_live
    records = client.all(path, model)
    ids = [record.id for record in records]  # type: ignore[attr-defined]
    assert len(ids) == len(set(ids)) == counts[resource] == client.count(path) > 0
    assert ids == sorted(ids)
    forward = client.all(path, model, forward_only=True, page_size=37)
    assert [record.id for record in forward] == ids  # type: ignore[attr-defined]
    one = client.get(f"{path}/{ids[-1]}", model)
    assert one == records[-1]


@pytest.mark.parametrize(("parent", "child", "model", "resource"), CHILDREN, ids=[f"{p}/{c}" for p, c, _, _ in CHILDREN])
def test_every_record_of_every_child_endpoint_validates(client: ConnectWiseClient, world_live: tuple[Live, dict[str, int]],
                                                        parent: str, child: str, model: type[BaseModel],
                                                        resource: str) -> None:
    _, counts = world_live
    parents = [p["id"] for p in client.request("GET", parent, params={"pageSize": 1000, "fields": "id"}).json()]
    total = 0
    for parent_id in parents:
        total += len(client.all(f"{parent}/{parent_id}/{child}", model))
    assert total == counts.get(resource, 0)
    assert client.count(f"{parent}/{parents[0]}/{child}") == len(client.all(f"{parent}/{parents[0]}/{child}", model))
    if resource != "invoice_payments":  # a five-week world has no invoice paid yet
        assert total > 0


def test_every_ticket_has_an_audit_trail_that_validates(client: ConnectWiseClient,
                                                        world_live: tuple[Live, dict[str, int]]) -> None:
    _, counts = world_live
    total = 0
    for kind, path in (("Ticket", "service/tickets"), ("ProjectTicket", "project/tickets")):
        for ticket in client.request("GET", path, params={"pageSize": 1000, "fields": "id,status"}).json():
            entries = client.all("system/audittrail", AuditTrailEntry, type=kind, id=ticket["id"])
            stamps = [entry.enteredDate for entry in entries]
            assert stamps == sorted(stamps)
            statuses = [e for e in entries if e.auditSubType == "Status"]
            if statuses:
                assert statuses[-1].text.endswith(f'to "{ticket["status"]["name"]}"')
            total += len(entries)
    assert total == counts["ticket_audit_trail"] + counts["project_ticket_audit_trail"] > 0


def test_audit_trail_needs_a_known_type_and_an_existing_record(world_live: tuple[Live, dict[str, int]]) -> None:
    live, _ = world_live
    assert live.get("system/audittrail", {"id": 10001}).status_code == 400
    unsupported = live.get("system/audittrail", {"type": "Opportunity", "id": 1})
    assert unsupported.status_code == 400 and unsupported.json()["errors"][0]["code"] == "NotSupported"
    assert live.get("system/audittrail", {"type": "Ticket", "id": 1}).status_code == 404


def test_member_hash_login_returns_my_member_info(world_live: tuple[Live, dict[str, int]]) -> None:
    live, _ = world_live
    member = live.get("system/members", {"conditions": "licenseClass='F' and inactiveFlag=false"}).json()[0]
    member_hash = live.store.member_hash(member["identifier"])
    assert member_hash is not None
    token = base64.b64encode(f"{CREDENTIALS.company_id}+{member['identifier']}:{member_hash}".encode()).decode()
    response = live.http.get(f"{live.api}/system/myMembers/info",
                             headers={"clientId": CREDENTIALS.client_id, "Authorization": f"Basic {token}"})
    info = MyMemberInfo.model_validate_json(response.content)
    assert (info.id, info.identifier, info.defaultEmail) == (member["id"], member["identifier"], member["primaryEmail"])


def test_references_point_at_records_that_exist(client: ConnectWiseClient) -> None:
    members = {m.id: m for m in client.all("system/members", Member)}
    companies = {c.id: c for c in client.all("company/companies", Company)}
    boards = {b.id for b in client.all("service/boards", Board)}
    statuses = {s.id: s for b in boards for s in client.all(f"service/boards/{b}/statuses", BoardStatus)}
    tickets = {t.id: t for t in client.all("service/tickets", Ticket)}
    for ticket in tickets.values():
        assert ticket.board is not None and ticket.board.id in boards
        assert ticket.status is not None and statuses[ticket.status.id].board.id == ticket.board.id  # type: ignore[union-attr]
        assert ticket.company is not None and companies[ticket.company.id].identifier == ticket.company.identifier
        assert ticket.owner is None or members[ticket.owner.id].identifier == ticket.owner.identifier
        assert bool(ticket.closedFlag) == bool(statuses[ticket.status.id].closedStatus)
    for entry in client.all("time/entries", TimeEntry, conditions="chargeToType='ServiceTicket'"):
        assert entry.chargeToId in tickets and entry.ticket is not None and entry.ticket.id == entry.chargeToId
        assert entry.member is not None and members[entry.member.id].identifier == entry.member.identifier


def test_incremental_conditions_a_connector_sends_match_the_records(client: ConnectWiseClient) -> None:
    everything = client.all("time/entries", TimeEntry)
    cutoff = sorted(e.info["lastUpdated"] for e in everything if e.info)[len(everything) // 2]  # type: ignore[index]
    newer = client.all("time/entries", TimeEntry, conditions=f"lastUpdated > [{cutoff}]")
    assert {e.id for e in newer} == {e.id for e in everything if e.info and e.info["lastUpdated"] > cutoff}
    in_list = [e.id for e in everything[:5]]
    chosen = client.all("time/entries", TimeEntry,
                        conditions=f"(chargeToType='ServiceTicket' OR chargeToType='ProjectTicket') "
                                   f"AND id in ({', '.join(map(str, in_list))})")
    assert {e.id for e in chosen} == {e.id for e in everything[:5] if e.chargeToType != "ChargeCode"}


def test_callbacks_round_trip_through_the_real_client(client: ConnectWiseClient) -> None:
    body: dict[str, Any] = {"url": "https://podium.example/hooks/t0k3n?recordId=", "objectId": 1, "type": "ticket",
                            "level": "owner", "description": "Podium", "inactiveFlag": False}
    created = CallbackEntry.model_validate_json(client.request("POST", "system/callbacks", json=body).content)
    try:
        listed = client.all("system/callbacks", CallbackEntry)
        assert [c.id for c in listed] == [created.id]
    finally:
        client.request("DELETE", f"system/callbacks/{created.id}")
