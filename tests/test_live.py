"""Live updates: the in-process channel and real Redis pub/sub, and the event stream over
a real socket (one-use tickets, keep-alives, the end of a stream)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from podium import jobs, live
from podium.live import LiveEvent, LiveSettings, LocalBroker, RedisBroker, Subscription
from podium.runtime import Podium

from tests.pods_support import (
    Org,
    member_token,
    pod_headers,
    pod_runtime,
    seed_org,
    user_token,
    web_app,
)
from tests.source_plugin import serve

HOST = "http://127.0.0.1:8765"
WAIT = 5.0
"""Seconds a test waits for an event that should come at once (a bound, not a measurement)."""


@pytest.fixture(params=["in-process", "redis"])
def broker_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param


@pytest.fixture
def runtime(broker_kind: str, request: pytest.FixtureRequest, sqlite_url: str, tmp_path: Path) -> Iterator[Podium]:
    redis_url = request.getfixturevalue("redis_url") if broker_kind == "redis" else None
    podium = pod_runtime(sqlite_url, tmp_path, redis_url=redis_url, live_keepalive_seconds=0.2)
    yield podium
    podium.db.dispose()


def next_event(subscription: Subscription) -> LiveEvent | None:
    return subscription.get(timeout=WAIT)


def test_the_broker_follows_the_runtime(runtime: Podium, broker_kind: str) -> None:
    assert isinstance(live.broker(runtime), RedisBroker if broker_kind == "redis" else LocalBroker)


def test_events_reach_the_tenant_and_no_other(runtime: Podium) -> None:
    mine = live.broker(runtime).subscribe(live.viewer_channels(1, 10, "technician"))
    theirs = live.broker(runtime).subscribe(live.viewer_channels(2, 10, "technician"))
    try:
        live.records_changed(runtime, 1, "time_entry")
        assert next_event(mine) == LiveEvent("records", 1, None, {"entity": "time_entry"})
        assert theirs.get(timeout=0.2) is None
    finally:
        mine.close()
        theirs.close()


def test_a_persons_events_reach_them_and_their_managers_not_peers(runtime: Podium) -> None:
    ada = live.broker(runtime).subscribe(live.viewer_channels(1, 10, "technician"))
    bob = live.broker(runtime).subscribe(live.viewer_channels(1, 11, "technician"))
    manager = live.broker(runtime).subscribe(live.viewer_channels(1, 12, "manager"))
    try:
        live.metrics_changed(runtime, 1, [10])
        assert next_event(ada) == LiveEvent("metrics", 1, 10)
        assert next_event(manager) == LiveEvent("metrics", 1, 10)
        assert bob.get(timeout=0.2) is None
    finally:
        for subscription in (ada, bob, manager):
            subscription.close()


def test_synced_records_reach_open_pods_through_the_hook(runtime: Podium) -> None:
    subscription = live.broker(runtime).subscribe(live.viewer_channels(3, None, "technician"))
    try:
        live.podium_records_changed(podium=runtime, tenant_id=3, entity="time_entry")
        assert next_event(subscription) == LiveEvent("records", 3, None, {"entity": "time_entry"})
    finally:
        subscription.close()


def test_unknown_kinds_are_refused(runtime: Podium) -> None:
    with pytest.raises(ValueError, match="unknown live event kind 'figures'"):
        live.publish(runtime, LiveEvent("figures", 1))


def test_a_closed_subscription_hears_nothing_more() -> None:
    broker = LocalBroker()
    subscription = broker.subscribe(["c"])
    subscription.close()
    broker.publish("c", LiveEvent("records", 1).encode())
    assert subscription.get(timeout=0.05) is None
    assert broker._subscribers == {}


def test_the_stream_sends_events_keepalives_and_ends() -> None:
    broker = LocalBroker()
    subscription = broker.subscribe(["c"])
    settings = LiveSettings(keepalive=0.05, max_stream=0.3, retry_ms=1500)
    stream = live.sse_events(subscription, settings)
    assert next(stream) == "retry: 1500\n: open\n\n"
    assert next(stream) == ": keep-alive\n\n"
    broker.publish("c", LiveEvent("metrics", 1, 7).encode())
    assert next(stream) == 'event: metrics\ndata: {"person_id": 7}\n\n'
    rest = list(stream)
    assert rest and set(rest) == {": keep-alive\n\n"}
    assert broker._subscribers == {}, "the subscription is closed when the stream ends"


# -- over HTTP -------------------------------------------------------------------------------


@pytest.fixture
def org(runtime: Podium) -> Org:
    return seed_org(runtime, HOST)


def read_until(lines: Iterator[str], wanted: str) -> list[str]:
    seen: list[str] = []
    for line in lines:
        seen.append(line)
        if line == wanted:
            return seen
    raise AssertionError(f"stream ended before {wanted!r}: {seen}")


def test_an_event_reaches_an_open_stream_and_a_ticket_works_once(runtime: Podium, org: Org) -> None:
    with serve(web_app(runtime)) as base, httpx.Client(base_url=base, timeout=WAIT) as client:
        ticket = client.post("/pods/-/stream/ticket", headers=pod_headers(member_token(runtime, org))).json()["ticket"]
        with client.stream("GET", "/pods/-/stream", params={"ticket": ticket}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.iter_lines()
            read_until(lines, ": open")
            live.records_changed(runtime, org.tenant_id, "ticket")
            seen = read_until(lines, 'data: {"person_id": null, "entity": "ticket"}')
            assert "event: records" in seen
            assert ": keep-alive" in read_until(lines, ": keep-alive")
        again = client.get("/pods/-/stream", params={"ticket": ticket})
        assert again.status_code == 403
        assert again.json()["errors"] == {"session": ["bad-ticket"]}


def test_a_stream_hears_its_viewer_not_a_peer(runtime: Podium, org: Org) -> None:
    with serve(web_app(runtime)) as base, httpx.Client(base_url=base, timeout=WAIT) as client:
        bob = pod_headers(user_token(runtime, org.tenant_id, org.bob_user))
        ticket = client.post("/pods/-/stream/ticket", headers=bob).json()["ticket"]
        with client.stream("GET", "/pods/-/stream", params={"ticket": ticket}) as response:
            lines = response.iter_lines()
            read_until(lines, ": open")
            live.metrics_changed(runtime, org.tenant_id, [org.ada])
            live.metrics_changed(runtime, org.tenant_id, [org.bob])
            seen = read_until(lines, f'data: {{"person_id": {org.bob}}}')
            assert f'data: {{"person_id": {org.ada}}}' not in seen


def test_without_streams_the_ticket_is_refused_so_pods_poll(sqlite_url: str, tmp_path: Path) -> None:
    podium = pod_runtime(sqlite_url, tmp_path, live_sse="off")
    org = seed_org(podium, HOST)
    client = web_app(podium).test_client()
    response = client.post("/pods/-/stream/ticket", headers=pod_headers(member_token(podium, org)))
    assert response.status_code == 503 and response.get_json()["errors"] == {"session": ["no-stream"]}
    assert 'data-sse="off"' in client.get("/pods/whoami").get_data(as_text=True)
    podium.db.dispose()
