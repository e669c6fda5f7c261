"""ConnectWise callbacks end to end, over real HTTP: the simulator posts, Podium verifies and queues.

The simulator's poster (:mod:`podium_connectwise.simulator.delivery`) signs and sends
ConnectWise's payload to a real Podium app served on a socket; Podium's ``/hooks/<token>``
verifies it against the signing key it fetches from the simulator and queues a
``fetch_records`` job in the database queue, which the tests run (``work(burst=True)``) or
leave to the queue's worker thread; the connector then fetches the record from the
simulator. Podium's database is the suite's ``database_url`` (SQLite and PostgreSQL).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from click.testing import CliRunner
from flask import Flask, jsonify, request
from podium.app import create_app
from podium.cli import Runtime, cli
from podium.connections import webhook_token
from podium.dbqueue import DbQueueWorker
from podium.models import Connection, DbJob, PendingRecord, SyncRun, Ticket, TimeEntry
from podium.runtime import Podium
from podium.sync import sync_entity
from podium_connectwise import podium_register_commands
from podium_connectwise import webhooks as cw_webhooks
from podium_connectwise.callbacks import register_callbacks
from podium_connectwise.expiring import ExpiringCache
from podium_connectwise.simulator.delivery import SIGNING_KEY_META, CallbackPoster, sign, signing_key
from podium_connectwise.simulator.live import Change, LiveWorld, run_live
from podium_connectwise.simulator.params import ListQuery
from podium_connectwise.simulator.resources import RESOURCES
from sqlalchemy import func, select

from tests.connectwise.live import CODEBASE, CREDENTIALS, Live, serve

if TYPE_CHECKING:
    from tests.connectwise.conftest_connector import Kit

pytest_plugins = ("tests.connectwise.conftest_connector",)

SETTLE_SECONDS = 60.0
"""A generous bound for the worker thread to land what the live ticker announced."""


class Recorder:
    """A small HTTP receiver on its own socket: logs each request and answers from a script."""

    def __init__(self, answers: Callable[[int], tuple[Any, int]]) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        self.signatures: list[str | None] = []
        self.app = Flask("recorder")

        @self.app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
        @self.app.route("/<path:path>", methods=["GET", "POST"])
        def any_path(path: str) -> Any:
            self.requests.append((request.method, request.full_path, request.get_data()))
            self.signatures.append(request.headers.get("x-content-signature"))
            body, status = answers(len(self.requests))
            return jsonify(body), status


@dataclass
class Hooks:
    """A Podium app on a socket with a ConnectWise connection whose callbacks point at it."""

    podium: Podium
    tenant_id: int
    connection_id: int
    live: Live
    url: str
    poster: CallbackPoster
    world: LiveWorld
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

    @property
    def token(self) -> str:
        with self.podium.db.session(self.tenant_id) as session:
            return webhook_token(self.podium, session.get_one(Connection, self.connection_id))

    @property
    def hook(self) -> str:
        return f"{self.url}/hooks/{self.token}?recordId="

    def sync(self, entity: str) -> None:
        assert sync_entity(self.podium, self.tenant_id, self.connection_id, entity).ok

    def run_jobs(self) -> int:
        return DbQueueWorker(self.podium, schedule=False).work(burst=True)

    def fetch_jobs(self) -> list[DbJob]:
        with self.podium.db.session() as session:
            return list(session.scalars(select(DbJob).where(DbJob.func == "fetch_records").order_by(DbJob.id)))

    def ticket(self, external_id: int) -> Ticket | None:
        with self.podium.db.session(self.tenant_id) as session:
            return session.scalars(select(Ticket).where(Ticket.external_id == str(external_id))).one_or_none()

    def time_entry(self, external_id: int) -> TimeEntry | None:
        with self.podium.db.session(self.tenant_id) as session:
            return session.scalars(select(TimeEntry).where(TimeEntry.external_id == str(external_id))).one_or_none()

    def entry(self, kind: str) -> dict[str, Any]:
        """The callback entry of ``kind`` registered for this connection."""
        return next(e for e in self.live.send("GET", "system/callbacks").json() if e["type"] == kind)

    def body(self, kind: str, action: str, record_id: int, record: dict[str, Any] | None) -> dict[str, Any]:
        """The payload ConnectWise would post to this connection's ``kind`` callback."""
        return self.poster.payload(self.entry(kind), action, record_id, record, "jlee")

    def post(self, payload: dict[str, Any], *, key: str | None = None, signature: str | None = None,
             url: str | None = None) -> httpx.Response:
        """POST ``payload`` to the hook signed with ``key`` (default: the entry's real key)."""
        raw = json.dumps(payload).encode()
        if signature is None:
            signature = sign(key or self.key(payload), raw)
        headers = {"Content-Type": "application/json"}
        if signature:
            headers["x-content-signature"] = signature
        return self.http.post(url or f"{self.hook}{payload['ID']}", content=raw, headers=headers)

    def key(self, payload: dict[str, Any]) -> str:
        """The simulator's signing key for the entry ``payload`` names in its ``key_url``."""
        return signing_key(self.live.store, payload["Metadata"]["key_url"].rsplit("id=", 1)[-1])

    def ticket_record(self, ticket_id: int) -> dict[str, Any]:
        found = self.live.store.get(RESOURCES["service_tickets"], ticket_id)
        assert found is not None
        return found


