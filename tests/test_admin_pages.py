"""The admin pages, through the Flask test client on SQLite and PostgreSQL: who may open
what, CSRF, masked secrets, plan errors with their line and field, the preview and the
what-if equal to the REST API's, approve → close → payroll CSV, CSV import errors,
identity links, the audit log and health.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from podium.app import create_app
from podium.auth import create_token, create_user
from podium.connections import create_connection
from podium.crypto import MASK
from podium.models import Identity, PayoutPeriod, SyncState, Tenant, User, utcnow
from podium.payouts.export import payroll_csv
from podium.runtime import Podium
from sqlalchemy import select

from tests.payouts.conftest import PLANS, World, payouts, plugin_sources, runtime, world  # noqa: F401 - fixtures
from tests.payouts.test_close import ACK

PASSWORD = "correct horse battery staple"
PLAN = "engineer-quarterly"
PERIOD = "FY2025-Q1"
SOURCE = (PLANS / "engineer_quarterly_scorecard.yaml").read_text()
CW_CONFIG = {
    "site": "http://127.0.0.1:9", "company_id": "summitridge", "public_key": "PublicKeyShown",
    "private_key": "Private-Key-Never-Shown", "client_id": "3f6c2f0e-9d1a-4d43-b5a1-0c5c1b0f7a11",
    "allow_http": True,
}


@dataclass
class Org:
    tenant_id: int
    people: dict[str, int]
    connection_id: int
    ghost_identity: int


@pytest.fixture
def app(runtime: Podium) -> Flask:  # noqa: F811 - the payouts runtime fixture
    return create_app(runtime, run_jobs=False)


@pytest.fixture
def org(world: World) -> Org:  # noqa: F811
    """Ana and Bo (engineers, values for Q1 2025), Max their manager; a user per role
    (Max is the manager); a ConnectWise connection with one unlinked vendor account."""
    people = {name: world.person(name, role=role) for name, role in
              (("Ana", "Engineer L1"), ("Bo", "Engineer L2"), ("Max", "Manager"))}
    for person in people.values():
        world.member(person, "Engineers")
    with world.session() as session:
        for role in ("admin", "technician", "auditor"):
            create_user(session, world.tenant_id, f"{role}@acme.example", role, password=PASSWORD,
                        person_id=people["Ana"] if role == "technician" else None)
        create_user(session, world.tenant_id, "manager@acme.example", "manager", password=PASSWORD,
                    person_id=people["Max"])
        connection = create_connection(world.podium, session, world.tenant_id, "connectwise", "CW", CW_CONFIG)
        ghost = Identity(tenant_id=world.tenant_id, connection_id=connection.id, external_id="m-ghost",
                         display_name="Ghost Member", email="ghost@acme.example")
        session.add(ghost)
        session.flush()
        return Org(world.tenant_id, people, connection.id, ghost.id)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


class Browser:
    """A test client signed in as one role, sending the page's CSRF token with its forms."""

    def __init__(self, app: Flask, role: str) -> None:
        self.client: FlaskClient = app.test_client()
        csrf = csrf_of(self.client.get("/signin/").get_data(as_text=True))
        signed = self.client.post("/signin/", data={"csrf": csrf, "email": f"{role}@acme.example",
                                                   "password": PASSWORD})
        assert signed.status_code == 302, signed.get_data(as_text=True)
        self.csrf = csrf_of(self.client.get("/signin/done").get_data(as_text=True))

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.client.post(path, data={"csrf": self.csrf, **(data or {})}, **kwargs)


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def api_token(podium: Podium, tenant_id: int, email: str) -> dict[str, str]:
    with podium.db.session(tenant_id) as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        return {"Authorization": f"Bearer {create_token(session, user, 'test')}"}


def apply_plan_through_the_page(admin: Browser) -> None:
    response = admin.post("/admin/plans/upload", {"source": SOURCE, "name": "eng.yaml", "action": "apply",
                                                  "effective_from": "2025-01-01"})
    assert response.status_code == 302, text(response)
    assert response.headers["Location"].startswith(f"/admin/plans/{PLAN}/preview")


