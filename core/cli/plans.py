"""``podium plans``: validate, apply and list payout plan files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from podium.cli import get_podium
from podium.cli.org import tenant_id_for, tenant_option
from podium.models import PayoutPeriod, Plan, PlanVersion
from podium.payouts.engine import PayoutEngine, PayoutError
from podium.payouts.plan import PlanError
from podium.payouts.versions import apply_plan, track
from sqlalchemy import func, select

ACTOR = "cli"


@click.group()
def plans() -> None:
    """Payout plan files: validate, apply (as a new version), list."""


@plans.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check plan FILES against the schema and the registered rule types and metrics."""
    engine = PayoutEngine(get_podium())
    failed = 0
    for file in files:
        try:
            definition = engine.load(file.read_text(encoding="utf-8"), str(file))
        except PlanError as exc:
            failed += 1
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            continue
        click.echo(f"{file}: ok — plan {definition.key!r}, {definition.period}, {definition.currency}, "
                   f"{len(definition.rules)} rule(s): {', '.join(r.name for r in definition.rules)}")
    if failed:
        raise click.exceptions.Exit(1)


@plans.command("apply")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@tenant_option
@click.option("--effective-from", type=click.DateTime(["%Y-%m-%d"]), help="First day the version pays "
              "(default: the file's effective_from, else the current period's first day).")
def apply(file: Path, tenant_slug: str | None, effective_from: dt.datetime | None) -> None:
    """Store FILE as the plan's next version; closed periods are never rewritten."""
    podium = get_podium()
    engine = PayoutEngine(podium)
    tenant_id = tenant_id_for(tenant_slug)
    try:
        definition = engine.load(file.read_text(encoding="utf-8"), str(file))
        with podium.db.session(tenant_id) as session:
            version, created = apply_plan(session, engine, tenant_id, definition, ACTOR, source_name=file.name,
                                          effective_from=effective_from.date() if effective_from else None)
            number, since, version_id = version.version, version.effective_from, version.id
    except (PlanError, PayoutError) as exc:
        raise click.ClickException(str(exc)) from None
    state = "applied" if created else "unchanged (the same file is already in force)"
    click.echo(f"plan {definition.key!r} version {number}, in force from {since.isoformat()}: {state}")
    if created:
        with podium.db.session(tenant_id) as session:
            count = track(session, engine, session.get(PlanVersion, version_id))
        click.echo(f"{count} metric(s) materialised for its periods")


@plans.command("list")
@tenant_option
def list_plans(tenant_slug: str | None) -> None:
    """Plans with their latest version and how many periods are closed."""
    podium = get_podium()
    tenant_id = tenant_id_for(tenant_slug)
    with podium.db.session(tenant_id) as session:
        rows = []
        for plan in session.scalars(select(Plan).order_by(Plan.key)):
            version = session.scalars(select(PlanVersion).where(PlanVersion.plan_id == plan.id)
                                      .order_by(PlanVersion.version.desc())).first()
            closed = session.scalar(select(func.count()).select_from(PayoutPeriod).where(
                PayoutPeriod.plan_id == plan.id, PayoutPeriod.status == "closed"))
            if version is not None:
                rows.append(f"{plan.key}\tv{version.version} from {version.effective_from.isoformat()}\t"
                            f"{version.period_kind}\t{version.currency}\t{closed} closed\t{plan.title}")
    click.echo("\n".join(rows) if rows else "no plans yet: podium plans apply FILE")


COMMANDS = [plans]
