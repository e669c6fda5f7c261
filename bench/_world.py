"""A simulated world loaded straight into a benchmark database, kept between runs.

Loading the large world (300 technicians, a year) takes a long while, and a benchmark of
what is computed *from* the data has no reason to pay for it every run. So each backend
gets a database of its own for a (preset, seed) — a SQLite file under ``--work``, a
PostgreSQL database ``bench_<name>_<preset>`` — and a marker file beside it saying what
was loaded: the world's config, a fingerprint of the schema migrations and of the
simulator's sources (either changing means the rows would differ), and the row counts of
the loaded tables. The database is reused only when the marker matches and the counts
still do (a run that died half-way, or a database someone emptied, is loaded afresh).

After loading, the database is ``ANALYZE``d, as after any bulk load: without statistics
SQLite's planner takes the ``tenant_id`` index of a single-tenant table for a selective
one and scans every row of the tenant where a per-ticket index would find a handful
(see the metrics benchmark's notes).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text
from tqdm import tqdm

from podium import migrate
from podium.models import Connection, Tenant
from podium.runtime import Podium
from podium.schemas.canonical import ENTITY_MODELS
from podium.simulate import World, WorldConfig
from podium.simulate.loader import VENDOR, load_world

CORE = Path(migrate.__file__).resolve().parent


def fingerprint() -> str:
    """What the loaded rows depend on besides the config: the schema and the simulator."""
    digest = hashlib.sha256()
    for folder in (CORE / "migrations" / "versions", CORE / "simulate"):
        for path in sorted(folder.glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def database_url(backend: str, name: str, preset_name: str, work: Path, pg_url: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{(work / f'{name}-{preset_name}.db').resolve()}"
    return pg_url.rsplit("/", 1)[0] + f"/bench_{name}_{preset_name}"


def counts(url: str) -> dict[str, int]:
    """Rows per canonical table (what the marker records and checks)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {entity: conn.execute(select(func.count()).select_from(model)).scalar_one()
                    for entity, model in sorted(ENTITY_MODELS.items())}
    finally:
        engine.dispose()


def _recreate(backend: str, url: str, pg_url: str) -> None:
    if backend == "sqlite":
        path = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        database = url.rsplit("/", 1)[1]
        admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        admin.dispose()
    migrate.upgrade(url)


def loaded_world(
    backend: str, name: str, preset_name: str, config: WorldConfig, work: Path, pg_url: str, *, quiet: bool = False
) -> tuple[str, int, int]:
    """``(url, tenant id, connection id)`` of ``config``'s world in a database of
    ``backend``, loaded now unless the marker says it already is."""
    url = database_url(backend, name, preset_name, work, pg_url)
    marker_path = work / f"{name}-{preset_name}-{backend}.loaded.json"
    wanted = {"url": url, "world": repr(config), "fingerprint": fingerprint(), "analyzed": True}
    marker = json.loads(marker_path.read_text()) if marker_path.exists() else None
    reuse = marker is not None and {k: marker.get(k) for k in wanted} == wanted
    if reuse:
        try:
            reuse = counts(url) == marker["counts"]
        except Exception:  # noqa: BLE001 - a database that is gone or broken is loaded again
            reuse = False
    if not reuse:
        marker_path.unlink(missing_ok=True)
        print(f"loading the {preset_name} world into {backend} ({url}) …", file=sys.stderr)
        _recreate(backend, url, pg_url)
        _load(url, config, work, quiet)
        analyze(url)
        marker_path.write_text(json.dumps({**wanted, "counts": counts(url)}, indent=2))
    return (url, *_ids(url))


def _load(url: str, config: WorldConfig, work: Path, quiet: bool) -> None:
    podium = runtime(url, work)
    bars: dict[str, Any] = {}

    def progress(entity: str, count: int) -> None:
        if entity not in bars:
            bars[entity] = tqdm(desc=entity, unit=" rows", disable=quiet, file=sys.stderr)
        bars[entity].update(count)

    try:
        load_world(podium, World(config), progress=progress)
    finally:
        for bar in bars.values():
            bar.close()
        podium.db.dispose()


def analyze(url: str) -> None:
    """Gather the planner's statistics of every table."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def _ids(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tenant_id = conn.execute(select(func.min(Tenant.id))).scalar_one()
            connection_id = conn.execute(
                select(func.min(Connection.id)).where(Connection.vendor == VENDOR)
            ).scalar_one()
    finally:
        engine.dispose()
    return tenant_id, connection_id


def runtime(url: str, work: Path) -> Podium:
    """A Podium on ``url`` with the installed plugins (the built-in metrics among them), no Redis."""
    return Podium.from_env(instance_path=work / "instance", database_url=url, secret_key=_secret(work),
                           redis_url=None)


def _secret(work: Path) -> str:
    """One secret key per work folder: the loaded connection's config is encrypted with it."""
    path = work / "secret-key"
    if not path.exists():
        work.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()