def with_values(world: World, org: Org) -> None:  # noqa: F811
    """Acknowledgments and Q1 CSAT for Ana and Bo (a plan must be applied first)."""
    q1 = world.period(PERIOD, "quarterly")
    with world.session() as session:
        version_id = world.engine.version_for(session, world.plan(session, PLAN), q1.start).id
    for name in ("Ana", "Bo"):
        world.acknowledge(org.people[name], version_id, ACK)
        world.value("csat_positive_pct", org.people[name], q1, 39, 40)


def amounts_on(html: str, table_id: str) -> dict[int, list[int]]:
    """``data-minor`` amounts of each person's row in the table ``table_id``."""
    table = re.search(rf'<table class="data" id="{table_id}">(.*?)</table>', html, re.S)
    assert table, html
    rows = re.findall(r'<tr data-person="(\d+)">(.*?)</tr>', table.group(1), re.S)
    return {int(pid): [int(v) for v in re.findall(r'data-minor="(-?\d+)"', row)] for pid, row in rows}


PAGES = (
    "/admin/", "/admin/connections", "/admin/connections/new/connectwise", "/admin/quarantine", "/admin/org",
    "/admin/identities", "/admin/plugins", "/admin/plans", "/admin/periods", "/admin/appeals", "/admin/audit",
    "/admin/health", f"/admin/plans/{PLAN}/preview?period={PERIOD}", f"/admin/periods/{PLAN}/{PERIOD}",
)
MANAGER_PAGES = {"/admin/", "/admin/plans", "/admin/periods", "/admin/appeals", PAGES[-2], PAGES[-1]}
ADMIN_ONLY = {"/admin/connections/new/connectwise"}


# -- access ------------------------------------------------------------------------------------


def test_each_page_by_role(app: Flask, world: World, org: Org) -> None:  # noqa: F811
    admin = Browser(app, "admin")
    apply_plan_through_the_page(admin)
    pages = (*PAGES, f"/admin/connections/{org.connection_id}")
    for path in pages:
        response = admin.get(path)
        assert response.status_code == 200, (path, text(response)[:500])
        assert "<h1>" in text(response)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    technician, auditor, manager = Browser(app, "technician"), Browser(app, "auditor"), Browser(app, "manager")
    for path in pages:
        assert technician.get(path).status_code == 403, path
        assert auditor.get(path).status_code == (403 if path in ADMIN_ONLY else 200), path
        assert manager.get(path).status_code == (200 if path in MANAGER_PAGES else 403), path
    refused = technician.get("/admin/plans")
    assert "This page needs the role" in text(refused) and "yours is technician" in text(refused)


def test_signed_out_visitors_are_sent_to_sign_in(app: Flask, org: Org) -> None:
    response = app.test_client().get("/admin/connections")
    assert response.status_code == 302 and response.headers["Location"].endswith("/signin/")


def test_auditors_cannot_post_and_forms_need_their_csrf_token(app: Flask, world: World, org: Org) -> None:  # noqa: F811
    auditor = Browser(app, "auditor")
    writes = (
        f"/admin/connections/{org.connection_id}/sync", f"/admin/connections/{org.connection_id}/test",
        "/admin/connections/new/connectwise", "/admin/org/csv", f"/admin/identities/{org.ghost_identity}/link",
        "/admin/plans/upload", f"/admin/periods/{PLAN}/{PERIOD}/approve", f"/admin/periods/{PLAN}/{PERIOD}/close",
        "/admin/appeals/1/decision",
    )
    for path in writes:
        response = auditor.post(path, {"person_id": org.people["Ana"], "source": SOURCE})
        assert response.status_code == 403, path
        assert "Auditors have read-only access." in text(response)
    admin = Browser(app, "admin")
    forged = admin.client.post(f"/admin/identities/{org.ghost_identity}/link", data={"person_id": org.people["Ana"]})
    assert forged.status_code == 400 and "The form expired" in text(forged)
    with world.session() as session:
        assert session.get(Identity, org.ghost_identity).person_id is None


def test_another_tenants_connection_is_not_found(app: Flask, world: World, org: Org) -> None:  # noqa: F811
    with world.podium.db.session() as session:
        other = Tenant(slug="other", name="Other", time_zone="UTC", currency="USD")
        session.add(other)
        session.flush()
        theirs = create_connection(world.podium, session, other.id, "connectwise", "Theirs", CW_CONFIG).id
    admin = Browser(app, "admin")
    assert admin.get(f"/admin/connections/{theirs}").status_code == 404
    assert "Theirs" not in text(admin.get("/admin/connections"))


