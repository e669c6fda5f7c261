"""``python -m bench sync``: a first sync of the simulated ConnectWise, against its floor.

What it measures, per entity and in total, on SQLite and on PostgreSQL:

* **Podium**: ``podium.sync.sync_connection`` of a fresh connection — the connector, the
  engine (validation, reference resolution, quarantine and pending checks, upserts, the
  resume cursor committed with every page, the lease), the request budget (set far above
  what the simulator can serve, but still taken for every request), retries armed.
  Records/s is what the connector yielded over the entity's ``sync_runs`` duration.
* **The floor**, in the same run: the very requests Podium sent (read back from the
  simulator's request log), sent again by a plain ``httpx`` client — as many at once as the
  connector sends per-record requests — and their JSON parsed, plus the rows Podium
  stored bulk-inserted into the same tables of an empty database, one transaction per
  batch. No mapping, validation, reference lookups, upserts, cursors, leases or budget:
  what any sync of these records must at least do.

The simulator runs in its own process (no shared GIL), with its rate limit off. The world
is rendered once into ``--work`` and reused. The large preset is 300 technicians over a
year; expect it to take hours.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, insert, select, text
from tqdm import tqdm

from bench._simulator import Logged, read_log, served
from podium import migrate
from podium.connections import create_connection
from podium.db import make_engine
from podium.models import Connection, SyncRun, Tenant
from podium.runtime import Podium
from podium.schemas.canonical import ENTITY_MODELS
from podium.simulate import PRESETS, preset
from podium.sync import sync_connection
from podium_connectwise.connector import CONCURRENT_REQUESTS
from podium_connectwise.simulator.render import ensure_world
from podium_connectwise.simulator.store import WorldStore

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
COMPANY_ID = "summitridge"
PUBLIC_KEY = "BenchPublic"
TIER_TEAMS = {"Help Desk*": 1, "Escalations*": 2, "Projects*": 3}
UNLIMITED = 10**9
"""Requests per minute for Podium's request budget: never reached, so it never waits."""


@dataclass
class EntityResult:
    entity: str
    records: int
    requests: int
    podium_seconds: float
    fetch_seconds: float = 0.0
    """Floor: the same requests sent again and their JSON parsed."""
    insert_seconds: float = 0.0
    """Floor: Podium's rows bulk-inserted into an empty copy of the tables."""

    @property
    def floor_seconds(self) -> float:
        return self.fetch_seconds + self.insert_seconds


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench sync", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=list(PRESETS), default="default")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--pg-url", default=PG_URL, help="PostgreSQL server (its databases bench_podium and "
                                                         "bench_floor are dropped and created)")
    parser.add_argument("--redis-url", help="take the request budget from Redis instead of the database")
    parser.add_argument("--work", type=Path, default=Path("instance/bench"), help="folder for the world and files")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)

    args.work.mkdir(parents=True, exist_ok=True)
    config = preset(args.preset)
    store_url = f"sqlite:///{(args.work / f'connectwise-{args.preset}-{config.seed}.db').resolve()}"
    store = WorldStore(store_url)
    ensure_world(store, config, wrap=lambda rows: tqdm(rows, desc="rendering the world", unit=" records",
                                                       disable=args.quiet))
    store.close()
    credentials = (COMPANY_ID, PUBLIC_KEY, secrets.token_urlsafe(24), str(uuid.uuid4()))
    log_path = args.work / "simulator-requests.log"
    log_path.unlink(missing_ok=True)
    backends = ("postgres", "sqlite") if args.db == "both" else (args.db,)
    report: dict[str, Any] = {"preset": args.preset, "world": repr(config), "machine": machine(args.pg_url),
                              "budget": "redis" if args.redis_url else "database", "results": {}}
    with served(store_url, credentials, log_path) as site:
        for backend in backends:
            results = run_backend(backend, args, site, credentials, log_path)
            report["results"][backend] = [asdict(r) for r in results]
            print_table(backend, args.preset, results)
            if args.json:  # after each backend: a large run takes hours
                args.json.write_text(json.dumps(report, indent=2))
    print(f"machine: {report['machine']}")
    return 0


def run_backend(
    backend: str, args: argparse.Namespace, site: str, credentials: tuple[str, str, str, str], log_path: Path
) -> list[EntityResult]:
    """Podium's first sync into a fresh database of ``backend``, then the floor of each entity."""
    with fresh_database(backend, args, "podium") as url, fresh_database(backend, args, "floor") as floor_url:
        podium = Podium.from_env(
            instance_path=args.work / "instance", database_url=url, secret_key=secrets.token_urlsafe(32),
            redis_url=args.redis_url, load_plugins=("connectwise",), request_budget_per_minute=UNLIMITED,
        )
        tenant_id, connection_id = connect(podium, site, credentials)
        already = len(read_log(log_path)) if log_path.exists() else 0
        runs = sync_connection(podium, tenant_id, connection_id, trigger="cli", progress=not args.quiet)
        failed = [r for r in runs if not r.ok]
        if failed:
            raise SystemExit("; ".join(f"{r.entity}: {r.error}" for r in failed))
        with podium.db.session(tenant_id) as session:
            spans = {row.id: (row.started_at.timestamp(), row.finished_at.timestamp())
                     for row in session.scalars(select(SyncRun))}
        requests = read_log(log_path)[already:]
        results = []
        floor_engine = make_engine(floor_url)
        try:
            copy_connection(podium.db.engine, floor_engine, tenant_id, connection_id)
            for run in runs:
                start, end = spans[run.run_id]
                sent = [r for r in requests if start <= r.at <= end]
                result = EntityResult(run.entity, run.fetched, len(sent), end - start)
                result.fetch_seconds = replay(site, credentials, sent)
                result.insert_seconds = bulk_insert(podium.db.engine, floor_engine, run.entity, connection_id,
                                                    podium.config.sync_batch_size)
                results.append(result)
        finally:
            floor_engine.dispose()
            podium.db.dispose()
    return results


