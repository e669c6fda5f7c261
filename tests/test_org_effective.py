"""Effective-dated org facts: the org as it was on a date, across a team move."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from podium.db import Database
from podium.models import Client, ClientResponsibility, Connection, Person, PersonFact, Team, TeamMembership, Tenant
from podium.org import effective
from podium.org.effective import Money

JAN1, FEB14, FEB15, MAR1 = dt.date(2025, 1, 1), dt.date(2025, 2, 14), dt.date(2025, 2, 15), dt.date(2025, 3, 1)


@contextmanager
def count_selects(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


@pytest.fixture
def org(db: Database, tenant_id: int) -> dict[str, int]:
    """Ana in Help Desk since Jan 1 as an Engineer L1; Escalations exists."""
    with db.session(tenant_id) as session:
        ana = Person(display_name="Ana", email="ana@example.com")
        help_desk, escalations = Team(name="Help Desk"), Team(name="Escalations")
        session.add_all([ana, help_desk, escalations])
        session.flush()
        session.add(TeamMembership(person_id=ana.id, team_id=help_desk.id, valid_from=JAN1))
        effective.set_fact(session, ana.id, "role", "Engineer L1", JAN1)
        return {"ana": ana.id, "help_desk": help_desk.id, "escalations": escalations.id}


def test_team_move_changes_membership_from_its_date_only(db: Database, tenant_id: int, org: dict[str, int]) -> None:
    with db.session(tenant_id) as session:
        effective.move_to_team(session, org["ana"], org["escalations"], FEB15)
        effective.set_fact(session, org["ana"], "role", "Engineer L2", FEB15)
    with db.session(tenant_id) as session:
        assert effective.team_members(session, org["help_desk"], FEB14) == [org["ana"]]
        assert effective.team_members(session, org["help_desk"], FEB15) == []
        assert effective.team_members(session, org["escalations"], FEB14) == []
        assert effective.team_members(session, org["escalations"], FEB15) == [org["ana"]]
        assert [m.team_id for m in effective.teams_of(session, org["ana"], MAR1)] == [org["escalations"]]
        assert effective.fact_on(session, org["ana"], "role", FEB14) == "Engineer L1"
        assert effective.fact_on(session, org["ana"], "role", FEB15) == "Engineer L2"
        assert effective.people_with_fact(session, "role", ["Engineer L1"], FEB14) == [org["ana"]]
        assert effective.people_with_fact(session, "role", ["Engineer L1"], FEB15) == []
        # A February period sees her in both teams, for the days she was in each.
        february = effective.memberships_during(session, dt.date(2025, 2, 1), MAR1)
        days = {
            m.team_id: effective.overlap_days(m.valid_from, m.valid_to, dt.date(2025, 2, 1), MAR1) for m in february
        }
        assert days == {org["help_desk"]: 14, org["escalations"]: 14}


def test_move_on_the_day_a_membership_started_replaces_it(db: Database, tenant_id: int, org: dict[str, int]) -> None:
    with db.session(tenant_id) as session:
        effective.move_to_team(session, org["ana"], org["escalations"], FEB15)
        effective.move_to_team(session, org["ana"], org["help_desk"], FEB15)
    with db.session(tenant_id) as session:
        rows = session.scalars(select(TeamMembership).order_by(TeamMembership.valid_from)).all()
        assert [(r.team_id, r.valid_from, r.valid_to) for r in rows] == [
            (org["help_desk"], JAN1, FEB15),
            (org["help_desk"], FEB15, None),
        ]


def test_set_fact_keeps_history_and_fits_retroactive_changes(db: Database, tenant_id: int, org: dict[str, int]) -> None:
    ana = org["ana"]
    with db.session(tenant_id) as session:
        effective.set_fact(session, ana, "capacity_hours_week", 40.0, MAR1)
        # Recorded later but effective earlier: ends where the already recorded change begins.
        effective.set_fact(session, ana, "capacity_hours_week", 32.0, FEB15)
        effective.set_fact(session, ana, "compensation", Money(5_200_000, "USD"), JAN1)
        effective.set_fact(session, ana, "compensation", Money(5_400_000, "USD"), JAN1)  # same day: corrected in place
    with db.session(tenant_id) as session:
        capacity = session.scalars(
            select(PersonFact).where(PersonFact.kind == "capacity_hours_week").order_by(PersonFact.valid_from)
        ).all()
        assert [(f.value_num, f.valid_from, f.valid_to) for f in capacity] == [(32.0, FEB15, MAR1), (40.0, MAR1, None)]
        assert effective.fact_on(session, ana, "capacity_hours_week", FEB14) is None
        assert effective.facts_on(session, ana, MAR1) == {
            "role": "Engineer L1",
            "capacity_hours_week": 40.0,
            "compensation": Money(5_400_000, "USD"),
        }
        assert session.scalar(select(func.count()).where(PersonFact.kind == "compensation")) == 1


def test_as_of_queries_are_one_select_each(db: Database, tenant_id: int, org: dict[str, int]) -> None:
    """ "As of date X" must stay cheap: one indexed SELECT, never a loop of queries."""
    with db.session(tenant_id) as session:
        for kind, value in (("level", "L1"), ("capacity_hours_week", 40.0), ("manager", org["ana"])):
            effective.set_fact(session, org["ana"], kind, value, JAN1)
    with db.session(tenant_id) as session, count_selects(db) as selects:
        facts = effective.facts_on(session, org["ana"], FEB14)
        assert len(facts) == 4
        assert len(selects) == 1
        effective.team_members(session, org["help_desk"], FEB14)
        assert len(selects) == 2


def test_unknown_fact_kind_is_refused(db: Database, tenant_id: int, org: dict[str, int]) -> None:
    with db.session(tenant_id) as session, pytest.raises(ValueError, match="unknown fact kind 'title'"):
        effective.fact_on(session, org["ana"], "title", FEB14)


def test_client_shares_of_split_and_changing_ownership(db: Database, tenant_id: int, org: dict[str, int]) -> None:
    with db.session(tenant_id) as session:
        connection = Connection(vendor="simulated", name="C", config_encrypted="x")
        session.add(connection)
        session.flush()
        acme, globex = (
            Client(connection_id=connection.id, external_id="1", name="Acme"),
            Client(connection_id=connection.id, external_id="2", name="Globex"),
        )
        bo = Person(display_name="Bo")
        session.add_all([acme, globex, bo])
        session.flush()
        session.add_all(
            [
                ClientResponsibility(client_id=acme.id, person_id=org["ana"], share=0.5, valid_from=JAN1),
                ClientResponsibility(client_id=acme.id, person_id=bo.id, share=0.5, valid_from=JAN1),
                ClientResponsibility(
                    client_id=globex.id, person_id=org["ana"], share=1.0, valid_from=JAN1, valid_to=FEB15
                ),
                ClientResponsibility(client_id=globex.id, person_id=bo.id, share=1.0, valid_from=FEB15),
                ClientResponsibility(client_id=globex.id, team_id=org["help_desk"], valid_from=JAN1),
            ]
        )
        ids = {"acme": acme.id, "globex": globex.id, "bo": bo.id}
    with db.session(tenant_id) as session:
        assert effective.client_shares(session, FEB14, person_id=org["ana"]) == {ids["acme"]: 0.5, ids["globex"]: 1.0}
        assert effective.client_shares(session, FEB15, person_id=org["ana"]) == {ids["acme"]: 0.5}
        assert effective.client_shares(session, FEB15, person_id=ids["bo"]) == {ids["acme"]: 0.5, ids["globex"]: 1.0}
        assert effective.client_shares(session, FEB15, team_id=org["help_desk"]) == {ids["globex"]: 1.0}
        owners = session.scalars(effective.responsibilities_on(FEB15, client_id=ids["globex"])).all()
        assert {(o.person_id, o.team_id) for o in owners} == {(ids["bo"], None), (None, org["help_desk"])}
        with pytest.raises(ValueError, match="exactly one"):
            effective.client_shares(session, FEB15)


def test_another_tenants_org_is_invisible(db: Database, tenant_id: int, org: dict[str, int]) -> None:
    with db.session() as session:
        other = Tenant(slug="other", name="Other")
        session.add(other)
        session.flush()
        other_id = other.id
    with db.session(other_id) as session:
        person, team = Person(display_name="Zed"), Team(name="Help Desk")
        session.add_all([person, team])
        session.flush()
        session.add(TeamMembership(person_id=person.id, team_id=team.id, valid_from=JAN1))
        effective.set_fact(session, person.id, "role", "Engineer L1", JAN1)
    with db.session(tenant_id) as session:
        assert effective.people_with_fact(session, "role", ["Engineer L1"], FEB14) == [org["ana"]]
        assert len(session.scalars(effective.memberships_on(FEB14)).all()) == 1
