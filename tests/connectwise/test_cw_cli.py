"""``podium simulate connectwise``: registered under ``simulate``, and a real server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import httpx

import podium_connectwise
from podium.cli import cli
from podium.simulate import preset
from podium_connectwise.simulator import WorldStore
from podium_connectwise.simulator.render import ensure_world
from podium_connectwise.simulator.resources import RESOURCES
from tests.connectwise.live import CREDENTIALS, Live

COMMAND = "from podium_connectwise.simulator.cli import connectwise; connectwise()"


def test_hook_adds_connectwise_to_an_existing_simulate_group_or_creates_one() -> None:
    podium_connectwise.podium_register_commands(cli)
    simulate = cli.commands["simulate"]
    assert isinstance(simulate, click.Group) and "connectwise" in simulate.commands
    assert "load" in simulate.commands, "the world's own subcommand stays"
    bare = click.Group("podium")
    podium_connectwise.podium_register_commands(bare)
    assert "connectwise" in bare.commands["simulate"].commands  # type: ignore[attr-defined]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def simulator_process(db: Path, port: int) -> Iterator[subprocess.Popen[str]]:
    args = [sys.executable, "-c", COMMAND, "--port", str(port), "--company-id", CREDENTIALS.company_id,
            "--public-key", CREDENTIALS.public_key, "--client-id", CREDENTIALS.client_id, "--db", str(db),
            "--technicians", "6", "--clients", "3", "--days", "3"]
    env = {**os.environ, "PODIUM_SIM_CW_PRIVATE_KEY": CREDENTIALS.private_key}
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                httpx.get(f"http://127.0.0.1:{port}/login/companyinfo/x", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_command_renders_the_world_and_serves_it(tmp_path: Path) -> None:
    db, port = tmp_path / "cw.db", free_port()
    with simulator_process(db, port) as process, httpx.Client(timeout=10) as http:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        live = Live(f"http://127.0.0.1:{port}", store=None, http=http)  # type: ignore[arg-type]
        assert http.get(f"{live.site}/login/companyinfo/{CREDENTIALS.company_id}").json()["Codebase"] == "v2025_1/"
        assert live.get("service/tickets/count").json()["count"] > 0
        assert live.get("service/tickets/count", clientId="nope").status_code == 401
    log = process.stderr.read() if process.stderr else ""
    assert "rendered " in log and "service_tickets: " in log
    assert CREDENTIALS.private_key not in log


def test_a_rendered_world_is_reused_until_its_options_change(tmp_path: Path) -> None:
    store = WorldStore(f"sqlite:///{tmp_path / 'cw.db'}")
    try:
        config = preset("default", technicians=6, clients=2, days=2)
        counts = ensure_world(store, config)
        assert counts is not None and counts["members"] > 0
        assert ensure_world(store, config) is None
        store.update("members", 100 + 1, {"title": "Edited"})
        assert ensure_world(store, config, rebuild=True) == counts
        assert store.get(RESOURCES["members"], 101)["title"] != "Edited"  # type: ignore[index]
        assert ensure_world(store, preset("default", technicians=6, clients=2, days=3)) is not None
    finally:
        store.close()
