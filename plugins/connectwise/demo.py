"""``podium demo``: the embedded default with a simulated PSA, from nothing, in one command.

It lives in the ConnectWise plugin because ConnectWise is the simulated PSA it runs; Podium's
core knows no vendor.

It does what an MSP does on day one, through the same code paths: the simulated MSP's
ConnectWise Manage is served locally, Podium gets a connection to it (keys encrypted at
rest), the org data Podium owns is imported (people, teams, calendars — then, once the
vendor's records are in, memberships, roles, client ownership), the first sync runs with a
progress bar, identities are linked by e-mail, and the web server starts with its job
thread scheduling incremental syncs. Rerunning it reuses everything and rotates the
simulator's key.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Iterable

import click
from sqlalchemy import select
from tqdm import tqdm
from werkzeug.serving import WSGIRequestHandler, make_server

from podium import migrate
from podium.app import create_app
from podium.auth import create_token, create_user
from podium.cli import get_podium
from podium.connections import create_connection, update_config
from podium.models import Connection, User
from podium.org import identities
from podium.runtime import Podium
from podium.simulate import PRESETS, World, preset
from podium.simulate.loader import ORG_AFTER_RECORDS, ORG_BEFORE_RECORDS, load_org, tenant_for
from podium.sync import sync_connection
from podium_connectwise.simulator.app import create_simulator_app
from podium_connectwise.simulator.auth import Credentials
from podium_connectwise.simulator.render import ensure_world
from podium_connectwise.simulator.store import Row, WorldStore

CONNECTION_NAME = "ConnectWise (simulated)"
COMPANY_ID = "summitridge"
PUBLIC_KEY = "PodiumDemo"
CLIENT_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "https://podium.invalid/demo"))
ADMIN_EMAIL = "admin@demo.podium.invalid"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface Podium listens on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--simulator-port", default=8020, show_default=True, type=click.IntRange(1, 65535))
@click.option("--preset", "preset_name", type=click.Choice(list(PRESETS)), default="default", show_default=True)
@click.option("--seed", type=int, help="Seed of the simulated MSP (same seed, same world).")
def demo(host: str, port: int, simulator_port: int, preset_name: str, seed: int | None) -> None:
    """Run Podium on SQLite with a simulated ConnectWise and a demo MSP; print the URL."""
    podium = get_podium()
    migrate.upgrade(podium.config.database_url)
    world = World(preset(preset_name, **({"seed": seed} if seed is not None else {})))
    private_key = secrets.token_urlsafe(24)
    site = _serve_simulator(podium, world, simulator_port, private_key)
    tenant_id = tenant_for(podium, world)
    first_run = _connect(podium, tenant_id, world, site, private_key)
    if first_run:
        click.echo("first sync of the simulated ConnectWise (later syncs run in the background)", err=True)
        connection_id = _connection_id(podium, tenant_id)
        results = sync_connection(podium, tenant_id, connection_id, trigger="cli", progress=True)
        failed = [r for r in results if not r.ok]
        if failed:
            raise click.ClickException("; ".join(f"{r.error}" for r in failed))
        with podium.db.session(tenant_id) as session:
            linked = identities.link_by_email(session, "demo").linked
        load_org(podium, tenant_id, world, ORG_AFTER_RECORDS, connection=CONNECTION_NAME)
        click.echo(f"linked {len(linked)} ConnectWise members to people by e-mail", err=True)
    password, token = _admin(podium, tenant_id)
    base = f"http://{host}:{port}"
    click.echo("")
    click.echo(f"Podium is running at {base}/")
    click.echo(f"  sign in:      {base}/signin/   as {ADMIN_EMAIL}"
               + (f"  password: {password}" if password else "  (password printed on the first run)"))
    click.echo(f"  API token:    {token}")
    click.echo(f"  API document: {base}/api/v1/openapi.json")
    click.echo(f"  ConnectWise simulator: {site}/login/companyinfo/{COMPANY_ID}")
    click.echo("Press Ctrl+C to stop.")
    create_app(podium).run(host=host, port=port, threaded=True, use_reloader=False, load_dotenv=False)


def _serve_simulator(podium: Podium, world: World, port: int, private_key: str) -> str:
    """Render the world into the simulator's own database (once) and serve it in a thread."""
    path = podium.config.instance_path / f"connectwise-{world.config.seed}.db"
    store = WorldStore(f"sqlite:///{path}")
    ensure_world(store, world.config, wrap=_progress)
    app = create_simulator_app(store, Credentials(COMPANY_ID, PUBLIC_KEY, private_key, CLIENT_ID))
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="connectwise-simulator", daemon=True).start()
    return f"http://127.0.0.1:{port}"


class _QuietHandler(WSGIRequestHandler):
    """The simulator's requests are the sync's business; the progress bar reports them."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def _progress(rows: Iterable[Row]) -> Iterable[Row]:
    return tqdm(rows, desc="rendering the simulated ConnectWise", unit=" records")


def _connection_id(podium: Podium, tenant_id: int) -> int:
    with podium.db.session(tenant_id) as session:
        return session.scalars(select(Connection.id).where(Connection.name == CONNECTION_NAME)).one()


def _connect(podium: Podium, tenant_id: int, world: World, site: str, private_key: str) -> bool:
    """Create the connection (and the org data that precedes records); True on the first run."""
    config = {"site": site, "company_id": COMPANY_ID, "public_key": PUBLIC_KEY, "private_key": private_key,
              "client_id": CLIENT_ID, "allow_http": True}
    with podium.db.session(tenant_id) as session:
        connection = session.scalars(select(Connection).where(Connection.name == CONNECTION_NAME)).first()
        if connection is not None:
            update_config(podium, connection, config)
            return False
    load_org(podium, tenant_id, world, ORG_BEFORE_RECORDS)
    with podium.db.session(tenant_id) as session:
        create_connection(podium, session, tenant_id, "connectwise", CONNECTION_NAME, config)
    return True


def _admin(podium: Podium, tenant_id: int) -> tuple[str | None, str]:
    """The demo admin (created with a random password on the first run) and a fresh API token."""
    with podium.db.session(tenant_id) as session:
        user = session.scalars(select(User).where(User.email == ADMIN_EMAIL)).first()
        password = None
        if user is None:
            password = secrets.token_urlsafe(12)
            user = create_user(session, tenant_id, ADMIN_EMAIL, "admin", name="Demo admin", password=password)
        token = create_token(session, user, "podium demo")
    return password, token

