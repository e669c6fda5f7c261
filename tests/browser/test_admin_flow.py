"""The admin flow in a real browser, top-level: sign in → add a ConnectWise connection
pointing at the simulator → test it → sync → link an identity → upload a plan →
validate → apply → preview → approve → close → export the payroll CSV.

The ConnectWise simulator serves a small simulated MSP over a real socket; Podium is
served by Werkzeug with a database-queue worker, so "Sync now" really queues jobs that a
worker runs against the simulator. Debian's Chromium is driven by Playwright.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from podium.app import create_app
from podium.auth import create_user
from podium.dbqueue import DbQueueWorker
from podium.jobs import failed_jobs, pending_jobs
from podium.models import Identity, Person, PersonFact
from podium.payouts.engine import PayoutEngine
from podium.payouts.export import payroll_csv
from podium.runtime import Podium
from podium.simulate import World, WorldConfig
from podium.simulate.loader import ORG_BEFORE_RECORDS, load_org, tenant_for
from podium_connectwise.simulator import WorldStore, create_simulator_app
from podium_connectwise.simulator.render import load_world
from sqlalchemy import select

from tests.conftest import TEST_SECRET_KEY
from tests.connectwise.live import CODEBASE, CREDENTIALS, serve
from tests.payouts.conftest import PLANS, write_plugins
from tests.payouts.metric_plugins import PLUGINS

expect.set_options(timeout=15_000)

TODAY = dt.datetime.now(dt.UTC).date()
WORLD = WorldConfig(technicians=6, clients=4, days=21, tickets_per_tech_day=0.5, start=TODAY - dt.timedelta(days=20))
ADMIN, PASSWORD = "root@summitridge.example", "correct horse battery staple"
PLAN, PERIOD = "engineer-quarterly", "FY2025-Q1"
SYNC_SECONDS = 240.0
"""A generous bound for the queued sync of every entity of the small world."""


@dataclass
class Stage:
    podium: Podium
    tenant_id: int
    site: str
    """The simulator's base URL."""
    base: str
    """Podium's base URL."""


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Stage]:
    folder = tmp_path_factory.mktemp("admin-flow")
    world = World(WORLD)
    store = WorldStore(f"sqlite:///{folder / 'connectwise.db'}")
    load_world(store, world)
    shutil.copy(sqlite_template, folder / "podium.db")
    podium = Podium.from_env(instance_path=folder / "instance", database_url=f"sqlite:///{folder / 'podium.db'}",
                             secret_key=TEST_SECRET_KEY, redis_url=None,
                             plugins_dir=write_plugins(folder / "plugins", PLUGINS),
                             http_retry_attempts=2, http_retry_backoff=0, http_retry_jitter=0)
    tenant_id = tenant_for(podium, world)
    load_org(podium, tenant_id, world, ORG_BEFORE_RECORDS)
    with podium.db.session(tenant_id) as session:
        create_user(session, tenant_id, ADMIN, "admin", password=PASSWORD)
        for person_id in session.scalars(select(Person.id)):
            session.add(PersonFact(tenant_id=tenant_id, person_id=person_id, kind="role", value_text="Engineer L1",
                                   valid_from=dt.date(2024, 1, 1)))
    with serve(create_simulator_app(store, CREDENTIALS, codebase=CODEBASE)) as site, \
            serve(create_app(podium, run_jobs=False)) as base:
        worker = DbQueueWorker(podium, schedule=False, poll_seconds=0.05)
        worker.start()
        try:
            yield Stage(podium, tenant_id, site, base)
        finally:
            worker.stop()
    podium.db.dispose()
    store.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(accept_downloads=True)
    try:
        yield context.new_page()
    finally:
        context.close()


def wait_for_jobs(podium: Podium) -> None:
    deadline = time.monotonic() + SYNC_SECONDS
    while pending_jobs(podium):
        assert time.monotonic() < deadline, f"jobs still pending: {pending_jobs(podium)}"
        time.sleep(0.5)