# -- connections -------------------------------------------------------------------------------


def test_a_new_connection_is_listed_with_its_secret_masked(app: Flask, world: World, org: Org) -> None:  # noqa: F811
    admin = Browser(app, "admin")
    form = text(admin.get("/admin/connections/new/connectwise"))
    assert 'type="password"' in form and 'for="private_key"' in form and "API member private key" in form
    bad = admin.post("/admin/connections/new/connectwise", {
        "name": "Broken", **CW_CONFIG, "client_id": "not-a-guid", "allow_http": "",
        "tier_teams": "{not json"})
    assert bad.status_code == 422
    page = text(bad)
    assert "not a clientId GUID" in page and "Not valid JSON" in page
    assert CW_CONFIG["private_key"] not in page and 'value="Broken"' in page
    plain = admin.post("/admin/connections/new/connectwise", {"name": "Plain", **CW_CONFIG, "allow_http": ""})
    assert plain.status_code == 422 and "plain http would send the API keys unencrypted" in text(plain)
    added = admin.post("/admin/connections/new/connectwise", {"name": "Summit Ridge", **CW_CONFIG,
                                                               "allow_http": "on"})
    assert added.status_code == 302, text(added)
    detail = text(admin.get(added.headers["Location"]))
    assert "Summit Ridge" in detail and MASK in detail and CW_CONFIG["public_key"] in detail
    listing = text(admin.get("/admin/connections"))
    assert "Summit Ridge" in listing
    for page in (detail, listing, text(admin.get("/admin/audit"))):
        assert CW_CONFIG["private_key"] not in page
    assert "connection.create" in text(admin.get("/admin/audit?kind=connection"))


def test_sync_now_queues_every_entity(app: Flask, world: World, org: Org) -> None:  # noqa: F811
    from podium.jobs import pending_jobs

    admin = Browser(app, "admin")
    queued = admin.post(f"/admin/connections/{org.connection_id}/sync")
    assert queued.status_code == 302
    jobs = pending_jobs(world.podium)
    assert {job["args"]["entity"] for job in jobs} >= {"identity", "ticket", "time_entry"}
    assert all(job["type"] == "sync_entity" and job["args"]["connection_id"] == org.connection_id for job in jobs)
    assert "Queued a sync of" in text(admin.get(queued.headers["Location"]))
    wrong = admin.post(f"/admin/connections/{org.connection_id}/sync", {"entity": "spaceships"})
    assert wrong.status_code == 422 and "spaceships is not supplied by connectwise" in text(wrong)


# -- org data and identities -------------------------------------------------------------------


def test_org_csv_round_trip_and_errors_by_line_and_column(app: Flask, world: World, org: Org) -> None:  # noqa: F811
    admin = Browser(app, "admin")
    page = text(admin.get("/admin/org"))
    assert "Engineer L1" in page and "Engineers" in page
    exported = admin.get("/admin/org/csv/people")
    assert exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(text(exported))))
    assert {row["email"] for row in rows} == {"ana@acme.example", "bo@acme.example", "max@acme.example"}
    bad = "email,display_name,employed_from\ncara@acme.example,Cara,2025-13-01\n,Nobody,\n"
    refused = admin.post("/admin/org/csv", {"kind": "people", "file": (io.BytesIO(bad.encode()), "people.csv")},
                         content_type="multipart/form-data")
    assert refused.status_code == 422
    problems = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", text(refused))
    assert ("2", "employed_from") in [(line, column) for line, column, _ in problems]
    assert ("3", "email") in [(line, column) for line, column, _ in problems]
    good = "email,display_name\ncara@acme.example,Cara\n"
    imported = admin.post("/admin/org/csv", {"kind": "people", "file": (io.BytesIO(good.encode()), "people.csv")},
                          content_type="multipart/form-data")
    assert imported.status_code == 200 and "1 created" in text(imported)
    assert "Cara" in text(admin.get("/admin/org"))


