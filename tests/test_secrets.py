"""A connection's secret never leaves the server: not in responses, logs, audit or the DB.

The connector is a real plugin file in a plugins directory, loaded by the real plugin
manager; its test_connection echoes the key it was given when it fails, as a careless
connector (or a vendor's error text) might.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text
from tests.test_auth import Caller, add_tenant, add_token, assert_envelope, make_runtime

from podium.app import create_app
from podium.connections import webhook_token
from podium.crypto import MASK
from podium.models import AuditEvent, Connection
from podium.runtime import Podium
from podium.webhooks import connection_for_token

SECRET = "sk_live_9f8e7d6c5b4a-never-show-me"

VAULT_PLUGIN = '''
from marshmallow import Schema, fields, validate
from podium import hookimpl
from podium.datasource import DataSource
from podium.errors import ConnectionTestError

class VaultConfig(Schema):
    site = fields.Url(required=True)
    api_key = fields.String(required=True, validate=validate.Length(min=8), metadata={"secret": True})

class Vault(DataSource):
    key = "vault"
    label = "Vault PSA"
    config_schema = VaultConfig
    capabilities = {"identity": frozenset({"email"}), "ticket": frozenset({"status"})}

    def test_connection(self):
        if self.config["api_key"].startswith("sk_live_"):
            return f"connected to {self.config['site']}"
        raise ConnectionTestError(f"{self.config['site']} refused key {self.config['api_key']}")

@hookimpl
def podium_register_data_sources(registry):
    registry.add(Vault)
'''


def write_plugin(directory: Path, name: str, source: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.py").write_text(textwrap.dedent(source))
    return directory


@pytest.fixture
def podium(database_url: str, tmp_path: Path) -> Iterator[Podium]:
    runtime = make_runtime(database_url, tmp_path, plugins_dir=write_plugin(tmp_path / "plugins", "vault", VAULT_PLUGIN))
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def app(podium: Podium) -> Flask:
    return create_app(podium, run_jobs=False)


@pytest.fixture
def tenant_id(podium: Podium) -> int:
    return add_tenant(podium, "acme")


@pytest.fixture
def admin(app: Flask, podium: Podium, tenant_id: int) -> Caller:
    return Caller(app.test_client(), add_token(podium, tenant_id, "admin"))


def create(admin: Caller, api_key: str = SECRET) -> dict[str, Any]:
    response = admin.post("/api/v1/connections", json={
        "vendor": "vault", "name": "Main PSA", "config": {"site": "https://psa.example.com", "api_key": api_key},
    })
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def stored_config(podium: Podium, connection_id: int) -> dict[str, Any]:
    with podium.db.session() as session:
        return podium.secrets.decrypt(session.get(Connection, connection_id).config_encrypted)


def test_secret_never_in_responses_logs_audit_or_database(
    app: Flask, podium: Podium, tenant_id: int, admin: Caller, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    created = create(admin)
    assert created["config"] == {"site": "https://psa.example.com", "api_key": MASK}
    assert created["status"] == "new" and "webhook_token" not in created
    auditor = Caller(app.test_client(), add_token(podium, tenant_id, "auditor"))
    cid = created["id"]
    responses = [
        admin.get("/api/v1/connections"),
        admin.get(f"/api/v1/connections/{cid}"),
        auditor.get(f"/api/v1/connections/{cid}"),
        admin.patch(f"/api/v1/connections/{cid}", json={"name": "Renamed"}),
        admin.post(f"/api/v1/connections/{cid}/test"),
        admin.get("/api/v1/openapi.json"),
    ]
    assert all(r.status_code == 200 for r in responses), [r.status_code for r in responses]
    assert [c["config"] for c in responses[0].get_json()] == [created["config"]]
    assert '"total": 1' in responses[0].headers["X-Pagination"]
    tested = responses[4].get_json()
    assert tested["ok"] is True and tested["connection"]["status"] == "ok"
    for response in responses:
        assert SECRET not in response.get_data(as_text=True)
    assert SECRET not in caplog.text
    assert stored_config(podium, cid)["api_key"] == SECRET, "the secret is kept, only never shown"
    with podium.db.engine.connect() as connection:
        config_encrypted = connection.execute(text("SELECT config_encrypted FROM connections")).scalar_one()
        audit_rows = [str(row) for row in connection.execute(text("SELECT * FROM audit_events"))]
    assert SECRET not in config_encrypted and "psa.example.com" not in config_encrypted
    assert len(audit_rows) == 3 and not any(SECRET in row for row in audit_rows)
    with podium.db.session() as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["connection.create", "connection.update", "connection.test"]


def test_webhook_token_is_stored_as_digest_and_ciphertext_only(podium: Podium, admin: Caller) -> None:
    cid = create(admin)["id"]
    with podium.db.session() as session:
        connection = session.get_one(Connection, cid)
        token = webhook_token(podium, connection)
    with podium.db.engine.connect() as conn:
        row = [str(value) for value in conn.execute(text("SELECT * FROM connections")).one()]
    assert len(token) >= 43 and not any(token in value for value in row), "the token is never stored in clear"
    assert connection_for_token(podium, token).id == cid
    assert connection_for_token(podium, token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_patch_with_the_masked_value_keeps_the_stored_secret(podium: Podium, admin: Caller) -> None:
    cid = create(admin)["id"]
    kept = admin.patch(f"/api/v1/connections/{cid}", json={"config": {"site": "https://new.example.com", "api_key": MASK}})
    assert kept.status_code == 200
    assert kept.get_json()["config"] == {"site": "https://new.example.com", "api_key": MASK}
    assert stored_config(podium, cid) == {"site": "https://new.example.com", "api_key": SECRET}
    replaced = admin.patch(f"/api/v1/connections/{cid}", json={"config": {"api_key": "sk_live_rotated-key"}})
    assert replaced.status_code == 200 and "sk_live_rotated-key" not in replaced.get_data(as_text=True)
    assert stored_config(podium, cid)["api_key"] == "sk_live_rotated-key"


def test_failing_test_message_is_scrubbed_of_the_secret(admin: Caller) -> None:
    wrong_key = "wrong-key-that-is-secret-too"
    cid = create(admin, api_key=wrong_key)["id"]
    response = admin.post(f"/api/v1/connections/{cid}/test")
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] is False and body["connection"]["status"] == "failing"
    assert body["message"] == f"https://psa.example.com refused key {MASK}"
    assert wrong_key not in response.get_data(as_text=True)
    with admin.client.application.extensions["podium"].db.engine.connect() as connection:
        stored = connection.execute(text("SELECT last_test_message FROM connections")).scalar_one()
    assert stored == f"https://psa.example.com refused key {MASK}", "scrubbed before it was stored"
    for path in [f"/api/v1/connections/{cid}", "/api/v1/connections"]:
        shown = admin.get(path)
        assert shown.status_code == 200 and wrong_key not in shown.get_data(as_text=True)
        assert MASK in json.dumps(shown.get_json(), ensure_ascii=False)


def test_config_is_validated_by_the_connectors_schema(podium: Podium, admin: Caller) -> None:
    bad = admin.post("/api/v1/connections", json={"vendor": "vault", "name": "x", "config": {"site": "not a url", "api_key": "short"}})
    body = assert_envelope(bad, 422)
    assert set(body["errors"]) == {"config.site", "config.api_key"}
    assert "short" not in bad.get_data(as_text=True)
    missing = assert_envelope(admin.post("/api/v1/connections", json={"vendor": "vault", "name": "x", "config": {}}), 422)
    assert missing["errors"]["config.api_key"] == ["Missing data for required field."]
    unknown = assert_envelope(admin.post("/api/v1/connections", json={"vendor": "nope", "name": "x", "config": {}}), 422)
    assert unknown["errors"]["vendor"] == ["No connector 'nope' (registered: vault)."]
    cid = create(admin)["id"]
    patched = assert_envelope(admin.patch(f"/api/v1/connections/{cid}", json={"config": {"site": "ftp:/x"}}), 422)
    assert set(patched["errors"]) == {"config.site"}
    assert stored_config(podium, cid)["site"] == "https://psa.example.com"
    with podium.db.session() as session:
        assert len(session.scalars(select(Connection)).all()) == 1


def test_connection_without_its_plugin_masks_everything(app: Flask, podium: Podium, tenant_id: int, admin: Caller) -> None:
    with podium.db.session(tenant_id=tenant_id) as session:
        orphan = Connection(vendor="uninstalled", name="Old", config_encrypted=podium.secrets.encrypt({"token": SECRET}))
        session.add(orphan)
        session.flush()
        cid = orphan.id
    shown = admin.get(f"/api/v1/connections/{cid}")
    assert shown.get_json()["config"] == {"token": MASK}
    for method, path, body in [("post", f"/api/v1/connections/{cid}/test", None),
                               ("post", f"/api/v1/connections/{cid}/sync", {}),
                               ("patch", f"/api/v1/connections/{cid}", {"config": {"token": "new"}})]:
        assert SECRET not in assert_envelope(getattr(admin, method)(path, json=body), 409)["message"]
    assert admin.patch(f"/api/v1/connections/{cid}", json={"name": "Renamed"}).status_code == 200
    assert SECRET not in json.dumps([shown.get_json()])
