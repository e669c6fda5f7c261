"""The identity resolver: e-mail links, manual links, non-people, and who is attributed."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import func, select
from tests.test_auth import invoke
from tests.test_csvio import api_caller, org_app  # noqa: F401 - fixture

from podium.auth import create_user
from podium.db import Database
from podium.models import AuditEvent, Connection, Identity, Person, Tenant, TimeEntry
from podium.org import identities
from podium.runtime import Podium

START = dt.datetime(2025, 1, 13, 15, tzinfo=dt.timezone.utc)


@pytest.fixture
def world(db: Database, tenant_id: int) -> dict[str, int]:
    """Ana (linkable by e-mail), a contractor nobody knows, a workflow account, and an
    account whose e-mail two people share; each logged one hour."""
    with db.session(tenant_id) as session:
        connection = Connection(vendor="simulated", name="PSA", config_encrypted="x")
        ana = Person(display_name="Ana", email="Ana.Lee@Example.com")
        twin1, twin2 = (
            Person(display_name="T1", email="desk@example.com"),
            Person(display_name="T2", email="desk@example.com"),
        )
        session.add_all([connection, ana, twin1, twin2])
        session.flush()
        accounts = {
            "ana": Identity(external_id="101", vendor_key="alee", email="ana.lee@example.com", display_name="Ana Lee"),
            "contractor": Identity(
                external_id="900", vendor_key="pat", email="pat@elsewhere.example", display_name="Pat"
            ),
            "workflow": Identity(
                external_id="2",
                vendor_key="Workflow",
                email="ana.lee@example.com",
                display_name="Workflow",
                is_person=False,
            ),
            "shared": Identity(external_id="150", vendor_key="desk", email="desk@example.com", display_name="Desk"),
        }
        for identity in accounts.values():
            identity.connection_id = connection.id
        session.add_all(accounts.values())
        session.flush()
        for n, identity in enumerate(accounts.values()):
            session.add(
                TimeEntry(
                    connection_id=connection.id,
                    external_id=str(n),
                    identity_id=identity.id,
                    start_at=START,
                    end_at=START + dt.timedelta(hours=1),
                    hours=1.0,
                )
            )
        return {**{k: v.id for k, v in accounts.items()}, "ana_person": ana.id, "twin": twin1.id}


def attributed_hours(db: Database, tenant_id: int) -> dict[int, float]:
    """What a metric would credit: time joined on the attributable identities, per person."""
    attributable = identities.attributable_identities().subquery()
    statement = (
        select(attributable.c.person_id, func.sum(TimeEntry.hours))
        .join(attributable, attributable.c.identity_id == TimeEntry.identity_id)
        .group_by(attributable.c.person_id)
    )
    with db.session(tenant_id) as session:
        return {person: float(hours) for person, hours in session.execute(statement)}


def audit_events(db: Database, tenant_id: int) -> list[AuditEvent]:
    with db.session(tenant_id) as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_email_match_links_exactly_one_person_and_is_audited(
    db: Database, tenant_id: int, world: dict[str, int]
) -> None:
    with db.session(tenant_id) as session:
        report = identities.link_by_email(session)
    assert report.linked == [(world["ana"], world["ana_person"])]
    assert report.ambiguous == [world["shared"]]
    assert report.unmatched == [world["contractor"]]
    (event,) = audit_events(db, tenant_id)
    assert (event.action, event.target_type, event.target_id) == ("identity.link", "identity", str(world["ana"]))
    assert event.actor_label == "system:resolver" and event.reason == "e-mail match"
    assert event.before == {"person_id": None, "link_method": None, "is_person": True}
    assert event.after == {"person_id": world["ana_person"], "link_method": "email", "is_person": True}
    # Running it again (after every sync) links and audits nothing new.
    with db.session(tenant_id) as session:
        assert identities.link_by_email(session).linked == []
    assert len(audit_events(db, tenant_id)) == 1


def test_unlinked_and_non_person_identities_are_never_attributed(
    db: Database, tenant_id: int, world: dict[str, int]
) -> None:
    assert attributed_hours(db, tenant_id) == {}
    with db.session(tenant_id) as session:
        identities.link_by_email(session)
        # The workflow account shares Ana's e-mail but is not a person: never linked.
        assert session.get(Identity, world["workflow"]).person_id is None
        assert [i.id for i in identities.unlinked(session)] == [world["contractor"], world["shared"]]
        assert identities.attributable_identity_ids(session) == {world["ana"]: world["ana_person"]}
    assert attributed_hours(db, tenant_id) == {world["ana_person"]: 1.0}


def test_manual_link_is_audited_with_its_author_and_reason(db: Database, tenant_id: int, world: dict[str, int]) -> None:
    with db.session(tenant_id) as session:
        admin = create_user(session, tenant_id, "boss@example.com", "admin")
        identity = identities.link(session, world["shared"], world["twin"], admin, "the desk account is T1's")
        assert (identity.link_method, identity.linked_by_user_id) == ("manual", admin.id)
        admin_id = admin.id
    (event,) = audit_events(db, tenant_id)
    assert (event.action, event.actor_user_id, event.actor_label) == ("identity.link", admin_id, "boss@example.com")
    assert event.reason == "the desk account is T1's"
    assert event.after["link_method"] == "manual"
    assert attributed_hours(db, tenant_id) == {world["twin"]: 1.0}
    with db.session(tenant_id) as session:
        identities.unlink(session, world["shared"], "cli", "wrong person")
    assert attributed_hours(db, tenant_id) == {}
    assert [e.action for e in audit_events(db, tenant_id)] == ["identity.link", "identity.unlink"]


def test_non_people_cannot_be_linked_and_marking_one_drops_its_link(
    db: Database, tenant_id: int, world: dict[str, int]
) -> None:
    with db.session(tenant_id) as session, pytest.raises(identities.IdentityError, match="API/workflow account"):
        identities.link(session, world["workflow"], world["ana_person"], "cli")
    with db.session(tenant_id) as session:
        identities.link(session, world["contractor"], world["twin"], "cli")
        identities.set_is_person(session, world["contractor"], False, "cli", "it is an integration")
        contractor = session.get(Identity, world["contractor"])
        assert (contractor.is_person, contractor.person_id, contractor.link_method) == (False, None, None)
    assert attributed_hours(db, tenant_id) == {}
    assert audit_events(db, tenant_id)[-1].action == "identity.mark_non_person"
    with db.session(tenant_id) as session:
        with pytest.raises(identities.IdentityError, match="no person 424242"):
            identities.link(session, world["ana"], 424242, "cli")
        with pytest.raises(LookupError):
            identities.link(session, 424242, world["ana_person"], "cli")


def test_attribution_outside_a_tenant_session_binds_the_tenant(
    db: Database, tenant_id: int, world: dict[str, int]
) -> None:
    with db.session() as session:
        other = Tenant(slug="other", name="Other")
        session.add(other)
        session.flush()
        connection = Connection(tenant_id=other.id, vendor="simulated", name="PSA", config_encrypted="x")
        person = Person(tenant_id=other.id, display_name="Zed")
        session.add_all([connection, person])
        session.flush()
        session.add(
            Identity(
                tenant_id=other.id,
                connection_id=connection.id,
                external_id="101",
                display_name="Zed",
                person_id=person.id,
                link_method="manual",
            )
        )
    with db.session(tenant_id) as session:
        identities.link_by_email(session)
    with db.session() as session:  # unscoped, as the metric engine's raw SQL would be
        rows = session.execute(identities.attributable_identities(tenant_id)).all()
    assert [tuple(row) for row in rows] == [(world["ana"], world["ana_person"])]


def test_cli_lists_links_and_resolves(podium: Podium, tenant_id: int, world: dict[str, int]) -> None:
    resolved = invoke(podium, ["org", "resolve"])
    assert resolved.exit_code == 0, resolved.output
    assert "1 linked, 1 ambiguous" in resolved.output
    listed = invoke(podium, ["org", "identities", "--unlinked"])
    assert listed.exit_code == 0, listed.output
    assert "pat@elsewhere.example\tUNLINKED" in listed.output
    assert "Workflow" not in listed.output and "alee" not in listed.output
    everything = invoke(podium, ["org", "identities"])
    assert "(API/workflow account)" in everything.output
    assert "→ ana.lee@example.com (email)" in everything.output.lower()
    linked = invoke(podium, ["org", "link", str(world["contractor"]), "ANA.LEE@example.com", "--reason", "same person"])
    assert linked.exit_code == 0, linked.output
    refused = invoke(podium, ["org", "link", str(world["workflow"]), str(world["ana_person"])])
    assert refused.exit_code != 0 and "API/workflow account" in refused.output
    nobody = invoke(podium, ["org", "link", str(world["ana"]), "nobody@example.com"])
    assert nobody.exit_code != 0 and "no person(s) match" in nobody.output
    with podium.db.session(tenant_id) as session:
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert (event.actor_label, event.reason, event.target_id) == ("cli", "same person", str(world["contractor"]))


def test_rest_lists_links_and_unlinks(org_app: Flask, podium: Podium, tenant_id: int, world: dict[str, int]) -> None:
    admin = api_caller(org_app, podium, tenant_id, "admin")
    resolved = admin.post("/api/v1/org/identities/resolve")
    assert resolved.status_code == 200, resolved.json
    assert resolved.json == {
        "linked": [[world["ana"], world["ana_person"]]],
        "ambiguous": [world["shared"]],
        "unmatched": [world["contractor"]],
    }
    unlinked = admin.get("/api/v1/org/identities?unlinked=true")
    assert [i["id"] for i in unlinked.json] == [world["contractor"], world["shared"]]
    linked = admin.post(
        f"/api/v1/org/identities/{world['shared']}/link", json={"person_id": world["twin"], "reason": "ok"}
    )
    assert linked.status_code == 200 and linked.json["link_method"] == "manual"
    refused = admin.post(f"/api/v1/org/identities/{world['workflow']}/link", json={"person_id": world["twin"]})
    assert refused.status_code == 422 and "API/workflow account" in refused.json["errors"]["person_id"][0]
    assert admin.post("/api/v1/org/identities/424242/link", json={"person_id": world["twin"]}).status_code == 404
    unlinked = admin.post(f"/api/v1/org/identities/{world['shared']}/unlink", json={"reason": "mistake"})
    assert unlinked.status_code == 200 and unlinked.json["person_id"] is None
    auditor = api_caller(org_app, podium, tenant_id, "auditor")
    assert auditor.get("/api/v1/org/identities").status_code == 200
    technician = api_caller(org_app, podium, tenant_id, "technician")
    assert technician.get("/api/v1/org/identities").status_code == 403