def test_an_unlinked_identity_is_linked_to_a_person(app: Flask, world: World, org: Org) -> None:  # noqa: F811
    admin = Browser(app, "admin")
    assert "Ghost Member" in text(admin.get("/admin/identities"))
    missing = admin.post(f"/admin/identities/{org.ghost_identity}/link", {})
    assert missing.status_code == 422 and "Choose the person" in text(missing)
    linked = admin.post(f"/admin/identities/{org.ghost_identity}/link",
                        {"person_id": org.people["Bo"], "reason": "Bo's second account"})
    assert linked.status_code == 302
    assert "Ghost Member" not in text(admin.get("/admin/identities"))
    with world.session() as session:
        assert session.get(Identity, org.ghost_identity).person_id == org.people["Bo"]
    assert "Bo&#39;s second account" in text(admin.get("/admin/audit?kind=identity"))


# -- plans, preview, what-if -------------------------------------------------------------------


def test_a_bad_plan_shows_its_line_and_field(app: Flask, org: Org) -> None:
    admin = Browser(app, "admin")
    upload = {"file": (io.BytesIO(SOURCE.replace("target: 98", "target: high").encode()), "eng.yaml"),
              "action": "validate"}
    response = admin.post("/admin/plans/upload", upload, content_type="multipart/form-data")
    assert response.status_code == 422
    problems = re.findall(r"<tr><td>([^<]*)</td><td>(\d+)</td><td><code>([^<]*)</code></td><td>([^<]*)</td></tr>",
                          text(response))
    assert [(source, line, field) for source, line, field, _ in problems] == [
        ("eng.yaml", "31", "rules[0].components[2].target")]
    assert problems[0][3].startswith("Give a number")
    assert "engineer-quarterly" not in text(admin.get("/admin/plans"))


def test_a_good_plan_previews_the_apis_amounts_and_what_if(app: Flask, world: World, org: Org) -> None:  # noqa: F811
    admin = Browser(app, "admin")
    upload = {"file": (io.BytesIO(SOURCE.encode()), "eng.yaml"), "action": "validate"}
    validated = admin.post("/admin/plans/upload", upload, content_type="multipart/form-data")
    assert validated.status_code == 200 and "The plan file is valid." in text(validated)
    apply_plan_through_the_page(admin)
    with_values(world, org)
    headers = api_token(world.podium, org.tenant_id, "admin@acme.example")
    api = app.test_client()
    expected = api.get(f"/api/v1/payouts/{PLAN}/{PERIOD}/preview", headers=headers).get_json()
    shown = amounts_on(text(admin.get(f"/admin/plans/{PLAN}/preview?period={PERIOD}")), "preview")
    assert shown == {p["person_id"]: [p["earned_minor"], p["on_the_table_minor"], p["projected_minor"]]
                     for p in expected["people"]}
    assert shown[org.people["Ana"]][0] == 35156

    api_what_if = api.post(f"/api/v1/payouts/{PLAN}/{PERIOD}/what-if", headers=headers,
                           json={"metric_values": {"csat_positive_pct": 98}}).get_json()
    page = text(admin.get(f"/admin/plans/{PLAN}/preview?period={PERIOD}&metric=csat_positive_pct&value=98"))
    changes = amounts_on(page, "what-if-changes")
    assert {pid: values[2] for pid, values in changes.items()} == {
        c["person_id"]: c["change_minor"] for c in api_what_if["changes"]}
    assert changes[org.people["Ana"]][2] == 2344
    after = api.get(f"/api/v1/payouts/{PLAN}/{PERIOD}/preview", headers=headers).get_json()
    assert after == expected, "a what-if saved something"


def test_only_admins_apply_plans(app: Flask, org: Org) -> None:
    manager = Browser(app, "manager")
    validated = manager.post("/admin/plans/upload", {"source": SOURCE, "name": "eng.yaml", "action": "validate"})
    assert validated.status_code == 200 and "Apply as the next version" not in text(validated)
    refused = manager.post("/admin/plans/upload", {"source": SOURCE, "name": "eng.yaml", "action": "apply"})
    assert refused.status_code == 403 and "Only admins apply plan files." in text(refused)


# -- periods, statements, appeals --------------------------------------------------------------


