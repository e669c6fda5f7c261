"""Org data by CSV: all or nothing per file, errors by line and column, exports that round-trip."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from tests.test_auth import Caller, add_token, invoke

from podium.api import register_api
from podium.db import Database
from podium.models import (
    Agreement,
    AuditEvent,
    Client,
    Connection,
    Identity,
    Mapping,
    Person,
    PersonFact,
    Ticket,
    TimeEntry,
)
from podium.org import csvio, csvkinds, effective, suggestions
from podium.runtime import Podium

FILES = {
    "people": """email,display_name,time_zone,employed_from,active
Ana@Example.com,Ana Lee,America/Denver,2024-01-08,true
bo@example.com,Bo Chen,,2023-05-01,yes
""",
    "teams": "name,description\nHelp Desk,First line\nEscalations,\n",
    "calendars": """name,kind,time_zone,person,mon,tue,wed,thu,fri,sat,sun
Office,tenant,America/Chicago,,08:00-12:00 13:00-17:00,08:00-17:00,08:00-17:00,08:00-17:00,08:00-17:00,,
Ana hours,person,America/Denver,ana@example.com,08:00-16:00,,,,,,
""",
    "holidays": "calendar,day,name\nOffice,2025-07-04,Independence Day\n",
    "memberships": """person,team,valid_from,valid_to,share
ana@example.com,Help Desk,2025-01-01,2025-02-15,1
ana@example.com,Escalations,2025-02-15,,1
bo@example.com,Help Desk,2025-01-01,,0.5
""",
    "facts": """person,kind,value,currency,valid_from,valid_to
ana@example.com,role,Engineer L1,,2025-01-01,2025-02-15
ana@example.com,role,Engineer L2,,2025-02-15,
ana@example.com,compensation,"52,000.50",USD,2025-01-01,
ana@example.com,manager,bo@example.com,,2025-01-01,
ana@example.com,capacity_hours_week,37.5,,2025-01-01,
""",
    "responsibilities": """client,connection,person,team,share,valid_from,valid_to
Acme,PSA,ana@example.com,,0.5,2025-01-01,
Acme,PSA,bo@example.com,,0.5,2025-01-01,
Acme,,,Help Desk,1,2025-01-01,
""",
    "availability": "person,day,kind,hours\nana@example.com,2025-02-03,pto,8\nana@example.com,2025-02-04,internal,1.5\n",
    "mappings": """connection,kind,vendor_value,podium_value,confirmed