def test_sign_in_connect_sync_link_plan_preview_close_export(stage: Stage, page: Page) -> None:
    # Sign in: an admin page sends a signed-out browser to the sign-in form.
    page.goto(f"{stage.base}/admin/connections")
    expect(page).to_have_url(f"{stage.base}/signin/")
    page.get_by_label("E-mail").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Signed in")).to_be_visible()

    # Add a ConnectWise connection pointing at the simulator (the form comes from its config schema).
    page.goto(f"{stage.base}/admin/connections")
    page.get_by_role("link", name="Add ConnectWise Manage (PSA)").click()
    page.get_by_label("Name").fill("Summit Ridge Manage")
    page.get_by_label("Site").fill(stage.site)
    page.get_by_label("Company id").fill(CREDENTIALS.company_id)
    page.get_by_label("Public key").fill(CREDENTIALS.public_key)
    page.get_by_label("Private key").fill(CREDENTIALS.private_key)
    page.get_by_label("Client id").fill(CREDENTIALS.client_id)
    page.get_by_label("Allow http").check()
    page.get_by_role("button", name="Save connection").click()
    expect(page.get_by_role("heading", name="Summit Ridge Manage")).to_be_visible()
    expect(page.locator("dl.config")).to_contain_text("••••••••")
    expect(page.locator("body")).not_to_contain_text(CREDENTIALS.private_key)

    # Test it against the simulator, then sync every entity through the job queue.
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("Connection test passed")
    page.get_by_role("button", name="Sync now").click()
    expect(page.locator("#sync-queued")).to_contain_text("Queued a sync of")
    wait_for_jobs(stage.podium)
    assert failed_jobs(stage.podium) == []
    page.reload()
    history = page.locator("#sync-history tbody tr")
    expect(history.first).to_be_visible()
    assert set(page.locator("#sync-history tbody tr td:nth-child(4)").all_inner_texts()) == {"succeeded"}
    expect(page.locator("#sync-status")).to_contain_text("ticket")

    # Link an unlinked vendor account to the person with its e-mail.
    with stage.podium.db.session(stage.tenant_id) as session:
        identity, person_id = session.execute(
            select(Identity, Person.id).join(Person, Person.email == Identity.email)
            .where(Identity.person_id.is_(None), Identity.is_person.is_(True)).order_by(Identity.id).limit(1)
        ).one()
    page.goto(f"{stage.base}/admin/identities")
    row = page.locator(f"#identity-{identity.id}")
    row.get_by_label(f"Person for {identity.display_name}").select_option(str(person_id))
    row.get_by_label(f"Reason for linking {identity.display_name}").fill("Same e-mail")
    row.get_by_role("button", name="Link").click()
    expect(page.locator("#link-result")).to_contain_text(f"Linked identity {identity.id}")
    with stage.podium.db.session(stage.tenant_id) as session:
        assert session.get(Identity, identity.id).person_id == person_id

    # Upload a plan, validate it, apply it, preview a period.
    page.goto(f"{stage.base}/admin/plans")
    page.get_by_label("Plan file (YAML)").set_input_files(PLANS / "engineer_quarterly_scorecard.yaml")
    page.get_by_role("button", name="Validate").click()
    expect(page.locator("#plan-valid")).to_be_visible()
    page.get_by_label("First day it pays").fill("2025-01-01")
    page.get_by_role("button", name="Apply as the next version").click()
    expect(page.locator("#plan-applied")).to_contain_text("Applied version 1 of engineer-quarterly")
    page.get_by_label("Period", exact=True).fill(PERIOD)
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.get_by_role("heading", name=f"Engineer quarterly bonus — {PERIOD}")).to_be_visible()
    engine = PayoutEngine(stage.podium)
    with stage.podium.db.session(stage.tenant_id) as session:
        plan = engine.plan(session, PLAN)
        _evaluation, people = engine.preview(session, plan, engine.pay_period(session, plan, PERIOD))
    rows = page.locator("#preview tbody tr")
    expect(rows).to_have_count(len(people))
    for person in people:
        cells = page.locator(f'#preview tr[data-person="{person.person_id}"] .amount')
        assert [int(v) for v in (cells.nth(i).get_attribute("data-minor") for i in range(3))] == [
            person.earned_minor, person.on_the_table_minor, person.projected_minor]

    # Approve and close the period, then download its payroll CSV.
    page.get_by_role("link", name=f"period {PERIOD}").click()
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#period-status")).to_have_text("approved")
    page.get_by_role("button", name="Close the period").click()
    expect(page.locator("#period-status")).to_have_text("closed")
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Export payroll CSV").click()
    download = downloading.value
    assert download.suggested_filename == f"payroll-{PLAN}-{PERIOD}.csv"
    exported = Path(download.path()).read_text()
    with stage.podium.db.session(stage.tenant_id) as session:
        plan = engine.plan(session, PLAN)
        assert exported == payroll_csv(session, plan, engine.pay_period(session, plan, PERIOD))
    assert re.match(r"plan,period,person_id,name,email,external_ids,", exported)
    assert len(exported.splitlines()) == len(people) + 1
    assert "connectwise:" in exported, "the linked person's vendor id is in the payroll file"
