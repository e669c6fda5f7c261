"""Pods in a real browser, embedded for real: a host page on 127.0.0.1 frames Podium served
from localhost (another site), with third-party cookies blocked, as a PSA's iframe is.

Each test stages its own host page, Podium server (SQLite, the in-process live channel)
and browser context.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask, request
from playwright.sync_api import Browser, FrameLocator, Page, Route, expect
from podium import live
from podium.embed import embed_ref
from podium.models import Identity, TimeEntry
from podium.runtime import Podium
from sqlalchemy import select

from tests.pods_support import (
    PASSWORD,
    Org,
    in_this_month,
    pod_runtime,
    seed_org,
    user_token,
    web_app,
)
from tests.source_plugin import serve

expect.set_options(timeout=10_000)

HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Host PSA</title></head>
<body><h1>Host PSA</h1>
<iframe id="pod" title="Podium pod" width="420" height="480" src="{src}"></iframe>
</body></html>"""


def host_app() -> Flask:
    """A PSA stand-in: a page that frames whatever pod URL it is given."""
    app = Flask("host")

    @app.get("/")
    def page() -> str:
        return HOST_PAGE.format(src=html.escape(request.args["src"], quote=True))

    return app


@dataclass
class Stage:
    podium: Podium
    org: Org
    podium_base: str
    host_base: str
    page: Page

    def pod_url(self, query: str = "") -> str:
        return f"{self.podium_base}/pods/whoami?c={embed_ref(self.podium, self.org.tab_connection_id)}{query}"

    def open(self, query: str = "", host_base: str | None = None) -> FrameLocator:
        self.page.goto(f"{host_base or self.host_base}/?{urlencode({'src': self.pod_url(query)})}")
        return self.page.frame_locator("#pod")


@contextlib.contextmanager
def staged(browser: Browser, sqlite_url: str, tmp_path: Path, **overrides: Any) -> Iterator[Stage]:
    with serve(host_app()) as host_base:
        podium = pod_runtime(sqlite_url, tmp_path, **overrides)
        org = seed_org(podium, host_base)
        with serve(web_app(podium)) as served:
            context = browser.new_context()
            try:
                yield Stage(podium, org, served.replace("127.0.0.1", "localhost"), host_base, context.new_page())
            finally:
                context.close()
        podium.db.dispose()


@pytest.fixture
def stage(browser: Browser, sqlite_url: str, tmp_path: Path) -> Iterator[Stage]:
    with staged(browser, sqlite_url, tmp_path, live_keepalive_seconds=1) as staged_stage:
        yield staged_stage


def sign_in(stage: Stage, pod: FrameLocator) -> None:
    """Click the pod's sign-in button, sign in as Ada in the popup, let it close."""
    with stage.page.expect_popup() as opened:
        pod.locator("#pod-signin-button").click()
    popup = opened.value
    popup.fill("#email", "ada@acme.example")
    popup.fill("#password", PASSWORD)
    with popup.expect_event("close"):
        popup.click("button[type=submit]")


def add_time_entry(stage: Stage) -> None:
    with stage.podium.db.session(tenant_id=stage.org.tenant_id) as session:
        ada = session.scalar(select(Identity.id).where(
            Identity.connection_id == stage.org.tab_connection_id, Identity.external_id == "m-ada"))
        when = in_this_month()
        session.add(TimeEntry(connection_id=stage.org.tab_connection_id, external_id="late-entry", identity_id=ada,
                              start_at=when - dt.timedelta(hours=1), end_at=when, hours=1.0))


def capture_token(page: Page, rewrite: Callable[[str], str] = lambda token: token) -> dict[str, str]:
    """Watch the pod's code exchange; optionally hand the pod another token than Podium issued."""
    seen: dict[str, str] = {}

    def handle(route: Route) -> None:
        response = route.fetch()
        issued = response.json()
        seen["token"] = issued["token"]
        route.fulfill(response=response, body=json.dumps({**issued, "token": rewrite(issued["token"])}))

    page.route("**/pods/-/session/code", handle)
    return seen


# -- the tests ---------------------------------------------------------------------------


