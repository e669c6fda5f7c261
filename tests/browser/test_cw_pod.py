"""A Podium pod inside the simulated ConnectWise Manage, in a real browser, verified for real.

The ConnectWise simulator serves its Hosted API host page on ``127.0.0.1``; Podium is served
from ``localhost`` (another site), with third-party cookies blocked, as Manage's cloud
frames a pod. The pod runs the Hosted API handshake (``ready`` → ``MessageFrameID`` →
``getMemberAuthentication``), Podium checks the member hash with the simulator's
``system/myMembers/info`` and maps the member to a person through the identities the
connector synced and the identity resolver linked by e-mail.

One stage per module (rendering and syncing a world is the slow part): a world whose last
day is today, with a time entry of each chosen member starting now, so the pod's month has
figures whatever the date; Podium on SQLite with the ConnectWise, whoami
and live plugins; its job queue worked by a thread, so callbacks from the simulator's live
world land while the tests watch. Refusals that need no browser are checked against
Podium's session endpoint directly (they run without Chromium too).
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import time
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from flask import Flask, jsonify
from playwright.sync_api import Browser, FrameLocator, Page, expect
from podium.app import create_app
from podium.connections import create_connection
from podium.dbqueue import DbQueueWorker
from podium.embed import embed_ref
from podium.models import Connection, Identity, Person, Tenant, TimeEntry
from podium.org import identities
from podium.runtime import Podium
from podium.simulate import World, WorldConfig
from podium.simulate.loader import ORG_BEFORE_RECORDS, load_org, tenant_for
from podium.sync import sync_entity
from podium.web.whoami import month_bounds, person_counts
from podium_connectwise.callbacks import register_callbacks
from podium_connectwise.simulator import WorldStore, create_simulator_app
from podium_connectwise.simulator.delivery import CallbackPoster
from podium_connectwise.simulator.hostpage import register_pod
from podium_connectwise.simulator.live import TECHNICIANS, Change, LiveWorld, run_live
from podium_connectwise.simulator.params import ListQuery
from podium_connectwise.simulator.render import load_world
from podium_connectwise.simulator.resources import RESOURCES
from podium_connectwise.simulator.store import utc_stamp
from sqlalchemy import select

from tests.conftest import TEST_SECRET_KEY
from tests.connectwise.live import CODEBASE, CREDENTIALS, serve

expect.set_options(timeout=10_000)

SETTLE_SECONDS = 60.0
"""A generous bound for a live change to reach Podium's store."""
ENTITIES = ("identity", "client", "ticket", "time_entry")
TODAY = dt.datetime.now(dt.UTC).date()
CONFIG = {"company_id": CREDENTIALS.company_id, "public_key": CREDENTIALS.public_key,
          "private_key": CREDENTIALS.private_key, "client_id": CREDENTIALS.client_id, "allow_http": True}
"""A connection to the simulator, less its ``site``."""
WORLD = WorldConfig(technicians=6, clients=4, days=35, tickets_per_tech_day=0.5, start=TODAY - dt.timedelta(days=34))


class RequestLog:
    """WSGI middleware noting request paths (to see whether Podium asked the simulator)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.paths: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        self.paths.append(environ.get("PATH_INFO", ""))
        return self.app(environ, start_response)


@dataclass
class CwStage:
    podium: Podium
    store: WorldStore
    tenant_id: int
    connection_id: int
    site: str
    podium_base: str
    ticket_id: int
    members: tuple[str, str]
    """Two technicians linked to people in Podium (ConnectWise identifiers)."""
    requests: RequestLog
    """Every path the simulator was asked for."""

    def asked_who(self) -> int:
        """How often ``system/myMembers/info`` was asked (Podium verifying a member hash)."""
        return sum("mymembers/info" in path.lower() for path in self.requests.paths)

    def screen(self, member: str, *, tamper: bool = False, site: str | None = None) -> str:
        """A Ticket screen of the simulated Manage, signed in as ``member``."""
        query = {"member": member, **({"tamper": "1"} if tamper else {})}
        return f"{site or self.site}/manage/ticket/{self.ticket_id}?{urlencode(query)}"

    def person(self, identifier: str) -> Person:
        with self.podium.db.session(self.tenant_id) as session:
            identity = session.scalars(select(Identity).where(
                Identity.connection_id == self.connection_id, Identity.vendor_key == identifier)).one()
            person = session.get(Person, identity.person_id)
            assert person is not None
            return person

    def counts(self, identifier: str) -> dict[str, Any]:
        """What the whoami pod must show for the member: this month's figures from the store."""
        person_id = self.person(identifier).id
        with self.podium.db.session(self.tenant_id) as session:
            zone = session.get(Tenant, self.tenant_id).time_zone
            start, end = month_bounds(dt.datetime.now(zoneinfo.ZoneInfo(zone)).date(), zone)
            return person_counts(session, session.get(Person, person_id), start, end)

    def claims(self, member: str, **changes: str) -> dict[str, str]:
        """What Manage's host page hands a pod for ``member``."""
        return {"site": f"{self.site}/", "companyid": CREDENTIALS.company_id, "memberid": member,
                "memberHash": self.store.member_hash(member) or "", "memberEmail": "", **changes}

    def exchange(self, claims: dict[str, str], *, origin: str | None = None,
                 connection_id: int | None = None) -> httpx.Response:
        """The pod's POST of the claims to Podium's embed session endpoint."""
        body = {"ref": embed_ref(self.podium, connection_id or self.connection_id),
                "origin": origin or self.site, "claims": claims}
        return httpx.post(f"{self.podium_base}/pods/-/session/embed", json=body, timeout=10)


