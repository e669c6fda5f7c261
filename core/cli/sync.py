"""``podium sync``: run syncs by hand, and see what was quarantined.

A CLI sync is the same sync the scheduler and webhooks run (same lease, same windows and
cursors), with a progress bar on stderr; it waits if that entity is already syncing.
Quarantined records are listed with their field errors only — payloads may hold
customer data and are not printed.
"""

from __future__ import annotations

import click
from sqlalchemy import select

from podium.api.errors import flatten
from podium.cli import get_podium
from podium.cli.connections import find_connection, tenant_for
from podium.connections import source_class
from podium.locks import LockTimeout
from podium.models import Connection, QuarantinedRecord
from podium.sync import SyncResult, sync_connection, sync_entity


def _summary(name: str, result: SyncResult) -> str:
    line = (
        f"{name} {result.entity}: {result.status} — fetched {result.fetched}, upserted {result.upserted}, "
        f"quarantined {result.quarantined}, waiting for references {result.deferred}"
    )
    if result.deleted:
        line += f", deleted {result.deleted}"
    return line + (f"\n    {result.error}" if result.error else "")


def _list_quarantine(slug: str | None, connection_name: str | None) -> None:
    podium = get_podium()
    with podium.db.session() as session:
        tenant = tenant_for(session, slug)
        query = (
            select(QuarantinedRecord, Connection.name)
            .join(Connection, Connection.id == QuarantinedRecord.connection_id)
            .where(QuarantinedRecord.tenant_id == tenant.id, QuarantinedRecord.resolved_at.is_(None))
        )
        if connection_name:
            query = query.where(QuarantinedRecord.connection_id == find_connection(session, tenant, connection_name).id)
        rows = session.execute(
            query.order_by(Connection.name, QuarantinedRecord.entity, QuarantinedRecord.external_id)
        ).all()
    if not rows:
        click.echo("no quarantined records")
        return
    for quarantined, name in rows:
        click.echo(
            f"{name} {quarantined.entity} {quarantined.external_id}: seen {quarantined.attempts} time(s), "
            f"last {quarantined.last_seen_at:%Y-%m-%d %H:%M}Z"
        )
        for field, reasons in flatten(quarantined.errors).items():
            click.echo(f"    {field}: {' '.join(reasons)}")


@click.command("sync")
@click.argument("connection", required=False)
@click.option("--entity", help="Only this entity (e.g. ticket); default: every entity, references first.")
@click.option("--full", is_flag=True, help="Rescan everything instead of changes since the last sync.")
@click.option("--tenant", "slug", help="Tenant slug (needed when there are several tenants).")
@click.option("--quarantine", is_flag=True, help="List quarantined records and their field errors instead.")
@click.option("--connection", "connection_opt", help="With --quarantine: only this connection.")
def sync(
    connection: str | None,
    entity: str | None,
    full: bool,
    slug: str | None,
    quarantine: bool,
    connection_opt: str | None,
) -> None:
    """Sync CONNECTION (a name or id; default: every connection of the tenant).

    Exits 1 when any entity failed or stopped; the reason is printed under it.
    """
    if quarantine:
        _list_quarantine(slug, connection_opt or connection)
        return
    podium = get_podium()
    with podium.db.session() as session:
        tenant = tenant_for(session, slug)
        if connection:
            targets = [find_connection(session, tenant, connection)]
        else:
            targets = list(session.scalars(select(Connection).where(Connection.tenant_id == tenant.id)
                                           .order_by(Connection.name)))
    if not targets:
        raise click.ClickException(f"tenant {tenant.slug!r} has no connections; `podium connections add` adds one")
    results: list[tuple[str, SyncResult]] = []
    for target in targets:
        try:
            if entity is None:
                done = sync_connection(podium, tenant.id, target.id, full=full, trigger="cli", progress=True)
            else:
                supplied = source_class(podium, target.vendor).entities()
                if entity not in supplied:
                    raise click.BadParameter(
                        f"{target.name} ({target.vendor}) supplies {', '.join(supplied)}", param_hint="--entity"
                    )
                done = [sync_entity(podium, tenant.id, target.id, entity, full=full, trigger="cli", progress=True)]
        except KeyError as exc:
            raise click.ClickException(f"{target.name}: {exc.args[0]}") from None
        except LockTimeout as exc:
            raise click.ClickException(str(exc)) from None
        for result in done:
            results.append((target.name, result))
            click.echo(_summary(target.name, result))
    if not all(result.ok for _name, result in results):
        raise SystemExit(1)


COMMANDS = [sync]
