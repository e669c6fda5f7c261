"""The canonical tables and their conventions, on real SQLite and PostgreSQL databases."""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from marshmallow import ValidationError
from podium import migrate
from podium.db import Database, TenantViolation, upsert
from podium.models import (
    AuditEvent,
    AuditEventImmutable,
    Client,
    Connection,
    ExternalRecord,
    Mapping,
    Person,
    Tenant,
    Ticket,
)
from podium.schemas.canonical import (
    CANONICAL_SCHEMAS,
    ENTITY_MODELS,
    REFERENCES,
    UPSERT_KEYS,
    load,
)
from sqlalchemy import delete, func, inspect, select, text, update
from sqlalchemy.exc import IntegrityError, StatementError

from tests.conftest import throwaway_pg_database

UTC = dt.timezone.utc
@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A migrated database per backend, shared by the module; tests make their own tenants."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('models') / 'podium.db'}"
        else:
            url = stack.enter_context(throwaway_pg_database())
        migrate.upgrade(url)
        database = Database(url)
        stack.callback(database.dispose)
        yield database


def make_tenant(db: Database, **values: Any) -> int:
    with db.session() as session:
        tenant = Tenant(slug=f"t-{secrets.token_hex(4)}", name="Test MSP", **values)
        session.add(tenant)
        session.flush()
        return tenant.id


def make_connection(db: Database, tenant_id: int) -> int:
    with db.session(tenant_id=tenant_id) as session:
        connection = Connection(vendor="connectwise", name="CW", config_encrypted="ciphertext")
        session.add(connection)
        session.flush()
        return connection.id


def ticket_row(tenant_id: int, connection_id: int, external_id: str, **values: Any) -> dict[str, Any]:
    row = {
        "tenant_id": tenant_id,
        "connection_id": connection_id,
        "external_id": external_id,
        "number": external_id,
        "summary": f"Ticket {external_id}",
        "status": "New",
        "status_category": "open",
        "closed": False,
        "merged": False,
        "is_project": False,
        "created_at": dt.datetime(2024, 5, 1, 9, 0, tzinfo=UTC),
    }
    row.update(values)
    return row


# --- UTCDateTime ----------------------------------------------------------------------


def test_utc_datetime_round_trip(db: Database) -> None:
    local = dt.timezone(dt.timedelta(hours=2))
    created = dt.datetime(2024, 3, 31, 1, 30, 15, 123456, tzinfo=local)
    tenant_id = make_tenant(db, created_at=created)

    with db.session() as session:
        loaded = session.get(Tenant, tenant_id)
        assert loaded is not None
        assert loaded.created_at == created
        assert loaded.created_at.utcoffset() == dt.timedelta(0)
        assert loaded.created_at == dt.datetime(2024, 3, 30, 23, 30, 15, 123456, tzinfo=UTC)
        stored = session.execute(text("SELECT created_at FROM tenants WHERE id = :id"), {"id": tenant_id}).scalar()
    if db.dialect == "sqlite":
        assert str(stored).startswith("2024-03-30 23:30:15")  # naive UTC on disk


def test_utc_datetime_rejects_naive(db: Database) -> None:
    with pytest.raises(StatementError) as caught:
        with db.session() as session:
            session.add(Tenant(slug=f"t-{secrets.token_hex(4)}", name="x", created_at=dt.datetime(2024, 1, 1)))
            session.flush()
    assert isinstance(caught.value.orig, ValueError)
    assert "naive datetime" in str(caught.value.orig)


# --- upserts and external ids ---------------------------------------------------------


def test_upsert_is_idempotent_and_updates(db: Database) -> None:
    tenant_id = make_tenant(db)
    connection_id = make_connection(db, tenant_id)
    rows = [ticket_row(tenant_id, connection_id, str(n)) for n in range(1, 4)]

    def snapshot() -> dict[str, tuple[int, str, str]]:
        with db.session(tenant_id=tenant_id) as session:
            result = session.execute(select(Ticket.external_id, Ticket.id, Ticket.summary, Ticket.status_category))
            return {external_id: (row_id, summary, cat) for external_id, row_id, summary, cat in result}

    with db.session(tenant_id=tenant_id) as session:
        upsert(session, Ticket, rows, conflict=("connection_id", "external_id"))
    first = snapshot()
    assert len(first) == 3

    with db.session(tenant_id=tenant_id) as session:
        upsert(session, Ticket, rows, conflict=("connection_id", "external_id"))
    assert snapshot() == first

    changed = [dict(row, summary="Printer on fire", status_category="resolved") for row in rows[:2]] + rows[2:]
    with db.session(tenant_id=tenant_id) as session:
        upsert(session, Ticket, changed, conflict=("connection_id", "external_id"))
    second = snapshot()
    assert len(second) == 3
    assert {k: v[0] for k, v in second.items()} == {k: v[0] for k, v in first.items()}  # same rows
    assert second["1"][1:] == ("Printer on fire", "resolved")
    assert second["3"][1:] == ("Ticket 3", "open")


