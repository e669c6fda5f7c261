"""The team, ticket and client pods, through the real app on SQLite and PostgreSQL.

Each pod's figures are compared with what the REST API or the metric engine answers for
the same subject, and each pod's access rules are checked: a manager sees only their
teams (and the clients those teams serve), a technician gets no team or client pod, and
a ticket id that is not this tenant's is "not found", exactly like one that does not exist.

The org is ``tests.pods_support``'s (Ada and Bob technicians, Mia a manager, Root an
admin), with two teams — Help Desk (Ada, Mia) and Projects (Bob) — a monthly plan paying
a CSAT scorecard, a Help Desk pool and a CSAT gate, and a client of each team.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from podium.auth import create_token
from podium.metrics.engine import MetricEngine
from podium.metrics.periods import Period, containing
from podium.metrics.timegrid import settings_of
from podium.models import (
    Client,
    ClientResponsibility,
    Endpoint,
    EndpointStatus,
    Identity,
    Survey,
    Team,
    TeamMembership,
    Tenant,
    Ticket,
    TicketEvent,
    TimeEntry,
    User,
)
from podium.org.calendars import calendar_for_tenant
from podium.payouts.engine import PayoutEngine
from podium.payouts.versions import apply_plan
from podium.runtime import Podium
from podium.web.charts import bar_fill, trend
from podium.web.team_pod import leaderboard_enabled
from sqlalchemy import select

from tests.pods_support import TENANT_TZ, Org, pod_headers, pod_runtime, seed_org, user_token, web_app

HOST = "http://127.0.0.1:8765"
PLUGINS = ("team", "ticket", "client", "podium_metrics", "payout_rules", "embed_vendors")
PLAN = """
plan: support-monthly
title: Support monthly
currency: USD
period: monthly
participants:
  teams: [Help Desk, Projects]
rules:
  - type: weighted_scorecard
    name: scorecard
    target_amount: 300
    components:
      - metric: csat_positive_pct
        label: CSAT
        weight: 1
        threshold: 80
        target: 95
  - type: team_pool
    name: help-desk-pool
    team: Help Desk
    funded_by: fixed
    amount: 200
    split: equal
  - type: gates
    name: csat-gate
    gates:
      - metric: csat_positive_pct
        label: CSAT
        at_least: 70
