"""The REST API's contract: error envelope, OpenAPI, resources, introspection, init and run."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from tests.conftest import REDIS_URL, TEST_SECRET_KEY
from flask import Flask
from sqlalchemy import create_engine, func, inspect, make_url, select
from tests.test_auth import (
    Caller,
    add_person,
    add_tenant,
    add_token,
    admin,  # noqa: F401 - fixture
    app,  # noqa: F401 - fixture
    assert_envelope,
    invoke,
    make_runtime,
    podium,  # noqa: F401 - fixture
    tenant_id,  # noqa: F401 - fixture
)
from tests.test_secrets import VAULT_PLUGIN, write_plugin

from podium.api.errors import INVALID_INPUT_MESSAGE, SERVER_ERROR_MESSAGE, flatten
from podium.app import create_app
from podium.cli import Runtime, cli
from podium.jobs import pending_jobs
from podium.models import AuditEvent, Connection, DbJob, QuarantinedRecord, SyncRun, Tenant
from podium.runtime import Podium

# -- the error envelope -----------------------------------------------------------------------


def test_every_error_has_the_same_envelope(app: Flask, podium: Podium, tenant_id: int, admin: Caller) -> None:
    assert_envelope(app.test_client().get("/no/such/page"), 404)
    assert_envelope(admin.get("/api/v1/people/424242"), 404)
    assert_envelope(app.test_client().get("/api/v1/tenant"), 401)
    tech = Caller(app.test_client(), add_token(podium, tenant_id, "technician"))
    assert_envelope(tech.patch("/api/v1/tenant", json={"currency": "EUR"}), 403)
    not_allowed = admin.delete("/api/v1/tenant")
    assert_envelope(not_allowed, 405)
    assert "PATCH" in not_allowed.headers["Allow"]
    unknown_field = assert_envelope(admin.post("/api/v1/people", json={"display_name": "A", "nick": "x"}), 422)
    assert unknown_field["errors"] == {"nick": ["Unknown field."]}
    bad_query = assert_envelope(admin.get("/api/v1/people?page_size=0"), 422)
    assert set(bad_query["errors"]) == {"page_size"}
    bad_json = admin.post("/api/v1/people", data="{not json", headers={"Content-Type": "application/json"})
    assert assert_envelope(bad_json, 400)["errors"] == {"json": ["Invalid JSON body."]}
    not_an_object = assert_envelope(admin.post("/api/v1/people", json=[1]), 422)
    assert not_an_object["errors"] == {"_schema": ["Invalid input type."]}
    assert not_an_object["message"] == INVALID_INPUT_MESSAGE


def test_unexpected_exception_is_a_500_envelope_without_its_text(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    def explode() -> None:
        raise RuntimeError("internal detail: sk_live_leaky")

    app.add_url_rule("/boom", "boom", explode)
    response = app.test_client().get("/boom")
    body = assert_envelope(response, 500)
    assert body["message"] == SERVER_ERROR_MESSAGE
    assert "leaky" not in response.get_data(as_text=True)
    assert "internal detail" in caplog.text, "the operator still gets the error in the log"


def test_tenant_settings_are_validated_field_by_field(podium: Podium, tenant_id: int, admin: Caller) -> None:
    body = assert_envelope(admin.patch("/api/v1/tenant", json={
        "time_zone": "Mars/Olympus_Mons", "fiscal_year_start_month": 13, "week_start": 7, "currency": "usd",
    }), 422)
    assert set(body["errors"]) == {"time_zone", "fiscal_year_start_month", "week_start", "currency"}
    assert "Mars/Olympus_Mons" in body["errors"]["time_zone"][0]
    changed = admin.patch("/api/v1/tenant", json={"time_zone": "Europe/Berlin", "fiscal_year_start_month": 4,
                                                  "week_start": 6, "currency": "EUR"})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json() | {"id": None} == {
        "id": None, "slug": "acme", "name": "Acme", "time_zone": "Europe/Berlin",
        "fiscal_year_start_month": 4, "week_start": 6, "currency": "EUR",
    }
    with podium.db.session() as session:
        tenant = session.get(Tenant, tenant_id)
        assert (tenant.time_zone, tenant.currency) == ("Europe/Berlin", "EUR")
        event = session.scalars(select(AuditEvent)).one()
        assert (event.action, event.before["currency"], event.after["currency"]) == ("tenant.update", "USD", "EUR")


def test_flatten_names_nested_fields() -> None:
    assert flatten({"config": {"api_key": ["Missing."]}, "entities": {0: ["Bad."]}, "_schema": ["Whole."]}) == {
        "config.api_key": ["Missing."], "entities.0": ["Bad."], "_schema": ["Whole."],
    }


# -- OpenAPI ----------------------------------------------------------------------------------


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [node["$ref"]] if "$ref" in node else [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_openapi_document_lists_paths_schemas_and_the_token_scheme(app: Flask) -> None:
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    spec = json.loads(response.get_data(as_text=True))
    assert spec["openapi"].startswith("3.") and spec["info"]["title"] == "Podium"
    assert {
        "/api/v1/tenant", "/api/v1/people", "/api/v1/people/{person_id}", "/api/v1/teams",
        "/api/v1/teams/{team_id}", "/api/v1/teams/{team_id}/members", "/api/v1/connections",
        "/api/v1/connections/{connection_id}", "/api/v1/connections/{connection_id}/test",
        "/api/v1/connections/{connection_id}/sync", "/api/v1/quarantine",
        "/api/v1/quarantine/{record_id}/resolve", "/api/v1/quarantine/{record_id}/dismiss",
    } <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert {"Error", "Tenant", "TenantSettings", "Person", "PersonPatch", "Team", "Membership",
            "Connection", "ConnectionCreate", "QuarantinedRecord"} <= set(schemas)
    assert set(schemas["Error"]["properties"]) == {"code", "message", "errors"}
    assert spec["components"]["securitySchemes"]["bearerToken"] == {
        "type": "http", "scheme": "bearer", "description": "An API token (`pod_…`) from `podium tokens create`.",
    }
    assert spec["security"] == [{"bearerToken": []}]
    person_list = spec["paths"]["/api/v1/people"]["get"]
    assert {p["name"] for p in person_list["parameters"]} >= {"page", "page_size", "active"}
    assert "X-Pagination" in person_list["responses"]["200"]["headers"]
    for ref in _refs(spec):
        kind, name = ref.split("/")[-2:]
        assert name in spec["components"][kind], f"dangling {ref}"


# -- people and teams -------------------------------------------------------------------------


def test_people_are_created_listed_in_pages_and_patched(admin: Caller) -> None:
    for name in ["Cy", "Ada", "Bo"]:
        assert admin.post("/api/v1/people", json={"display_name": name, "email": f"{name}@example.com"}).status_code == 201
    page = admin.get("/api/v1/people?page=2&page_size=2")
    assert [p["display_name"] for p in page.get_json()] == ["Cy"]
    assert json.loads(page.headers["X-Pagination"]) == {
        "total": 3, "total_pages": 2, "first_page": 1, "last_page": 2, "page": 2, "previous_page": 1,
    }
    ada = admin.get("/api/v1/people").get_json()[0]
    bad = assert_envelope(admin.post("/api/v1/people", json={"display_name": "", "email": "nope", "time_zone": "Nowhere"}), 422)
    assert set(bad["errors"]) == {"display_name", "email", "time_zone"}
    dates = admin.patch(f"/api/v1/people/{ada['id']}", json={"employed_from": "2024-03-01"})
    assert dates.status_code == 200
    backwards = assert_envelope(admin.patch(f"/api/v1/people/{ada['id']}", json={"employed_to": "2024-02-01"}), 422)
    assert set(backwards["errors"]) == {"employed_to"}
    assert admin.get("/api/v1/people?active=false").get_json() == []


def test_teams_and_effective_dated_memberships(podium: Podium, tenant_id: int, admin: Caller) -> None:
    team = admin.post("/api/v1/teams", json={"name": "Helpdesk", "description": "Tier 1"}).get_json()
    assert_envelope(admin.post("/api/v1/teams", json={"name": "Helpdesk"}), 409)
    assert admin.post("/api/v1/teams", json={"name": "Projects"}).status_code == 201
    renamed = assert_envelope(admin.patch(f"/api/v1/teams/{team['id']}", json={"name": "Projects"}), 409)
    assert set(renamed["errors"]) == {"name"}
    assert admin.patch(f"/api/v1/teams/{team['id']}", json={"name": "Service desk"}).get_json()["name"] == "Service desk"
    ada = add_person(podium, tenant_id, "Ada")
    members = f"/api/v1/teams/{team['id']}/members"
    first = admin.post(members, json={"person_id": ada, "valid_from": "2024-01-01", "valid_to": "2024-07-01", "share": 0.5})
    assert first.status_code == 201 and first.get_json()["share"] == 0.5
    assert_envelope(admin.post(members, json={"person_id": ada, "valid_from": "2024-06-01"}), 409)
    backwards = assert_envelope(admin.post(members, json={"person_id": ada, "valid_from": "2024-09-01", "valid_to": "2024-08-01"}), 422)
    assert set(backwards["errors"]) == {"valid_to"}
    assert_envelope(admin.post(members, json={"person_id": ada, "share": 0}), 422)
    current = admin.post(members, json={"person_id": ada})
    assert current.status_code == 201
    today = dt.datetime.now(dt.timezone.utc).date()
    assert abs((dt.date.fromisoformat(current.get_json()["valid_from"]) - today).days) <= 1, "today, in the tenant's zone"
    assert len(admin.get(members).get_json()) == 2
    assert [m["valid_to"] for m in admin.get(f"{members}?on=2024-03-15").get_json()] == ["2024-07-01"]
    with podium.db.session() as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["team.create", "team.create", "team.update", "team.member_add", "team.member_add"]


# -- connections: sync is queued, never run in the request ------------------------------------


@pytest.fixture(params=["database queue", "rq"])
def vault_podium(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Any:
    redis_url = request.getfixturevalue("redis_url") if request.param == "rq" else None
    runtime = make_runtime(database_url, tmp_path, redis_url=redis_url,
                           plugins_dir=write_plugin(tmp_path / "plugins", "vault", VAULT_PLUGIN))
    yield runtime
    runtime.db.dispose()


def test_sync_is_queued_not_run(vault_podium: Podium) -> None:
    tenant = add_tenant(vault_podium, "acme")
    admin = Caller(create_app(vault_podium, run_jobs=False).test_client(), add_token(vault_podium, tenant, "admin"))
    created = admin.post("/api/v1/connections", json={
        "vendor": "vault", "name": "PSA", "config": {"site": "https://psa.example.com", "api_key": "sk_live_12345678"},
    }).get_json()
    path = f"/api/v1/connections/{created['id']}/sync"
    unknown = assert_envelope(admin.post(path, json={"entities": ["ticket", "invoice"]}), 422)
    assert "invoice" in unknown["errors"]["entities"][0]
    queued = admin.post(path, json={"entities": ["ticket"]})
    assert queued.status_code == 202, queued.get_json()
    job_id = queued.get_json()["queued"][0]["job_id"]
    assert queued.get_json() == {"connection_id": created["id"], "queued": [{"entity": "ticket", "job_id": job_id}]}
    everything = admin.post(path, json={})
    assert [q["entity"] for q in everything.get_json()["queued"]] == ["identity", "ticket"]
    assert job_id in {job["id"] for job in pending_jobs(vault_podium)}
    with vault_podium.db.session() as session:
        assert session.scalar(select(func.count()).select_from(SyncRun)) == 0, "nothing ran inside the request"


def test_the_app_works_the_database_queue_when_there_is_no_redis(database_url: str, tmp_path: Path) -> None:
    """The embedded default: a sync asked for over the API runs on the app's own job thread."""
    runtime = make_runtime(database_url, tmp_path, plugins_dir=write_plugin(tmp_path / "plugins", "vault", VAULT_PLUGIN))
    app = create_app(runtime)
    worker = app.extensions["podium.dbqueue"]
    try:
        admin = Caller(app.test_client(), add_token(runtime, add_tenant(runtime, "acme"), "admin"))
        created = admin.post("/api/v1/connections", json={
            "vendor": "vault", "name": "PSA", "config": {"site": "https://psa.example.com", "api_key": "sk_live_12345678"},
        }).get_json()
        assert admin.post(f"/api/v1/connections/{created['id']}/sync", json={"entities": ["ticket"]}).status_code == 202
        ran: set[str] = set()
        give_up = time.monotonic() + 60  # a bound for a stuck worker, not a speed check
        while "ticket" not in ran and time.monotonic() < give_up:
            time.sleep(0.05)
            with runtime.db.session() as session:
                ran = set(session.scalars(select(SyncRun.entity)))
        # The thread's scheduler may queue the connection's syncs too (and the API's request
        # then joins that queued job), so the run's trigger is not asserted, only that it ran.
        assert "ticket" in ran
    finally:
        worker.stop()
        runtime.db.dispose()
    assert "podium.dbqueue" not in create_app(make_runtime(database_url, tmp_path / "r", redis_url=REDIS_URL)).extensions