def test_approve_close_and_export_payroll(app: Flask, world: World, org: Org) -> None:  # noqa: F811
    admin, manager = Browser(app, "admin"), Browser(app, "manager")
    apply_plan_through_the_page(admin)
    with_values(world, org)
    period_page = f"/admin/periods/{PLAN}/{PERIOD}"
    early = admin.get(period_page + "/payroll.csv")
    assert early.status_code == 409 and "is not closed" in text(early)
    assert admin.post(period_page + "/close").status_code == 409
    assert manager.post(period_page + "/close").status_code == 403
    assert manager.post(period_page + "/approve").status_code == 302
    closed = admin.post(period_page + "/close")
    assert closed.status_code == 302
    page = text(admin.get(period_page))
    assert 'id="period-status">closed<' in page and "Export payroll CSV" in page
    export = admin.get(period_page + "/payroll.csv")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert export.headers["Content-Disposition"] == f'attachment; filename="payroll-{PLAN}-{PERIOD}.csv"'
    with world.session() as session:
        plan = world.plan(session, PLAN)
        assert text(export) == payroll_csv(session, plan, world.period(PERIOD, "quarterly"))
        assert session.scalars(select(PayoutPeriod.status)).all() == ["closed"]
    rows = list(csv.DictReader(io.StringIO(text(export))))
    assert {row["name"]: row["total"] for row in rows}["Ana"] == "351.56"
    statement = admin.get(f"{period_page}/statements/{org.people['Ana']}")
    assert statement.status_code == 200 and "Ana" in text(statement)
    listed = text(admin.get("/admin/periods"))
    assert PERIOD in listed and "closed" in listed


def test_appeals_are_listed_and_decided(app: Flask, world: World, org: Org) -> None:  # noqa: F811
    admin = Browser(app, "admin")
    apply_plan_through_the_page(admin)
    with_values(world, org)
    ana = api_token(world.podium, org.tenant_id, "technician@acme.example")
    opened = app.test_client().post("/api/v1/appeals", headers=ana, json={
        "plan": PLAN, "period": PERIOD, "rule": "scorecard", "reason": "One survey was for Bo."})
    assert opened.status_code == 201, opened.get_json()
    appeal_id = opened.get_json()["id"]
    assert "One survey was for Bo." in text(admin.get("/admin/appeals"))
    incomplete = admin.post(f"/admin/appeals/{appeal_id}/decision", {"decision": "accept"})
    assert incomplete.status_code == 422 and "note" in text(incomplete)
    decided = admin.post(f"/admin/appeals/{appeal_id}/decision",
                         {"decision": "partly_accept", "note": "Half of it.", "amount_minor": "1172"})
    assert decided.status_code == 302
    page = text(admin.get("/admin/appeals"))
    assert "partly_accepted" in page and "Half of it." in page


# -- plugins, audit, health --------------------------------------------------------------------


def test_plugins_audit_and_health(app: Flask, world: World, org: Org) -> None:  # noqa: F811
    admin = Browser(app, "admin")
    plugins = text(admin.get("/admin/plugins"))
    assert "connectwise" in plugins and "Loaded (" in plugins
    for number in range(60):
        admin.post(f"/admin/identities/{org.ghost_identity}/link",
                   {"person_id": org.people["Ana" if number % 2 else "Bo"]})
    first = text(admin.get("/admin/audit?kind=identity"))
    assert "60 event(s) about identity" in first and "page 1 of 2" in first and 'rel="next"' in first
    second = text(admin.get("/admin/audit?kind=identity&page=2"))
    assert second.count("identity.link") == 10
    assert "0 event(s)" in text(admin.get("/admin/audit?action=nothing.like.this"))
    with world.session() as session:
        session.add(SyncState(tenant_id=org.tenant_id, connection_id=org.connection_id, entity="ticket",
                              status="idle", last_success_at=utcnow() - dt.timedelta(hours=2, minutes=5)))
    health = text(admin.get("/admin/health"))
    assert re.search(r"<td>ticket</td><td>idle</td><td><time[^>]*>[^<]*</time></td><td>2 h 5 min</td>", health), health
    assert 'id="health-status" class="status status-ok">ok<' in health
    assert "0 job(s) of this organisation failed for good." in health
