"""Passwords, API tokens, roles and tenant isolation, through the real app on both backends.

The helpers at the top (a runtime, users with tokens, an authenticated test client) are
imported by ``test_api.py`` and ``test_secrets.py`` too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tests.conftest import TEST_SECRET_KEY
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text, update
from werkzeug.test import TestResponse

from podium.app import create_app
from podium.auth import (
    authenticate,
    authenticated,
    check_password,
    create_token,
    create_user,
    current_user,
    hash_password,
)
from podium.cli import Runtime, cli
from podium.models import ApiToken, AuditEvent, Connection, Person, PersonFact, Team, TeamMembership, Tenant, User
from podium.runtime import Podium

# -- helpers shared with test_api.py and test_secrets.py --------------------------------------


def make_runtime(database_url: str, tmp_path: Path, **overrides: Any) -> Podium:
    """A runtime on the test database without installed entry points (only what a test loads)."""
    options: dict[str, Any] = {
        "instance_path": tmp_path / "instance",
        "database_url": database_url,
        "secret_key": TEST_SECRET_KEY,
        "redis_url": None,
        "load_entry_points": False,
    }
    return Podium.from_env(**{**options, **overrides})


def add_tenant(podium: Podium, slug: str, time_zone: str = "UTC") -> int:
    with podium.db.session() as session:
        tenant = Tenant(slug=slug, name=slug.title(), time_zone=time_zone, currency="USD")
        session.add(tenant)
        session.flush()
        return tenant.id


def add_person(podium: Podium, tenant_id: int, name: str) -> int:
    with podium.db.session(tenant_id=tenant_id) as session:
        person = Person(display_name=name, email=f"{name.lower()}@example.com")
        session.add(person)
        session.flush()
        return person.id


def add_token(podium: Podium, tenant_id: int, role: str, *, person_id: int | None = None,
              expires_at: dt.datetime | None = None) -> str:
    """A new user of ``role`` and a raw API token for them."""
    with podium.db.session(tenant_id=tenant_id) as session:
        count = session.scalar(select(User.id).order_by(User.id.desc())) or 0
        user = create_user(session, tenant_id, f"{role}{count + 1}@example.com", role, person_id=person_id)
        return create_token(session, user, "test", expires_at)


class Caller:
    """The Flask test client with one bearer token on every request."""

    def __init__(self, client: FlaskClient, token: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def __getattr__(self, method: str) -> Any:
        def call(path: str, **kwargs: Any) -> TestResponse:
            return getattr(self.client, method)(path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)

        return call


def assert_envelope(response: TestResponse, code: int) -> dict[str, Any]:
    """The one error shape, whatever failed."""
    assert response.status_code == code, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"code", "message", "errors"}, body
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], dict)
    return body


@pytest.fixture
def podium(database_url: str, tmp_path: Path) -> Iterator[Podium]:
    runtime = make_runtime(database_url, tmp_path)
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def app(podium: Podium) -> Flask:
    return create_app(podium, run_jobs=False)


@pytest.fixture
def tenant_id(podium: Podium) -> int:
    return add_tenant(podium, "acme", time_zone="America/New_York")


@pytest.fixture
def admin(app: Flask, podium: Podium, tenant_id: int) -> Caller:
    return Caller(app.test_client(), add_token(podium, tenant_id, "admin"))


# -- passwords and tokens ---------------------------------------------------------------------


def test_password_is_stored_hashed(podium: Podium, tenant_id: int) -> None:
    with podium.db.session(tenant_id=tenant_id) as session:
        user = create_user(session, tenant_id, " Ada@Example.COM ", "admin", password="correct horse")
        sso_only = create_user(session, tenant_id, "sso@example.com", "auditor")
    assert user.email == "ada@example.com"
    assert "correct horse" not in user.password_hash
    assert check_password(user, "correct horse")
    assert not check_password(user, "wrong horse")
    assert not check_password(sso_only, "")
    assert hash_password("x") != hash_password("x"), "salted"
    with pytest.raises(ValueError, match="unknown role"):
        with podium.db.session(tenant_id=tenant_id) as session:
            create_user(session, tenant_id, "x@example.com", "owner")


def test_token_is_shown_once_and_stored_as_a_hash(podium: Podium, tenant_id: int) -> None:
    with podium.db.session(tenant_id=tenant_id) as session:
        user = create_user(session, tenant_id, "ada@example.com", "admin")
        raw = create_token(session, user, "laptop")
    assert raw.startswith("pod_") and len(raw) > 40
    with podium.db.engine.connect() as connection:
        rows = [" ".join(map(str, row)) for row in connection.execute(text("SELECT * FROM api_tokens"))]
    assert len(rows) == 1 and raw not in rows[0] and raw[4:] not in rows[0]
    with podium.db.session() as session:
        token = session.scalars(select(ApiToken)).one()
        assert token.prefix == raw[:8] and token.last_used_at is None
        assert authenticate(session, raw).id == user.id
        assert token.last_used_at is not None
        assert authenticate(session, raw + "x") is None
        assert authenticate(session, raw[4:]) is None


@pytest.mark.parametrize(
    "case", ["missing", "not bearer", "empty bearer", "unknown", "revoked", "expired", "deactivated user"]
)
def test_bad_credentials_get_401_envelope(app: Flask, podium: Podium, tenant_id: int, case: str) -> None:
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    token = add_token(podium, tenant_id, "admin", expires_at=past if case == "expired" else None)
    with podium.db.session() as session:
        if case == "revoked":
            session.execute(update(ApiToken).values(revoked_at=past))
        if case == "deactivated user":
            session.execute(update(User).values(active=False))
    headers = {
        "missing": {},
        "not bearer": {"Authorization": f"Basic {token}"},
        "empty bearer": {"Authorization": "Bearer "},
        "unknown": {"Authorization": "Bearer pod_not-a-token"},
    }.get(case, {"Authorization": f"Bearer {token}"})
    response = app.test_client().get("/api/v1/people", headers=headers)
    body = assert_envelope(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert token not in response.get_data(as_text=True)
    assert body["errors"] == {}


def test_valid_token_records_last_use(app: Flask, podium: Podium, tenant_id: int) -> None:
    token = add_token(podium, tenant_id, "auditor")
    assert Caller(app.test_client(), token).get("/api/v1/tenant").status_code == 200
    with podium.db.session() as session:
        assert session.scalars(select(ApiToken.last_used_at)).one() is not None


# -- roles ------------------------------------------------------------------------------------


def test_auditor_reads_but_never_writes(app: Flask, podium: Podium, tenant_id: int) -> None:
    auditor = Caller(app.test_client(), add_token(podium, tenant_id, "auditor"))
    person = add_person(podium, tenant_id, "Grace")
    assert auditor.get("/api/v1/people").status_code == 200
    assert auditor.get(f"/api/v1/people/{person}").status_code == 200
    for method, path, body in [
        ("post", "/api/v1/people", {"display_name": "Eve"}),
        ("patch", f"/api/v1/people/{person}", {"display_name": "Eve"}),
        ("patch", "/api/v1/tenant", {"currency": "EUR"}),
        ("post", "/api/v1/teams", {"name": "Ops"}),
        ("post", "/api/v1/connections", {"vendor": "x", "name": "x", "config": {}}),
        ("post", "/api/v1/quarantine/1/dismiss", {}),
    ]:
        assert_envelope(getattr(auditor, method)(path, json=body), 403)
    with podium.db.session() as session:
        assert session.scalars(select(Person.display_name)).all() == ["Grace"]


def test_auditor_is_refused_any_write_even_where_no_role_is_required(app: Flask, podium: Podium, tenant_id: int) -> None:
    """The read-only rule lives in the guard, so a new endpoint cannot forget it."""

    @authenticated
    def note() -> dict[str, str]:
        return {"role": current_user().role}

    app.add_url_rule("/test-note", "test_note", note, methods=["GET", "POST"])
    auditor = Caller(app.test_client(), add_token(podium, tenant_id, "auditor"))
    technician = Caller(app.test_client(), add_token(podium, tenant_id, "technician"))
    assert auditor.get("/test-note").get_json() == {"role": "auditor"}
    body = assert_envelope(auditor.post("/test-note"), 403)
    assert body["message"] == "Auditors have read-only access."
    assert technician.post("/test-note").get_json() == {"role": "technician"}


def test_admin_writes(admin: Caller, podium: Podium) -> None:
    created = admin.post("/api/v1/people", json={"display_name": "Ada"})
    assert created.status_code == 201
    changed = admin.patch(f"/api/v1/people/{created.get_json()['id']}", json={"active": False})
    assert changed.status_code == 200 and changed.get_json()["active"] is False
    with podium.db.session() as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions == ["person.create", "person.update"]
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert event.before["active"] is True and event.after["active"] is False
        assert event.actor_label.startswith("admin")


def test_technician_sees_only_their_own_person(app: Flask, podium: Podium, tenant_id: int) -> None:
    me, peer = add_person(podium, tenant_id, "Ada"), add_person(podium, tenant_id, "Bob")
    tech = Caller(app.test_client(), add_token(podium, tenant_id, "technician", person_id=me))
    listed = tech.get("/api/v1/people")
    assert [p["id"] for p in listed.get_json()] == [me]
    assert '"total": 1' in listed.headers["X-Pagination"]
    assert tech.get(f"/api/v1/people/{me}").status_code == 200
    assert_envelope(tech.get(f"/api/v1/people/{peer}"), 403)
    assert_envelope(tech.get(f"/api/v1/people/{peer + 1000}"), 404)
    assert_envelope(tech.patch(f"/api/v1/people/{me}", json={"display_name": "Me"}), 403)
    assert_envelope(tech.get("/api/v1/connections"), 403)
    unlinked = Caller(app.test_client(), add_token(podium, tenant_id, "technician"))
    assert unlinked.get("/api/v1/people").get_json() == []


def test_manager_sees_their_teams_and_reports(app: Flask, podium: Podium, tenant_id: int) -> None:
    names = ["Mona", "Tess", "Otto", "Rita", "Ex", "Future"]
    mona, tess, otto, rita, ex, future = (add_person(podium, tenant_id, n) for n in names)
    today = dt.datetime.now(dt.timezone.utc).date()
    long_ago, tomorrow = today - dt.timedelta(days=400), today + dt.timedelta(days=2)
    with podium.db.session(tenant_id=tenant_id) as session:
        helpdesk, projects = Team(name="Helpdesk"), Team(name="Projects")
        session.add_all([helpdesk, projects])
        session.flush()
        session.add_all([
            TeamMembership(team_id=helpdesk.id, person_id=mona, valid_from=long_ago),
            TeamMembership(team_id=helpdesk.id, person_id=tess, valid_from=long_ago),
            TeamMembership(team_id=helpdesk.id, person_id=ex, valid_from=long_ago, valid_to=today - dt.timedelta(days=2)),
            TeamMembership(team_id=helpdesk.id, person_id=future, valid_from=tomorrow),
            TeamMembership(team_id=projects.id, person_id=otto, valid_from=long_ago),
            PersonFact(person_id=rita, kind="manager", value_int=mona, valid_from=long_ago),
        ])
        helpdesk_id, projects_id = helpdesk.id, projects.id
    manager = Caller(app.test_client(), add_token(podium, tenant_id, "manager", person_id=mona))
    assert {p["display_name"] for p in manager.get("/api/v1/people").get_json()} == {"Mona", "Tess", "Rita"}
    assert manager.get(f"/api/v1/people/{rita}").status_code == 200
    assert_envelope(manager.get(f"/api/v1/people/{otto}"), 403)
    assert [t["name"] for t in manager.get("/api/v1/teams").get_json()] == ["Helpdesk"]
    assert_envelope(manager.get(f"/api/v1/teams/{projects_id}"), 403)
    members = manager.get(f"/api/v1/teams/{helpdesk_id}/members").get_json()
    assert {m["person_id"] for m in members} == {mona, tess}, "past and future members are not visible today"
    tech = Caller(app.test_client(), add_token(podium, tenant_id, "technician", person_id=tess))
    assert [m["person_id"] for m in tech.get(f"/api/v1/teams/{helpdesk_id}/members").get_json()] == [tess]


# -- tenant isolation -------------------------------------------------------------------------


def test_a_tenant_never_sees_another_tenants_rows(app: Flask, podium: Podium, tenant_id: int, admin: Caller) -> None:
    other = add_tenant(podium, "globex")
    theirs = add_person(podium, other, "Hank")
    mine = add_person(podium, tenant_id, "Ada")
    with podium.db.session(tenant_id=other) as session:
        team = Team(name="Theirs")
        connection = Connection(vendor="gone", name="Their PSA", config_encrypted=podium.secrets.encrypt({"k": "v"}))
        session.add_all([team, connection])
        session.flush()
        team_id, connection_id = team.id, connection.id
    listed = admin.get("/api/v1/people")
    assert [p["id"] for p in listed.get_json()] == [mine]
    assert '"total": 1' in listed.headers["X-Pagination"]
    assert admin.get("/api/v1/teams").get_json() == []
    assert admin.get("/api/v1/connections").get_json() == []
    for path in [f"/api/v1/people/{theirs}", f"/api/v1/teams/{team_id}", f"/api/v1/connections/{connection_id}",
                 f"/api/v1/teams/{team_id}/members"]:
        assert_envelope(admin.get(path), 404)
    assert_envelope(admin.patch(f"/api/v1/people/{theirs}", json={"display_name": "Mine now"}), 404)
    assert_envelope(admin.post(f"/api/v1/connections/{connection_id}/test"), 404)
    own_team = admin.post("/api/v1/teams", json={"name": "Theirs"})
    assert own_team.status_code == 201, "team names are unique per tenant only"
    body = assert_envelope(admin.post(f"/api/v1/teams/{own_team.get_json()['id']}/members", json={"person_id": theirs}), 422)
    assert "person_id" in body["errors"]
    assert admin.get("/api/v1/tenant").get_json()["slug"] == "acme"
    with podium.db.session() as session:
        assert session.get(Person, theirs).display_name == "Hank"


# -- the admin CLI ----------------------------------------------------------------------------


class GivenRuntime(Runtime):
    """The CLI's runtime holder, handing out the test's runtime (and so its database)."""

    def __init__(self, podium: Podium) -> None:
        super().__init__({})
        self.given = podium

    @property
    def podium(self) -> Podium:
        return self.given


def invoke(podium: Podium, args: list[str], stdin: str | None = None) -> Any:
    return CliRunner().invoke(cli, args, obj=GivenRuntime(podium), input=stdin)


def test_cli_creates_tenant_user_and_a_working_token(app: Flask, podium: Podium, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    made = invoke(podium, ["tenants", "create", "initech", "--name", "Initech", "--time-zone", "Europe/London",
                           "--currency", "GBP"])
    assert made.exit_code == 0, made.output
    assert "created tenant 'initech'" in made.output
    password = "s3cret-pass-phrase"
    user = invoke(podium, ["users", "create", "--tenant", "initech", "--email", "Ada@Initech.example",
                           "--role", "admin", "--password-stdin"], stdin=password + "\n")
    assert user.exit_code == 0, user.output
    assert password not in user.output
    issued = invoke(podium, ["tokens", "create", "--tenant", "initech", "--user", "ada@initech.example",
                             "--name", "ci"])
    assert issued.exit_code == 0, issued.output
    raw = issued.stdout.strip()
    assert raw.startswith("pod_") and "\n" not in raw
    assert raw not in issued.stderr
    assert raw not in caplog.text and password not in caplog.text
    tenant = Caller(app.test_client(), raw).get("/api/v1/tenant").get_json()
    assert (tenant["slug"], tenant["time_zone"], tenant["currency"]) == ("initech", "Europe/London", "GBP")
    with podium.db.session() as session:
        stored = session.scalars(select(User).where(User.email == "ada@initech.example")).one()
        assert check_password(stored, password)
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions == ["tenant.create", "user.create", "token.create"]
        dumped = " ".join(str((e.before, e.after)) for e in session.scalars(select(AuditEvent)))
        assert raw not in dumped and password not in dumped


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tenants", "create", "Bad Slug", "--name", "x"], "lower-case"),
        (["tenants", "create", "ok", "--name", "x", "--time-zone", "Mars/Base"], "time_zone: Unknown time zone"),
        (["tenants", "create", "ok", "--name", "x", "--currency", "usd"], "currency: Must be a 3-letter"),
        (["tenants", "create", "acme", "--name", "again"], "already exists"),
        (["users", "create", "--tenant", "nope", "--email", "a@b.c", "--role", "admin"], "no tenant 'nope'"),
        (["users", "create", "--tenant", "acme", "--email", "a@b.c", "--role", "owner"], "'owner' is not one of"),
        (["users", "create", "--tenant", "acme", "--email", "a@b.c", "--role", "technician", "--person-id", "999"],
         "has no person 999"),
        (["tokens", "create", "--tenant", "acme", "--user", "ghost@example.com", "--name", "x"], "no user ghost"),
    ],
)
def test_cli_refuses_bad_input_with_the_reason(podium: Podium, tenant_id: int, args: list[str], message: str) -> None:
    result = invoke(podium, args)
    assert result.exit_code != 0
    assert message in result.output
    with podium.db.session() as session:
        assert session.scalars(select(Tenant.slug)).all() == ["acme"]
        assert session.scalars(select(User)).all() == []


def test_cli_password_stdin_refuses_an_empty_password(podium: Podium, tenant_id: int) -> None:
    result = invoke(podium, ["users", "create", "--tenant", "acme", "--email", "a@b.c", "--role", "admin",
                             "--password-stdin"], stdin="\n")
    assert result.exit_code != 0 and "empty password" in result.output
