"""``podium org``: import and export org data, list identities, link them to people."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from podium.cli import get_podium
from podium.models import Connection, Identity, Person, Tenant
from podium.org import csvio, identities

ACTOR = "cli"


def find_tenant(session: Session, slug: str | None) -> Tenant:
    """Tenant ``slug``; without a slug, the only tenant there is."""
    if slug:
        tenant = session.scalars(select(Tenant).where(Tenant.slug == slug)).first()
        if tenant is None:
            raise click.UsageError(f"no tenant {slug!r}")
        return tenant
    tenants = list(session.scalars(select(Tenant).order_by(Tenant.slug).limit(2)))
    if len(tenants) != 1:
        raise click.UsageError("give --tenant SLUG" + ("" if tenants else " (there is no tenant yet)"))
    return tenants[0]


def tenant_id_for(slug: str | None) -> int:
    with get_podium().db.session() as session:
        return find_tenant(session, slug).id


tenant_option = click.option("--tenant", "tenant_slug", metavar="SLUG", help="Tenant (default: the only one).")
kind_argument = click.argument("kind", type=click.Choice(list(csvio.KINDS)))


@click.group()
def org() -> None:
    """Org data Podium owns: people, teams, facts, calendars, mappings, identities."""


@org.command("import")
@kind_argument
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@tenant_option
def import_(kind: str, file: Path, tenant_slug: str | None) -> None:
    """Import FILE (CSV) of KIND; nothing is stored unless every row is valid."""
    tenant_id = tenant_id_for(tenant_slug)
    try:
        with get_podium().db.session(tenant_id) as session, file.open(encoding="utf-8-sig", newline="") as handle:
            result = csvio.import_csv(session, kind, handle, actor=ACTOR, source=file.name)
    except csvio.CsvImportError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{kind}: {result.created} created, {result.updated} updated, {result.unchanged} unchanged")


@org.command("export")
@kind_argument
@tenant_option
@click.option("--suggested", is_flag=True, help="Write what vendors suggest and nobody confirmed yet.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File (default: stdout).")
def export(kind: str, tenant_slug: str | None, suggested: bool, output: Path | None) -> None:
    """Write KIND as CSV, in the shape `podium org import` reads back."""
    tenant_id = tenant_id_for(tenant_slug)
    with get_podium().db.session(tenant_id) as session:
        with click.open_file(str(output or "-"), "w", encoding="utf-8") as handle:
            count = csvio.export_csv(session, kind, handle, suggested=suggested)
    if output is not None:
        click.echo(f"{count} row(s) written to {output}", err=True)


@org.command("identities")
@tenant_option
@click.option("--unlinked", is_flag=True, help="Only person accounts not linked to anyone (never attributed).")
def list_identities(tenant_slug: str | None, unlinked: bool) -> None:
    """List vendor accounts and whom they are linked to."""
    tenant_id = tenant_id_for(tenant_slug)
    with get_podium().db.session(tenant_id) as session:
        rows = (
            identities.unlinked(session)
            if unlinked
            else list(session.scalars(select(Identity).order_by(Identity.connection_id, Identity.id)))
        )
        connections = dict(session.execute(select(Connection.id, Connection.name)).all())
        people = dict(session.execute(select(Person.id, Person.email)).all())
        for identity in rows:
            if not identity.is_person:
                linked = "(API/workflow account)"
            elif identity.person_id is None:
                linked = "UNLINKED"
            else:
                linked = f"→ {people.get(identity.person_id)} ({identity.link_method})"
            click.echo(
                f"{identity.id}\t{connections.get(identity.connection_id)}\t{identity.vendor_key or identity.external_id}"
                f"\t{identity.display_name}\t{identity.email or '-'}\t{linked}"
            )


@org.command("link")
@click.argument("identity_id", metavar="IDENTITY", type=int)
@click.argument("person", metavar="PERSON")
@tenant_option
@click.option("--reason", help="Kept in the audit trail.")
def link(identity_id: int, person: str, tenant_slug: str | None, reason: str | None) -> None:
    """Confirm that IDENTITY (an id from `podium org identities`) is PERSON (an id or e-mail)."""
    tenant_id = tenant_id_for(tenant_slug)
    with get_podium().db.session(tenant_id) as session:
        condition = Person.id == int(person) if person.isdigit() else func.lower(Person.email) == person.lower()
        found = list(session.scalars(select(Person).where(condition)))
        if len(found) != 1:
            raise click.UsageError(f"{'no' if not found else len(found)} person(s) match {person!r}")
        try:
            identity = identities.link(session, identity_id, found[0].id, ACTOR, reason)
        except (LookupError, identities.IdentityError) as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"linked {identity.display_name} ({identity.vendor_key or identity.external_id}) → {found[0].email}")


@org.command("resolve")
@tenant_option
def resolve(tenant_slug: str | None) -> None:
    """Link unlinked person accounts whose e-mail matches exactly one person."""
    tenant_id = tenant_id_for(tenant_slug)
    with get_podium().db.session(tenant_id) as session:
        report = identities.link_by_email(session, ACTOR)
    click.echo(
        f"{len(report.linked)} linked, {len(report.ambiguous)} ambiguous (several people share the e-mail), "
        f"{len(report.unmatched)} without a matching person"
    )


COMMANDS = [org]
