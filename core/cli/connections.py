"""``podium connections add|list|test``: configure a tenant's links to its vendors.

Secrets are accepted without ever being typed where shells keep them: any config value
may be ``@env:VAR`` (read from the environment), and a ``--config-file`` holds the rest.
Nothing printed here shows a secret — configs are shown through
:func:`podium.connections.describe`, which masks every field the connector marks secret.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
from marshmallow import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from podium.api.errors import flatten
from podium.audit import record
from podium.cli import get_podium
from podium.cli.admin import tenant_by_slug
from podium.connections import create_connection, describe, run_test, source_class
from podium.models import Connection, Tenant
from podium.sync import source_context

CLI_ACTOR = "cli"
ENV_PREFIX = "@env:"


def tenant_for(session: Session, slug: str | None) -> Tenant:
    """The tenant named by ``--tenant``, or the only one there is."""
    if slug:
        return tenant_by_slug(session, slug)
    tenants = session.scalars(select(Tenant).order_by(Tenant.slug).limit(2)).all()
    if len(tenants) == 1:
        return tenants[0]
    if not tenants:
        raise click.ClickException("there are no tenants yet; `podium tenants create` adds one")
    raise click.UsageError("there are several tenants: say which with --tenant SLUG")


def find_connection(session: Session, tenant: Tenant, name_or_id: str) -> Connection:
    """A tenant's connection by name (or by numeric id)."""
    query = select(Connection).where(Connection.tenant_id == tenant.id)
    found = session.scalars(query.where(Connection.name == name_or_id)).one_or_none()
    if found is None and name_or_id.isdigit():
        found = session.scalars(query.where(Connection.id == int(name_or_id))).one_or_none()
    if found is None:
        raise click.ClickException(
            f"tenant {tenant.slug!r} has no connection {name_or_id!r}; `podium connections list` shows them"
        )
    return found


def _resolve_env(key: str, value: Any) -> Any:
    """``@env:VAR`` → the value of environment variable VAR (so secrets stay out of history)."""
    if not (isinstance(value, str) and value.startswith(ENV_PREFIX)):
        return value
    name = value[len(ENV_PREFIX) :]
    if name not in os.environ:
        raise click.BadParameter(f"{key}: environment variable {name} is not set", param_hint="--config")
    return os.environ[name]


def parse_config(pairs: tuple[str, ...], config_file: str | None) -> dict[str, Any]:
    """Merge ``--config-file`` (a JSON object) and ``--config key=value`` pairs (which win)."""
    config: dict[str, Any] = {}
    if config_file:
        try:
            loaded = json.loads(Path(config_file).read_text())
        except (OSError, ValueError) as exc:
            raise click.BadParameter(f"cannot read {config_file}: {exc}", param_hint="--config-file") from None
        if not isinstance(loaded, dict):
            raise click.BadParameter(f"{config_file} must hold a JSON object", param_hint="--config-file")
        config.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {key.strip() or pair!r}", param_hint="--config")
        config[key.strip()] = value
    return {key: _resolve_env(key, value) for key, value in config.items()}


def _config_text(config: dict[str, Any]) -> str:
    """A masked config on one line (masks stay readable: no ASCII escaping)."""
    return json.dumps(config, sort_keys=True, ensure_ascii=False)


def _test_line(connection: Connection) -> str:
    if connection.last_test_at is None:
        return "not tested"
    return f"tested {connection.last_test_at:%Y-%m-%d %H:%M}Z: {connection.last_test_message}"


@click.group()
def connections() -> None:
    """Connections: a tenant's links to its PSA and RMM vendors."""


@connections.command("add")
@click.option("--tenant", "slug", required=True, help="Tenant slug.")
@click.option("--vendor", required=True, help="Connector key, e.g. connectwise (see `podium plugins list`).")
@click.option("--name", required=True, help="A name unique in the tenant, e.g. 'Acme ConnectWise'.")
@click.option("--config", "pairs", multiple=True, metavar="KEY=VALUE",
              help="A config field; repeat it. VALUE may be @env:VAR to read a secret from the environment.")
@click.option("--config-file", type=click.Path(dir_okay=False, exists=True),
              help="A JSON object of config fields (--config pairs override it).")
def add(slug: str, vendor: str, name: str, pairs: tuple[str, ...], config_file: str | None) -> None:
    """Add a connection; its config is validated by the connector and stored encrypted."""
    podium = get_podium()
    try:
        source_class(podium, vendor)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="--vendor") from None
    config = parse_config(pairs, config_file)
    with podium.db.session() as session:
        tenant = tenant_by_slug(session, slug)
        taken = select(Connection.id).where(Connection.tenant_id == tenant.id, Connection.name == name)
        if session.scalars(taken).first() is not None:
            raise click.ClickException(f"tenant {slug!r} already has a connection named {name!r}")
        try:
            connection = create_connection(podium, session, tenant.id, vendor, name, config)
        except ValidationError as exc:
            reasons = "; ".join(f"{field}: {' '.join(why)}" for field, why in flatten(exc.messages).items())
            raise click.UsageError(f"invalid {vendor} config: {reasons}") from None
        shown = describe(podium, connection)
        record(session, CLI_ACTOR, "connection.create", connection, after=shown)
    click.echo(f"added connection {name!r} (id {shown['id']}, {vendor}) to {slug!r}")
    click.echo(f"config: {_config_text(shown['config'])}")
    click.echo(f"next: podium connections test {name!r} --tenant {slug}")


@connections.command("list")
@click.option("--tenant", "slug", help="Only this tenant's connections.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (secrets masked).")
def list_connections(slug: str | None, as_json: bool) -> None:
    """Show connections with their (masked) config and last test result."""
    podium = get_podium()
    with podium.db.session() as session:
        query = select(Connection, Tenant.slug).join(Tenant, Tenant.id == Connection.tenant_id)
        if slug:
            query = query.where(Connection.tenant_id == tenant_by_slug(session, slug).id)
        rows = session.execute(query.order_by(Tenant.slug, Connection.name)).all()
        shown = [(tenant_slug, connection, describe(podium, connection)) for connection, tenant_slug in rows]
    if as_json:
        click.echo(json.dumps([{"tenant": t, **d} for t, _c, d in shown], indent=2, default=str, ensure_ascii=False))
        return
    if not shown:
        click.echo("no connections; `podium connections add` adds one")
    for tenant_slug, connection, described in shown:
        click.echo(f"{tenant_slug}  {described['name']}  (id {described['id']}, {described['vendor']}, "
                   f"{described['status']}) {_test_line(connection)}")
        click.echo(f"    config: {_config_text(described['config'])}")


@connections.command("test")
@click.argument("name")
@click.option("--tenant", "slug", help="Tenant slug (needed when there are several tenants).")
def test(name: str, slug: str | None) -> None:
    """Check a connection's credentials and reachability; exits 1 when it fails."""
    podium = get_podium()
    with podium.db.session() as session:
        tenant = tenant_for(session, slug)
        connection = find_connection(session, tenant, name)
    # The vendor is called with no transaction open; the outcome is written after.
    context = source_context(podium, connection)
    try:
        ok, message = run_test(podium, connection, context)
    finally:
        context.close()
    with podium.db.session(tenant.id) as session:
        session.execute(
            update(Connection)
            .where(Connection.id == connection.id)
            .values(last_test_at=connection.last_test_at, last_test_message=message, status=connection.status)
            .execution_options(synchronize_session=False)
        )
    click.echo(f"{name}: {'ok' if ok else 'FAILED'}: {message}")
    if not ok:
        raise SystemExit(1)


COMMANDS = [connections]
