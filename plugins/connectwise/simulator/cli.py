"""``podium simulate connectwise``: the simulated MSP served as ConnectWise Manage.

The world is rendered once into a database (``--db``, a SQLite file by default in the
instance folder) and reused while the world options stay the same, so restarting the
simulator is instant and a large world is paged from disk, not memory. The credentials
are the ones a connection to the simulator must then be given; the private key can come
from ``PODIUM_SIM_CW_PRIVATE_KEY`` instead of the command line (and shell history), and
is never printed.

``--live`` keeps the world moving (:mod:`.live`): every ``--live-interval`` seconds a
technician opens, notes, logs time on, resolves or reopens a ticket, and the registered
callbacks are called as ConnectWise calls them. ``--pod URL`` registers a pod on the
Ticket and Company screens of the Hosted API host page at ``/manage/``.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

import click
from tqdm import tqdm

from podium.cli import get_podium
from podium.simulate import PRESETS, preset

from .app import create_simulator_app
from .auth import Credentials
from .delivery import CallbackPoster
from .hostpage import register_pod
from .live import Change, LiveWorld, describe, run_live
from .render import ensure_world
from .store import Row, WorldStore


@click.command("connectwise")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8020, show_default=True, type=click.IntRange(1, 65535))
@click.option("--company-id", required=True, envvar="PODIUM_SIM_CW_COMPANY_ID", help="ConnectWise company id.")
@click.option("--public-key", required=True, envvar="PODIUM_SIM_CW_PUBLIC_KEY", help="API member public key.")
@click.option("--private-key", required=True, envvar="PODIUM_SIM_CW_PRIVATE_KEY",
              help="API member private key (or PODIUM_SIM_CW_PRIVATE_KEY).")
@click.option("--client-id", required=True, envvar="PODIUM_SIM_CW_CLIENT_ID", help="Integration clientId (a GUID).")
@click.option("--codebase", default="v2025_1/", show_default=True, help="Codebase /login/companyinfo reports.")
@click.option("--rate-limit", type=click.IntRange(min=1), help="Requests per minute per caller before 429 (off by default).")
@click.option("--db", "db", help="SQLite file or SQLAlchemy URL for the rendered world "
                                 "(default: connectwise-<preset>-<seed>.db in the instance folder).")
@click.option("--rebuild", is_flag=True, help="Render the world again even if --db already holds it.")
@click.option("--preset", "preset_name", type=click.Choice(list(PRESETS)), default="default", show_default=True)
@click.option("--seed", type=int, help="Seed (same seed, same world).")
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]), help="First day of the world (YYYY-MM-DD).")
@click.option("--technicians", type=int, help="Override the preset's number of technicians.")
@click.option("--clients", type=int, help="Override the preset's number of clients.")
@click.option("--days", type=int, help="Override the preset's number of days.")
@click.option("--live", is_flag=True, help="Keep the world moving and call the registered callbacks.")
@click.option("--live-interval", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              help="Seconds between two changes with --live.")
@click.option("--pod", "pods", multiple=True, metavar="URL",
              help="Register a pod URL ([cw_id] and [cw_screen] are substituted) on the host page's screens.")
def connectwise(host: str, port: int, company_id: str, public_key: str, private_key: str, client_id: str,
                codebase: str, rate_limit: int | None, db: str | None, rebuild: bool, preset_name: str,
                seed: int | None, start: dt.datetime | None, technicians: int | None, clients: int | None,
                days: int | None, live: bool, live_interval: float, pods: tuple[str, ...]) -> None:
    """Serve the simulated MSP as ConnectWise Manage REST API 3.0 (codebase discovery included)."""
    given = {"seed": seed, "start": start.date() if start else None, "technicians": technicians,
             "clients": clients, "days": days}
    try:
        config = preset(preset_name, **{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    store = WorldStore(db if db and "://" in db else f"sqlite:///{Path(db or _default_db(preset_name, config.seed))}")
    shown = store.engine.url.render_as_string(hide_password=True)
    click.echo(f"world {config} in {shown}", err=True)
    counts = ensure_world(store, config, rebuild=rebuild, wrap=_progress)
    if counts is None:
        click.echo("reusing the world already rendered there", err=True)
    else:
        click.echo("rendered " + ", ".join(f"{name}: {count}" for name, count in sorted(counts.items())), err=True)
    try:
        app = create_simulator_app(store, Credentials(company_id, public_key, private_key, client_id),
                                   rate_limit_per_minute=rate_limit, codebase=codebase)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--codebase") from None
    site = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    for url in pods:
        try:
            register_pod(store, url)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--pod") from None
    click.echo(f"ConnectWise simulator for company {company_id!r} on {site}/ "
               f"(codebase {codebase}, rate limit {f'{rate_limit}/min' if rate_limit else 'off'}); "
               f"Hosted API host page at {site}/manage/", err=True)
    if live:
        world = LiveWorld(store, CallbackPoster(store, site, company_id, codebase), seed=config.seed)
        # A daemon thread: it ends with the server (nothing else ever stops it).
        threading.Thread(target=run_live, args=(world, live_interval, threading.Event(), _report), name="cw-live",
                         daemon=True).start()
        click.echo(f"live: a change every {live_interval:g} s, delivered to the registered callbacks", err=True)
    app.run(host=host, port=port, threaded=True, use_reloader=False, load_dotenv=False)


def _report(change: Change) -> None:
    click.echo(f"live: {describe(change)}", err=True)


def _default_db(preset_name: str, seed: int) -> Path:
    return get_podium().config.instance_path / f"connectwise-{preset_name}-{seed}.db"


def _progress(rows: Iterable[Row]) -> Iterable[Row]:
    return tqdm(rows, desc="records", unit=" rows", file=sys.stderr)
