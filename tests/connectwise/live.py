"""Running the ConnectWise simulator for tests: real sockets, stores on SQLite and PostgreSQL.

Each simulator runs in Werkzeug's threaded server on 127.0.0.1, port 0, in a thread, and
is called over HTTP by httpx — the same path a connector or a user's client takes.
"""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from podium.simulate import WorldConfig
from podium_connectwise.simulator import Credentials, WorldStore, create_simulator_app
from tests.connectwise.cw_real_client import ConnectWiseClient

CREDENTIALS = Credentials(
    company_id="summitridge", public_key="Sim9PublicKey", private_key="Sim9PrivateKey-not-a-secret",
    client_id="3f6c2f0e-9d1a-4d43-b5a1-0c5c1b0f7a11",
)
CODEBASE = "v2025_1/"
SMALL_WORLD = WorldConfig(technicians=6, clients=8, days=35, tickets_per_tech_day=1.0)
"""Five weeks: long enough for a month-end invoice run and a project, small enough to walk every record."""


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free port of 127.0.0.1 until the block ends; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="cw-simulator", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@dataclass
class Live:
    """A running simulator: its site URL, store and a few request helpers."""

    site: str
    store: WorldStore
    http: httpx.Client
    credentials: Credentials = CREDENTIALS

    @property
    def api(self) -> str:
        return f"{self.site}/{CODEBASE}apis/3.0"

    def headers(self, **extra: str) -> dict[str, str]:
        token = base64.b64encode(
            f"{self.credentials.company_id}+{self.credentials.public_key}:{self.credentials.private_key}".encode()
        ).decode()
        return {"Authorization": f"Basic {token}", "clientId": self.credentials.client_id, **extra}

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.api}/{path}"

    def get(self, path: str, params: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
        return self.http.get(self.url(path), params=params, headers=self.headers(**headers))

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Any request, authenticated unless ``headers`` are given."""
        kwargs.setdefault("headers", self.headers())
        return self.http.request(method, self.url(path), **kwargs)

    def client(self, **kwargs: Any) -> ConnectWiseClient:
        c = self.credentials
        return ConnectWiseClient(self.site, c.company_id, c.public_key, c.private_key, c.client_id, **kwargs)


@contextmanager
def serve_live(store: WorldStore, **app_options: Any) -> Iterator[Live]:
    """Serve ``store`` as ConnectWise (``create_simulator_app`` options) with a client for it."""
    with serve(create_simulator_app(store, CREDENTIALS, codebase=CODEBASE, **app_options)) as site, \
            httpx.Client(timeout=10) as http:
        yield Live(site, store, http)


def store_url(request: pytest.FixtureRequest, backend: str, folder: Path) -> tuple[str, Callable[[], None]]:
    """A new, empty database on ``backend`` and the function that drops it."""
    if backend == "sqlite":
        return f"sqlite:///{folder / 'connectwise.db'}", lambda: None
    base = request.getfixturevalue("pg_database")  # fails or skips like the rest of the suite without PostgreSQL
    name = f"podium_cw_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.rsplit("/", 1)[0] + f"/{name}", drop


@contextmanager
def new_store(request: pytest.FixtureRequest, backend: str, folder: Path) -> Iterator[WorldStore]:
    url, drop = store_url(request, backend, folder)
    store = WorldStore(url)
    try:
        yield store
    finally:
        store.close()
        drop()