"""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _month_start() -> dt.datetime:
    local = dt.datetime.now(zoneinfo.ZoneInfo(TENANT_TZ))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)


@dataclass
class Stage:
    podium: Podium
    client: FlaskClient
    org: Org
    help_desk: int
    projects: int
    contoso: int
    fabrikam: int
    tickets: dict[str, int]
    beta: Org

    def session(self) -> Any:
        return self.podium.db.session(self.org.tenant_id)

    def body(self, key: str, user_id: int, **args: Any) -> Any:
        token = user_token(self.podium, self.org.tenant_id, user_id, self.org.tab_connection_id)
        return self.client.get(f"/pods/{key}/body", query_string=args, headers=pod_headers(token))

    def html(self, key: str, user_id: int, **args: Any) -> str:
        response = self.body(key, user_id, **args)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_data(as_text=True)

    def api(self, user_id: int, path: str, **args: Any) -> Any:
        with self.session() as session:
            raw = create_token(session, session.get(User, user_id), "test")
        response = self.client.get(path, query_string=args, headers={"Authorization": f"Bearer {raw}"})
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()


def _ticket(session: Any, org: Org, name: str, **values: Any) -> Ticket:
    values = {"status": "New", "status_category": "open", "created_at": _now() - dt.timedelta(days=1), **values}
    ticket = Ticket(connection_id=org.tab_connection_id, external_id=name, number=name, summary=f"{name} summary",
                    **values)
    session.add(ticket)
    session.flush()
    return ticket


def _identity(session: Any, org: Org, member: str) -> int:
    return session.scalar(select(Identity.id).where(Identity.connection_id == org.tab_connection_id,
                                                    Identity.external_id == member))


def _entry(session: Any, org: Org, name: str, identity: int, ticket: Ticket, end: dt.datetime, hours: float) -> None:
    session.add(TimeEntry(connection_id=org.tab_connection_id, external_id=name, identity_id=identity,
                          ticket_id=ticket.id, start_at=end - dt.timedelta(hours=hours), end_at=end, hours=hours,
                          entered_at=end))


def _survey(session: Any, org: Org, name: str, ticket: Ticket, identity: int, positive: bool,
            at: dt.datetime) -> None:
    session.add(Survey(connection_id=org.tab_connection_id, external_id=name, ticket_id=ticket.id,
                       identity_id=identity, score=5 if positive else 1, scale_min=1, scale_max=5, positive=positive,
                       submitted_at=at))


def build(podium: Podium) -> tuple[Org, dict[str, int], dict[str, int]]:
    """Teams, clients, tickets, surveys and endpoints of this month and last; then the plan."""
    org = seed_org(podium, HOST)
    now, month = _now(), _month_start()
    mid = month + (now - month) / 2
    last_month = month - dt.timedelta(days=10)
    today = dt.datetime.now(zoneinfo.ZoneInfo(TENANT_TZ)).date()
    ids: dict[str, int] = {}
    tickets: dict[str, int] = {}
    with podium.db.session(org.tenant_id) as session:
        for name in ("Help Desk", "Projects"):
            team = Team(name=name)
            session.add(team)
            session.flush()
            ids[name] = team.id
        since = today - dt.timedelta(days=400)
        for person, team in ((org.ada, "Help Desk"), (org.mia, "Help Desk"), (org.bob, "Projects")):
            session.add(TeamMembership(person_id=person, team_id=ids[team], valid_from=since))
        for name, external, team in (("Contoso", "c-1", "Help Desk"), ("Fabrikam", "c-2", "Projects")):
            client = Client(connection_id=org.tab_connection_id, external_id=external, name=name)
            session.add(client)
            session.flush()
            ids[name] = client.id
            session.add(ClientResponsibility(client_id=client.id, team_id=ids[team], valid_from=since))
        ada, bob = _identity(session, org, "m-ada"), _identity(session, org, "m-bob")
        contoso = ids["Contoso"]
        # SLA clocks: a response still running, a resolution breached, a response met.
        tickets["sla"] = _ticket(session, org, "sla-1", client_id=contoso, sla_source="vendor",
                                 sla_response_due_at=now + dt.timedelta(days=3),
                                 sla_resolution_due_at=now - dt.timedelta(days=2)).id
        tickets["met"] = _ticket(session, org, "sla-2", client_id=contoso, sla_source="vendor",
                                 created_at=mid, first_response_at=mid, sla_response_due_at=mid + dt.timedelta(hours=1)).id
        # First-contact resolution: Ada's open ticket with her one entry, then her resolved ones.
        open_ticket = _ticket(session, org, "open-1", client_id=contoso)
        tickets["open"] = open_ticket.id
        _entry(session, org, "open-1-e", ada, open_ticket, now - dt.timedelta(hours=2), 1.5)
        session.add(TicketEvent(connection_id=org.tab_connection_id, ticket_id=open_ticket.id, kind="status_change",
                                at=now - dt.timedelta(hours=1), to_value="In Progress", source="audit"))
        fixed = _ticket(session, org, "fix-1", client_id=contoso, status="Resolved", status_category="resolved",
                        resolved_at=now - dt.timedelta(hours=1), resolved_by_identity_id=ada,
                        created_at=now - dt.timedelta(hours=5))
        tickets["fixed"] = fixed.id
        _entry(session, org, "fix-1-e", ada, fixed, now - dt.timedelta(hours=2), 1.0)
        twice = _ticket(session, org, "fix-2", client_id=contoso, status="Resolved", status_category="resolved",
                        resolved_at=now - dt.timedelta(hours=1), resolved_by_identity_id=ada,
                        created_at=now - dt.timedelta(hours=5))
        tickets["twice"] = twice.id
        _entry(session, org, "fix-2-a", ada, twice, now - dt.timedelta(hours=3), 1.0)
        _entry(session, org, "fix-2-b", bob, twice, now - dt.timedelta(hours=2), 0.5)
        # CSAT: Ada 2 of 3 positive this month (below the 80% threshold), Bob 1 of 1; Contoso also last month.
        for n, positive in enumerate((True, True, False)):
            _survey(session, org, f"s-ada-{n}", fixed, ada, positive, mid)
        _survey(session, org, "s-ada-old", fixed, ada, False, last_month)
        _survey(session, org, "s-bob", twice, bob, True, mid)
        # Endpoint integrity of Contoso: 2 of 3 checks OK yesterday (or today on the 1st).
        endpoint = Endpoint(connection_id=org.tab_connection_id, external_id="ep-1", client_id=contoso,
                            name="PC-1", device_class="workstation")
        session.add(endpoint)
        session.flush()
        session.add(EndpointStatus(endpoint_id=endpoint.id, day=max(today - dt.timedelta(days=1), month.date()),
                                   patch_ok=True, av_ok=True, backup_ok=False))
        tickets["acme-t0"] = session.scalar(select(Ticket.id).where(Ticket.external_id == "m-ada-t0"))
    engine = PayoutEngine(podium)
    with podium.db.session(org.tenant_id) as session:
        apply_plan(session, engine, org.tenant_id, engine.load(PLAN, "support.yaml"), "test", source_name="support.yaml")
    return org, ids, tickets


@pytest.fixture
def stage(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stage]:
    overrides = getattr(request, "param", {})
    podium = pod_runtime(database_url, tmp_path, load_plugins=PLUGINS, **overrides)
    org, ids, tickets = build(podium)
    beta = seed_org(podium, HOST, slug="beta")
    with podium.db.session(beta.tenant_id) as session:
        _ticket(session, beta, "beta-only")
    app: Flask = web_app(podium)
    yield Stage(podium, app.test_client(), org, ids["Help Desk"], ids["Projects"], ids["Contoso"], ids["Fabrikam"],
                tickets, beta)
    podium.db.dispose()


def refusal(response: Any, status: int) -> tuple[str, str]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    return body["errors"]["session"][0], body["message"]


def invalid(response: Any) -> dict[str, list[str]]:
    """The fields a 422 names."""
    assert response.status_code == 422, response.get_data(as_text=True)
    return response.get_json()["errors"]


def attr(html: str, element_id: str, name: str) -> str:
    """The ``name`` attribute of the element with ``id``."""
    match = re.search(rf'<[^>]*\bid="{re.escape(element_id)}"[^>]*>', html)
    assert match, f"no element #{element_id}"
    found = re.search(rf'\b{name}="([^"]*)"', match.group(0))
    assert found, f"#{element_id} has no {name}"
    return found.group(1)


def members(html: str) -> dict[int, dict[str, Any]]:
    """Each member row of the team pod: earned and projected by currency, attainment, risks."""
    rows = {}
    for match in re.finditer(r'<li class="member( at-risk)?" data-person-id="(\d+)"\s+data-earned="([^"]*)" '
                             r'data-projected="([^"]*)">(.*?)</li>', html, re.S):
        at_risk, person, earned, projected, inner = match.groups()
        attainment = re.search(r'class="member-attainment" data-value="([^"]*)"', inner).group(1)
        rows[int(person)] = {
            "earned": json.loads(earned.replace("&#34;", '"')),
            "projected": json.loads(projected.replace("&#34;", '"')),
            "attainment": float(attainment) if attainment else None,
            "at_risk": bool(at_risk),
            "risks": re.findall(r'<span class="risk risk-(\w+)">([^<]*)</span>', inner),
            "link": re.search(r'class="member-name" href="([^"]*)"', inner).group(1).replace("&amp;", "&"),
        }
    return rows


def team_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<section class="card team"[^>]*data-team-id="(\d+)"', html)]


# -- the team pod -----------------------------------------------------------------------


def test_the_team_pod_matches_the_payout_preview_of_the_api(stage: Stage) -> None:
    org = stage.org
    html = stage.html("team", org.admin_user)
    assert team_ids(html) == [stage.help_desk, stage.projects], "admins see every team, by name"
    with stage.session() as session:
        label = PayoutEngine(stage.podium).pay_period(session, PayoutEngine(stage.podium).plan(session,
                                                                                                "support-monthly"),
                                                      None).label
    preview = stage.api(org.admin_user, f"/api/v1/payouts/support-monthly/{label}/preview")
    expected = {p["person_id"]: p for p in preview["people"]}
    shown = members(html)
    assert set(shown) == {org.ada, org.mia, org.bob} == set(expected)
    for person_id, row in shown.items():
        api = expected[person_id]
        assert row["earned"] == {"USD": api["earned_minor"]}, person_id
        assert row["projected"] == {"USD": api["projected_minor"]}, person_id
        possible = api["earned_minor"] + api["on_the_table_minor"]
        assert row["attainment"] == pytest.approx(max(0, api["earned_minor"]) / possible * 100 if possible else 0)
    # Ada: CSAT 2 of 3 = 66.7% — below the 80% threshold and the 70% gate; Bob 100%: on track.
    assert ("threshold", "CSAT: below threshold") in shown[org.ada]["risks"]
    assert ("gate", "csat-gate: gate not met") in shown[org.ada]["risks"]
    assert shown[org.bob]["risks"] == [] and not shown[org.bob]["at_risk"]
    assert shown[org.ada]["link"].startswith("/pods/scorecard?c=")
    assert shown[org.ada]["link"].endswith(f"&person={org.ada}")


def test_team_pools_and_gates_show_their_state(stage: Stage) -> None:
    html = stage.html("team", stage.org.admin_user)
    help_desk, projects = html.split(f'data-team-id="{stage.projects}"')
    pools = re.findall(r'<li class="pool" data-pool="([^"]*)"><strong>([^<]*)</strong>[^—]*— ([^<]*)</li>', help_desk)
    assert [(json.loads(p.replace("&#34;", '"')), rule, state) for p, rule, state in pools] == [
        ({"USD": 20000}, "help-desk-pool", "split between 2")]
    assert "help-desk-pool" not in projects, "a pool shows only on its own team"
    gates = dict(re.findall(r'<strong>(csat-gate)</strong> \([^)]*\): <span class="gate-state">([^<]*)</span>',
                            help_desk))
    assert gates == {"csat-gate": "fails for 2 of 2"}, "Ada is under 70% and Mia has no surveys (no data fails)"
    assert re.search(r'<strong>csat-gate</strong> \([^)]*\): <span class="gate-state">holds</span>', projects)
    assert "Leaderboard" not in html, "the leaderboard is off unless the tenant opts in"


def test_a_manager_sees_only_their_teams(stage: Stage) -> None:
    org = stage.org
    html = stage.html("team", org.mia_user)
    assert team_ids(html) == [stage.help_desk]
    assert set(members(html)) == {org.ada, org.mia}
    assert team_ids(stage.html("team", org.mia_user, team=stage.help_desk)) == [stage.help_desk]
    reason, message = refusal(stage.body("team", org.mia_user, team=stage.projects), 403)
    assert reason == "forbidden" and f"team {stage.projects}" in message
    assert invalid(stage.body("team", org.mia_user, team="x")) == {"team": ["Must be a team id."]}
    assert team_ids(stage.html("team", org.admin_user, team=stage.projects)) == [stage.projects]


def test_a_technician_gets_no_team_pod(stage: Stage) -> None:
    reason, message = refusal(stage.body("team", stage.org.bob_user), 403)
    assert (reason, message) == ("forbidden", "The Team pod is for managers.")


@pytest.mark.parametrize("stage", [{"team_leaderboard": "acme"}], indirect=True)
def test_the_leaderboard_is_opt_in_per_tenant(stage: Stage) -> None:
    html = stage.html("team", stage.org.admin_user)
    boards = re.findall(r'<ol class="leaderboard">(.*?)</ol>', html, re.S)
    help_desk = [int(p) for p in re.findall(r'data-person-id="(\d+)"', boards[0])]
    shown = members(html)
    assert sorted(help_desk, key=lambda p: -(shown[p]["attainment"] or 0)) == help_desk
    assert set(help_desk) == {stage.org.ada, stage.org.mia}


def test_leaderboard_setting_forms() -> None:
    assert not leaderboard_enabled({}, "acme")
    assert not leaderboard_enabled({"team_leaderboard": "beta"}, "acme")
    assert leaderboard_enabled({"team_leaderboard": "beta, acme"}, "acme")
    assert leaderboard_enabled({"team_leaderboard": ["acme"]}, "acme")
    assert leaderboard_enabled({"team_leaderboard": "*"}, "acme")
    assert leaderboard_enabled({"team_leaderboard": True}, "acme")
    assert not leaderboard_enabled({"team_leaderboard": False}, "acme")


# -- the ticket pod ---------------------------------------------------------------------


def test_the_ticket_pod_shows_the_sla_clocks(stage: Stage) -> None:
    html = stage.html("ticket", stage.org.ada_user, id="sla-1")
    with stage.session() as session:
        ticket = session.get(Ticket, stage.tickets["sla"])
        calendar = calendar_for_tenant(session, stage.org.tenant_id)
        now = _now()
        left = calendar.business_hours_between(now, ticket.sla_response_due_at)
        over = calendar.business_hours_between(ticket.sla_resolution_due_at, now)
    assert attr(html, "sla-response", "data-state") == "running"
    assert float(attr(html, "sla-response", "data-hours")) == pytest.approx(left, abs=0.05)
    assert attr(html, "sla-resolution", "data-state") == "breached"
    assert float(attr(html, "sla-resolution", "data-hours")) == pytest.approx(over, abs=0.05)
    met = stage.html("ticket", stage.org.ada_user, id="sla-2")
    assert attr(met, "sla-response", "data-state") == "met"
    assert attr(met, "sla-resolution", "data-state") == "none"


def test_first_contact_resolution_follows_the_fcr_metric(stage: Stage) -> None:
    org = stage.org
    # Ada resolved fix-1 (one entry, hers), fix-2 (two entries) and the seed's tickets (no entries).
    with stage.session() as session:
        tenant = session.get(Tenant, org.tenant_id)
        month = containing("month", dt.datetime.now(zoneinfo.ZoneInfo(tenant.time_zone)).date(), settings_of(tenant))
        records = MetricEngine(stage.podium).explain(session, org.tenant_id, "fcr_pct", "person", month, str(org.ada))
        resolved = {session.get(Ticket, r.record_id).external_id: r.numerator for r in records.records}
    assert resolved["fix-1"] == 1.0 and resolved["fix-2"] == 0.0
    for external_id, fix in resolved.items():
        state = attr(stage.html("ticket", org.ada_user, id=external_id), "ticket-fcr", "data-state")
        assert (state in ("yes", "pending")) == (fix == 1.0), external_id
    assert attr(stage.html("ticket", org.ada_user, id="fix-1"), "ticket-fcr", "data-state") == "pending", \
        "a reopen within 7 days would still undo it"
    # Not resolved yet: Ada's one entry makes it a fix if she resolves it now; for Bob it is someone else's entry.
    ada_view = stage.html("ticket", org.ada_user, id="open-1")
    assert attr(ada_view, "ticket-fcr", "data-state") == "yes"
    bob_view = stage.html("ticket", org.bob_user, id="open-1")
    assert attr(bob_view, "ticket-fcr", "data-state") == "no"
    assert "its one time entry is someone else&#39;s" in bob_view
    # Resolved by Ada: not Bob's.
    assert attr(stage.html("ticket", org.bob_user, id="fix-1"), "ticket-fcr", "data-state") == "not-yours"


def test_reopen_risk_and_time_not_yet_entered(stage: Stage) -> None:
    org = stage.org
    fixed = stage.html("ticket", org.ada_user, id="fix-1")
    assert attr(fixed, "ticket-reopen", "data-state") == "pending"
    assert "counts in your reopen rate" in fixed
    assert attr(stage.html("ticket", org.ada_user, id="open-1"), "ticket-reopen", "data-state") == "no"
    with stage.session() as session:
        session.add(TicketEvent(connection_id=org.tab_connection_id, ticket_id=stage.tickets["fixed"], kind="reopen",
                                at=_now(), to_value="Reopened", source="audit"))
    reopened = stage.html("ticket", org.ada_user, id="fix-1")
    assert attr(reopened, "ticket-reopen", "data-state") == "yes"
    assert attr(reopened, "ticket-fcr", "data-state") == "no"
    # Time: Ada logged 1.5 h on open-1, ending before its last status change.
    opened = stage.html("ticket", org.ada_user, id="open-1")
    assert (attr(opened, "ticket-time", "data-hours"), attr(opened, "ticket-time", "data-entries")) == ("1.5", "1")
    assert attr(opened, "ticket-time", "data-missing") == "yes"
    with stage.session() as session:
        ticket = session.get(Ticket, stage.tickets["open"])
        open_hours = calendar_for_tenant(session, org.tenant_id).business_hours_between(ticket.created_at, _now())
    assert float(attr(opened, "ticket-time", "data-open-hours")) == pytest.approx(open_hours, abs=0.05)
    bob = stage.html("ticket", org.bob_user, id="open-1")
    assert (attr(bob, "ticket-time", "data-entries"), attr(bob, "ticket-time", "data-missing")) == ("0", "yes")
    with stage.session() as session:
        ada = _identity(session, org, "m-ada")
        _entry(session, org, "open-1-f", ada, session.get(Ticket, stage.tickets["open"]), _now(), 0.25)
    assert attr(stage.html("ticket", org.ada_user, id="open-1"), "ticket-time", "data-missing") == "no"


def test_a_ticket_of_another_tenant_is_not_found(stage: Stage) -> None:
    org = stage.org
    unknown = refusal(stage.body("ticket", org.ada_user, id="nope"), 404)
    foreign = refusal(stage.body("ticket", org.ada_user, id="beta-only"), 404)
    assert unknown[0] == foreign[0] == "not-found"
    assert foreign[1] == unknown[1].replace("nope", "beta-only"), "the same answer: nothing leaks"
    # The same vendor id in both tenants: each viewer sees their own tenant's ticket.
    html = stage.html("ticket", org.ada_user, id="m-ada-t0")
    assert f'data-ticket-id="{stage.tickets["acme-t0"]}"' in html
    assert invalid(stage.body("ticket", org.ada_user)) == {"id": ["Give the PSA's ticket id (at most 64 characters)."]}


# -- the client pod ---------------------------------------------------------------------


def test_the_client_pod_matches_the_metric_engine_and_the_api(stage: Stage) -> None:
    org = stage.org
    html = stage.html("client", org.admin_user, id="c-1")
    engine = MetricEngine(stage.podium)
    with stage.session() as session:
        tenant = session.get(Tenant, org.tenant_id)
        settings = settings_of(tenant)
        month = containing("month", dt.datetime.now(zoneinfo.ZoneInfo(tenant.time_zone)).date(), settings)
        months = [month]
        while len(months) < 6:
            months.insert(0, containing("month", months[0].start - dt.timedelta(days=1), settings))
        window = Period("custom", months[0].start, months[-1].end)

        def value(key: str, period: Period) -> float | None:
            found = engine.values(session, org.tenant_id, key, "client", period, subjects=[str(stage.contoso)])
            return found[0].value if found else None

        csat = [value("csat_positive_pct", m) for m in months]
        figures = {key: (value(key, month), value(key, window)) for key in
                   ("sla_response_met_pct", "sla_resolution_met_pct", "endpoint_integrity_pct")}
        repeat_registered = "repeat_ticket_rate_pct" in stage.podium.plugins.metrics
    shown = [float(v) if v else None for v in re.findall(r'<tr class="csat-month" data-value="([^"]*)"', html)]
    assert shown == pytest.approx(csat)
    assert csat[-1] == 75.0 and csat[-2] == 0.0, "Ada's 2 of 3 and Bob's 1 of 1 are all on Contoso's tickets"
    for key, (this_month, over_window) in figures.items():
        got = (attr(html, f"figure-{key}", "data-value"), attr(html, f"figure-{key}", "data-window-value"))
        assert tuple(float(v) if v else None for v in got) == pytest.approx((this_month, over_window)), key
    assert figures["endpoint_integrity_pct"][0] == pytest.approx(200 / 3)
    assert figures["sla_response_met_pct"][0] is not None
    api = stage.api(org.admin_user, "/api/v1/metrics/csat_positive_pct", grain="client", subject=str(stage.contoso),
                    period=str(month))
    assert [v["value"] for v in api["values"]] == pytest.approx([csat[-1]])
    if repeat_registered:
        assert 'id="figure-repeat_ticket_rate_pct"' in html
    else:
        assert "Not measured on this server: Repeat tickets." in html


def test_a_manager_sees_only_the_clients_their_teams_serve(stage: Stage) -> None:
    org = stage.org
    assert f'data-client-id="{stage.contoso}"' in stage.html("client", org.mia_user, id="c-1")
    assert refusal(stage.body("client", org.mia_user, id="c-2"), 403)[0] == "forbidden"
    assert f'data-client-id="{stage.fabrikam}"' in stage.html("client", org.admin_user, id="c-2")
    assert refusal(stage.body("client", org.bob_user, id="c-1"), 403)[0] == "forbidden"
    assert refusal(stage.body("client", org.admin_user, id="c-9"), 404)[0] == "not-found"


# -- the charts -------------------------------------------------------------------------


def test_chart_geometry() -> None:
    assert (bar_fill(None), bar_fill(-5), bar_fill(42.5), bar_fill(130)) == (0.0, 0.0, 42.5, 100.0)
    chart = trend([("Jan", 0.0), ("Feb", None), ("Mar", 100.0), ("Apr", 50.0)])
    assert [p.y for p in chart.points] == [29.0, None, 3.0, 16.0]
    assert chart.segments == ["3.0,29.0", "79.0,3.0 117.0,16.0"], "a month without data breaks the line"
    assert trend([("Only", 50.0)]).points[0].x == 60.0


def test_a_plan_rule_that_fails_is_shown_not_hidden(stage: Stage) -> None:
    broken = PLAN.replace("plan: support-monthly", "plan: broken-pool").replace("title: Support monthly",
                                                                               "title: Broken pool")
    broken = broken.replace("team: Help Desk\n", "team: Nowhere\n")
    engine = PayoutEngine(stage.podium)
    with stage.session() as session:
        apply_plan(session, engine, stage.org.tenant_id, engine.load(broken, "broken.yaml"), "test",
                   source_name="broken.yaml")
    html = stage.html("team", stage.org.mia_user)
    assert ('<p class="refusal" role="alert">Broken pool: rule &#39;help-desk-pool&#39; (team_pool) failed: '
            "there is no team named &#39;Nowhere&#39;</p>") in html
    assert set(members(html)) == {stage.org.ada, stage.org.mia}, "the other rules and plans still show"