# -- quarantine -------------------------------------------------------------------------------


def test_quarantine_lists_field_errors_and_is_resolved_or_dismissed(podium: Podium, tenant_id: int, admin: Caller) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    with podium.db.session(tenant_id=tenant_id) as session:
        first = Connection(vendor="vault", name="A", config_encrypted=podium.secrets.encrypt({"api_key": "sk_quarantine_secret"}))
        second = Connection(vendor="vault", name="B", config_encrypted=podium.secrets.encrypt({"api_key": "sk_quarantine_secret"}))
        session.add_all([first, second])
        session.flush()
        session.add_all([
            QuarantinedRecord(connection_id=first.id, entity="time_entry", external_id="7", payload={"hours": -1},
                              errors={"hours": ["Must be greater than or equal to 0."]}, last_seen_at=now),
            QuarantinedRecord(connection_id=first.id, entity="ticket", external_id="8", payload={}, errors={"number": ["Missing."]},
                              last_seen_at=now - dt.timedelta(hours=1)),
            QuarantinedRecord(connection_id=second.id, entity="ticket", external_id="9", payload={}, errors={}),
        ])
        first_id = first.id
    everything = admin.get("/api/v1/quarantine").get_json()
    assert len(everything) == 3
    listed = admin.get(f"/api/v1/quarantine?connection_id={first_id}").get_json()
    assert [r["external_id"] for r in listed] == ["7", "8"], "newest failure first"
    assert listed[0]["errors"] == {"hours": ["Must be greater than or equal to 0."]}
    assert listed[0]["payload"] == {"hours": -1}
    assert "config" not in listed[0] and "sk_quarantine_secret" not in json.dumps(listed)
    tickets = admin.get(f"/api/v1/quarantine?connection_id={first_id}&entity=ticket").get_json()
    assert [r["external_id"] for r in tickets] == ["8"]
    resolved = admin.post(f"/api/v1/quarantine/{listed[0]['id']}/resolve", json={"reason": "fixed in the PSA"})
    assert resolved.status_code == 202, resolved.get_json()
    job_id = resolved.get_json()["job_id"]
    assert resolved.get_json()["record"]["resolved_at"] is None, "closed by the sync when the record lands valid"
    [job] = [job for job in pending_jobs(podium) if job["id"] == job_id]
    with podium.db.session() as session:
        queued = session.scalars(select(DbJob)).one()
    assert (queued.func, queued.kwargs["external_ids"], queued.kwargs["entity"]) == ("fetch_records", ["7"], "time_entry")
    assert admin.post(f"/api/v1/quarantine/{tickets[0]['id']}/dismiss").status_code == 200
    assert_envelope(admin.post(f"/api/v1/quarantine/{tickets[0]['id']}/resolve"), 409)
    assert_envelope(admin.post(f"/api/v1/quarantine/{tickets[0]['id']}/dismiss"), 409)
    assert [r["external_id"] for r in admin.get(f"/api/v1/quarantine?connection_id={first_id}").get_json()] == ["7"]
    assert [r["external_id"] for r in admin.get("/api/v1/quarantine?resolved=true").get_json()] == ["8"]
    with podium.db.session() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.action, e.reason) for e in events] == [("quarantine.resolve", "fixed in the PSA"), ("quarantine.dismiss", None)]