def connect(podium: Podium, site: str, credentials: tuple[str, str, str, str]) -> tuple[int, int]:
    """A tenant and a ConnectWise connection to the simulator, as an admin would add it."""
    company_id, public_key, private_key, client_id = credentials
    with podium.db.session() as session:
        tenant = Tenant(slug="bench", name="Benchmark MSP", time_zone="America/Chicago", currency="USD")
        session.add(tenant)
        session.flush()
        tenant_id = tenant.id
    config = {"site": site, "company_id": company_id, "public_key": public_key, "private_key": private_key,
              "client_id": client_id, "allow_http": True, "tier_teams": TIER_TEAMS}
    with podium.db.session(tenant_id) as session:
        return tenant_id, create_connection(podium, session, tenant_id, "connectwise", "Benchmark", config).id


@contextmanager
def fresh_database(backend: str, args: argparse.Namespace, name: str) -> Iterator[str]:
    """An empty, migrated database for this run (kept afterwards, for a look at what landed)."""
    if backend == "sqlite":
        path = (args.work / f"{name}-{args.preset}.db").resolve()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        database = f"bench_{name}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        admin.dispose()
        url = args.pg_url.rsplit("/", 1)[0] + f"/{database}"
    migrate.upgrade(url)
    yield url


def replay(site: str, credentials: tuple[str, str, str, str], requests: list[Logged]) -> float:
    """Seconds to send ``requests`` again with a plain client and parse every answer."""
    company_id, public_key, private_key, client_id = credentials
    with httpx.Client(base_url=site, auth=(f"{company_id}+{public_key}", private_key),
                      headers={"clientId": client_id}, timeout=60) as client:

        def fetch(request: Logged) -> int:
            headers = {"pagination-type": "forward-only"} if request.forward_only else None
            response = client.request(request.method, request.target, headers=headers)
            response.raise_for_status()
            return len(json.loads(response.content) or ())

        begin = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENT_REQUESTS) as pool:
            for _ in pool.map(fetch, requests):
                pass
        return time.perf_counter() - begin


def copy_connection(source: Engine, target: Engine, tenant_id: int, connection_id: int) -> None:
    """The tenant and connection rows the floor's inserts reference (not timed)."""
    for model, key in ((Tenant, Tenant.id == tenant_id), (Connection, Connection.id == connection_id)):
        with source.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(select(model.__table__).where(key))]
        with target.begin() as conn:
            conn.execute(insert(model.__table__), rows)


def bulk_insert(source: Engine, target: Engine, entity: str, connection_id: int, batch: int) -> float:
    """Seconds to insert the entity's rows that Podium stored into the empty ``target``,
    ``batch`` rows per transaction (reading them from Podium's database is not timed)."""
    table = ENTITY_MODELS[entity].__table__
    spent = 0.0
    with source.connect() as conn:
        rows = conn.execution_options(yield_per=batch).execute(
            select(table).where(table.c.connection_id == connection_id).order_by(table.c.id)
        )
        for chunk in rows.partitions(batch):
            values = [dict(row._mapping) for row in chunk]
            begin = time.perf_counter()
            with target.begin() as insert_conn:
                insert_conn.execute(insert(table), values)
            spent += time.perf_counter() - begin
    return spent


def print_table(backend: str, preset_name: str, results: list[EntityResult]) -> None:
    """Markdown, so it can go into the README as it is."""
    total = EntityResult("**total**", sum(r.records for r in results), sum(r.requests for r in results),
                         sum(r.podium_seconds for r in results), sum(r.fetch_seconds for r in results),
                         sum(r.insert_seconds for r in results))
    print(f"\n`{preset_name}` world into {backend}\n")
    print("| entity | records | requests | Podium s | Podium records/s | floor s (HTTP+JSON / insert) "
          "| floor records/s | Podium ÷ floor |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in [*results, total]:
        print(f"| {r.entity} | {r.records:,} | {r.requests:,} | {r.podium_seconds:.1f} | {rate(r.records, r.podium_seconds)} "
              f"| {r.floor_seconds:.1f} ({r.fetch_seconds:.1f} / {r.insert_seconds:.1f}) "
              f"| {rate(r.records, r.floor_seconds)} | {r.podium_seconds / r.floor_seconds:.1f}× |")


def rate(records: int, seconds: float) -> str:
    return f"{records / seconds:,.0f}" if seconds > 0 else "–"


def machine(pg_url: str) -> str:
    """What the figures were measured on."""
    try:
        engine = create_engine(pg_url)
        with engine.connect() as conn:
            postgres = conn.execute(text("SHOW server_version")).scalar()
        engine.dispose()
    except Exception:  # noqa: BLE001 - a machine without PostgreSQL still benchmarks SQLite
        postgres = "not reachable"
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
            f"PostgreSQL {postgres}, {platform.system()} {platform.release()}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
