"""The shared vendor HTTP client and the request budget, against real sockets and stores.

A scripted Flask app on a real port answers each path with queued responses (then 200),
so every retry, timeout and error below is a real HTTP exchange. Retries sleep through a
recorder instead of the clock: tests assert the waits asked for, never elapsed time.
The request budget runs on the real database (both backends) and on real Redis.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask, jsonify, request
from tests.source_plugin import serve
from sqlalchemy import select

from podium.budget import RequestBudget
from podium.crypto import MASK
from podium.errors import FatalError, RetriableError
from podium.http import RestClient, RetryPolicy, link_url, parse_retry_after
from podium.models import Connection
from podium.models import RequestBudget as BudgetRow
from podium.runtime import Podium

LABEL = "connection 'Acme CW' (id 7)"
API_KEY = "sk-live-0123456789abcdef"


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Script:
    """Queued answers per path; a path with none left answers 200 ``{"ok": true}``."""

    def __init__(self) -> None:
        self.answers: dict[str, list[Answer]] = {}
        self.hits: Counter[str] = Counter()
        self.seen_headers: list[dict[str, str]] = []
        self.app = Flask("scripted")
        self.app.add_url_rule("/<path:path>", view_func=self.answer, methods=["GET", "POST"])

    def queue(self, path: str, *answers: Answer) -> None:
        self.answers.setdefault(path, []).extend(answers)

    def answer(self, path: str) -> Any:
        path = "/" + path
        self.hits[path] += 1
        self.seen_headers.append(dict(request.headers))
        queued = self.answers.get(path)
        answer = queued.pop(0) if queued else Answer(200, {"ok": True})
        if answer.delay:
            time.sleep(answer.delay)
        body = answer.body
        if callable(body):
            body = body()
        response = jsonify(body) if not isinstance(body, str) else self.app.response_class(body)
        response.status_code = answer.status
        response.headers.update(answer.headers)
        return response


@pytest.fixture
def script() -> Iterator[tuple[Script, str]]:
    scripted = Script()
    with serve(scripted.app) as base_url:
        yield scripted, base_url


@pytest.fixture
def sleeps() -> list[float]:
    return []


def client(base_url: str, sleeps: list[float], **kwargs: Any) -> RestClient:
    kwargs.setdefault("retry", RetryPolicy(max_attempts=4, backoff=0.01, max_wait=5, jitter=0))
    kwargs.setdefault("headers", {"X-Api-Key": API_KEY, "Accept": "application/json"})
    return RestClient(base_url, label=LABEL, allow_http=True, sleep=sleeps.append, **kwargs)


# --- retries --------------------------------------------------------------------------


def test_429_waits_at_least_retry_after_then_succeeds(script: tuple[Script, str], sleeps: list[float]) -> None:
    scripted, base_url = script
    scripted.queue("/tickets", Answer(429, {"message": "slow down"}, {"Retry-After": "2"}))
    with client(base_url, sleeps) as api:
        assert api.get_json("/tickets") == {"ok": True}
    assert scripted.hits["/tickets"] == 2
    assert sleeps == [2.0]  # the backoff alone would have been 0.01 s


def test_5xx_is_retried_with_growing_backoff(script: tuple[Script, str], sleeps: list[float]) -> None:
    scripted, base_url = script
    scripted.queue("/tickets", Answer(503, "Service Unavailable"), Answer(502, {"error": "bad gateway"}))
    with client(base_url, sleeps) as api:
        assert api.get_json("/tickets") == {"ok": True}
    assert scripted.hits["/tickets"] == 3
    assert len(sleeps) == 2 and sleeps[0] < sleeps[1]


def test_timeout_is_retried(script: tuple[Script, str], sleeps: list[float]) -> None:
    scripted, base_url = script
    scripted.queue("/slow", Answer(200, {"late": True}, delay=1.0))
    with client(base_url, sleeps, timeout=0.2) as api:
        assert api.get_json("/slow") == {"ok": True}
    assert scripted.hits["/slow"] == 2 and len(sleeps) == 1


def test_connection_refused_is_retriable_and_gives_up_after_max_attempts(sleeps: list[float]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with client(f"http://127.0.0.1:{port}", sleeps, retry=RetryPolicy(max_attempts=3, backoff=0.01, jitter=0)) as api:
        with pytest.raises(RetriableError, match="ConnectError") as caught:
            api.get_json("/tickets")
    assert LABEL in str(caught.value)
    assert len(sleeps) == 2


def test_gives_up_after_max_attempts(script: tuple[Script, str], sleeps: list[float]) -> None:
    scripted, base_url = script
    scripted.queue("/tickets", *[Answer(500, {"message": "boom"})] * 5)
    with client(base_url, sleeps, retry=RetryPolicy(max_attempts=3, backoff=0.01, jitter=0)) as api:
        with pytest.raises(RetriableError) as caught:
            api.get_json("/tickets")
    assert caught.value.status == 500 and "boom" in str(caught.value)
    assert scripted.hits["/tickets"] == 3


def test_retry_after_beyond_max_wait_is_raised_not_slept(script: tuple[Script, str], sleeps: list[float]) -> None:
    scripted, base_url = script
    scripted.queue("/tickets", Answer(429, {"message": "quota"}, {"Retry-After": "3600"}))
    with client(base_url, sleeps) as api:
        with pytest.raises(RetriableError) as caught:
            api.get_json("/tickets")
    assert caught.value.retry_after == 3600
    assert sleeps == [] and scripted.hits["/tickets"] == 1


def test_retry_after_parses_seconds_and_http_dates() -> None:
    now = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Wed, 01 May 2024 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


# --- fatal errors ---------------------------------------------------------------------


def echo_key_401() -> dict[str, Any]:
    """A 401 body that quotes the credentials it was sent, as careless vendors do."""
    return {
        "code": "Unauthorized",
        "message": f"API key {request.headers.get('X-Api-Key')} is not valid",
        "errors": [{"code": "Auth", "message": f"header {request.headers.get('Authorization')} rejected"}],
    }


def test_401_is_fatal_with_the_vendor_message_and_no_credentials(
    script: tuple[Script, str], sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    scripted, base_url = script
    scripted.queue("/tickets", Answer(401, echo_key_401))
    with client(base_url, sleeps, auth=("acme+integrator", "basic-pass-42")) as api:
        with pytest.raises(FatalError) as caught:
            api.get_json("/tickets", {"pageSize": 10})
    message = str(caught.value)
    assert caught.value.status == 401
    assert message.startswith(f"{LABEL}: GET /tickets answered 401 Unauthorized: [Unauthorized] API key")
    assert "is not valid" in message and "rejected" in message
    assert API_KEY not in message and "basic-pass-42" not in message
    assert "YWNtZStpbnRlZ3JhdG9yOmJhc2ljLXBhc3MtNDI=" not in message  # the Basic token
    assert message.count(MASK) == 2
    assert API_KEY not in caplog.text and "basic-pass-42" not in caplog.text
    assert scripted.hits["/tickets"] == 1 and sleeps == []
    assert scripted.seen_headers[0]["X-Api-Key"] == API_KEY  # it was really sent


def test_400_quotes_connectwise_field_errors(script: tuple[Script, str], sleeps: list[float]) -> None:
    scripted, base_url = script
    body = {
        "code": "InvalidObject",
        "message": "ticket object is invalid",
        "errors": [{"code": "InvalidField", "message": "The field foo is not valid.", "resource": "ticket",
                    "field": "conditions"}],
    }
    scripted.queue("/service/tickets", Answer(400, body))
    with client(base_url, sleeps) as api:
        with pytest.raises(FatalError, match=r"\[InvalidObject\] ticket object is invalid; conditions: The field foo"):
            api.get_json("/service/tickets")


def test_404_is_fatal_on_a_list_and_none_for_a_missing_record(script: tuple[Script, str], sleeps: list[float]) -> None:
    scripted, base_url = script
    scripted.queue("/v2/tickets", Answer(404, {"message": "no such API version"}))
    scripted.queue("/tickets/5", Answer(404, {"message": "ticket 5 not found"}))
    with client(base_url, sleeps) as api:
        with pytest.raises(FatalError, match="no such API version"):
            api.get_json("/v2/tickets")
        assert api.get_json("/tickets/5", missing_ok=True) is None


def test_plain_http_is_refused_unless_allowed(sleeps: list[float]) -> None:
    with pytest.raises(FatalError, match=r"plain http.*use https://") as caught:
        RestClient("http://psa.example.com", label=LABEL)
    assert str(caught.value).startswith(LABEL)
    with pytest.raises(FatalError, match="must start with https://"):
        RestClient("ftp://psa.example.com", label=LABEL)
    RestClient("https://psa.example.com", label=LABEL).close()
    RestClient("http://127.0.0.1:9", label=LABEL, allow_http=True).close()


def test_link_header_relations(script: tuple[Script, str], sleeps: list[float]) -> None:
    scripted, base_url = script
    links = f'<{base_url}/tickets?page=3>; rel="next", <{base_url}/tickets?page=1>; rel="prev"'
    scripted.queue("/tickets", Answer(200, [1, 2], {"Link": links}))
    with client(base_url, sleeps) as api:
        first = api.request("GET", "/tickets", params={"page": 2})
        assert link_url(first) == f"{base_url}/tickets?page=3"
        assert link_url(first, "prev") == f"{base_url}/tickets?page=1"
        last = api.request("GET", link_url(first) or "")
        assert link_url(last) is None and api.json_of(last) == {"ok": True}


# --- the request budget ---------------------------------------------------------------


@pytest.fixture
def connection_id(podium: Podium, tenant_id: int) -> int:
    with podium.db.session(tenant_id) as session:
        connection = Connection(tenant_id=tenant_id, vendor="tiny", name="budgeted",
                                config_encrypted=podium.secrets.encrypt({}))
        session.add(connection)
        session.flush()
        return connection.id


@pytest.fixture(params=["database", "redis"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """None: the budget lives in the database; a URL: in Redis."""
    return request.getfixturevalue("redis_url") if request.param == "redis" else None


class FakeClock:
    """The clock the budget reads; its sleep moves the clock instead of waiting."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def budget(podium: Podium, store_url: str | None, tenant_id: int, connection_id: int, limit: int,
           clock: FakeClock) -> RequestBudget:
    return RequestBudget.for_connection(podium.db, store_url, tenant_id, connection_id, limit,
                                        clock=clock, sleep=clock.sleep)