def test_external_id_unique_per_connection(db: Database) -> None:
    tenant_id = make_tenant(db)
    first_connection = make_connection(db, tenant_id)
    second_connection = make_connection(db, tenant_id)

    with db.session(tenant_id=tenant_id) as session:
        session.add(Ticket(**ticket_row(tenant_id, first_connection, "42")))
        session.add(Ticket(**ticket_row(tenant_id, second_connection, "42")))  # another vendor: fine

    with pytest.raises(IntegrityError):
        with db.session(tenant_id=tenant_id) as session:
            session.add(Ticket(**ticket_row(tenant_id, first_connection, "42")))

    with db.session(tenant_id=tenant_id) as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 2


def test_every_synced_table_is_unique_on_connection_and_external_id(db: Database) -> None:
    inspector = inspect(db.engine)
    for entity, model in ENTITY_MODELS.items():
        if not issubclass(model, ExternalRecord):
            continue
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(model.__tablename__)}
        assert ("connection_id", "external_id") in uniques, entity


def test_tenant_wide_mapping_is_unique_despite_null_connection(db: Database) -> None:
    tenant_id = make_tenant(db)
    with db.session(tenant_id=tenant_id) as session:
        session.add(Mapping(kind="work_type", vendor_value="Remote", podium_value="billable"))
    with pytest.raises(IntegrityError):
        with db.session(tenant_id=tenant_id) as session:
            session.add(Mapping(kind="work_type", vendor_value="Remote", podium_value="internal"))


# --- tenant scoping -------------------------------------------------------------------


def test_tenant_session_sees_and_changes_only_its_rows(db: Database) -> None:
    a = make_tenant(db)
    b = make_tenant(db)
    with db.session() as session:
        session.add_all([Person(tenant_id=a, display_name=f"A{n}") for n in range(2)])
        session.add_all([Person(tenant_id=b, display_name=f"B{n}") for n in range(3)])
    with db.session() as session:
        b_person = session.scalars(select(Person.id).where(Person.tenant_id == b)).first()

    with db.session(tenant_id=a) as session:
        names = set(session.scalars(select(Person.display_name).where(Person.tenant_id.in_([a, b]))))
        assert names == {"A0", "A1"}
        assert session.get(Person, b_person) is None
        updated = session.execute(update(Person).values(active=False).execution_options(synchronize_session=False))
        assert updated.rowcount == 2

    with db.session() as session:
        inactive = set(session.scalars(select(Person.tenant_id).where(Person.active.is_(False))))
        assert inactive == {a}

    with db.session(tenant_id=a) as session:
        deleted = session.execute(delete(Person).execution_options(synchronize_session=False))
        assert deleted.rowcount == 2

    with db.session() as session:
        remaining = session.scalars(select(Person.tenant_id).where(Person.tenant_id.in_([a, b]))).all()
        assert sorted(remaining) == [b, b, b]


def test_writing_another_tenants_row_raises(db: Database) -> None:
    a = make_tenant(db)
    b = make_tenant(db)
    with pytest.raises(TenantViolation):
        with db.session(tenant_id=a) as session:
            session.add(Person(tenant_id=b, display_name="intruder"))
            session.flush()
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Person).where(Person.tenant_id == b)) == 0

    with db.session(tenant_id=a) as session:  # a row without a tenant is stamped with the session's
        person = Person(display_name="stamped")
        session.add(person)
        session.flush()
        assert person.tenant_id == a


# --- audit ----------------------------------------------------------------------------


def test_audit_events_are_append_only(db: Database) -> None:
    tenant_id = make_tenant(db)
    with db.session(tenant_id=tenant_id) as session:
        event = AuditEvent(actor_label="system", action="identity.link", target_type="identity", target_id="1")
        session.add(event)
    with pytest.raises(AuditEventImmutable):
        with db.session(tenant_id=tenant_id) as session:
            loaded = session.get(AuditEvent, event.id)
            assert loaded is not None
            loaded.reason = "rewriting history"
            session.flush()
    with pytest.raises(AuditEventImmutable):
        with db.session(tenant_id=tenant_id) as session:
            session.execute(delete(AuditEvent))


