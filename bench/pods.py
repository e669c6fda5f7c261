"""``python -m bench pods``: pod render latency under concurrent viewers, against its floor.

What it measures, per pod and per number of concurrent viewers (1, 10 and 50 by default):

* **The pod**: ``GET /pods/<key>/body`` with a technician's pod token (a manager's for the
  team pod) — the route a framed pod fetches on every load and live refresh: token check,
  viewer reloaded from the store, access rules, the pod's figures computed from the
  database, the template rendered.
* **The floor**, in the same run, on the same server: a bare Flask route (``/-/bench/floor``
  in :mod:`bench._podapp`) — what any answer from these gunicorn workers costs.

Each figure is wrk's latency distribution (p50, p95, p99) over ``--duration`` seconds with
that many connections open, each sending its next request when the last one is answered.
Podium is served by gunicorn (``--workers``, threads per worker ``--threads``) on the
chosen database. The world is the simulated MSP loaded directly (``podium.simulate``),
moved so that its last day is today — a pod shows the current period — with the seed's
engineer plan applied from this quarter, everyone acknowledged, its metrics tracked. It is
loaded once per preset, backend and day and reused (the large world takes a while).

Needs ``wrk`` (Debian: ``apt-get install wrk``) and gunicorn (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import zoneinfo
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select, text

from bench._podapp import FLOOR_PATH
from bench.sync import PG_URL, machine
from podium import migrate
from podium.auth import create_user
from podium.models import Acknowledgment, Person, PersonFact, PlanVersion, Tenant, Ticket, User
from podium.payouts.engine import PayoutEngine
from podium.payouts.periods import containing
from podium.payouts.versions import apply_plan, track
from podium.podsession import grant_for_user, issue_token
from podium.runtime import Podium
from podium.simulate import PRESETS, World, preset
from podium.simulate.loader import load_world

ROOT = Path(__file__).resolve().parent.parent
PLAN_FILE = ROOT / "tests" / "payouts" / "plans" / "engineer_quarterly_scorecard.yaml"
"""The seeds' balanced engineer scorecard (seeds 000, 003, 004), in Podium's plan format."""
BASE_PLUGINS = ("podium_metrics", "payout_rules", "live")
"""The plugins every pod reads through; the measured pods' own plugins are added to them."""
VIEWER_ROLE = {"team": "manager"}
"""Who opens each pod: a technician unless named here."""
VIEWER_TITLE = {"technician": "Engineer L1", "manager": "Service Manager"}
"""The role (a person fact of the simulated org) of the person behind each kind of viewer."""
TOKEN_TTL_SECONDS = 4 * 3600