# -- introspection ----------------------------------------------------------------------------

BROKEN_PLUGIN = 'raise RuntimeError("vendor SDK missing")\n'


def test_plugins_page_shows_loaded_and_broken_plugins(database_url: str, tmp_path: Path) -> None:
    plugins = write_plugin(tmp_path / "plugins", "vault", VAULT_PLUGIN)
    write_plugin(plugins, "broken", BROKEN_PLUGIN)
    runtime = make_runtime(database_url, tmp_path, plugins_dir=plugins)
    app = create_app(runtime, run_jobs=False)
    tenant = add_tenant(runtime, "acme")
    assert_envelope(app.test_client().get("/-/plugins"), 401)
    assert_envelope(Caller(app.test_client(), add_token(runtime, tenant, "technician")).get("/-/plugins"), 403)
    listed = Caller(app.test_client(), add_token(runtime, tenant, "admin")).get("/-/plugins")
    assert listed.status_code == 200
    by_name = {p["name"]: p for p in listed.get_json()}
    assert by_name["vault"] == {
        "name": "vault", "version": None, "source": "plugins dir", "status": "loaded",
        "hooks": ["podium_register_data_sources"], "registered": {"data_sources": ["vault"]}, "error": None,
    }
    assert by_name["broken"]["status"] == "failed"
    assert "RuntimeError: vendor SDK missing" in by_name["broken"]["error"]
    assert app.test_client().get("/healthz").status_code == 200, "the app still serves"
    runtime.db.dispose()