def service_ticket_ids(live: Live, count: int) -> list[int]:
    """The first ``count`` service tickets of the Service Desk and Tier 2 boards."""
    rows = live.store.page(RESOURCES["service_tickets"], ListQuery(conditions="board/id in (1, 2)", page_size=count))
    assert len(rows) == count, "the small world has enough tickets"
    return [row_id for row_id, _ in rows]


@pytest.fixture
def hooks(cw: Kit, cw_podium: Podium, cw_tenant: int, cw_live: Live) -> Iterator[Hooks]:
    connection_id = cw.connection(cw_podium, cw_tenant, cw.config(cw_live, audit_requests_per_sync=0))
    for entity in ("identity", "client"):
        assert sync_entity(cw_podium, cw_tenant, connection_id, entity).ok
    with serve(create_app(cw_podium, run_jobs=False)) as url:
        with cw_podium.db.session(cw_tenant) as session:
            connection = session.get(Connection, connection_id)
        register_callbacks(cw.podium(base_url=url), connection)
        poster = CallbackPoster(cw_live.store, cw_live.site, CREDENTIALS.company_id, CODEBASE,
                                retry_waits=(0.05, 0.1))
        kit = Hooks(cw_podium, cw_tenant, connection_id, cw_live, url, poster, LiveWorld(cw_live.store, poster, seed=5))
        try:
            yield kit
        finally:
            kit.http.close()
            poster.http.close()


# -- the signature -----------------------------------------------------------------------


def test_both_sides_sign_as_connectwise_documents() -> None:
    """base64(HMAC-SHA256(key=SHA256(signing key), msg=body)), pinned by openssl's answer."""
    expected = "TcuSEjojxWDaV8INgUpRXMILmyhUGikr06KGz9AjaYw="
    assert sign("known-answer-key", b'{"ID":42}') == expected
    assert cw_webhooks.signature("known-answer-key", b'{"ID":42}') == expected


def test_the_caches_forget_after_their_time_and_beyond_their_size() -> None:
    """Signing keys, verified members and seen message ids live in this cache."""
    now = [0.0]
    cache: ExpiringCache[str, int] = ExpiringCache(ttl=10, size=2, clock=lambda: now[0])
    assert cache.add("a", 1) and not cache.add("a", 2), "a live key is a repeat"
    assert cache.get("a") == 1
    now[0] = 10.0
    assert cache.get("a") is None and cache.add("a", 3), "an expired key is gone"
    cache.put("b", 4)
    cache.put("c", 5)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, 4, 5), "the oldest makes room"


