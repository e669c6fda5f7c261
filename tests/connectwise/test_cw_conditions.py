"""``conditions``, ``orderBy``, ``fields``, ``count`` and ``POST search`` over HTTP, on both backends.

Six hand-written service tickets make every expected id obvious; each expression of the
table goes over a real socket as a client would send it (URL-encoded by httpx) and must
return exactly the ids listed. Unsupported expressions must come back as ConnectWise's
400 naming the field and the reason — never as an empty or partial page.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.connectwise.live import CODEBASE, Live, new_store, serve_live


def info(updated: str, entered: str = "2023-06-01T08:00:00Z") -> dict[str, str]:
    return {"lastUpdated": updated, "updatedBy": "jdoe", "dateEntered": entered, "enteredBy": "jdoe"}


SERVICE_DESK = {"id": 1, "name": "Service Desk"}
TIER_2 = {"id": 2, "name": "Tier 2"}
JDOE = {"id": 101, "identifier": "jdoe", "name": "Jane Doe"}
ASMITH = {"id": 102, "identifier": "asmith", "name": "Al Smith"}

TICKETS: list[dict[str, Any]] = [
    {"id": 1, "summary": "VPN down at head office", "recordType": "ServiceTicket", "board": SERVICE_DESK,
     "status": {"id": 11, "name": "New"}, "owner": JDOE, "priority": {"id": 3, "name": "P3", "sort": 3},
     "closedFlag": False, "actualHours": 1.5, "resources": "jdoe", "severity": "Medium",
     "_info": info("2024-01-01T10:00:00Z", "2023-12-30T09:00:00Z")},
    {"id": 2, "summary": "Printer offline", "recordType": "ServiceTicket", "board": TIER_2,
     "status": {"id": 26, "name": "Closed"}, "owner": ASMITH, "priority": {"id": 2, "name": "P2", "sort": 2},
     "closedFlag": True, "closedDate": "2024-02-01T00:00:00Z", "closedBy": "asmith", "parentTicketId": 1,
     "actualHours": 3.25, "severity": "High", "_info": info("2024-02-01T00:00:00Z", "2024-01-15T12:00:00Z")},
    {"id": 3, "summary": "vpn slow from home", "recordType": "ServiceTicket", "board": SERVICE_DESK,
     "status": {"id": 12, "name": "In Progress"}, "closedFlag": False,
     "priority": {"id": 4, "name": "P4", "sort": 4}, "_info": info("2024-03-01T12:30:00Z")},
    {"id": 4, "summary": 'User says "hi"', "recordType": "ServiceTicket", "board": {"id": 3, "name": "Monitoring"},
     "status": {"id": 35, "name": "Closed"}, "owner": JDOE, "closedFlag": True, "closedDate": "2024-03-01T12:30:01Z",
     "closedBy": "jdoe", "_info": info("2024-03-01T12:30:01Z")},
    {"id": 5, "summary": "100% CPU_load on SRV01", "recordType": "ServiceTicket", "board": SERVICE_DESK,
     "status": {"id": 11, "name": "New"}, "closedFlag": False, "actualHours": 0.0,
     "_info": info("2023-12-31T23:59:59Z")},
    {"id": 6, "summary": "Low Priority request: new mouse", "recordType": "ServiceTicket", "board": TIER_2,
     "status": {"id": 22, "name": "In Progress"}, "owner": ASMITH, "closedFlag": False, "parentTicketId": 3,
     "severity": "Low", "_info": info("2024-01-01T10:00:00Z")},
]


@pytest.fixture(scope="module")
def live(request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with new_store(request, backend, tmp_path_factory.mktemp("conditions")) as store:
        store.load(("service_tickets", None, ticket) for ticket in TICKETS)
        with serve_live(store) as live:
            yield live


def ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [record["id"] for record in response.json()]


CASES = [
    ("closedFlag=False", [1, 3, 5, 6]),
    ("closedflag = true", [2, 4]),
    ("board/id=1", [1, 3, 5]),
    ("board/name='Tier 2'", [2, 6]),
    ('board/name="tier 2"', [2, 6]),
    ("board/id in (2, 3)", [2, 4, 6]),
    ("board/id not in (1,2)", [4]),
    ("id != 1 and id < 4", [2, 3]),
    ("id >= 5", [5, 6]),
    ("id <= 1 OR id > 5", [1, 6]),
    ('summary contains "vpn"', [1, 3]),
    ('summary not contains "VPN"', [2, 4, 5, 6]),
    ('summary contains "100%"', [5]),
    ('summary contains "CPU_l"', [5]),
    ('summary like "%offline"', [2]),
    ('summary like "vpn*"', [1, 3]),
    ('summary not like "%o%"', [4]),
    ('summary = "printer offline"', [2]),
    ('summary != "Printer offline"', [1, 3, 4, 5, 6]),
    (r'summary = "User says \"hi\""', [4]),
    ('summary in ("Printer offline", "vpn slow from home")', [2, 3]),
    ("owner/identifier='jdoe'", [1, 4]),
    ("owner/identifier=null", [3, 5]),
    ("owner/id != null", [1, 2, 4, 6]),
    ("parentTicketId=null", [1, 3, 4, 5]),
    ("parentTicketId=1", [2]),
    ("closedDate > [2024-02-01T00:00:00Z]", [4]),
    ("closedDate >= [2024-02-01T00:00:00Z]", [2, 4]),
    ("lastUpdated > [2024-01-01]", [1, 2, 3, 4, 6]),
    ("lastUpdated>[2024-03-01T12:30:00Z]", [4]),
    ("lastUpdated>=[2024-03-01T12:30:00.000Z]", [3, 4]),
    ("lastUpdated > [2024-03-01T12:30:00.5Z]", [4]),
    ("lastUpdated <= [2024-03-01T12:30:00.5Z]", [1, 2, 3, 5, 6]),
    ("lastUpdated = [2024-03-01T06:30:00-06:00]", [3]),
    ("lastUpdated < [2024-01-01T10:00:00Z]", [5]),
    ("dateEntered < [2024-01-01]", [1, 3, 4, 5, 6]),
    ("actualHours > 1", [1, 2]),
    ("actualHours = 0", [5]),
    ("priority/sort <= 3 and closedFlag = false", [1]),
    ("(board/id = 1 or board/id = 2) and closedFlag = true", [2]),
    ("board/id = 1 or board/id = 2 and closedFlag = true", [1, 2, 3, 5]),
    ("(board/id = 1 or (owner/identifier = 'asmith' and severity = 'Low')) and id > 1", [3, 5, 6]),
    ("((id = 1))", [1]),
    ("severity='high' AND closedFlag=True", [2]),
    ("status/name='Closed' AND board/name != 'Monitoring'", [2]),
    ("recordType = 'ServiceTicket' and summary like '%request%'", [6]),
]


@pytest.mark.parametrize(("conditions", "expected"), CASES, ids=[c for c, _ in CASES])
def test_conditions_select_exactly_the_matching_tickets(live: Live, conditions: str, expected: list[int]) -> None:
    assert ids(live.get("service/tickets", {"conditions": conditions})) == expected
    assert live.get("service/tickets/count", {"conditions": conditions}).json() == {"count": len(expected)}


BAD = [
    ("bogus = 1", "bogus is not a field of Ticket", "bogus"),
    ("board = 1", "board is a reference", "board"),
    ("board/colour = 'red'", "board/colour is not a field of Ticket", "board/colour"),
    ("closedFlag ~ True", "unexpected '~", None),
    ("closedFlag is True", "'is' is not an operator", "closedFlag"),
    ("id = 1 and (board/id = 2", "unbalanced '('", None),
    ("id = 1) or id = 2", "unbalanced ')'", None),
    ("lastUpdated > [2024-13-45]", "[2024-13-45] is not a datetime", "lastUpdated"),
    ("lastUpdated > '2024-01-01'", "put the value in square brackets", "lastUpdated"),
    ("lastUpdated > [2024-01-01", "unterminated [datetime]", None),
    ("summary = 'unterminated", "unterminated string", None),
    ("id = 'one'", "id is a number", "id"),
    ("id = 1.5", "id is an integer", "id"),
    ("summary = 5", "summary is a string: quote the value", "summary"),
    ("closedFlag = 'false'", "use True or False", "closedFlag"),
    ("closedFlag > True", "compare it with = or !=", "closedFlag"),
    ("id contains 1", "contains needs a string field", "id"),
    ("summary > null", "null can only be compared with = or !=", "summary"),
    ("id in 1, 2", "in takes a list in parentheses", "id"),
    ("id not between 1", "'not' must be followed by contains, like or in", "id"),
    ("customFields/value = 'x'", "customFields/value is not a field of Ticket", "customFields/value"),
    ("customFields = 'x'", "customFields is a list", "customFields"),
    ("id = 1 id = 2", "expected AND or OR", None),
    ("and id = 1", "expected a field name", None),
    ("id =", "conditions ends too early", None),
]


@pytest.mark.parametrize(("conditions", "reason", "field"), BAD, ids=[c for c, _, _ in BAD])
def test_unsupported_conditions_are_a_400_naming_the_reason(live: Live, conditions: str, reason: str,
                                                           field: str | None) -> None:
    for path in ("service/tickets", "service/tickets/count"):
        response = live.get(path, {"conditions": conditions})
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["code"] == "InvalidObject"
        assert body["message"] == "conditions is invalid"
        (item,) = body["errors"]
        assert reason in item["message"]
        assert item["resource"] == "conditions"
        assert item["field"] == field


def test_order_by_sorts_on_one_or_more_fields_and_ties_break_on_id(live: Live) -> None:
    assert ids(live.get("service/tickets", {"orderBy": "lastUpdated desc"})) == [4, 3, 2, 1, 6, 5]
    assert ids(live.get("service/tickets", {"orderBy": "board/id desc, summary asc"})) == [4, 6, 2, 5, 1, 3]
    assert ids(live.get("service/tickets", {"orderBy": "owner/identifier"})) == [3, 5, 2, 6, 1, 4]
    assert ids(live.get("service/tickets", {"orderBy": "actualHours desc", "conditions": "board/id=1"})) == [1, 5, 3]


@pytest.mark.parametrize(("order_by", "reason"), [
    ("colour asc", "colour is not a field of Ticket"),
    ("summary sideways", "orderBy entries are 'field asc' or 'field desc'"),
    ("board asc", "board is not a sortable value"),
])
def test_bad_order_by_is_a_400(live: Live, order_by: str, reason: str) -> None:
    response = live.get("service/tickets", {"orderBy": order_by})
    assert response.status_code == 400
    assert reason in response.json()["errors"][0]["message"]


def test_fields_projects_nested_values_and_refuses_unknown_ones(live: Live) -> None:
    response = live.get("service/tickets", {"fields": "id,summary,board/name,owner/identifier,lastUpdated",
                                            "conditions": "id in (1, 3)"})
    assert response.json() == [
        {"id": 1, "summary": "VPN down at head office", "board": {"name": "Service Desk"},
         "owner": {"identifier": "jdoe"}, "_info": {"lastUpdated": "2024-01-01T10:00:00Z"}},
        {"id": 3, "summary": "vpn slow from home", "board": {"name": "Service Desk"},
         "_info": {"lastUpdated": "2024-03-01T12:30:00Z"}},
    ]
    assert live.get("service/tickets/2", {"fields": "id,status"}).json() == {"id": 2, "status": {"id": 26, "name": "Closed"}}
    bad = live.get("service/tickets", {"fields": "id,colour"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0] == {"code": "InvalidParameter", "message": "colour is not a field of Ticket",
                                       "resource": "fields", "field": "colour"}


def test_post_search_takes_conditions_too_long_for_a_url(live: Live) -> None:
    long_list = ", ".join(str(n) for n in range(7, 3000))
    conditions = f"(id in (2, 4, {long_list}) or summary contains 'vpn') and closedFlag = true"
    assert len(conditions) > 10_000
    response = live.send("POST", "service/tickets/search", json={"conditions": conditions}, params={"orderBy": "id desc"})
    assert ids(response) == [4, 2]
    bad = live.send("POST", "service/tickets/search", json={"conditions": "nope = 1"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "nope"
    extra = live.send("POST", "service/tickets/search", json={"conditions": "id=1", "childConditions": "x"})
    assert extra.status_code == 400
    assert extra.json()["errors"][0]["field"] == "childConditions"
    get = live.send("GET", "service/tickets/search")
    assert get.status_code == 405


def test_unimplemented_query_parameters_are_refused_not_ignored(live: Live) -> None:
    for name in ("childConditions", "customFieldConditions"):
        response = live.get("service/tickets", {name: 'caption="x"'})
        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == "NotSupported"


def test_item_and_count_endpoints(live: Live) -> None:
    assert live.get("service/tickets/6").json() == TICKETS[5]
    missing = live.get("service/tickets/999")
    assert missing.status_code == 404
    assert missing.json() == {"code": "NotFound", "message": "Ticket 999 was not found", "errors": None}
    assert live.get("service/tickets/count").json() == {"count": 6}


def test_paths_ignore_case_and_doubled_slashes(live: Live) -> None:
    response = live.send("GET", f"{live.site}/{CODEBASE}/apis/3.0//SERVICE/Tickets/count")
    assert response.json() == {"count": 6}
    assert live.get("service/nothing").status_code == 404