def test_healthz_reports_each_dependency(app: Flask, database_url: str, tmp_path: Path, redis_url: str) -> None:
    healthy = app.test_client().get("/healthz")
    assert healthy.status_code == 200
    assert healthy.get_json() == {"status": "ok", "checks": {"database": {"ok": True}, "jobs": {"ok": True, "failed": 0}}}
    with_redis = make_runtime(database_url, tmp_path / "r", redis_url=redis_url)
    body = create_app(with_redis, run_jobs=False).test_client().get("/healthz").get_json()
    assert body["checks"]["redis"] == {"ok": True} and body["status"] == "ok"
    down_url = "redis://:hunter2-password@127.0.0.1:1/0"
    redis_down = make_runtime(database_url, tmp_path / "d", redis_url=down_url)
    response = create_app(redis_down, run_jobs=False).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "failing" and response.get_json()["checks"]["redis"] == {"ok": False}
    assert "hunter2" not in response.get_data(as_text=True) and "127.0.0.1" not in response.get_data(as_text=True)
    for runtime in (with_redis, redis_down):
        runtime.db.dispose()


# -- podium init and podium run ---------------------------------------------------------------


def test_init_creates_the_schema_and_a_default_tenant(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    runtime = Runtime({"instance_path": str(tmp_path / "instance"), "database_url": url,
                       "secret_key": TEST_SECRET_KEY, "load_entry_points": False})
    first = CliRunner().invoke(cli, ["init"], obj=runtime)
    assert first.exit_code == 0, first.output
    assert "created tenant 'default'" in first.output
    engine = create_engine(url)
    assert {"tenants", "users", "api_tokens", "connections", "people", "audit_events"} <= set(inspect(engine).get_table_names())
    engine.dispose()
    again = invoke(runtime.podium, ["init"])
    assert again.exit_code == 0 and "tenants exist; none created" in again.output
    with runtime.podium.db.session() as session:
        assert session.scalars(select(Tenant.slug)).all() == ["default"]
    runtime.podium.db.dispose()


def test_init_never_prints_the_database_password(pg_database: str, tmp_path: Path) -> None:
    """The test server trusts local connections, so a password in the URL is sent unused."""
    url = make_url(pg_database).set(password="hunter2-db-password").render_as_string(hide_password=False)
    runtime = Runtime({"instance_path": str(tmp_path / "instance"), "database_url": url,
                       "secret_key": TEST_SECRET_KEY, "load_entry_points": False})
    result = CliRunner().invoke(cli, ["init"], obj=runtime)
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output and ":***@" in result.output
    runtime.podium.db.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_run_serves_over_http(tmp_path: Path) -> None:
    """``podium run`` as a user types it (after ``podium init``), spoken to over a real socket."""
    instance, url = tmp_path / "instance", f"sqlite:///{tmp_path / 'podium.db'}"
    runtime = Runtime({"instance_path": str(instance), "database_url": url, "load_entry_points": False})
    assert CliRunner().invoke(cli, ["init"], obj=runtime).exit_code == 0
    runtime.podium.db.dispose()
    env = {**os.environ, "PODIUM_INSTANCE": str(instance), "PODIUM_LOAD_PLUGINS": "", "DATABASE_URL": url}
    for name in ("REDIS_URL", "PODIUM_PLUGINS_DIR", "PODIUM_SECRET_KEY"):
        env.pop(name, None)
    podium_bin = str(Path(sys.executable).with_name("podium"))
    port = _free_port()
    server = subprocess.Popen([podium_bin, "run", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        response = None
        give_up = time.monotonic() + 60  # a bound for a stuck start, not a speed check
        while response is None and time.monotonic() < give_up:
            if server.poll() is not None:
                pytest.fail(f"podium run exited: {server.stdout.read()}")
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            except httpx.TransportError:
                time.sleep(0.05)
        assert response is not None and response.status_code == 200, response
        assert response.json()["checks"]["database"] == {"ok": True}
        unauthenticated = httpx.get(f"http://127.0.0.1:{port}/api/v1/people", timeout=2)
        assert unauthenticated.status_code == 401 and unauthenticated.json()["code"] == 401
    finally:
        server.terminate()
        server.wait(timeout=10)
