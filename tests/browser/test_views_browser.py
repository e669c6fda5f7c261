"""The ticket and team pods inside the simulated ConnectWise Manage, in a real browser.

As in ``test_cw_pod``: the simulator's Hosted API host page on ``127.0.0.1`` frames Podium on
``localhost`` (another site, third-party cookies blocked); the pod runs the Hosted API
handshake and Podium verifies the member with the simulator. Here the Ticket screen carries
the ``ticket`` pod, registered with ``id=[cw_id]`` so Manage substitutes the ticket's id, and
the Company screen carries the ``team`` pod, opened by a member whose person is a manager.

What the pods show is checked against Podium's store: the ticket the screen names (by its
ConnectWise id on this connection) with its SLA clocks judged from the synced due times, and
the manager's teams with their current members.
"""

from __future__ import annotations

import datetime as dt
import shutil
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect
from podium.app import create_app
from podium.auth import create_user
from podium.connections import create_connection
from podium.embed import embed_ref
from podium.models import Identity, Person, Team, TeamMembership, Tenant, Ticket
from podium.org import identities
from podium.org.calendars import calendar_for_tenant
from podium.org.effective import valid_on
from podium.runtime import Podium
from podium.simulate import World
from podium.simulate.loader import ORG_AFTER_RECORDS, ORG_BEFORE_RECORDS, load_org, tenant_for
from podium.sync import sync_entity
from podium.web.ticket_pod import sla_clock
from podium_connectwise.simulator import WorldStore, create_simulator_app
from podium_connectwise.simulator.hostpage import register_pod
from podium_connectwise.simulator.params import ListQuery
from podium_connectwise.simulator.render import load_world
from podium_connectwise.simulator.resources import RESOURCES
from sqlalchemy import select

from tests.browser.test_cw_pod import CONFIG, ENTITIES, WORLD, _linked_technicians, page  # noqa: F401 - page is a fixture
from tests.conftest import TEST_SECRET_KEY
from tests.connectwise.live import CODEBASE, CREDENTIALS, serve

expect.set_options(timeout=15_000)
PLUGINS = ("connectwise", "team", "ticket", "client", "podium_metrics", "payout_rules", "live")


@dataclass
class ViewsStage:
    podium: Podium
    tenant_id: int
    connection_id: int
    site: str
    cw_ticket_id: int
    cw_company_id: int
    manager: str
    """A ConnectWise member whose person is a manager in Podium."""
    technician: str

    def screen(self, screen: str, record_id: int, member: str) -> str:
        return f"{self.site}/manage/{screen}/{record_id}?{urlencode({'member': member})}"

    def person_of(self, identifier: str) -> Person:
        with self.podium.db.session(self.tenant_id) as session:
            identity = session.scalars(select(Identity).where(
                Identity.connection_id == self.connection_id, Identity.vendor_key == identifier)).one()
            person = session.get(Person, identity.person_id)
            assert person is not None
            return person


