"""The ConnectWise protocol over a real socket: discovery, auth, paging, rate limit, callbacks.

A store of 137 members (ids with gaps, so pages and ids do not line up) is enough to
cross page boundaries in both paging modes; the member-hash and callback tests use the
same store. Rate limiting and records changed while paging get simulators of their own.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.connectwise.live import CODEBASE, CREDENTIALS, Live, new_store, serve_live

MEMBER_IDS = [n * 3 + (n % 2) for n in range(1, 138)]


def member(member_id: int) -> dict[str, Any]:
    return {
        "id": member_id, "identifier": f"tech{member_id}", "firstName": "Tech", "lastName": f"Number{member_id}",
        "licenseClass": "F", "inactiveFlag": member_id % 10 == 0, "defaultEmail": "Office", "defaultPhone": "Office",
        "primaryEmail": f"tech{member_id}@msp.example", "agreementInvoicingDisplayOptions": "RemainOnInvoicingScreen",
        "invoiceScreenDefaultTabFormat": "ShowInvoicingTab", "invoicingDisplayOptions": "RemainOnInvoicingScreen",
        "_info": {"lastUpdated": f"2024-01-{1 + member_id % 28:02d}T10:00:00Z", "updatedBy": "admin"},
    }


@pytest.fixture(scope="module")
def live(request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with new_store(request, backend, tmp_path_factory.mktemp("protocol")) as store:
        store.load(("members", None, member(i)) for i in MEMBER_IDS)
        store.set_meta({"company_name": "Summit Ridge IT", "api_member": f"tech{MEMBER_IDS[0]}"})
        store.issue_member_hashes(f"tech{i}" for i in MEMBER_IDS)
        with serve_live(store) as live:
            yield live


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- discovery and authentication ------------------------------------------------------


def test_company_info_discovers_the_codebase_without_authentication(live: Live) -> None:
    response = live.http.get(f"{live.site}/login/companyinfo/{CREDENTIALS.company_id}")
    assert response.status_code == 200
    assert response.json() == {
        "CompanyName": "Summit Ridge IT", "Codebase": CODEBASE, "VersionCode": "v2025.1",
        "VersionNumber": "v4.6.96001", "CompanyID": CREDENTIALS.company_id, "IsCloud": "True",
    }
    assert live.http.get(f"{live.site}/login/companyinfo/someoneelse").status_code == 404


@pytest.mark.parametrize(("headers", "body"), [
    ({"Authorization": basic(f"{CREDENTIALS.company_id}+{CREDENTIALS.public_key}", CREDENTIALS.private_key)},
     {"code": "Unauthorized", "errors": None,
      "message": "The clientId header is required (register one at developer.connectwise.com)"}),
    ({"Authorization": basic(f"{CREDENTIALS.company_id}+{CREDENTIALS.public_key}", CREDENTIALS.private_key),
      "clientId": "00000000-0000-0000-0000-000000000000"},
     {"code": "Unauthorized", "errors": None,
      "message": "The clientId header does not identify a registered integration"}),
    ({"clientId": CREDENTIALS.client_id},
     {"code": "ConnectWiseApi", "message": "UserNotAuthenticated", "errors": None}),
    ({"clientId": CREDENTIALS.client_id,
      "Authorization": basic(f"{CREDENTIALS.company_id}+{CREDENTIALS.public_key}", "wrong-private-key")},
     {"code": "ConnectWiseApi", "message": "UserNotAuthenticated", "errors": None}),
    ({"clientId": CREDENTIALS.client_id,
      "Authorization": basic(f"othercompany+{CREDENTIALS.public_key}", CREDENTIALS.private_key)},
     {"code": "ConnectWiseApi", "message": "UserNotAuthenticated", "errors": None}),
    ({"clientId": CREDENTIALS.client_id, "Authorization": "Basic not-base64!"},
     {"code": "ConnectWiseApi", "message": "UserNotAuthenticated", "errors": None}),
    ({"clientId": CREDENTIALS.client_id, "Authorization": "Bearer abc"},
     {"code": "ConnectWiseApi", "message": "UserNotAuthenticated", "errors": None}),
], ids=["no clientId", "unknown clientId", "no credentials", "bad private key", "other company", "garbage",
        "bearer"])
def test_authentication_failures_are_401_with_connectwise_bodies(live: Live, headers: dict[str, str],
                                                                 body: dict[str, Any]) -> None:
    response = live.http.get(f"{live.api}/system/members", headers=headers)
    assert response.status_code == 401
    assert response.json() == body
    assert CREDENTIALS.private_key not in response.text


def test_member_hash_authenticates_my_members_info_as_basic_or_cookies(live: Live) -> None:
    identifier, other = f"tech{MEMBER_IDS[1]}", f"TECH{MEMBER_IDS[2]}"
    member_hash = live.store.member_hash(identifier)
    assert member_hash and member_hash != live.store.member_hash(other)
    as_basic = live.http.get(f"{live.api}/system/myMembers/info", headers={
        "clientId": CREDENTIALS.client_id, "Authorization": basic(f"{CREDENTIALS.company_id}+{identifier}", member_hash),
    })
    assert as_basic.status_code == 200
    assert as_basic.json()["identifier"] == identifier
    assert as_basic.json()["fullName"] == f"Tech Number{MEMBER_IDS[1]}"
    with httpx.Client(cookies={"companyName": CREDENTIALS.company_id, "memberId": identifier,
                               "memberHash": member_hash, "memberContext": "web"}) as browserless:
        as_cookie = browserless.get(f"{live.api}/system/mymembers/info", headers={"clientId": CREDENTIALS.client_id})
    assert as_cookie.status_code == 200
    assert as_cookie.json()["id"] == MEMBER_IDS[1]
    wrong = live.http.get(f"{live.api}/system/myMembers/info", headers={
        "clientId": CREDENTIALS.client_id, "Authorization": basic(f"{CREDENTIALS.company_id}+{identifier}", "0" * 43),
    })
    assert wrong.status_code == 401
    someone_elses = live.http.get(f"{live.api}/system/myMembers/info", headers={
        "clientId": CREDENTIALS.client_id, "Authorization": basic(f"{CREDENTIALS.company_id}+{other}", member_hash),
    })
    assert someone_elses.status_code == 401
    api_member = live.get("system/myMembers/info")
    assert api_member.json()["identifier"] == f"tech{MEMBER_IDS[0]}"


def test_responses_carry_connectwise_headers(live: Live) -> None:
    response = live.get("system/members/count")
    assert response.headers["api-current-version"] == "2025.1"
    assert response.headers["x-server-name"]
    assert response.headers["x-cw-request-id"] != live.get("system/members/count").headers["x-cw-request-id"]
    assert response.headers["content-type"].startswith("application/json")


# -- navigable paging -------------------------------------------------------------------


def page_ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [record["id"] for record in response.json()]


def test_navigable_paging_returns_every_id_once_with_correct_links(live: Live) -> None:
    first = live.get("system/members", {"pageSize": 25})
    assert set(first.links) == {"next", "last", "first"}
    assert "page=2" in first.links["next"]["url"] and "page=6" in first.links["last"]["url"]
    seen, response, pages = [], first, 0
    while True:
        seen += page_ids(response)
        pages += 1
        if "next" not in response.links:
            break
        response = live.get(response.links["next"]["url"])
    assert seen == sorted(MEMBER_IDS)
    assert pages == 6
    assert set(response.links) == {"prev", "last", "first"}
    assert "page=5" in response.links["prev"]["url"]
    middle = live.get("system/members", {"pageSize": 25, "page": 3})
    assert set(middle.links) == {"next", "prev", "last", "first"}
    assert page_ids(middle) == sorted(MEMBER_IDS)[50:75]


def test_links_keep_the_query_and_default_to_25(live: Live) -> None:
    conditions = "inactiveFlag = false and identifier like 'tech%'"
    response = live.get("system/members", {"conditions": conditions, "orderBy": "id desc"})
    expected = sorted((i for i in MEMBER_IDS if i % 10), reverse=True)
    assert page_ids(response) == expected[:25]
    following = live.get(response.links["next"]["url"])
    assert page_ids(following) == expected[25:50]
    assert "pageSize=25" in response.links["next"]["url"]


def test_a_single_page_has_only_first_and_last_and_pagesize_is_capped_at_1000(live: Live) -> None:
    response = live.get("system/members", {"pageSize": 5000})
    assert page_ids(response) == sorted(MEMBER_IDS)
    assert set(response.links) == {"first", "last"}
    assert "pageSize=1000" in response.links["last"]["url"]
    empty = live.get("system/members", {"conditions": "id < 0"})
    assert page_ids(empty) == [] and set(empty.links) == {"first", "last"}


@pytest.mark.parametrize(("params", "parameter"), [
    ({"page": "0"}, "page"), ({"pageSize": "abc"}, "pageSize"), ({"page": "-2"}, "page"),
    ({"pageId": "5"}, "pageId"),
])
def test_bad_paging_parameters_are_400(live: Live, params: dict[str, str], parameter: str) -> None:
    response = live.get("system/members", params)
    assert response.status_code == 400
    assert response.json()["errors"][0]["resource"] == parameter


# -- forward-only paging ----------------------------------------------------------------


def walk_forward(live: Live, first_url: str, params: dict[str, Any]) -> tuple[list[int], int]:
    response = live.get(first_url, params, **{"pagination-type": "forward-only"})
    seen, requests = [], 1
    while True:
        batch = page_ids(response)
        seen += batch
        if not batch:
            assert "Link" not in response.headers
            return seen, requests
        assert set(response.links) == {"next"}
        assert f"pageId={batch[-1]}" in response.links["next"]["url"]
        response = live.get(response.links["next"]["url"], **{"pagination-type": "forward-only"})
        requests += 1


def test_forward_only_paging_returns_every_id_once_and_ends_on_an_empty_page(live: Live) -> None:
    seen, requests = walk_forward(live, "system/members", {"pageSize": 25, "page": 4})
    assert seen == sorted(MEMBER_IDS)
    assert requests == 7  # 6 pages with rows (the last one short) and the empty page that ends the walk


def test_forward_only_page_id_acts_as_id_greater_than_and_combines_with_conditions(live: Live) -> None:
    seen, _ = walk_forward(live, "system/members", {"pageSize": 10, "pageId": 200,
                                                     "conditions": "inactiveFlag=false"})
    assert seen == sorted(i for i in MEMBER_IDS if i > 200 and i % 10)


def test_forward_only_refuses_order_by(live: Live) -> None:
    response = live.get("system/members", {"orderBy": "lastName desc"}, **{"pagination-type": "forward-only"})
    assert response.status_code == 400
    assert "orderBy cannot be used with forward-only" in response.json()["errors"][0]["message"]


def test_a_record_changed_while_paging_forward_is_seen_once_with_its_new_stamp(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The connector's incremental sync pages ``lastUpdated > [watermark]`` by id; an edit
    that moves a record's stamp while the walk is under way must not duplicate or lose it."""
    with new_store(request, backend, tmp_path_factory.mktemp("changing")) as store, serve_live(store) as live:
        store.load(("members", None, member(i)) for i in MEMBER_IDS)
        params = {"pageSize": 20, "conditions": "lastUpdated > [2024-01-01T00:00:00Z]"}
        response = live.get("system/members", params, **{"pagination-type": "forward-only"})
        behind, ahead = MEMBER_IDS[5], MEMBER_IDS[100]
        seen: dict[int, str] = {}
        stamps: dict[int, str] = {}
        while True:
            for record in response.json():
                assert record["id"] not in seen
                seen[record["id"]] = record["_info"]["lastUpdated"]
            if "next" not in response.links:
                break
            if not stamps:  # after the first page: one edit behind the cursor, one ahead of it
                for member_id in (behind, ahead):
                    changed = store.update("members", member_id, {"title": "Changed mid-walk"})
                    stamps[member_id] = changed["_info"]["lastUpdated"]
            response = live.get(response.links["next"]["url"], **{"pagination-type": "forward-only"})
        assert sorted(seen) == sorted(MEMBER_IDS)
        assert seen[ahead] == stamps[ahead] > member(ahead)["_info"]["lastUpdated"]
        assert seen[behind] == member(behind)["_info"]["lastUpdated"], "already paged: the next sync picks it up"
        changed = live.get(f"system/members/{behind}").json()
        assert changed["title"] == "Changed mid-walk" and changed["_info"]["lastUpdated"] == stamps[behind]
        again = live.get("system/members", {"conditions": f"lastUpdated >= [{min(stamps.values())}]"})
        assert sorted(r["id"] for r in again.json()) == [behind, ahead]


