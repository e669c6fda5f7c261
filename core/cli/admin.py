"""``podium tenants|users|tokens create``: the operator's way in before any API token exists.

Each command is one audited transaction. A password is read only from stdin
(``--password-stdin``), never from an option (options land in shell history and ``ps``),
and an API token is printed exactly once, on stdout alone, so ``TOKEN=$(podium tokens
create ...)`` captures it and nothing else does.
"""

from __future__ import annotations

import datetime as dt
import re
import sys

import click
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.api.errors import flatten
from podium.audit import record
from podium.auth import create_token, create_user
from podium.cli import get_podium
from podium.models import Person, Tenant, User, utcnow
from podium.models.tenancy import ROLES
from podium.schemas.api import TenantSchema, TenantSettingsSchema

CLI_ACTOR = "cli"
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}\Z")


def tenant_by_slug(session: Session, slug: str) -> Tenant:
    tenant = session.scalars(select(Tenant).where(Tenant.slug == slug)).one_or_none()
    if tenant is None:
        raise click.ClickException(f"no tenant {slug!r}; `podium tenants create {slug} --name ...` adds it")
    return tenant


def _field_errors(exc: ValidationError) -> str:
    return "; ".join(f"{field}: {' '.join(reasons)}" for field, reasons in flatten(exc.messages).items())


@click.group()
def tenants() -> None:
    """Tenants: the MSP companies this Podium serves."""


@tenants.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="Display name, e.g. 'Acme IT'.")
@click.option("--time-zone", default="UTC", show_default=True, help="IANA name, e.g. Europe/London.")
@click.option("--currency", default="USD", show_default=True, help="ISO 4217 code of every amount.")
def create_tenant(slug: str, name: str, time_zone: str, currency: str) -> None:
    """Add tenant SLUG (lower-case letters, digits and dashes)."""
    if not SLUG.match(slug):
        raise click.BadParameter("use lower-case letters, digits and dashes (at most 64)", param_hint="SLUG")
    try:
        settings = TenantSettingsSchema().load({"name": name, "time_zone": time_zone, "currency": currency})
    except ValidationError as exc:
        raise click.UsageError(_field_errors(exc)) from None
    with get_podium().db.session() as session:
        if session.scalars(select(Tenant.id).where(Tenant.slug == slug)).first() is not None:
            raise click.ClickException(f"tenant {slug!r} already exists")
        tenant = Tenant(slug=slug, **settings)
        session.add(tenant)
        session.flush()
        record(session, CLI_ACTOR, "tenant.create", tenant, after=TenantSchema().dump(tenant))
    click.echo(f"created tenant {slug!r} ({name}, {time_zone}, {currency})")


@click.group()
def users() -> None:
    """Users: the people who sign in to Podium and own API tokens."""


@users.command("create")
@click.option("--tenant", "slug", required=True, help="Tenant slug.")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--name", help="Display name (default: the e-mail's local part).")
@click.option("--person-id", type=int, help="The Person this user is (technicians see only that person).")
@click.option("--password-stdin", is_flag=True, help="Read a password from the first line of stdin.")
def create_user_command(
    slug: str, email: str, role: str, name: str | None, person_id: int | None, password_stdin: bool
) -> None:
    """Add a user to a tenant. Without --password-stdin the user signs in by token or SSO only."""
    if "@" not in email:
        raise click.BadParameter("not an e-mail address", param_hint="--email")
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.UsageError("--password-stdin: stdin gave an empty password")
    with get_podium().db.session() as session:
        tenant = tenant_by_slug(session, slug)
        taken = select(User.id).filter_by(tenant_id=tenant.id, email=email.strip().lower())
        if session.scalars(taken).first() is not None:
            raise click.ClickException(f"{email} is already a user of {slug!r}")
        person = select(Person.id).filter_by(tenant_id=tenant.id, id=person_id)
        if person_id is not None and session.scalars(person).first() is None:
            raise click.BadParameter(f"tenant {slug!r} has no person {person_id}", param_hint="--person-id")
        user = create_user(session, tenant.id, email, role, name=name, password=password, person_id=person_id)
        record(session, CLI_ACTOR, "user.create", user,
               after={"email": user.email, "role": role, "person_id": person_id, "password": password is not None})
    click.echo(f"created {role} {user.email} in {slug!r}")


@click.group()
def tokens() -> None:
    """API tokens (``Authorization: Bearer pod_...``)."""


@tokens.command("create")
@click.option("--tenant", "slug", required=True, help="Tenant slug.")
@click.option("--user", "email", required=True, help="E-mail of the user the token acts as.")
@click.option("--name", required=True, help="What the token is for, e.g. 'payroll export'.")
@click.option("--expires-in-days", type=click.IntRange(min=1), help="Default: never expires.")
def create_token_command(slug: str, email: str, name: str, expires_in_days: int | None) -> None:
    """Issue a token and print it once: it cannot be shown again."""
    expires_at = utcnow() + dt.timedelta(days=expires_in_days) if expires_in_days else None
    with get_podium().db.session() as session:
        tenant = tenant_by_slug(session, slug)
        user = session.scalars(select(User).filter_by(tenant_id=tenant.id, email=email.strip().lower())).one_or_none()
        if user is None:
            raise click.ClickException(f"no user {email} in {slug!r}; `podium users create` adds one")
        if not user.active:
            raise click.ClickException(f"{email} is deactivated")
        raw = create_token(session, user, name, expires_at)
        record(session, CLI_ACTOR, "token.create", user,
               after={"name": name, "expires_at": expires_at})
    click.echo(f"token {name!r} for {user.email} (shown once, store it now):", err=True)
    click.echo(raw)


COMMANDS = [tenants, users, tokens]