def test_budget_never_exceeds_its_limit_across_threads(
    podium: Podium, tenant_id: int, connection_id: int, store_url: str | None
) -> None:
    clock = FakeClock(60 * 1_000_000 + 5)
    barrier = threading.Barrier(2)
    granted: list[int] = []

    def worker() -> None:
        mine = budget(podium, store_url, tenant_id, connection_id, 7, clock)  # its own DB/Redis connection
        barrier.wait()
        granted.append(sum(mine.try_take() for _ in range(10)))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 7
    if store_url is None:
        with podium.db.session(tenant_id) as session:
            assert session.scalars(select(BudgetRow.used)).one() == 7


def test_budget_waits_for_the_next_window_and_rolls_over(
    podium: Podium, tenant_id: int, connection_id: int, store_url: str | None
) -> None:
    clock = FakeClock(60 * 1_000_000 + 50)
    first = budget(podium, store_url, tenant_id, connection_id, 3, clock)
    for _ in range(3):
        first.take()
    assert clock.slept == []
    first.take()  # the minute is spent: waits the 10 s left in it, then counts in the next
    assert clock.slept == [10.0]
    other = budget(podium, store_url, tenant_id, connection_id, 3, clock)  # another process, same budget
    assert [other.try_take() for _ in range(3)] == [True, True, False]


def test_every_attempt_takes_a_permit_from_the_budget(
    podium: Podium, tenant_id: int, connection_id: int, store_url: str | None,
    script: tuple[Script, str], sleeps: list[float],
) -> None:
    scripted, base_url = script
    scripted.queue("/tickets", Answer(503, {"message": "busy"}))
    clock = FakeClock(60 * 1_000_000 + 30)
    with client(base_url, sleeps, budget=budget(podium, store_url, tenant_id, connection_id, 2, clock)) as api:
        api.get_json("/tickets")  # two attempts: the budget of 2 is spent
        assert clock.slept == []
        api.get_json("/tickets")  # waits for the next minute rather than exceeding it
    assert scripted.hits["/tickets"] == 3
    assert clock.slept == [30.0]
