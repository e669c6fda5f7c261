"""A tiny vendor for the sync tests: a REST API over real sockets, and its connector plugin.

``TinyVendor`` is the vendor: an in-memory store of identities, tickets and time entries,
each with an ``id`` and a ``lastUpdated`` stamped from a vendor clock that advances one
second after each change (so tests control time without sleeping), served by a Flask app with
API-key auth, keyset paging (``afterId`` + ``pageSize``, ordered by id, ``Link: rel=next``)
and ``updatedSince``/``updatedBefore`` filters. Test levers: queued faults (429/5xx/401
answers), a hook run before each list request (to change records while they are paged),
a gate that holds list requests, and a log of every request.

``TinySource`` is its connector, registered through ``podium_register_data_sources`` the
way any plugin is: the tests put this file in a plugins directory and let Podium's real
plugin manager load it (under its own module name, so it shares no state with the test;
it reaches the vendor only over HTTP through :mod:`podium.http`).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, jsonify, request
from marshmallow import Schema, fields
from werkzeug.serving import make_server

from podium import hookimpl
from podium.datasource import DataSource, Page, Window
from podium.errors import ConnectionTestError, FatalError
from podium.http import RestClient, link_url

ENTITIES = ("identity", "ticket", "time_entry")
EPOCH = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)


def iso(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- the vendor -----------------------------------------------------------------------


@dataclass
class Fault:
    """One queued bad answer: served instead of the next matching request."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=lambda: {"code": "Busy", "message": "try again later"})
    entity: str | None = None
    """Only for list requests of this entity (None: the next request of any kind)."""