@dataclass
class Latency:
    pod: str
    viewers: int
    requests: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    failed: int
    floor_p50_ms: float = 0.0
    floor_p95_ms: float = 0.0
    floor_p99_ms: float = 0.0

    @property
    def ratio_p95(self) -> float:
        return self.p95_ms / self.floor_p95_ms if self.floor_p95_ms else float("inf")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench pods", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=list(PRESETS), default="default")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--pg-url", default=PG_URL, help="PostgreSQL server (database bench_pods_<preset> is "
                                                         "created, or reused when it holds today's world)")
    parser.add_argument("--pods", default="scorecard", help="comma-separated pod keys")
    parser.add_argument("--viewers", default="1,10,50", help="comma-separated concurrent viewers")
    parser.add_argument("--duration", type=int, default=20, help="seconds of load per measurement")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--work", type=Path, default=Path("instance/bench"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    pods = [key.strip() for key in args.pods.split(",") if key.strip()]
    args.plugins = ",".join((*BASE_PLUGINS, *pods))
    url = prepare(args)
    viewers = [int(n) for n in args.viewers.split(",")]
    secret = secrets.token_urlsafe(32)
    podium = runtime(args, url, secret)
    tokens = {pod: viewer_token(podium, VIEWER_ROLE.get(pod, "technician")) for pod in pods}
    podium.db.dispose()
    results: list[Latency] = []
    with served(args, url, secret) as site:
        for pod in pods:
            check(site, pod, tokens[pod])
            for n in viewers:
                floor = wrk(site + FLOOR_PATH, None, n, args.duration)
                measured = wrk(f"{site}/pods/{pod}/body", tokens[pod], n, args.duration)
                results.append(Latency(pod, n, measured["requests"], measured["requests"] / measured["seconds"],
                                       measured["p50"], measured["p95"], measured["p99"], measured["failed"],
                                       floor["p50"], floor["p95"], floor["p99"]))
                print_row(results[-1])
    report = {"preset": args.preset, "db": args.db, "workers": args.workers, "threads": args.threads,
              "duration_s": args.duration, "machine": machine(args.pg_url), "results": [asdict(r) for r in results]}
    print_table(args, results)
    print(f"machine: {report['machine']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def runtime(args: argparse.Namespace, url: str, secret: str | None = None) -> Podium:
    return Podium.from_env(instance_path=args.work / "pods-instance", database_url=url,
                           secret_key=secret or secrets.token_urlsafe(32), load_plugins=tuple(args.plugins.split(",")))


# -- the world -----------------------------------------------------------------------------


def prepare(args: argparse.Namespace) -> str:
    """The database holding today's world for the preset (loaded now unless already there)."""
    config = preset(args.preset)
    start = dt.date.today() - dt.timedelta(days=config.days - 1)
    config = preset(args.preset, start=start)
    marker = args.work / f"pods-{args.db}-{args.preset}.json"
    wanted = {"preset": args.preset, "seed": config.seed, "start": start.isoformat(), "schema": schema_version()}
    if args.db == "sqlite":
        url = f"sqlite:///{(args.work / f'pods-{args.preset}.db').resolve()}"
    else:
        url = args.pg_url.rsplit("/", 1)[0] + f"/bench_pods_{args.preset}"
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        return url
    fresh_database(args, url)
    migrate.upgrade(url)
    podium = runtime(args, url)
    try:
        began = time.perf_counter()
        report = load_world(podium, World(config), progress=lambda entity, n: None)
        print(f"loaded the {args.preset} world ({start} to today) in {time.perf_counter() - began:.0f} s",
              file=sys.stderr)
        assign_plan(podium, report.tenant_id)
    finally:
        podium.db.dispose()
    marker.write_text(json.dumps(wanted))
    return url


def schema_version() -> str:
    """A digest of the migrations: a world loaded under another schema is loaded again."""
    versions = Path(migrate.__file__).with_name("migrations") / "versions"
    digest = hashlib.sha256()
    for path in sorted(versions.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def fresh_database(args: argparse.Namespace, url: str) -> None:
    if args.db == "sqlite":
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
    name = url.rsplit("/", 1)[1]
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def assign_plan(podium: Podium, tenant_id: int) -> None:
    """Apply the engineer plan from this quarter; every participant acknowledged it before."""
    engine = PayoutEngine(podium)
    with podium.db.session(tenant_id) as session:
        tenant = session.get_one(Tenant, tenant_id)
        today = dt.datetime.now(zoneinfo.ZoneInfo(tenant.time_zone)).date()
        period = containing("quarterly", today, tenant.fiscal_year_start_month)
        definition = engine.load(PLAN_FILE.read_text(), PLAN_FILE.name)
        version, _ = apply_plan(session, engine, tenant_id, definition, "bench", source_name=PLAN_FILE.name,
                                effective_from=period.start)
        before = dt.datetime.combine(period.start, dt.time(), dt.UTC) - dt.timedelta(days=2)
        session.add_all(Acknowledgment(plan_version_id=version.id, person_id=person_id, acknowledged_at=before,
                                       recorded_by="bench")
                        for person_id in session.scalars(select(Person.id)))
        session.flush()
        track(session, engine, session.get_one(PlanVersion, version.id))


def viewer_token(podium: Podium, role: str) -> str:
    """A pod token for a busy person of ``role`` (an Engineer L1 technician, or a manager),
    as their sign-in would get it; the user is created on first use."""
    with podium.db.session() as session:
        tenant_id = session.scalars(select(Tenant.id).order_by(Tenant.id)).first()
    with podium.db.session(tenant_id) as session:
        wanted = VIEWER_TITLE[role]
        person = session.scalars(
            select(Person).join(PersonFact, PersonFact.person_id == Person.id)
            .where(PersonFact.kind == "role", PersonFact.value_text == wanted, PersonFact.valid_to.is_(None))
            .order_by(Person.id)
        ).first()
        if person is None:
            raise SystemExit(f"no {wanted} in the world to view the pods as")
        user = session.scalars(select(User).where(User.person_id == person.id)).first()
        if user is None:
            user = create_user(session, tenant_id, f"bench-{person.id}@podium.invalid", role, person_id=person.id)
        grant = grant_for_user(user, None)
        tickets = session.scalar(select(func.count(Ticket.id)))
    print(f"viewing as person {person.id} ({role}); {tickets:,} tickets in the world", file=sys.stderr)
    return issue_token(podium, grant).token


# -- serving and loading --------------------------------------------------------------------


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(args: argparse.Namespace, url: str, secret: str) -> Iterator[str]:
    """gunicorn serving :mod:`bench._podapp` on a free port until the block ends."""
    port = free_port()
    env = os.environ | {"DATABASE_URL": url, "PODIUM_SECRET_KEY": secret, "PODIUM_LOAD_PLUGINS": args.plugins,
                        "PODIUM_INSTANCE": str((args.work / "pods-instance").resolve()),
                        "PODIUM_POD_TOKEN_TTL_SECONDS": str(TOKEN_TTL_SECONDS)}
    env.pop("REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
         "--threads", str(args.threads), "--worker-class", "gthread", "--timeout", "300", "--log-level", "warning",
         "bench._podapp:app"],
        cwd=ROOT, env=env,
    )
    site = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(site + FLOOR_PATH, timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.3)
        yield site
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def check(site: str, pod: str, token: str) -> None:
    """The pod answers this viewer with figures (a benchmark of refusals would be meaningless)."""
    response = httpx.get(f"{site}/pods/{pod}/body", headers={"Authorization": f"Pod {token}"}, timeout=300)
    if response.status_code != 200:
        raise SystemExit(f"{pod}: {response.status_code} {response.text[:300]}")
    print(f"{pod}: {len(response.content):,} bytes", file=sys.stderr)


def wrk(url: str, token: str | None, connections: int, duration: int) -> dict[str, Any]:
    """wrk's figures for ``url`` with ``connections`` open: latencies in ms, requests, failures."""
    command = ["wrk", f"-t{min(connections, 2)}", f"-c{connections}", f"-d{duration}s", "--timeout", "120s",
               "-s", str(Path(__file__).with_name("_wrk_report.lua"))]
    if token:
        command += ["-H", f"Authorization: Pod {token}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH-JSON "))
    raw = json.loads(line.removeprefix("BENCH-JSON "))
    return {"requests": raw["requests"], "seconds": raw["duration_us"] / 1e6, "failed": raw["socket_errors"] + raw["non_2xx"],
            "p50": raw["p50_us"] / 1000, "p95": raw["p95_us"] / 1000, "p99": raw["p99_us"] / 1000}


def print_row(r: Latency) -> None:
    print(f"{r.pod} × {r.viewers}: p50 {r.p50_ms:.1f} ms, p95 {r.p95_ms:.1f} ms, p99 {r.p99_ms:.1f} ms "
          f"({r.requests:,} requests, {r.failed} failed); floor p95 {r.floor_p95_ms:.1f} ms", file=sys.stderr)


def print_table(args: argparse.Namespace, results: list[Latency]) -> None:
    """Markdown, so it can go into the README as it is."""
    print(f"\n`{args.preset}` world on {args.db}, gunicorn {args.workers} workers × {args.threads} threads, "
          f"{args.duration} s per row\n")
    print("| pod | viewers | requests/s | p50 ms | p95 ms | p99 ms | floor p50 / p95 / p99 ms | p95 ÷ floor p95 | failed |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r.pod} | {r.viewers} | {r.rps:,.1f} | {r.p50_ms:,.1f} | {r.p95_ms:,.1f} | {r.p99_ms:,.1f} "
              f"| {r.floor_p50_ms:.1f} / {r.floor_p95_ms:.1f} / {r.floor_p99_ms:.1f} | {r.ratio_p95:,.1f}× | {r.failed} |")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