def _runtime(folder: Path, database_url: str, **overrides: Any) -> Podium:
    return Podium.from_env(**{
        "instance_path": folder / "instance", "database_url": database_url, "secret_key": TEST_SECRET_KEY,
        "redis_url": None, "load_plugins": ("connectwise", "whoami", "live"), "live_keepalive_seconds": 1,
        "http_retry_attempts": 2, "http_retry_backoff": 0, "http_retry_jitter": 0, **overrides,
    })


def _linked_technicians(podium: Podium, store: WorldStore, tenant_id: int, connection_id: int) -> tuple[str, str]:
    rows = store.page(RESOURCES["members"], ListQuery(conditions=TECHNICIANS, page_size=100))
    technicians = {int(row_id) for row_id, _ in rows}
    with podium.db.session(tenant_id) as session:
        linked = session.scalars(select(Identity).where(
            Identity.connection_id == connection_id, Identity.person_id.is_not(None))).all()
        chosen = sorted(i.vendor_key for i in linked if i.vendor_key and int(i.external_id) in technicians)
    assert len(chosen) >= 2, "the world links at least two technicians by e-mail"
    return chosen[0], chosen[1]


def _work_started_now(store: WorldStore, members: tuple[str, ...]) -> None:
    """Move one time entry of each member to start now, so the pod's month has figures whatever today is."""
    start = dt.datetime.now(dt.UTC)
    for member in members:
        entry_id = store.page(RESOURCES["time_entries"],
                              ListQuery(conditions=f'member/identifier = "{member}"', page_size=1))[0][0]
        store.update("time_entries", entry_id, {"timeStart": utc_stamp(start),
                                                "timeEnd": utc_stamp(start + dt.timedelta(minutes=30)),
                                                "actualHours": 0.5})


