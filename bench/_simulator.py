"""The ConnectWise simulator in a process of its own, for benchmarks.

In its own process the simulator does not compete with Podium for one interpreter's GIL, so
on two cores a benchmark measures Podium's side of the wire rather than the simulator's.
It serves HTTP/1.1 (Werkzeug's default is HTTP/1.0, which closes the connection after every
answer; ConnectWise keeps connections alive) and writes one line per request to a log —
time, method, target and whether it paged forward-only — so a benchmark can send the very
same requests again without Podium (:func:`read_log`).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

FORWARD_HEADER = "HTTP_PAGINATION_TYPE"


@dataclass(frozen=True)
class Logged:
    """One request the simulator served."""

    at: float
    """When it arrived (``time.time()``)."""
    method: str
    target: str
    """Path and query string, as sent."""
    forward_only: bool


class _KeepAlive(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class _RequestLog:
    """WSGI middleware appending each request to ``path`` (one tab-separated line each)."""

    def __init__(self, app: Callable[..., Any], path: Path) -> None:
        self.app = app
        self.file = path.open("a", buffering=1, encoding="utf-8")
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        query = environ.get("QUERY_STRING")
        target = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
        forward = environ.get(FORWARD_HEADER, "").lower() == "forward-only"
        with self.lock:
            self.file.write(f"{time.time():.6f}\t{environ['REQUEST_METHOD']}\t{target}\t{int(forward)}\n")
        return self.app(environ, start_response)


def _serve(store_url: str, credentials: tuple[str, str, str, str], log_path: str, ports: Any) -> None:
    """The child process: open the rendered world and serve it until terminated."""
    from podium_connectwise.simulator import Credentials, WorldStore, create_simulator_app  # noqa: PLC0415

    app = create_simulator_app(WorldStore(store_url), Credentials(*credentials))
    server = make_server(
        "127.0.0.1", 0, _RequestLog(app, Path(log_path)), threaded=True, request_handler=_KeepAlive
    )
    ports.put(server.server_port)
    server.serve_forever()


@contextmanager
def served(store_url: str, credentials: tuple[str, str, str, str], log_path: Path) -> Iterator[str]:
    """Serve the world in ``store_url`` from a child process; yields the site URL."""
    context = multiprocessing.get_context("spawn")  # no inherited connections or threads
    ports = context.Queue()
    process = context.Process(
        target=_serve, args=(store_url, credentials, str(log_path), ports), name="cw-simulator", daemon=True
    )
    process.start()
    try:
        port = ports.get(timeout=120)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.join(timeout=10)


def read_log(path: Path) -> list[Logged]:
    """Every request in a simulator log, in arrival order."""
    requests = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            at, method, target, forward = line.rstrip("\n").split("\t")
            requests.append(Logged(float(at), method, target, forward == "1"))
    return requests