# -- valid, forged, replayed, out of order, burst, deleted -------------------------------


def test_a_signed_callback_queues_a_fetch_and_the_record_lands(hooks: Hooks) -> None:
    ticket_id = service_ticket_ids(hooks.live, 1)[0]
    record = hooks.live.store.update("service_tickets", ticket_id, {"summary": "Printer on fire (callback)"})
    deliveries = hooks.poster.announce("ticket", "updated", ticket_id, record, "jlee")
    assert [d.attempts for d in deliveries] == [(202,)]
    jobs = hooks.fetch_jobs()
    assert len(jobs) == 1 and jobs[0].kwargs["external_ids"] == [str(ticket_id)]
    assert jobs[0].kwargs["entity"] == "ticket" and jobs[0].kwargs["trigger"] == "webhook"
    assert hooks.ticket(ticket_id) is None, "nothing is fetched inside the request"
    assert hooks.run_jobs() == 1
    assert hooks.ticket(ticket_id).summary == "Printer on fire (callback)"


def test_forged_unsigned_and_misdirected_deliveries_are_refused_and_queue_nothing(hooks: Hooks) -> None:
    ticket_id = service_ticket_ids(hooks.live, 1)[0]
    payload = hooks.body("ticket", "updated", ticket_id, hooks.ticket_record(ticket_id))
    refused = {
        "unsigned": hooks.post(payload, signature=""),
        "bad-signature": hooks.post(payload, key="not-connectwise's-key"),
        "altered": hooks.post({**payload, "ID": ticket_id + 1}, signature=sign(hooks.key(payload),
                                                                                json.dumps(payload).encode())),
        "unknown-key": hooks.post({**payload, "Metadata": {
            "key_url": payload["Metadata"]["key_url"].rsplit("id=", 1)[0] + "id=00000000-0000-0000-0000-000000000000"}},
            key="whatever"),
        "wrong-company": hooks.post({**payload, "CompanyId": "someoneelse"}),
        "not-json": hooks.http.post(f"{hooks.hook}{ticket_id}", content=b"ID=1",
                                    headers={"x-content-signature": sign("k", b"ID=1")}),
    }
    reasons = {name: (r.status_code, r.json()["errors"]["delivery"][0]) for name, r in refused.items()}
    assert reasons == {
        "unsigned": (401, "unsigned"), "bad-signature": (401, "bad-signature"), "altered": (401, "bad-signature"),
        "unknown-key": (401, "unknown-key"), "wrong-company": (401, "wrong-company"),
        "not-json": (401, "unverifiable"),
    }
    unknown = hooks.post(payload, url=f"{hooks.url}/hooks/{'x' * 43}?recordId={ticket_id}")
    assert (unknown.status_code, unknown.content) == (404, b""), "an unknown token learns nothing"
    too_big = hooks.http.post(f"{hooks.hook}{ticket_id}", content=b"{" + b" " * (1 << 20) + b"}",
                              headers={"x-content-signature": "x"})
    assert too_big.status_code == 413
    signed_but_broken = hooks.post({**payload, "Action": "exploded"})
    assert (signed_but_broken.status_code, signed_but_broken.json()["errors"]["delivery"]) == (400, ["unreadable"])
    assert hooks.fetch_jobs() == []


def test_a_key_url_off_the_connections_site_is_refused_without_asking_it(hooks: Hooks) -> None:
    attacker = Recorder(lambda _n: ({"signing_key": "attackers-key"}, 200))
    ticket_id = service_ticket_ids(hooks.live, 1)[0]
    payload = hooks.body("ticket", "updated", ticket_id, hooks.ticket_record(ticket_id))
    path = payload["Metadata"]["key_url"].split("/", 3)[3]
    port = hooks.live.site.rsplit(":", 1)[1]
    with serve(attacker.app) as foreign:
        for key_url in (f"{foreign}/{path}", f"http://localhost:{port}/{path}", f"https://127.0.0.1:{port}/{path}",
                        f"{hooks.live.site}/{CODEBASE}apis/3.0/system/members?{path.split('?')[1]}"):
            answer = hooks.post({**payload, "Metadata": {"key_url": key_url}}, key="attackers-key")
            assert (answer.status_code, answer.json()["errors"]["delivery"]) == (401, ["foreign-key-url"]), key_url
    assert attacker.requests == [], "the foreign host was never asked for a key"
    assert hooks.fetch_jobs() == []


