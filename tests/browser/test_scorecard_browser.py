"""My scorecard inside the simulated ConnectWise Manage, in a real browser, live.

The stage is :mod:`tests.browser.test_cw_pod`'s — the simulator's Hosted API host page on
``127.0.0.1`` framing Podium on ``localhost``, third-party cookies blocked, members synced
and linked by e-mail — with the scorecard pod registered instead of whoami, the metric
catalogue and the payout rules loaded, and the seeds' engineer plan assigned to the two
chosen technicians (Engineer L1, acknowledged) from this quarter on, its metrics tracked.

What the pod shows is compared with the REST API for the same person and period. A
change is new data in the store followed by the metric engine's incremental recompute
(:func:`podium.metrics.changes.records_changed`, what the ``recompute_metrics`` job runs
after a sync), which announces the changed figures; the open pod must show them without
a reload.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, FrameLocator, Page, expect
from podium.app import create_app
from podium.auth import create_token, create_user
from podium.connections import create_connection
from podium.embed import embed_ref
from podium.metrics.changes import records_changed
from podium.models import Identity, Person, User
from podium.org import identities
from podium.payouts.money import format_money, format_number
from podium.payouts.periods import PayPeriod
from podium.podsession import grant_for_user, issue_token
from podium.runtime import Podium
from podium.simulate import World
from podium.simulate.loader import ORG_BEFORE_RECORDS, load_org, tenant_for
from podium.sync import sync_entity
from podium_connectwise.simulator import WorldStore, create_simulator_app
from podium_connectwise.simulator.hostpage import register_pod
from podium_connectwise.simulator.params import ListQuery
from podium_connectwise.simulator.render import load_world
from podium_connectwise.simulator.resources import RESOURCES
from sqlalchemy import select

from tests.browser.test_cw_pod import CONFIG, ENTITIES, WORLD, _linked_technicians, _work_started_now, open_screen
from tests.conftest import TEST_SECRET_KEY
from tests.connectwise.live import CODEBASE, CREDENTIALS, serve
from tests.scorecard_support import PLAN_KEY, add_surveys, assign_plan, track_plan

expect.set_options(timeout=10_000)


@dataclass
class ScorecardStage:
    podium: Podium
    tenant_id: int
    connection_id: int
    site: str
    podium_base: str
    ticket_id: int
    member: str
    person_id: int
    identity_id: int
    period: PayPeriod
    api_token: str

    def screen(self) -> str:
        return f"{self.site}/manage/ticket/{self.ticket_id}?member={self.member}"

    def preview(self) -> dict[str, Any]:
        """``GET /api/v1/payouts/<plan>/<period>/preview`` as the member's own user."""
        answer = httpx.get(f"{self.podium_base}/api/v1/payouts/{PLAN_KEY}/{self.period.label}/preview",
                           headers={"Authorization": f"Bearer {self.api_token}"}, timeout=30)
        assert answer.status_code == 200, answer.text
        [me] = answer.json()["people"]
        assert me["person_id"] == self.person_id
        return {**me, "currency": answer.json()["currency"]}

    def csat(self) -> dict[str, Any] | None:
        """``GET /api/v1/metrics/csat_positive_pct`` for the member's quarter."""
        answer = httpx.get(f"{self.podium_base}/api/v1/metrics/csat_positive_pct",
                           params={"period": f"quarter:{self.period.start}", "subject": str(self.person_id)},
                           headers={"Authorization": f"Bearer {self.api_token}"}, timeout=30)
        assert answer.status_code == 200, answer.text
        values = answer.json()["values"]
        return values[0] if values else None