@pytest.fixture(scope="module")
def views_stage(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[ViewsStage]:
    folder = tmp_path_factory.mktemp("cw-views")
    world = World(WORLD)
    store = WorldStore(f"sqlite:///{folder / 'connectwise.db'}")
    load_world(store, world)
    shutil.copy(sqlite_template, folder / "podium.db")
    with serve(create_simulator_app(store, CREDENTIALS, codebase=CODEBASE)) as site:
        podium = Podium.from_env(instance_path=folder / "instance", database_url=f"sqlite:///{folder / 'podium.db'}",
                                 secret_key=TEST_SECRET_KEY, redis_url=None, load_plugins=PLUGINS,
                                 http_retry_attempts=2, http_retry_backoff=0, http_retry_jitter=0)
        tenant_id = tenant_for(podium, world)
        load_org(podium, tenant_id, world, ORG_BEFORE_RECORDS)
        with podium.db.session(tenant_id) as session:
            connection_id = create_connection(podium, session, tenant_id, "connectwise", "Manage",
                                              {**CONFIG, "site": site}).id
        for entity in ENTITIES:
            assert sync_entity(podium, tenant_id, connection_id, entity).ok
        load_org(podium, tenant_id, world, ORG_AFTER_RECORDS, connection="Manage")
        with podium.db.session(tenant_id) as session:
            identities.link_by_email(session, "test")
        manager, technician = _linked_technicians(podium, store, tenant_id, connection_id)
        with podium.db.session(tenant_id) as session:
            person = session.scalars(select(Person).join(Identity, Identity.person_id == Person.id).where(
                Identity.connection_id == connection_id, Identity.vendor_key == manager)).one()
            create_user(session, tenant_id, f"manager-{person.id}@views.example", "manager", person_id=person.id)
        with serve(create_app(podium, run_jobs=False)) as served:
            base = served.replace("127.0.0.1", "localhost")
            ref = embed_ref(podium, connection_id)
            register_pod(store, f"{base}/pods/ticket?c={ref}&id=[cw_id]&screen=[cw_screen]",
                         description="Podium: this ticket", screens=("ticket",))
            register_pod(store, f"{base}/pods/team?c={ref}", description="Podium: my teams", screens=("company",),
                         height=640)
            yield ViewsStage(
                podium=podium, tenant_id=tenant_id, connection_id=connection_id, site=site,
                cw_ticket_id=store.page(RESOURCES["service_tickets"], ListQuery(page_size=1))[0][0],
                cw_company_id=store.page(RESOURCES["companies"], ListQuery(page_size=1))[0][0],
                manager=manager, technician=technician,
            )
    podium.db.dispose()
    store.close()


def test_the_ticket_pod_shows_the_screens_ticket_and_its_sla_clocks(views_stage: ViewsStage, page: Page) -> None:
    stage = views_stage
    with stage.podium.db.session(stage.tenant_id) as session:
        ticket = session.scalars(select(Ticket).where(Ticket.connection_id == stage.connection_id,
                                                      Ticket.external_id == str(stage.cw_ticket_id))).one()
        calendar = calendar_for_tenant(session, stage.tenant_id)
        now = dt.datetime.now(dt.UTC)
        response = sla_clock("Response", ticket.sla_response_due_at, ticket.sla_response_met,
                             ticket.first_response_at, now, calendar)
        number, podium_id = ticket.number, ticket.id
    page.goto(stage.screen("ticket", stage.cw_ticket_id, stage.technician))
    pod = page.frame_locator("iframe.pod")
    expect(pod.locator("#ticket-title")).to_contain_text(f"#{number}")
    expect(pod.locator(f'[data-ticket-id="{podium_id}"]')).to_have_count(1)
    expect(pod.locator("#sla-response")).to_have_attribute("data-state", response.state)
    if response.business_hours is None:
        expect(pod.locator("#sla-response .clock-state")).to_have_text(response.text)
    else:  # the clock moves between our reading and the pod's
        hours = float(pod.locator("#sla-response").get_attribute("data-hours") or "nan")
        assert hours == pytest.approx(response.business_hours, abs=0.05)
    expect(pod.locator("#ticket-fcr")).to_be_visible()
    expect(pod.locator("#ticket-time")).to_contain_text("the ticket has been open")
    assert page.locator("iframe.pod").get_attribute("src").endswith(f"&id={stage.cw_ticket_id}&screen=ticket")


def test_the_team_pod_shows_the_managers_teams(views_stage: ViewsStage, page: Page) -> None:
    stage = views_stage
    person = stage.person_of(stage.manager)
    with stage.podium.db.session(stage.tenant_id) as session:
        zone = session.get(Tenant, stage.tenant_id).time_zone
        today = dt.datetime.now(zoneinfo.ZoneInfo(zone)).date()
        current = valid_on(TeamMembership, today)
        teams = session.execute(select(Team.id, Team.name).join(TeamMembership, TeamMembership.team_id == Team.id)
                                .where(TeamMembership.person_id == person.id, current).order_by(Team.name)).all()
        members = {team_id: sorted(session.scalars(
            select(Person.display_name).join(TeamMembership, TeamMembership.person_id == Person.id)
            .where(TeamMembership.team_id == team_id, current, Person.active.is_(True))))
            for team_id, _name in teams}
    assert teams, "the world puts its technicians in teams"
    page.goto(stage.screen("company", stage.cw_company_id, stage.manager))
    pod = page.frame_locator("iframe.pod")
    expect(pod.locator(".team-name")).to_have_text([name for _id, name in teams])
    for team_id, names in members.items():
        section = pod.locator(f'section.team[data-team-id="{team_id}"]')
        expect(section.locator(".member-name")).to_have_text([f"{n} — open scorecard" for n in names])
    link = pod.locator(f'li.member[data-person-id="{person.id}"] a.member-name')
    expect(link).to_have_attribute("href", f"/pods/scorecard?c={embed_ref(stage.podium, stage.connection_id)}"
                                           f"&person={person.id}")
    pod.locator(".member-name").first.focus()
    expect(pod.locator(".member-name").first).to_be_focused()


def test_a_technician_on_the_company_screen_is_told_the_team_pod_is_for_managers(views_stage: ViewsStage,
                                                                                 page: Page) -> None:
    stage = views_stage
    page.goto(stage.screen("company", stage.cw_company_id, stage.technician))
    pod = page.frame_locator("iframe.pod")
    expect(pod.locator("#pod")).to_have_attribute("data-reason", "forbidden")
    expect(pod.locator(".refusal")).to_have_text("The Team pod is for managers.")
    expect(pod.locator(".team-name")).to_have_count(0)