# -- rate limit -------------------------------------------------------------------------


def test_requests_past_the_rate_get_429_with_retry_after(live: Live) -> None:
    with serve_live(live.store, rate_limit_per_minute=3) as limited:
        statuses = [limited.get("system/members/count").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = limited.get("system/members/count")
        assert refused.status_code == 429
        wait = int(refused.headers["Retry-After"])
        assert 1 <= wait <= 60
        assert refused.json() == {"error": "ConnectWiseAPI",
                                  "message": f"Too many requests. Please try again in {wait} seconds."}
        assert limited.http.get(f"{limited.site}/login/companyinfo/{CREDENTIALS.company_id}").status_code == 200
        other_member = limited.http.get(f"{limited.api}/system/myMembers/info", headers={
            "clientId": CREDENTIALS.client_id,
            "Authorization": basic(f"{CREDENTIALS.company_id}+tech{MEMBER_IDS[3]}",
                                   live.store.member_hash(f"tech{MEMBER_IDS[3]}") or ""),
        })
        assert other_member.status_code == 200, "the limit is per caller"


# -- callbacks ----------------------------------------------------------------------------


def test_callbacks_crud(live: Live) -> None:
    body = {"url": "https://podium.example/hooks/abc?recordId=", "objectId": 1, "type": "ticket", "level": "owner",
            "description": "Podium tickets", "inactiveFlag": False, "payloadVersion": "3.0.0",
            "isSelfSuppressedFlag": False}
    created = live.send("POST", "system/callbacks", json=body)
    assert created.status_code == 201, created.text
    entry = created.json()
    assert {k: entry[k] for k in body} == body
    assert entry["memberId"] == MEMBER_IDS[0] and entry["isSoapCallbackFlag"] is False
    assert len(entry["connectWiseID"]) == 36 and entry["_info"]["lastUpdated"].endswith("Z")
    callback_id = entry["id"]
    try:
        assert live.get(f"system/callbacks/{callback_id}").json() == entry
        found = live.get("system/callbacks", {"conditions": 'url contains "podium.example"'}).json()
        assert [e["id"] for e in found] == [callback_id]
        duplicate = live.send("POST", "system/callbacks", json=body)
        assert duplicate.status_code == 400
        assert duplicate.json()["errors"][0]["code"] == "ObjectExists"
        patched = live.send("PATCH", f"system/callbacks/{callback_id}",
                            json=[{"op": "replace", "path": "inactiveFlag", "value": True}])
        assert patched.status_code == 200 and patched.json()["inactiveFlag"] is True
        put = live.send("PUT", f"system/callbacks/{callback_id}", json={**body, "level": "board", "objectId": 4})
        assert put.status_code == 200
        assert put.json()["level"] == "board" and put.json()["inactiveFlag"] is False
        assert put.json()["connectWiseID"] == entry["connectWiseID"]
        assert live.get("system/callbacks/count").json() == {"count": 1}
    finally:
        assert live.send("DELETE", f"system/callbacks/{callback_id}").status_code == 204
    assert live.get(f"system/callbacks/{callback_id}").status_code == 404
    assert live.send("DELETE", f"system/callbacks/{callback_id}").status_code == 404


@pytest.mark.parametrize(("body", "code", "field"), [
    ({"objectId": 1, "type": "ticket", "level": "owner"}, "MissingRequiredField", "url"),
    ({"url": "https://x.example/?id=", "objectId": "1", "type": "ticket", "level": "owner"}, "InvalidField", "objectId"),
    ({"url": "https://x.example/?id=", "objectId": 1, "type": "ticket", "level": "everything"}, "InvalidField", "level"),
    ({"url": "https://x.example/?id=", "objectId": 1, "type": "ticket", "level": "owner", "colour": "red"},
     "InvalidField", "colour"),
    (["not", "an", "object"], "InvalidObject", None),
])
def test_invalid_callbacks_are_400_invalid_object(live: Live, body: Any, code: str, field: str | None) -> None:
    response = live.send("POST", "system/callbacks", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidObject"
    assert response.json()["errors"][0]["code"] == code
    assert response.json()["errors"][0]["field"] == field


def test_read_only_resources_refuse_writes(live: Live) -> None:
    assert live.send("POST", "system/members", json={"identifier": "x"}).status_code == 405
    assert live.send("DELETE", f"system/members/{MEMBER_IDS[0]}").status_code == 405