def test_a_key_the_site_cannot_give_is_a_503_and_queues_nothing(hooks: Hooks, cw: Kit) -> None:
    broken = Recorder(lambda n: ({"code": "InternalServerError"}, 500) if n == 1 else ({"nothing": "here"}, 200))
    ticket_id = service_ticket_ids(hooks.live, 1)[0]
    payload = hooks.body("ticket", "updated", ticket_id, hooks.ticket_record(ticket_id))
    with serve(broken.app) as site:
        connection_id = cw.connection(hooks.podium, hooks.tenant_id, cw.config(hooks.live, site=site), name="Broken")
        with hooks.podium.db.session(hooks.tenant_id) as session:
            token = webhook_token(hooks.podium, session.get_one(Connection, connection_id))
        moved = {**payload, "Metadata": {"key_url": site + "/" + payload["Metadata"]["key_url"].split("/", 3)[3]}}
        answers = [hooks.post(moved, key="any", url=f"{hooks.url}/hooks/{token}?recordId={ticket_id}")
                   for _ in range(2)]
    assert [(a.status_code, a.json()["errors"]["delivery"]) for a in answers] == [
        (503, ["vendor-unreachable"]), (503, ["key-unavailable"])]
    assert [path for _method, path, _body in broken.requests] == [moved["Metadata"]["key_url"].split(site, 1)[1]] * 2
    assert hooks.fetch_jobs() == []


def test_a_replayed_delivery_is_dropped_and_a_repeated_change_is_harmless(hooks: Hooks) -> None:
    ticket_id = service_ticket_ids(hooks.live, 1)[0]
    record = hooks.live.store.update("service_tickets", ticket_id, {"summary": "Replayed"})
    payload = hooks.body("ticket", "updated", ticket_id, record)
    first, replay = hooks.post(payload), hooks.post(payload)
    assert (first.status_code, first.json(), replay.status_code, replay.json()) == (
        202, {"queued": 1}, 202, {"queued": 0})
    again = hooks.post(hooks.body("ticket", "updated", ticket_id, record))  # the same change, a new MessageId
    assert (again.status_code, again.json()) == (202, {"queued": 1})
    assert len(hooks.fetch_jobs()) == 1, "queued twice, fetched once: the ids merged into the pending fetch"
    assert hooks.run_jobs() == 1
    assert hooks.post(payload).json() == {"queued": 0}, "replayed after the fetch ran"
    assert hooks.run_jobs() == 0
    with hooks.podium.db.session(hooks.tenant_id) as session:
        assert session.scalar(select(func.count(SyncRun.id)).where(SyncRun.trigger == "webhook")) == 1
        assert session.scalar(select(func.count(Ticket.id)).where(Ticket.external_id == str(ticket_id))) == 1
    assert hooks.ticket(ticket_id).summary == "Replayed"


def test_out_of_order_deliveries_end_in_connectwises_current_state(hooks: Hooks) -> None:
    ticket_id = service_ticket_ids(hooks.live, 1)[0]
    older = hooks.body("ticket", "updated", ticket_id,
                       hooks.live.store.update("service_tickets", ticket_id, {"summary": "First edit"}))
    newer = hooks.body("ticket", "updated", ticket_id,
                       hooks.live.store.update("service_tickets", ticket_id, {"summary": "Second edit"}))
    assert hooks.post(newer).status_code == 202
    hooks.run_jobs()
    assert hooks.post(older).status_code == 202, "the older change arrives last"
    hooks.run_jobs()
    assert hooks.ticket(ticket_id).summary == "Second edit"