PSA,work_type,Remote Support,billable,true
,status,Closed,closed,
PSA,agreement_type,Managed Services,managed_services,true
""",
}


@pytest.fixture
def connection(db: Database, tenant_id: int) -> int:
    """A PSA connection with one client, Acme, for responsibilities to refer to."""
    with db.session(tenant_id) as session:
        psa = Connection(vendor="simulated", name="PSA", config_encrypted="x")
        session.add(psa)
        session.flush()
        session.add(Client(connection_id=psa.id, external_id="2", name="Acme"))
        return psa.id


def import_all(db: Database, tenant_id: int) -> dict[str, csvio.ImportResult]:
    with db.session(tenant_id) as session:
        return {kind: csvio.import_csv(session, kind, text) for kind, text in FILES.items()}


def errors_of(db: Database, tenant_id: int, kind: str, text: str) -> list[tuple[int, str | None, str]]:
    with db.session(tenant_id) as session, pytest.raises(csvio.CsvImportError) as refused:
        csvio.import_csv(session, kind, text)
    return [(e.line, e.column, e.message) for e in refused.value.errors]


def count(db: Database, tenant_id: int, model: type) -> int:
    with db.session(tenant_id) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_every_kind_imports_and_round_trips(db: Database, tenant_id: int, connection: int) -> None:
    results = import_all(db, tenant_id)
    assert {k: r.created for k, r in results.items()} == {
        "people": 2,
        "teams": 2,
        "calendars": 2,
        "holidays": 1,
        "memberships": 3,
        "facts": 5,
        "responsibilities": 3,
        "availability": 2,
        "mappings": 3,
    }
    with db.session(tenant_id) as session:
        ana = session.scalars(select(Person).where(Person.email == "ana@example.com")).one()
        assert ana.time_zone == "America/Denver"
        facts = effective.facts_on(session, ana.id, dt.date(2025, 3, 1))
        assert facts["role"] == "Engineer L2"
        assert facts["compensation"] == effective.Money(5_200_050, "USD")
        assert facts["capacity_hours_week"] == 37.5
        assert facts["manager"] == session.scalar(select(Person.id).where(Person.email == "bo@example.com"))
        exported = {kind: csvio.export_rows(session, kind) for kind in csvio.KINDS}
    assert exported["facts"][1]["value"] == "52000.50"
    assert exported["calendars"][1]["mon"] == "08:00-12:00 13:00-17:00"
    # What was exported imports back unchanged, and exports identically again.
    with db.session(tenant_id) as session:
        for kind, rows in exported.items():
            result = csvio.import_rows(session, kind, rows)
            assert (result.created, result.updated, result.unchanged) == (0, 0, len(rows)), kind
        assert {kind: csvio.export_rows(session, kind) for kind in csvio.KINDS} == exported


def test_a_bad_file_imports_nothing_and_names_line_and_column(db: Database, tenant_id: int) -> None:
    text = (
        "email,display_name,employed_from\n"
        "ana@example.com,Ana,2024-01-08\n"
        "not-an-email,Bo,2024-01-08\n"
        "cy@example.com,,2024-01-08\n"
        '"dee@example.com","Dee\nDoe",2024-13-01\n'
        "ed@example.com,Ed,2024-01-08,surplus\n"
        "\n"
        "ANA@example.com,Ana again,2024-01-08\n"
    )
    assert errors_of(db, tenant_id, "people", text) == [
        (3, "email", "Not a valid email address."),
        (4, "display_name", "Missing data for required field."),
        (5, "employed_from", "Not a valid date."),  # the row that spans lines 5 and 6
        (7, None, "4 cells but the header names 3 columns"),
        (9, "email", "same row as line 2"),
    ]
    assert count(db, tenant_id, Person) == 0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            "email,nickname",
            [
                (1, "display_name", "required column is missing"),
                (
                    1,
                    "nickname",
                    "unknown column; expected email, display_name, time_zone, employed_from, employed_to, active",
                ),
            ],
        ),
        ("email,display_name,Email", [(1, "email", "column appears more than once")]),
        ("", [(1, None, "the file is empty; the first line must name the columns")]),
    ],
)
def test_header_problems(db: Database, tenant_id: int, header: str, expected: list[tuple[int, str, str]]) -> None:
    assert sorted(errors_of(db, tenant_id, "people", header + "\nana@example.com,Ana\n" if header else "")) == sorted(
        expected
    )


def test_references_values_and_overlaps_are_checked(db: Database, tenant_id: int, connection: int) -> None:
    import_all(db, tenant_id)
    text = (
        "person,kind,value,currency,valid_from,valid_to\n"
        "zoe@example.com,role,Engineer L1,,2025-01-01,\n"
        "bo@example.com,manager,nobody@example.com,,2025-01-01,\n"
        "bo@example.com,compensation,70000.125,USD,2025-01-01,\n"
        "bo@example.com,compensation,70000,,2025-01-01,\n"
        "bo@example.com,capacity_hours_week,200,,2025-01-01,\n"
        "bo@example.com,level,L2,USD,2025-01-01,\n"
        "bo@example.com,role,Engineer L2,,2025-03-01,2025-02-01\n"
        "bo@example.com,title,Boss,,2025-01-01,\n"
    )
    assert errors_of(db, tenant_id, "facts", text) == [
        (2, "person", "no person with e-mail 'zoe@example.com' (import people first)"),
        (3, "value", "no person with e-mail 'nobody@example.com' (import people first)"),
        (4, "value", "USD has 2 decimal places; '70000.125' has more"),
        (5, "currency", "compensation needs a currency (e.g. USD)"),
        (6, "value", "weekly capacity must be more than 0 and at most 168 hours"),
        (7, "currency", "only compensation facts have a currency, not level"),
        (8, "valid_to", "Must be after valid_from (the end is exclusive)."),
        (9, "kind", "Must be one of: manager, role, level, capacity_hours_week, compensation."),
    ]
    overlapping = "person,kind,value,valid_from\nana@example.com,role,Engineer L3,2025-02-01\n"
    assert errors_of(db, tenant_id, "facts", overlapping) == [  # an open end overlaps both stored roles
        (2, "valid_from", "overlaps the row valid from 2025-01-01 (a stored row)"),
        (2, "valid_from", "overlaps the row valid from 2025-02-15 (a stored row)"),
    ]
    twice = "person,team,valid_from,valid_to\nbo@example.com,Escalations,2025-01-01,2025-03-01\nbo@example.com,Escalations,2025-02-01,\n"
    assert errors_of(db, tenant_id, "memberships", twice) == [
        (3, "valid_from", "overlaps the row valid from 2025-01-01 (line 2)")
    ]
    owners = "client,person,team,valid_from\nNobody Inc,bo@example.com,,2025-01-01\nAcme,bo@example.com,Help Desk,2025-01-01\n"
    assert errors_of(db, tenant_id, "responsibilities", owners) == [
        (2, "client", "no client named 'Nobody Inc'"),
        (3, "person", "Give exactly one of person or team."),
    ]
    maps = (
        "kind,vendor_value,podium_value\nwork_type,Travel,travel\nagreement_type,VoIP,Voice Lines\nstatus,Done,closed\n"
    )
    assert errors_of(db, tenant_id, "mappings", maps) == [
        (2, "podium_value", "For work_type use one of: billable, productive, internal, pto."),
        (3, "podium_value", "Use a lower-case category slug such as managed_services."),
    ]
    hours = "name,time_zone,mon,tue\nBad,Mars/Base,08:00-17:00,\nWorse,UTC,8-17,\nNone,UTC,,\n"
    assert errors_of(db, tenant_id, "calendars", hours) == [
        (2, "time_zone", "unknown time zone 'Mars/Base'; use an IANA name such as 'America/Chicago'"),
        (3, "mon", "mon: '8' is not a time of day (HH:MM, 00:00–24:00)"),
        (4, "mon", "a calendar needs opening hours on at least one day"),
    ]
    with db.session(tenant_id) as session:
        assert session.scalar(select(func.count()).where(PersonFact.person_id.is_not(None))) == 5


def test_only_the_columns_a_file_has_are_written(db: Database, tenant_id: int) -> None:
    with db.session(tenant_id) as session:
        csvio.import_csv(session, "people", FILES["people"])
        result = csvio.import_csv(
            session, "people", "email,display_name\nana@example.com,Ana L.\nbo@example.com,Bo Chen\n"
        )
        assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
        ana = session.scalars(select(Person).where(Person.email == "ana@example.com")).one()
        assert (ana.display_name, ana.time_zone) == ("Ana L.", "America/Denver")


def test_imports_that_change_something_are_audited(db: Database, tenant_id: int) -> None:
    with db.session(tenant_id) as session:
        csvio.import_csv(session, "people", FILES["people"], actor="cli", source="people.csv")
        csvio.import_csv(session, "people", FILES["people"], actor="cli", source="people.csv")
    with db.session(tenant_id) as session:
        (event,) = session.scalars(select(AuditEvent)).all()
    assert (event.action, event.actor_label, event.target_type) == ("org.import", "cli", "tenant")
    assert event.after == {"kind": "people", "created": 2, "updated": 0, "source": "people.csv"}


def test_vendor_suggestions_are_listed_for_confirmation(db: Database, tenant_id: int, connection: int) -> None:
    import_all(db, tenant_id)
    start = dt.datetime(2025, 1, 13, 15, tzinfo=dt.timezone.utc)
    with db.session(tenant_id) as session:
        client = session.scalar(select(Client.id))
        tickets = [
            ("1", "Service Desk", "Closed", "closed", False),
            ("2", "Service Desk", "Waiting Customer", "open", False),
            ("3", "Professional Services", "Completed", "closed", True),
            ("4", "NOC Alerts", "New", "open", False),
        ]
        for external_id, board, status, category, project in tickets:
            session.add(
                Ticket(
                    connection_id=connection,
                    external_id=external_id,
                    number=external_id,
                    summary="s",
                    board=board,
                    status=status,
                    status_category=category,
                    created_at=start,
                    is_project=project,
                )
            )
        for n, (work_type, billable) in enumerate(
            [
                ("Remote Support", True),
                ("Vacation", False),
                ("Onsite", True),
                ("Onsite", False),
                ("Onsite", True),
                ("Team meeting", False),
            ]
        ):
            session.add(
                TimeEntry(
                    connection_id=connection,
                    external_id=str(n),
                    work_type=work_type,
                    billable=billable,
                    start_at=start,
                    hours=1.0,
                )
            )
        session.add(
            Agreement(
                connection_id=connection,
                external_id="1",
                client_id=client,
                name="A",
                agreement_type="Managed Services",
                monthly_price_minor=1,
                currency="USD",
                effective_from=dt.date(2025, 1, 1),
            )
        )
        session.add(
            Agreement(
                connection_id=connection,
                external_id="2",
                client_id=client,
                name="B",
                agreement_type="VoIP Lines",
                monthly_price_minor=1,
                currency="USD",
                effective_from=dt.date(2025, 1, 1),
            )
        )
        session.add_all(
            [
                Identity(connection_id=connection, external_id="9", display_name="Cy Doe", email="CY@example.com"),
                Identity(connection_id=connection, external_id="10", display_name="Ana", email="ana@example.com"),
                Identity(
                    connection_id=connection,
                    external_id="11",
                    display_name="Bot",
                    email="bot@x.example",
                    is_person=False,
                ),
            ]
        )
    with db.session(tenant_id) as session:
        suggested = suggestions.suggestions(session, "mappings")
        people = suggestions.suggestions(session, "people")
        assert suggestions.suggestions(session, "teams") == []
    rows = {(r["kind"], r["vendor_value"]): r["podium_value"] for r in suggested}
    assert rows == {
        ("agreement_type", "VoIP Lines"): "voip_lines",
        ("board", "NOC Alerts"): "alert",
        ("board", "Professional Services"): "project",
        ("board", "Service Desk"): "service",
        ("status", "Completed"): "closed",
        ("status", "New"): "open",
        ("status", "Waiting Customer"): "open",
        ("work_type", "Onsite"): "billable",
        ("work_type", "Team meeting"): "internal",
        ("work_type", "Vacation"): "pto",
    }
    assert {r["connection"] for r in suggested} == {"PSA"} and {r["confirmed"] for r in suggested} == {"false"}
    assert people == [
        {
            "email": "cy@example.com",
            "display_name": "Cy Doe",
            "time_zone": "",
            "employed_from": "",
            "employed_to": "",
            "active": "true",
        }
    ]
    # The admin corrects a guess, confirms, and imports the file back.
    for row in suggested:
        row["confirmed"] = "true"
        if row["vendor_value"] == "VoIP Lines":
            row["podium_value"] = "voice"
    with db.session(tenant_id) as session:
        assert csvio.import_rows(session, "mappings", suggested).created == 10
        assert suggestions.suggestions(session, "mappings") == []
        voice = session.scalars(select(Mapping).where(Mapping.vendor_value == "VoIP Lines")).one()
        assert (voice.podium_value, voice.confirmed) == ("voice", True)


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("85000", "USD", 8_500_000), ("1,234.5", "EUR", 123_450), ("1000", "JPY", 1000), ("1.234", "BHD", 1234)],
)
def test_money_cells_become_minor_units_and_back(amount: str, currency: str, minor: int) -> None:
    assert csvkinds.to_minor(amount, currency) == minor
    assert csvkinds.to_minor(csvkinds.format_minor(minor, currency), currency) == minor


@pytest.mark.parametrize("amount", ["12.5", "abc", "NaN"])
def test_money_cells_that_cannot_be_paid_are_refused(amount: str) -> None:
    with pytest.raises(ValueError):
        csvkinds.to_minor(amount, "JPY")


# -- REST and CLI ----------------------------------------------------------------------------


@pytest.fixture
def org_app(podium: Podium) -> Flask:
    """The REST API as :func:`podium.api.register_api` builds it, the org blueprint included."""
    app = Flask("podium-org-test")
    app.extensions["podium"] = podium
    register_api(app)
    return app


def api_caller(app: Flask, podium: Podium, tenant_id: int, role: str) -> Caller:
    return Caller(app.test_client(), add_token(podium, tenant_id, role))


def test_rest_import_and_export(org_app: Flask, podium: Podium, tenant_id: int) -> None:
    admin = api_caller(org_app, podium, tenant_id, "admin")
    created = admin.post("/api/v1/org/csv/people", data=FILES["people"], headers={"Content-Type": "text/csv"})
    assert created.status_code == 200, created.json
    assert created.json == {"kind": "people", "created": 2, "updated": 0, "unchanged": 0}
    uploaded = admin.post(
        "/api/v1/org/csv/teams",
        data={"file": (io.BytesIO(FILES["teams"].encode()), "t.csv")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 200 and uploaded.json["created"] == 2
    refused = admin.post(
        "/api/v1/org/csv/people",
        data="email,display_name\nnope,X\nok@example.com,\n",
        headers={"Content-Type": "text/csv"},
    )
    assert refused.status_code == 422
    assert refused.json["errors"] == {
        "line 2, column email": ["Not a valid email address."],
        "line 3, column display_name": ["Missing data for required field."],
    }
    assert "nothing was imported" in refused.json["message"]
    empty = admin.post("/api/v1/org/csv/people", data="", headers={"Content-Type": "text/csv"})
    assert empty.status_code == 422 and "file" in empty.json["errors"]
    exported = admin.get("/api/v1/org/csv/people")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert exported.get_data(as_text=True).splitlines()[1].startswith("ana@example.com,Ana Lee,America/Denver")
    assert admin.get("/api/v1/org/csv/people?suggested=true").get_data(as_text=True).strip() == ",".join(
        csvio.KINDS["people"].columns
    )
    assert admin.get("/api/v1/org/csv/nonsense").status_code == 404
    auditor = api_caller(org_app, podium, tenant_id, "auditor")
    assert auditor.get("/api/v1/org/csv/people").status_code == 200
    assert (
        auditor.post("/api/v1/org/csv/people", data=FILES["people"], headers={"Content-Type": "text/csv"}).status_code
        == 403
    )
    manager = api_caller(org_app, podium, tenant_id, "manager")
    assert manager.get("/api/v1/org/csv/facts").status_code == 403
    spec = org_app.test_client().get("/api/v1/openapi.json").json
    assert "text/csv" in spec["paths"]["/api/v1/org/csv/{kind}"]["post"]["requestBody"]["content"]


def test_cli_import_and_export(podium: Podium, tenant_id: int, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("\ufeff" + FILES["people"], encoding="utf-8")  # a spreadsheet's BOM is fine
    done = invoke(podium, ["org", "import", "people", str(people)])
    assert done.exit_code == 0, done.output
    assert "people: 2 created, 0 updated, 0 unchanged" in done.output
    bad = tmp_path / "bad.csv"
    bad.write_text("email,display_name\nnope,X\n")
    refused = invoke(podium, ["org", "import", "people", str(bad), "--tenant", "acme"])
    assert refused.exit_code == 1
    assert "line 2, column 'email': Not a valid email address." in refused.output
    out = tmp_path / "out.csv"
    exported = invoke(podium, ["org", "export", "people", "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    assert out.read_text().splitlines()[1:] == [
        "ana@example.com,Ana Lee,America/Denver,2024-01-08,,true",
        "bo@example.com,Bo Chen,,2023-05-01,,true",
    ]
    assert invoke(podium, ["org", "export", "people"]).output == out.read_text()
    unknown = invoke(podium, ["org", "export", "people", "--tenant", "nope"])
    assert unknown.exit_code == 2 and "no tenant 'nope'" in unknown.output