# --- canonical schemas ----------------------------------------------------------------

Z = "2024-05-01T09:00:00Z"

VALID: dict[str, dict[str, Any]] = {
    "client": {"external_id": 19, "name": "Contoso"},
    "identity": {"external_id": "m1", "display_name": "Ann Tech", "email": " Ann@Example.COM ", "vendor_key": "atech"},
    "ticket": {
        "external_id": 1001,
        "number": 1001,
        "summary": "Printer offline",
        "client_external_id": 19,
        "owner_external_id": "m1",
        "status": "Closed",
        "status_category": "closed",
        "closed": True,
        "created_at": "2024-05-01T08:00:00-04:00",
        "resolved_at": "2024-05-01T15:00:00Z",
        "sla_resolution_met": True,
    },
    "ticket_event": {
        "ticket_external_id": 1001,
        "kind": "status_change",
        "at": Z,
        "actor_external_id": "m1",
        "from_value": "New",
        "to_value": "Closed",
        "source": "audit",
    },
    "project": {"external_id": "p1", "name": "Migration", "client_external_id": 19, "budget_hours": 40,
                "billable_minor": 500000, "currency": "USD", "estimated_end": "2024-06-30"},
    "time_entry": {
        "external_id": "te1",
        "identity_external_id": "m1",
        "ticket_external_id": 1001,
        "start_at": "2024-05-01T10:00:00+01:00",
        "end_at": "2024-05-01T10:30:00+01:00",
        "hours": 0.5,
        "billable": True,
        "work_type": "Remote",
    },
    "survey": {"external_id": "s1", "ticket_external_id": 1001, "identity_external_id": "m1",
               "score": 9, "scale_min": 0, "scale_max": 10, "submitted_at": Z},
    "agreement": {"external_id": "a1", "client_external_id": 19, "name": "Managed", "agreement_type": "MSP",
                  "monthly_price_minor": 250000, "currency": "USD", "effective_from": "2024-01-01"},
    "invoice": {"external_id": "i1", "client_external_id": 19, "number": "INV-1", "invoice_date": "2024-05-01",
                "due_date": "2024-05-31", "total_minor": 250000, "balance_minor": 0, "currency": "USD"},
    "payment": {"external_id": "pay1", "invoice_external_id": "i1", "paid_at": Z, "amount_minor": 250000,
                "currency": "USD"},
    "endpoint": {"external_id": "e1", "client_external_id": 19, "name": "WS-01", "device_class": "workstation"},
    "endpoint_status": {"endpoint_external_id": "e1", "day": "2024-05-01", "patch_ok": True, "av_ok": False},
}
SYNC_ORDER = ["client", "identity", "ticket", "ticket_event", "project", "time_entry", "survey",
              "agreement", "invoice", "payment", "endpoint", "endpoint_status"]


def test_every_entity_has_schema_model_references_and_example() -> None:
    assert set(CANONICAL_SCHEMAS) == set(ENTITY_MODELS) == set(REFERENCES) == set(UPSERT_KEYS) == set(VALID)
    assert sorted(SYNC_ORDER) == sorted(VALID)
    for entity, schema in CANONICAL_SCHEMAS.items():
        columns = set(ENTITY_MODELS[entity].__table__.columns.keys())
        references = REFERENCES[entity]
        for field, (target, column) in references.items():
            assert field in schema().fields, (entity, field)
            assert target in ENTITY_MODELS, (entity, target)
            fk_targets = {fk.column.table.name for fk in ENTITY_MODELS[entity].__table__.columns[column].foreign_keys}
            assert fk_targets == {ENTITY_MODELS[target].__tablename__}, (entity, column)
        plain = set(schema().fields) - set(references)
        assert plain <= columns, (entity, plain - columns)
        assert set(UPSERT_KEYS[entity]) <= columns


def _resolve(session: Any, entity: str, record: dict[str, Any], connection_id: int) -> dict[str, Any]:
    """What the sync engine does: external ids of references -> row ids."""
    row = dict(record)
    for field, (target, column) in REFERENCES[entity].items():
        external_id = row.pop(field)
        if external_id is None:
            row[column] = None
            continue
        model = ENTITY_MODELS[target]
        row[column] = session.scalar(
            select(model.id).where(model.connection_id == connection_id, model.external_id == external_id)
        )
        assert row[column] is not None, (entity, field, external_id)
    return row