def test_a_burst_coalesces_into_one_fetch(hooks: Hooks, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="werkzeug")  # every request line of both servers
    ticket_ids = service_ticket_ids(hooks.live, 12)
    for n, ticket_id in enumerate(ticket_ids):
        record = hooks.live.store.update("service_tickets", ticket_id, {"summary": f"Burst {n}"})
        assert [d.attempts for d in hooks.poster.announce("ticket", "updated", ticket_id, record, "jlee")] == [(202,)]
    key_requests = [r for r in caplog.records if "/system/callbackkey/" in r.getMessage()]
    assert len(key_requests) == 1, "the signing key was fetched once and then cached"
    jobs = hooks.fetch_jobs()
    assert len(jobs) == 1 and sorted(jobs[0].kwargs["external_ids"]) == sorted(map(str, ticket_ids))
    assert hooks.run_jobs() == 1
    with hooks.podium.db.session(hooks.tenant_id) as session:
        runs = session.scalars(select(SyncRun).where(SyncRun.trigger == "webhook")).all()
    assert [(r.entity, r.fetched, r.status) for r in runs] == [("ticket", 12, "succeeded")]
    assert [hooks.ticket(t).summary for t in ticket_ids] == [f"Burst {n}" for n in range(12)]


def test_deleted_actions_delete(hooks: Hooks) -> None:
    hooks.sync("ticket")  # the time entry's ticket
    ticket_id = service_ticket_ids(hooks.live, 1)[0]
    entry_id = hooks.live.store.page(RESOURCES["time_entries"],
                                     ListQuery(conditions=f"chargeToId = {ticket_id}", page_size=1))[0][0]
    entry = hooks.live.store.get(RESOURCES["time_entries"], entry_id)
    hooks.poster.announce("time", "added", entry_id, entry, "jlee")
    hooks.run_jobs()
    assert hooks.time_entry(entry_id) is not None
    assert hooks.live.store.delete("time_entries", entry_id)
    deleted = hooks.poster.announce("time", "deleted", entry_id, None, "jlee")
    assert [d.attempts for d in deleted] == [(202,)]
    hooks.run_jobs()
    assert hooks.time_entry(entry_id) is None