def test_sign_in_through_the_popup_shows_the_person_in_the_pod(stage: Stage) -> None:
    with stage.page.expect_response(lambda r: r.url.startswith(f"{stage.podium_base}/pods/whoami?")) as shell:
        pod = stage.open()
    policy = shell.value.all_headers()["content-security-policy"]
    assert policy.endswith(f"; frame-ancestors {stage.host_base}"), policy

    expect(pod.locator("#pod-signin-button")).to_be_visible()
    cookie = pod.locator("#pod").evaluate(
        "() => { document.cookie = 'probe=1; SameSite=None; Secure'; return document.cookie; }")
    assert cookie == "", "third-party cookies must be blocked inside the host page's iframe"

    sign_in(stage, pod)
    expect(pod.locator("#whoami-name")).to_have_text("Ada Lovelace")
    expect(pod.locator("#count-tickets-resolved")).to_have_text("2")
    expect(pod.locator("#count-time-entries")).to_have_text("3")
    expect(pod.locator("#pod-signin")).to_be_hidden()


def test_a_live_event_reaches_the_open_pod_through_the_stream(stage: Stage) -> None:
    pod = stage.open()
    sign_in(stage, pod)
    expect(pod.locator("#pod")).to_have_attribute("data-live", "stream")
    expect(pod.locator("#count-time-entries")).to_have_text("3")
    add_time_entry(stage)
    live.records_changed(stage.podium, stage.org.tenant_id, "time_entry")
    expect(pod.locator("#count-time-entries")).to_have_text("4")


def test_without_streams_the_pod_polls_and_still_updates(browser: Browser, sqlite_url: str, tmp_path: Path) -> None:
    with staged(browser, sqlite_url, tmp_path, live_sse="off", pod_poll_seconds=0.5) as polling:
        pod = polling.open()
        sign_in(polling, pod)
        expect(pod.locator("#pod")).to_have_attribute("data-live", "polling")
        expect(pod.locator("#count-time-entries")).to_have_text("3")
        add_time_entry(polling)
        expect(pod.locator("#count-time-entries")).to_have_text("4")


def test_a_tampered_token_is_refused_clearly(stage: Stage) -> None:
    capture_token(stage.page, lambda token: token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    pod = stage.open()
    sign_in(stage, pod)
    expect(pod.locator("#pod")).to_have_attribute("data-reason", "invalid")
    expect(pod.locator("#pod-signin-reason")).to_have_text("The pod session token is not valid.")
    expect(pod.locator("#whoami-name")).to_have_count(0)


def test_an_expired_token_is_refused_clearly(stage: Stage) -> None:
    expired = user_token(stage.podium, stage.org.tenant_id, stage.org.ada_user,
                         now=int(dt.datetime.now().timestamp()) - 3600)
    capture_token(stage.page, lambda _token: expired)
    pod = stage.open()
    sign_in(stage, pod)
    expect(pod.locator("#pod")).to_have_attribute("data-reason", "expired")
    expect(pod.locator("#pod-signin-reason")).to_have_text("Your pod session has expired; sign in again.")
    expect(pod.locator("#whoami-name")).to_have_count(0)


def test_a_stream_ticket_works_once(stage: Stage) -> None:
    seen = capture_token(stage.page)
    pod = stage.open()
    sign_in(stage, pod)
    expect(pod.locator("#whoami-name")).to_have_text("Ada Lovelace")
    statuses = pod.locator("#pod").evaluate(
        """async (_element, token) => {
            const issued = await fetch('/pods/-/stream/ticket', {method: 'POST', headers: {Authorization: 'Pod ' + token}});
            const ticket = (await issued.json()).ticket;
            const url = '/pods/-/stream?ticket=' + encodeURIComponent(ticket);
            const first = new AbortController();
            const opened = await fetch(url, {signal: first.signal});
            first.abort();
            const again = await fetch(url);
            return [opened.status, again.status, (await again.json()).errors.session[0]];
        }""",
        seen["token"],
    )
    assert statuses == [200, 403, "bad-ticket"]


def test_a_technician_editing_the_url_to_another_person_gets_403(stage: Stage) -> None:
    pod = stage.open(f"&person={stage.org.bob}")
    with stage.page.expect_response(lambda r: "/pods/whoami/body" in r.url) as body:
        sign_in(stage, pod)
    assert body.value.status == 403
    expect(pod.locator(".refusal")).to_have_text("You may only see your own figures here.")
    expect(pod.locator("#whoami-name")).to_have_count(0)


def test_a_site_the_connection_does_not_name_cannot_frame_the_pod(stage: Stage) -> None:
    with serve(host_app()) as stranger:
        stage.open(host_base=stranger)
        frame = stage.page.frame_locator("#pod")
        expect(stage.page.locator("#pod")).to_be_attached()
        stage.page.wait_for_load_state("load")
        assert frame.locator("#pod").count() == 0, "frame-ancestors must block a site that is not the connection's"