def test_canonical_records_load_and_store(db: Database) -> None:
    tenant_id = make_tenant(db)
    connection_id = make_connection(db, tenant_id)
    for _ in range(2):  # a replay changes nothing
        with db.session(tenant_id=tenant_id) as session:
            for entity in SYNC_ORDER:
                model = ENTITY_MODELS[entity]
                row = _resolve(session, entity, load(entity, VALID[entity]), connection_id)
                row["tenant_id"] = tenant_id
                if "connection_id" in model.__table__.columns:
                    row["connection_id"] = connection_id
                upsert(session, model, [row], conflict=UPSERT_KEYS[entity])
    with db.session(tenant_id=tenant_id) as session:
        for entity in SYNC_ORDER:
            assert session.scalar(select(func.count()).select_from(ENTITY_MODELS[entity])) == 1, entity
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.created_at == dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
        assert ticket.sla_source == "vendor"
        assert ticket.client_id == session.scalars(select(Client.id)).one()


def test_canonical_load_fills_every_field() -> None:
    for entity, example in VALID.items():
        loaded = load(entity, example)
        assert set(loaded) == set(CANONICAL_SCHEMAS[entity]().fields), entity
    assert load("identity", VALID["identity"])["email"] == "ann@example.com"


BAD: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    # (entity, changes to the valid example, {field: words its error must contain})
    ("ticket", {"created_at": "2024-05-01T09:00:00"}, {"created_at": "Naive datetime"}),
    ("ticket", {"status_category": "pending"}, {"status_category": "one of"}),
    ("ticket", {"closed": True, "status_category": "open"}, {"status_category": "closed ticket"}),
    ("ticket", {"summary": None, "number": ""}, {"summary": "null", "number": "empty"}),
    ("ticket", {"owner_external_id": True}, {"owner_external_id": "external id"}),
    ("time_entry", {"hours": -0.25}, {"hours": "greater than or equal to 0"}),
    ("time_entry", {"end_at": "2024-05-01T09:59:00+01:00"}, {"end_at": "on or after start_at"}),
    ("time_entry", {"start_at": dt.datetime(2024, 5, 1, 10)}, {"start_at": "Naive datetime"}),
    ("time_entry", {"hours": "NaN"}, {"hours": "nan"}),
    ("agreement", {"currency": "usd"}, {"currency": "three-letter"}),
    ("agreement", {"monthly_price_minor": 2500.50}, {"monthly_price_minor": "minor units"}),
    ("agreement", {"monthly_price_minor": "2500"}, {"monthly_price_minor": "minor units"}),
    ("agreement", {"effective_to": "2023-12-31"}, {"effective_to": "on or after effective_from"}),
    ("agreement", {"effective_from": "2024-01-01T00:00:00Z"}, {"effective_from": "YYYY-MM-DD"}),
    ("invoice", {"total_minor": None}, {"total_minor": "null"}),
    ("payment", {"currency": "EURO"}, {"currency": "three-letter"}),
    ("survey", {"score": 11}, {"score": "between"}),
    ("survey", {"scale_max": 0}, {"scale_max": "greater than scale_min"}),
    ("ticket_event", {"kind": "teleport", "source": "gossip"}, {"kind": "one of", "source": "one of"}),
    ("identity", {"email": "not-an-email"}, {"email": "email"}),
    ("client", {"unexpected": 1}, {"unexpected": "Unknown field"}),
    ("project", {"currency": None}, {"currency": "billable_minor"}),
]


@pytest.mark.parametrize(("entity", "changes", "expected"), BAD, ids=[f"{e}-{'-'.join(x)}" for e, _, x in BAD])
def test_canonical_rejects_bad_records(entity: str, changes: dict[str, Any], expected: dict[str, str]) -> None:
    record = {**VALID[entity], **changes}
    with pytest.raises(ValidationError) as caught:
        load(entity, record)
    messages = caught.value.messages
    assert isinstance(messages, dict)
    for field, words in expected.items():
        assert field in messages, (field, messages)
        assert words.lower() in " ".join(map(str, messages[field])).lower(), (field, messages[field])


@pytest.mark.parametrize("entity", sorted(VALID))
def test_canonical_requires_its_required_fields(entity: str) -> None:
    with pytest.raises(ValidationError) as caught:
        load(entity, {})
    required = {name for name, field in CANONICAL_SCHEMAS[entity]().fields.items() if field.required}
    assert required
    assert set(caught.value.messages) == required