@pytest.fixture(scope="module")
def cw_stage(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[CwStage]:
    folder = tmp_path_factory.mktemp("cw-pod")
    world = World(WORLD)
    store = WorldStore(f"sqlite:///{folder / 'connectwise.db'}")
    load_world(store, world)
    app = create_simulator_app(store, CREDENTIALS, codebase=CODEBASE)
    log = RequestLog(app.wsgi_app)
    app.wsgi_app = log  # type: ignore[method-assign]
    shutil.copy(sqlite_template, folder / "podium.db")
    database_url = f"sqlite:///{folder / 'podium.db'}"
    with serve(app) as site:
        podium = _runtime(folder, database_url)
        tenant_id = tenant_for(podium, world)
        load_org(podium, tenant_id, world, ORG_BEFORE_RECORDS)
        with podium.db.session(tenant_id) as session:
            connection_id = create_connection(podium, session, tenant_id, "connectwise", "Manage",
                                              {**CONFIG, "site": site}).id
        for entity in ENTITIES:
            assert sync_entity(podium, tenant_id, connection_id, entity).ok
        with podium.db.session(tenant_id) as session:
            identities.link_by_email(session, "test")
        members = _linked_technicians(podium, store, tenant_id, connection_id)
        _work_started_now(store, members)
        assert sync_entity(podium, tenant_id, connection_id, "time_entry").ok
        with serve(create_app(podium, run_jobs=False)) as served:
            podium_base = served.replace("127.0.0.1", "localhost")
            ref = embed_ref(podium, connection_id)
            register_pod(store, f"{podium_base}/pods/whoami?c={ref}&id=[cw_id]&screen=[cw_screen]",
                         description="Podium: who am I")
            with podium.db.session(tenant_id) as session:
                connection = session.get(Connection, connection_id)
            register_callbacks(_runtime(folder, database_url, base_url=served), connection)
            worker = DbQueueWorker(podium, schedule=False, poll_seconds=0.05)
            worker.start()
            try:
                yield CwStage(
                    podium=podium, store=store, tenant_id=tenant_id, connection_id=connection_id, site=site,
                    podium_base=podium_base,
                    ticket_id=store.page(RESOURCES["service_tickets"], ListQuery(page_size=1))[0][0],
                    members=members, requests=log,
                )
            finally:
                worker.stop()
    podium.db.dispose()
    store.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


def open_screen(page: Page, url: str) -> FrameLocator:
    page.goto(url)
    return page.frame_locator("iframe.pod")


def expect_counts(pod: FrameLocator, counts: dict[str, Any]) -> None:
    expect(pod.locator("#count-tickets-resolved")).to_have_text(str(counts["tickets_resolved"]))
    expect(pod.locator("#count-time-entries")).to_have_text(str(counts["time_entries"]))
    expect(pod.locator("#count-hours")).to_have_text(str(counts["hours"]))


# -- in the browser ----------------------------------------------------------------------


def test_the_pod_shows_the_manage_member_and_their_counts(cw_stage: CwStage, page: Page) -> None:
    member = cw_stage.members[0]
    with page.expect_response(lambda r: r.url.startswith(f"{cw_stage.podium_base}/pods/whoami?")) as shell:
        pod = open_screen(page, cw_stage.screen(member))
    policy = shell.value.all_headers()["content-security-policy"]
    assert policy.endswith(f"; frame-ancestors {cw_stage.site}"), policy
    expect(pod.locator("#whoami-name")).to_have_text(cw_stage.person(member).display_name)
    counts = cw_stage.counts(member)
    assert counts["time_entries"] > 0, "the member has work this month (an entry starts now)"
    expect_counts(pod, counts)
    expect(pod.locator(".meta")).to_contain_text("signed in via embed")
    expect(page.locator("iframe.pod")).to_have_attribute("data-onload", "success")
    expect(page.locator("#host-log")).to_contain_text("getMemberAuthentication for " + member)
    cookie = pod.locator("#pod").evaluate(
        "() => { document.cookie = 'probe=1; SameSite=None; Secure'; return document.cookie; }")
    assert cookie == "", "third-party cookies are blocked inside Manage's iframe"


def test_switching_the_manage_member_switches_the_pod(cw_stage: CwStage, page: Page) -> None:
    first, second = cw_stage.members
    pod = open_screen(page, cw_stage.screen(first))
    expect(pod.locator("#whoami-name")).to_have_text(cw_stage.person(first).display_name)
    page.select_option("#member", second)
    page.click("#switch-member")
    pod = page.frame_locator("iframe.pod")
    expect(pod.locator("#whoami-name")).to_have_text(cw_stage.person(second).display_name)
    expect_counts(pod, cw_stage.counts(second))


def test_a_tampered_member_hash_is_refused(cw_stage: CwStage, page: Page) -> None:
    pod = open_screen(page, cw_stage.screen(cw_stage.members[0], tamper=True))
    expect(pod.locator("#pod")).to_have_attribute("data-reason", "tampered")
    expect(pod.locator(".refusal")).to_have_text(
        "ConnectWise did not confirm your sign-in (it refused the member hash); reload the ConnectWise screen.")
    expect(pod.locator("#whoami-name")).to_have_count(0)


def test_a_page_on_another_origin_cannot_frame_the_pod(cw_stage: CwStage, page: Page) -> None:
    port = cw_stage.site.rsplit(":", 1)[1]
    page.goto(cw_stage.screen(cw_stage.members[0], site=f"http://localhost:{port}"))
    expect(page.locator("iframe.pod")).to_be_attached()
    page.wait_for_load_state("load")
    assert page.frame_locator("iframe.pod").locator("#pod").count() == 0, \
        "frame-ancestors names only the connection's site"


def test_the_host_page_substitutes_manages_tokens_on_each_screen(cw_stage: CwStage) -> None:
    company_id = cw_stage.store.page(RESOURCES["companies"], ListQuery(page_size=1))[0][0]
    member = cw_stage.members[0]
    with httpx.Client(timeout=10) as http:
        index = http.get(f"{cw_stage.site}/manage/", params={"member": member}).text
        screens = {screen: http.get(f"{cw_stage.site}/manage/{screen}/{record_id}", params={"member": member}).text
                   for screen, record_id in (("ticket", cw_stage.ticket_id), ("company", company_id))}
    assert f"/manage/company/{company_id}?member={member}" in index
    assert "Pod on ticket: Podium: who am I" in index
    for screen, record_id in (("ticket", cw_stage.ticket_id), ("company", company_id)):
        assert f"&amp;id={record_id}&amp;screen={screen}" in screens[screen], screen


# -- refusals at Podium's session endpoint ----------------------------------------------


def test_claims_from_another_origin_are_refused_before_connectwise_is_asked(cw_stage: CwStage) -> None:
    before = cw_stage.asked_who()
    port = cw_stage.site.rsplit(":", 1)[1]
    answer = cw_stage.exchange(cw_stage.claims(cw_stage.members[0]), origin=f"http://localhost:{port}")
    assert (answer.status_code, answer.json()["errors"]["session"]) == (403, ["wrong-origin"])
    assert cw_stage.asked_who() == before


def test_unknown_unlinked_and_foreign_members_get_clear_refusals(cw_stage: CwStage) -> None:
    member = cw_stage.members[0]
    with cw_stage.podium.db.session(cw_stage.tenant_id) as session:
        fresh = create_connection(cw_stage.podium, session, cw_stage.tenant_id, "connectwise", "Manage (no sync)",
                                  {**CONFIG, "site": cw_stage.site}).id
    cases = {
        "unknown": cw_stage.exchange(cw_stage.claims(member), connection_id=fresh),
        "unlinked": cw_stage.exchange(cw_stage.claims("Workflow")),
        "wrong-company": cw_stage.exchange(cw_stage.claims(member, companyid="othercompany")),
        "another member's hash": cw_stage.exchange(
            cw_stage.claims(member, memberHash=cw_stage.store.member_hash(cw_stage.members[1]) or "")),
        "no hash": cw_stage.exchange(cw_stage.claims(member, memberHash="")),
    }
    reasons = {name: (r.status_code, r.json()["errors"]["session"][0]) for name, r in cases.items()}
    assert reasons == {
        "unknown": (403, "unknown-member"), "unlinked": (403, "unlinked-member"),
        "wrong-company": (403, "wrong-company"), "another member's hash": (403, "tampered"),
        "no hash": (403, "incomplete"),
    }
    for answer in cases.values():
        assert cw_stage.store.member_hash(member) not in answer.text


def test_a_hash_connectwise_attributes_to_another_member_is_refused(cw_stage: CwStage) -> None:
    """A site answering ``myMembers/info`` with someone else (a stand-in on its own socket)."""
    answers = iter([({"Codebase": CODEBASE, "CompanyID": CREDENTIALS.company_id}, 200),
                    ({"id": 999, "identifier": "someoneelse"}, 200)])
    asked: list[str] = []
    impostor = Flask("impostor")

    @impostor.get("/<path:path>")
    def answer(path: str) -> Any:
        asked.append(path)
        body, status = next(answers)
        return jsonify(body), status

    with serve(impostor) as site:
        with cw_stage.podium.db.session(cw_stage.tenant_id) as session:
            connection_id = create_connection(cw_stage.podium, session, cw_stage.tenant_id, "connectwise", "Impostor",
                                              {**CONFIG, "site": site}).id
        refused = cw_stage.exchange(cw_stage.claims(cw_stage.members[0]), origin=site, connection_id=connection_id)
    assert (refused.status_code, refused.json()["errors"]["session"]) == (403, ["tampered"])
    assert asked == [f"login/companyinfo/{CREDENTIALS.company_id}", f"{CODEBASE}apis/3.0/system/myMembers/info"]


def test_a_verified_member_is_remembered_for_a_while(cw_stage: CwStage) -> None:
    member = cw_stage.members[1]
    first = cw_stage.exchange(cw_stage.claims(member))
    asked = cw_stage.asked_who()
    second = cw_stage.exchange(cw_stage.claims(member))
    assert (first.status_code, second.status_code) == (200, 200)
    assert asked >= 1 and cw_stage.asked_who() == asked, "a pod opened again within minutes does not ask again"


# -- a live change reaches the store ------------------------------------------------------


def test_a_live_change_reaches_podiums_store(cw_stage: CwStage) -> None:
    poster = CallbackPoster(cw_stage.store, cw_stage.site, CREDENTIALS.company_id, CODEBASE)
    world = LiveWorld(cw_stage.store, poster, seed=11)
    changes: list[Change] = []
    stop = threading.Event()
    ticker = threading.Thread(target=run_live, args=(world, 0.1, stop, changes.append))
    ticker.start()
    try:
        deadline = time.monotonic() + SETTLE_SECONDS
        while not any(c.name == "log_time" for c in changes) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        ticker.join()
        poster.http.close()
    logged = next(c for c in changes if c.name == "log_time")
    assert [d.attempts for d in logged.deliveries] == [(202,)]

    def landed() -> bool:
        with cw_stage.podium.db.session(cw_stage.tenant_id) as session:
            return session.scalar(select(TimeEntry.id).where(TimeEntry.external_id == str(logged.record_id))) \
                is not None

    deadline = time.monotonic() + SETTLE_SECONDS
    while not landed() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert landed(), "the time entry the live world logged reached Podium through its callback"
