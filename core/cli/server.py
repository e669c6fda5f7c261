"""``podium init`` and ``podium run``: a working server from nothing in two commands."""

from __future__ import annotations

import click
from sqlalchemy import make_url, select

from podium import migrate
from podium.app import create_app
from podium.audit import record
from podium.cli import get_podium
from podium.models import Tenant

DEFAULT_TENANT = {"slug": "default", "name": "Default", "time_zone": "UTC", "currency": "USD"}


@click.command()
def init() -> None:
    """Create or upgrade the database schema; add a "default" tenant if there is none."""
    podium = get_podium()
    migrate.upgrade(podium.config.database_url)
    shown_url = make_url(podium.db.url).render_as_string(hide_password=True)
    click.echo(f"database at {shown_url} is at revision {migrate.current(podium.config.database_url)}")
    with podium.db.session() as session:
        if session.scalars(select(Tenant.id)).first() is not None:
            click.echo("tenants exist; none created")
            return
        tenant = Tenant(**DEFAULT_TENANT)
        session.add(tenant)
        session.flush()
        record(session, "cli", "tenant.create", tenant, after=DEFAULT_TENANT)
    click.echo(
        "created tenant 'default' (UTC, USD); change it with PATCH /api/v1/tenant, "
        "then `podium users create --tenant default ...`"
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
def run(host: str, port: int) -> None:
    """Serve Podium with Werkzeug's threaded server (the embedded, one-machine setup).

    For production run it under gunicorn instead, e.g.
    ``gunicorn -w 4 'podium.app:create_app()'``, with REDIS_URL set so jobs go to RQ
    workers rather than a thread in each web process.
    """
    app = create_app(get_podium())
    app.run(host=host, port=port, threaded=True, use_reloader=False, load_dotenv=False)


COMMANDS = [init, run]