def test_a_rotated_signing_key_is_fetched_again(hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached key that no longer matches is fetched once more (the refresh interval is set to
    zero here so the test need not wait 30 s)."""
    monkeypatch.setattr(cw_webhooks, "KEY_REFRESH_SECONDS", 0.0)
    ticket_id = service_ticket_ids(hooks.live, 1)[0]
    record = hooks.ticket_record(ticket_id)
    assert [d.attempts for d in hooks.poster.announce("ticket", "updated", ticket_id, record, "jlee")] == [(202,)]
    guid = hooks.entry("ticket")["connectWiseID"]
    hooks.live.store.set_meta({SIGNING_KEY_META.format(guid=guid): "rotated-signing-key"})
    assert [d.attempts for d in hooks.poster.announce("ticket", "updated", ticket_id, record, "jlee")] == [(202,)]


# -- the poster retries as ConnectWise does ----------------------------------------------


def test_the_simulator_retries_as_connectwise_does(cw_live: Live) -> None:
    scripts: dict[str, Callable[[int], tuple[Any, int]]] = {
        "busy then fine": lambda n: ({}, (429, 409, 204)[n - 1]),
        "always gone": lambda _n: ({}, 404),
        "broken": lambda _n: ({}, 500),
    }
    slept: list[float] = []
    poster = CallbackPoster(cw_live.store, cw_live.site, CREDENTIALS.company_id, CODEBASE, sleep=slept.append)
    outcomes = {}
    for name, script in scripts.items():
        receiver = Recorder(script)
        with serve(receiver.app) as url:
            entry = {"id": 3, "type": "ticket", "url": f"{url}/hook?recordId=", "connectWiseID": str(uuid.uuid4())}
            delivery = poster.deliver(entry, poster.payload(entry, "updated", 7, {"id": 7}, "jlee"), 7)
        outcomes[name] = delivery.attempts
        bodies = {body for _method, _path, body in receiver.requests}
        assert len(bodies) == 1, "a retry resends the same body (the same MessageId)"
        assert receiver.requests[0][1] == "/hook?recordId=7"
    poster.http.close()
    assert outcomes == {"busy then fine": (429, 409, 204), "always gone": (404, 404, 404), "broken": (500,)}
    assert slept == [2.0, 4.0, 2.0, 4.0]


@contextlib.contextmanager
def simulator_process(db: str, *options: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``podium simulate connectwise`` with ``options`` as its own process; yields its site and the process."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = "from podium_connectwise.simulator.cli import connectwise; connectwise()"
    args = [sys.executable, "-c", command, "--port", str(port), "--company-id", CREDENTIALS.company_id,
            "--public-key", CREDENTIALS.public_key, "--client-id", CREDENTIALS.client_id, "--db", db,
            "--technicians", "6", "--clients", "3", "--days", "5", *options]
    env = {**os.environ, "PODIUM_SIM_CW_PRIVATE_KEY": CREDENTIALS.private_key}
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    site = f"http://127.0.0.1:{port}"
    try:
        assert settled(lambda: process.poll() is not None or _answers(site)), "the simulator started"
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        yield site, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answers(site: str) -> bool:
    try:
        httpx.get(f"{site}/login/companyinfo/x", timeout=1)
    except httpx.TransportError:
        return False
    return True


def test_the_simulator_command_goes_live_and_calls_back_signed(tmp_path: Path) -> None:
    receiver = Recorder(lambda _n: ({}, 202))
    pod = "http://localhost:5000/pods/whoami?c=ref&id=[cw_id]&screen=[cw_screen]"
    with serve(receiver.app) as url, simulator_process(str(tmp_path / "cw.db"), "--live", "--live-interval", "0.2",
                                                       "--pod", pod) as (site, process), \
            httpx.Client(timeout=10) as http:
        live = Live(site, store=None, http=http)  # type: ignore[arg-type]
        created = live.send("POST", "system/callbacks", json={
            "url": f"{url}/hook?recordId=", "objectId": 1, "type": "ticket", "level": "owner"})
        assert created.status_code == 201
        assert settled(lambda: bool(receiver.requests)), "the live world called back"
        method, path, body = receiver.requests[0]
        payload = json.loads(body)
        key = http.get(payload["Metadata"]["key_url"]).json()["signing_key"]
        screens = http.get(f"{site}/manage/").text
    assert (method, path) == ("POST", f"/hook?recordId={payload['ID']}")
    assert set(payload) == {"Action", "CallbackObjectRecId", "CompanyId", "Entity", "FromUrl", "ID", "MemberId",
                            "MessageId", "Metadata", "PartnerId", "ProductInstanceId", "Type"}
    assert (payload["Type"], payload["CompanyId"], payload["CallbackObjectRecId"]) == (
        "ticket", CREDENTIALS.company_id, created.json()["id"])
    assert json.loads(payload["Entity"])["id"] == payload["ID"], "Entity is the record as a JSON string"
    assert receiver.signatures[0] == cw_webhooks.signature(key, body)
    assert "Pod on ticket" in screens and "Pod on company" in screens
    log = process.stderr.read() if process.stderr else ""
    assert f"callback {created.json()['id']}: 202" in log, "each change is reported with what the receiver answered"
    assert CREDENTIALS.private_key not in log


# -- register-callbacks ----------------------------------------------------------------


class GivenRuntime(Runtime):
    def __init__(self, podium: Podium) -> None:
        super().__init__({})
        self._podium = podium


def test_register_callbacks_is_idempotent_and_never_prints_the_token(hooks: Hooks, cw: Kit) -> None:
    podium_register_commands(cli)
    runtime = GivenRuntime(cw.podium(base_url=hooks.url))
    other = hooks.live.send("POST", "system/callbacks", json={
        "url": "https://elsewhere.example/cw?recordId=", "objectId": 1, "type": "ticket", "level": "owner"}).json()

    def run() -> str:
        result = CliRunner().invoke(cli, ["connections", "register-callbacks", "Summit Ridge CW"], obj=runtime)
        assert result.exit_code == 0, result.output
        assert hooks.token not in result.output
        return result.output

    assert "ticket: unchanged" in run() and "time: unchanged" in run()
    ticket_entry = hooks.entry("ticket")
    hooks.live.send("PATCH", f"system/callbacks/{ticket_entry['id']}",
                    json=[{"op": "replace", "path": "inactiveFlag", "value": True}])
    duplicate = hooks.live.send("POST", "system/callbacks", json={
        "url": f"http://old-host.example/hooks/{hooks.token}?recordId=", "objectId": 1, "type": "time",
        "level": "owner"}).json()
    output = run()
    assert f"ticket: updated (callback {ticket_entry['id']})" in output
    assert f"removed duplicate(s) {duplicate['id']}" in output
    entries = hooks.live.send("GET", "system/callbacks").json()
    ours = [e for e in entries if f"/hooks/{hooks.token}" in e["url"]]
    assert sorted(e["type"] for e in ours) == ["ticket", "time"]
    assert all(not e["inactiveFlag"] and e["url"].startswith(hooks.url) for e in ours)
    assert other["id"] in {e["id"] for e in entries}, "another integration's callback is left alone"


# -- the live ticker against a running Podium ---------------------------------------------


@contextlib.contextmanager
def worker_thread(podium: Podium) -> Iterator[None]:
    worker = DbQueueWorker(podium, schedule=False, poll_seconds=0.05)
    worker.start()
    try:
        yield
    finally:
        worker.stop()


def settled(check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def test_the_live_world_reaches_podiums_store_through_callbacks(hooks: Hooks) -> None:
    hooks.sync("ticket")  # the tickets the live world works on
    world = hooks.world

    def landed(changes: list[Change]) -> Callable[[], bool]:
        """Every changed ticket is in Podium as ConnectWise has it now; every time entry landed
        (or waits for a ticket Podium has not fetched)."""
        def check() -> bool:
            for change in changes:
                if change.kind == "ticket":
                    stored = hooks.ticket(change.record_id)
                    if stored is None or stored.status != hooks.ticket_record(change.record_id)["status"]["name"]:
                        return False
                elif hooks.time_entry(change.record_id) is None:
                    with hooks.podium.db.session(hooks.tenant_id) as session:
                        if not session.scalar(select(func.count(PendingRecord.id)).where(
                                PendingRecord.external_id == str(change.record_id))):
                            return False
            return True
        return check

    with worker_thread(hooks.podium):
        made = [world.new_ticket(), world.add_note(), world.log_time(), world.resolve(), world.reopen()]
        assert [c.name for c in made] == ["new_ticket", "add_note", "log_time", "resolve", "reopen"]
        assert settled(landed(made))
        ticked: list[Change] = []
        stop = threading.Event()
        ticker = threading.Thread(target=run_live, args=(world, 0.05, stop, ticked.append))
        ticker.start()
        assert settled(lambda: len(ticked) >= 3)
        stop.set()
        ticker.join()
        assert settled(landed(made + ticked))
    changes = made + ticked
    assert all([d.attempts for d in change.deliveries] == [(202,)] for change in changes), \
        "each change went to its one callback and was accepted at once"
    assert hooks.time_entry(made[2].record_id).hours > 0
    for change in changes:
        if change.kind == "ticket":
            ticket = hooks.ticket(change.record_id)
            resolved = ticket.status == "Resolved"
            assert ticket.status_category == ("resolved" if resolved else "open"), ticket.status
            assert (ticket.resolved_at is not None) == resolved