class TinyVendor:
    """The vendor's state and its Flask app; every method is safe to call from tests."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.base_url = ""
        """Set by whoever serves the app (see :func:`serve`)."""
        self.now = EPOCH
        self.records: dict[str, dict[int, dict[str, Any]]] = {entity: {} for entity in ENTITIES}
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.served: dict[str, list[int]] = {entity: [] for entity in ENTITIES}
        self.before_list: Callable[[str, int], None] | None = None
        """Called with (entity, how many list requests of it came before) before serving one."""
        self.gate: threading.Event | None = None
        self.held = threading.Event()
        """Set when a list request is waiting at the gate."""
        self.lock = threading.RLock()
        self.app = self._build_app()

    # state ------------------------------------------------------------------------------

    def put(self, entity: str, record_id: int, **values: Any) -> dict[str, Any]:
        """Create or change a record, stamped with the vendor's clock, which then ticks.

        So every change has its own ``lastUpdated`` and the clock is always past them.
        """
        with self.lock:
            record = {**self.records[entity].get(record_id, {}), **values, "id": record_id, "lastUpdated": iso(self.now)}
            self.records[entity][record_id] = record
            self.now += dt.timedelta(seconds=1)
            return record

    def remove(self, entity: str, record_id: int) -> None:
        with self.lock:
            self.records[entity].pop(record_id)

    def list_requests(self, entity: str) -> list[dict[str, str]]:
        return [params for path, params in self.requests if path == f"/api/{entity}"]

    # app --------------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask("tiny_vendor")

        def fault_for(entity: str | None) -> Fault | None:
            with self.lock:
                for index, fault in enumerate(self.faults):
                    if fault.entity is None or fault.entity == entity:
                        return self.faults.pop(index)
            return None

        def refuse(fault: Fault) -> Any:
            response = jsonify(fault.body)
            response.status_code = fault.status
            response.headers.update(fault.headers)
            return response

        @app.before_request
        def check() -> Any:
            with self.lock:
                self.requests.append((request.path, dict(request.args)))
            parts = request.path.strip("/").split("/")
            entity = parts[1] if len(parts) == 2 and parts[0] == "api" else None
            fault = fault_for(entity)
            if fault is not None:
                return refuse(fault)
            given = request.headers.get("X-Api-Key", "")
            if given != self.api_key:
                # Like some real vendors, it quotes the key it was sent: Podium must mask it.
                return refuse(
                    Fault(
                        401,
                        body={
                            "code": "Unauthorized",
                            "message": "API key is not valid",
                            "errors": [{"code": "InvalidKey", "message": f"key {given!r} was rotated or revoked"}],
                        },
                    )
                )
            return None

        @app.get("/api/time")
        def server_time() -> Any:
            return jsonify({"now": iso(self.now)})

        @app.get("/api/<entity>")
        def list_records(entity: str) -> Any:
            if entity not in self.records:
                return jsonify({"code": "NotFound", "message": f"no such resource {entity}"}), 404
            if self.before_list is not None:
                self.before_list(entity, len(self.list_requests(entity)) - 1)
            if self.gate is not None:
                self.held.set()
                self.gate.wait(timeout=30)
            args = request.args
            size = int(args.get("pageSize", 25))
            after = int(args.get("afterId", 0))
            with self.lock:
                rows = sorted(self.records[entity].values(), key=lambda r: r["id"])
            rows = [r for r in rows if r["id"] > after]
            if "updatedSince" in args:
                rows = [r for r in rows if parse_time(r["lastUpdated"]) >= parse_time(args["updatedSince"])]
            if "updatedBefore" in args:
                rows = [r for r in rows if parse_time(r["lastUpdated"]) < parse_time(args["updatedBefore"])]
            page = rows[:size]
            with self.lock:
                self.served[entity] += [r["id"] for r in page]
            response = jsonify(page)
            if len(rows) > size:
                query = {**args.to_dict(), "afterId": str(page[-1]["id"])}
                next_url = request.base_url + "?" + "&".join(f"{k}={v}" for k, v in query.items())
                response.headers["Link"] = f'<{next_url}>; rel="next"'
            return response

        @app.get("/api/<entity>/<int:record_id>")
        def one_record(entity: str, record_id: int) -> Any:
            record = self.records.get(entity, {}).get(record_id)
            if record is None:
                return jsonify({"code": "NotFound", "message": f"{entity} {record_id} does not exist"}), 404
            return jsonify(record)

        return app


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free port of 127.0.0.1 in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


# --- the connector --------------------------------------------------------------------


class TinyConfig(Schema):
    base_url = fields.Url(required=True, require_tld=False, schemes={"http", "https"})
    api_key = fields.String(required=True, metadata={"secret": True})
    allow_http = fields.Boolean(load_default=False)
    """Plain http is for this local test vendor only."""


class TinySource(DataSource):
    """The tiny vendor's connector: maps its records to canonical ones, nothing more."""

    key = "tiny"
    label = "Tiny test vendor"
    config_schema = TinyConfig
    capabilities = {
        "identity": frozenset({"display_name", "email"}),
        "ticket": frozenset({"summary", "status", "created_at"}),
        "time_entry": frozenset({"hours", "start_at", "ticket_external_id"}),
    }
    incremental = frozenset({"ticket", "time_entry"})

    _client: RestClient | None = None

    @property
    def client(self) -> RestClient:
        if self._client is None:
            self._client = self.context.rest_client(
                self.config["base_url"],
                headers={"X-Api-Key": self.config["api_key"]},
                allow_http=self.config.get("allow_http", False),
            )
        return self._client

    @staticmethod
    def canonical(entity: str, record: dict[str, Any]) -> dict[str, Any]:
        values = {k: v for k, v in record.items() if k not in ("id", "lastUpdated")}
        values["external_id"] = str(record["id"])
        if entity != "identity":
            values["vendor_updated_at"] = record["lastUpdated"]
        return values

    def test_connection(self) -> str:
        try:
            now = self.client.get_json("/api/time")["now"]
        except FatalError as exc:
            raise ConnectionTestError(str(exc)) from None
        return f"connected; the vendor's clock says {now}"

    def server_time(self) -> dt.datetime:
        return parse_time(self.client.get_json("/api/time")["now"])

    def fetch(self, entity: str, window: Window, cursor: dict[str, Any] | None) -> Iterator[Page]:
        params: dict[str, Any] = {"pageSize": self.context.page_size}
        if entity in self.incremental:
            params["updatedBefore"] = iso(window.end)
            if window.start is not None:
                params["updatedSince"] = iso(window.start)
        if cursor:
            params["afterId"] = cursor["after_id"]
        while True:
            response = self.client.request("GET", f"/api/{entity}", params=params)
            rows = self.client.json_of(response)
            more = link_url(response) is not None
            next_cursor = {"after_id": rows[-1]["id"]} if more else None
            yield Page([self.canonical(entity, row) for row in rows], next_cursor)
            if next_cursor is None:
                return
            params["afterId"] = next_cursor["after_id"]

    def fetch_one(self, entity: str, external_id: str) -> dict[str, Any] | None:
        record = self.client.get_json(f"/api/{entity}/{external_id}", missing_ok=True)
        return None if record is None else self.canonical(entity, record)


@hookimpl
def podium_register_data_sources(registry: Any) -> None:
    registry.add(TinySource)
