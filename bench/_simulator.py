"""The ConnectWise simulator in a process of its own, for benchmarks.

In its own process the simulator does not compete with Podium for one interpreter's GIL, so
on two cores a benchmark measures Podium's side of the wire rather than the simulator's.
It is served as the demo and the tests serve it (Werkzeug's threaded server, a connection
per request) and writes one line per request to a log — time, method, target and whether
it paged forward-only — so a benchmark can send the very same requests again without
Podium (:func:`read_log`).
"""

from __future__ import annotations

import os
import subprocess
import sys
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


class _Quiet(WSGIRequestHandler):
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


CREDENTIALS_ENV = "BENCH_CW_CREDENTIALS"
"""company id, public key, private key and client id, tab-separated (kept off the command line)."""


def _serve(store_url: str, log_path: str) -> None:
    """The child process: open the rendered world, print the port, serve until terminated."""
    from podium_connectwise.simulator import Credentials, WorldStore, create_simulator_app

    credentials = Credentials(*os.environ[CREDENTIALS_ENV].split("\t"))
    app = create_simulator_app(WorldStore(store_url), credentials)
    server = make_server(
        "127.0.0.1", 0, _RequestLog(app, Path(log_path)), threaded=True, request_handler=_Quiet
    )
    print(server.server_port, flush=True)
    server.serve_forever()


@contextmanager
def served(store_url: str, credentials: tuple[str, str, str, str], log_path: Path) -> Iterator[str]:
    """Serve the world in ``store_url`` from a child process; yields the site URL."""
    env = os.environ | {CREDENTIALS_ENV: "\t".join(credentials)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bench._simulator", store_url, str(log_path)],
        stdout=subprocess.PIPE, text=True, env=env, cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        if not port.isdigit():
            raise RuntimeError(f"the simulator did not start (exit code {process.wait()})")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def read_log(path: Path) -> list[Logged]:
    """Every request in a simulator log, in arrival order."""
    requests = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            at, method, target, forward = line.rstrip("\n").split("\t")
            requests.append(Logged(float(at), method, target, forward == "1"))
    return requests


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2])