@pytest.fixture(scope="module")
def sc_stage(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[ScorecardStage]:
    folder = tmp_path_factory.mktemp("cw-scorecard")
    world = World(WORLD)
    store = WorldStore(f"sqlite:///{folder / 'connectwise.db'}")
    load_world(store, world)
    shutil.copy(sqlite_template, folder / "podium.db")
    with serve(create_simulator_app(store, CREDENTIALS, codebase=CODEBASE)) as site:
        podium = Podium.from_env(
            instance_path=folder / "instance", database_url=f"sqlite:///{folder / 'podium.db'}",
            secret_key=TEST_SECRET_KEY, redis_url=None, live_keepalive_seconds=1,
            load_plugins=("connectwise", "scorecard", "live", "podium_metrics", "payout_rules"))
        tenant_id = tenant_for(podium, world)
        load_org(podium, tenant_id, world, ORG_BEFORE_RECORDS)
        with podium.db.session(tenant_id) as session:
            connection_id = create_connection(podium, session, tenant_id, "connectwise", "Manage",
                                              {**CONFIG, "site": site}).id
        for entity in ENTITIES:
            assert sync_entity(podium, tenant_id, connection_id, entity).ok
        with podium.db.session(tenant_id) as session:
            identities.link_by_email(session, "test")
        member = _linked_technicians(podium, store, tenant_id, connection_id)[0]
        _work_started_now(store, (member,))
        assert sync_entity(podium, tenant_id, connection_id, "time_entry").ok
        with podium.db.session(tenant_id) as session:
            identity = session.scalars(select(Identity).where(Identity.connection_id == connection_id,
                                                              Identity.vendor_key == member)).one()
            person_id, identity_id = identity.person_id, identity.id
            person = session.get(Person, person_id)
            user = create_user(session, tenant_id, person.email or f"{member}@example.test", "technician",
                               name=person.display_name, person_id=person_id)
            api_token = create_token(session, user, "scorecard browser test")
        version_id, period = assign_plan(podium, tenant_id, [person_id])
        add_surveys(podium, tenant_id, connection_id, identity_id, 7, 1, tag="sc-first")
        track_plan(podium, tenant_id, version_id)
        with serve(create_app(podium, run_jobs=False)) as served:
            podium_base = served.replace("127.0.0.1", "localhost")
            register_pod(store, f"{podium_base}/pods/scorecard?c={embed_ref(podium, connection_id)}"
                                f"&id=[cw_id]&screen=[cw_screen]", description="Podium: my scorecard", height=640)
            yield ScorecardStage(
                podium=podium, tenant_id=tenant_id, connection_id=connection_id, site=site, podium_base=podium_base,
                ticket_id=store.page(RESOURCES["service_tickets"], ListQuery(page_size=1))[0][0], member=member,
                person_id=person_id, identity_id=identity_id, period=period, api_token=api_token,
            )
    podium.db.dispose()
    store.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


def expect_pay(pod: FrameLocator, preview: dict[str, Any]) -> None:
    currency = preview["currency"]
    card = pod.locator(f'[data-plan="{PLAN_KEY}"]')
    expect(card.locator('[data-field="earned"]')).to_have_text(format_money(preview["earned_minor"], currency))
    expect(card.locator('[data-field="on-the-table"]')).to_have_text(
        format_money(preview["on_the_table_minor"], currency))
    expect(card.locator('[data-field="projected"]')).to_have_text(format_money(preview["projected_minor"], currency))
    hints = card.locator(".sc-hints li")
    expect(hints).to_have_count(len(preview["hints"]))
    for n, hint in enumerate(preview["hints"]):
        expect(hints.nth(n)).to_have_text(hint)


def expect_csat(pod: FrameLocator, figure: dict[str, Any] | None) -> None:
    row = pod.locator('tr[data-metric="csat_positive_pct"]')
    value = "no data" if figure is None or figure["value"] is None else f"{format_number(figure['value'])}%"
    expect(row.locator('[data-field="value"]')).to_contain_text(value)
    if figure is not None:
        pooled = f"({format_number(figure['numerator'])} of {format_number(figure['denominator'])})"
        expect(row.locator(".sc-pooled")).to_have_text(pooled)


def test_the_scorecard_shows_the_members_numbers_and_follows_a_change(sc_stage: ScorecardStage, page: Page) -> None:
    pod = open_screen(page, sc_stage.screen())
    with sc_stage.podium.db.session(sc_stage.tenant_id) as session:
        name = session.get(Person, sc_stage.person_id).display_name
    expect(pod.locator("#sc-person")).to_have_text(name)
    expect(pod.locator("#pod")).to_have_attribute("data-live", "stream")
    before = sc_stage.csat()
    assert before is not None and before["denominator"] >= 8, "the member's surveys this quarter"
    expect_pay(pod, sc_stage.preview())
    expect_csat(pod, before)
    expect(pod.locator('tr[data-metric="csat_positive_pct"] svg[role="img"] title')).to_contain_text(
        f"{sc_stage.period.label} {format_number(before['value'])}%")
    cookie = pod.locator("#pod").evaluate(
        "() => { document.cookie = 'probe=1; SameSite=None; Secure'; return document.cookie; }")
    assert cookie == "", "third-party cookies are blocked inside Manage's iframe"

    pod.locator("#pod").evaluate("el => { window.__sameDocument = true; }")
    added = add_surveys(sc_stage.podium, sc_stage.tenant_id, sc_stage.connection_id, sc_stage.identity_id, 0, 3,
                        tag="sc-later")
    assert records_changed(sc_stage.podium, sc_stage.tenant_id, sc_stage.connection_id, "survey", added)
    after = sc_stage.csat()
    assert after is not None and after["denominator"] == before["denominator"] + 3
    expect_csat(pod, after)
    expect_pay(pod, sc_stage.preview())
    assert pod.locator("#pod").evaluate("() => window.__sameDocument === true"), "no reload"


def test_the_drill_down_opens_in_the_pod_and_comes_back(sc_stage: ScorecardStage, page: Page) -> None:
    pod = open_screen(page, sc_stage.screen())
    link = pod.locator('tr[data-metric="csat_positive_pct"] th a')
    expect(link).to_have_text("CSAT")
    link.focus()
    link.press("Enter")
    title = pod.locator("#sc-drill-title")
    expect(title).to_contain_text("CSAT:")
    expect(title).to_be_focused()
    explained = httpx.get(f"{sc_stage.podium_base}/api/v1/metrics/csat_positive_pct",
                          params={"period": f"quarter:{sc_stage.period.start}", "subject": str(sc_stage.person_id),
                                  "explain": "1"},
                          headers={"Authorization": f"Bearer {sc_stage.api_token}"}, timeout=30).json()
    rows = pod.locator("tr[data-record]")
    expect(rows).to_have_count(len(explained["records"]))
    shown = {rows.nth(n).get_attribute("data-record") for n in range(rows.count())}
    assert shown == {f"{r['record_type']}:{r['record_id']}" for r in explained["records"]}
    pod.get_by_role("link", name="← Back to the scorecard").click()
    expect(pod.locator("#sc-person")).to_be_focused()
    expect(pod.locator('tr[data-metric="csat_positive_pct"]')).to_be_visible()


def test_a_technician_cannot_open_someone_elses_scorecard(sc_stage: ScorecardStage) -> None:
    with sc_stage.podium.db.session(sc_stage.tenant_id) as session:
        other = session.scalars(select(Person.id).where(Person.id != sc_stage.person_id)).first()
        user = session.scalars(select(User).where(User.person_id == sc_stage.person_id)).one()
        token = issue_token(sc_stage.podium, grant_for_user(user, sc_stage.connection_id)).token
    mine = httpx.get(f"{sc_stage.podium_base}/pods/scorecard/body", params={"person": sc_stage.person_id},
                     headers={"Authorization": f"Pod {token}"}, timeout=30)
    theirs = httpx.get(f"{sc_stage.podium_base}/pods/scorecard/body", params={"person": other},
                       headers={"Authorization": f"Pod {token}"}, timeout=30)
    assert mine.status_code == 200 and f'data-person-id="{sc_stage.person_id}"' in mine.text
    assert theirs.status_code == 403 and theirs.json()["errors"]["session"] == ["forbidden"]
    assert theirs.json()["message"] == "You may only see your own figures here."
