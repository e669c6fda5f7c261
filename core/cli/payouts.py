"""``podium payouts``: preview (with what-if), approve, close, statements, restatements, payroll export."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import yaml
from podium.cli import get_podium
from podium.cli.org import tenant_id_for, tenant_option
from podium.models import Person, Plan
from podium.payouts import close as closing
from podium.payouts import export, statements
from podium.payouts.engine import PayoutEngine, PayoutError
from podium.payouts.money import format_money
from podium.payouts.periods import PayPeriod, PeriodError
from podium.payouts.plan import PlanError
from sqlalchemy import select

ACTOR = "cli"

plan_argument = click.argument("plan_key", metavar="PLAN")
period_option = click.option("--period", "label", metavar="LABEL",
                             help="2025-03, FY2025-Q1, FY2025-H1, FY2025 or a date in it (default: the current one).")


def _pairs(values: tuple[str, ...], what: str) -> dict[str, Any]:
    pairs = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r}: write {what}=VALUE", param_hint=f"--{what}")
        pairs[key.strip()] = yaml.safe_load(raw)
    return pairs


class Job:
    """One command's tenant session, plan and period, with errors turned into messages."""

    def __init__(self, tenant_slug: str | None, plan_key: str, label: str | None) -> None:
        self.podium = get_podium()
        self.engine = PayoutEngine(self.podium)
        self.tenant_id = tenant_id_for(tenant_slug)
        self.plan_key, self.label = plan_key, label

    def run(self, work: Callable[[Any, Plan, PayPeriod], Any]) -> Any:
        try:
            with self.podium.db.session(self.tenant_id) as session:
                plan = self.engine.plan(session, self.plan_key)
                period = self.engine.pay_period(session, plan, self.label)
                return work(session, plan, period)
        except (PayoutError, PeriodError, PlanError) as exc:
            raise click.ClickException(str(exc)) from None


def _person(session: Any, email: str) -> int:
    person_id = session.scalar(select(Person.id).where(Person.email == email.lower()))
    if person_id is None:
        raise click.ClickException(f"no person with e-mail {email}")
    return person_id


@click.group()
def payouts() -> None:
    """Payouts: preview, approve, close, statements, restatements, payroll export."""


@payouts.command("preview")
@plan_argument
@period_option
@tenant_option
@click.option("--person", "email", help="Only this person (e-mail).")
@click.option("--what-if", "what_if", multiple=True, metavar="METRIC=VALUE",
              help="Pretend a metric has this value (METRIC or METRIC@person:ID); nothing is saved.")
@click.option("--set", "changes", multiple=True, metavar="FIELD=VALUE",
              help="Pretend the plan says this (e.g. rules[0].rate=0.07); nothing is saved.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def preview(plan_key: str, label: str | None, tenant_slug: str | None, email: str | None, what_if: tuple[str, ...],
            changes: tuple[str, ...], as_json: bool) -> None:
    """Earned so far, still on the table, projected to period end, next tiers — or a what-if."""
    job = Job(tenant_slug, plan_key, label)
    metric_values, plan_changes = _pairs(what_if, "what-if"), _pairs(changes, "set")

    def work(session: Any, plan: Plan, period: PayPeriod) -> None:
        only = [_person(session, email)] if email else None
        if metric_values or plan_changes:
            before, after, changed = job.engine.what_if(session, plan, period, metric_values=metric_values,
                                                        plan_changes=plan_changes)
            changed = [c for c in changed if only is None or c.person_id in only]
            if as_json:
                click.echo(json.dumps({"period": period.label, "changes": [c.as_dict() for c in changed],
                                       "totals_before": before.totals(), "totals_after": after.totals()},
                                      default=str, indent=2))
                return
            click.echo(f"What-if for {plan.key} {period.label} (nothing saved):")
            for change in changed:
                click.echo(f"  person {change.person_id} {change.rule}/{change.kind}: "
                           f"{format_money(change.before_minor, before.plan.currency)} → "
                           f"{format_money(change.after_minor, before.plan.currency)}")
            if not changed:
                click.echo("  no payout changes")
            return
        evaluation, people = job.engine.preview(session, plan, period, person_ids=only)
        if as_json:
            click.echo(json.dumps({"period": period.label, "as_of": evaluation.as_of.isoformat(),
                                   "errors": evaluation.errors, "people": [p.as_dict() for p in people]},
                                  default=str, indent=2))
            return
        currency = evaluation.plan.currency
        click.echo(f"{plan.title} — {period.label}, data up to {evaluation.as_of.isoformat()}")
        for error in evaluation.errors:
            click.echo(f"  error: {error}", err=True)
        for person in people:
            click.echo(f"{person.name}: earned {format_money(person.earned_minor, currency)}, "
                       f"on the table {format_money(person.on_the_table_minor, currency)}, "
                       f"projected {format_money(person.projected_minor, currency)}")
            for hint in person.hints:
                click.echo(f"  next: {hint}")

    job.run(work)


@payouts.command("approve")
@plan_argument
@period_option
@tenant_option
def approve(plan_key: str, label: str | None, tenant_slug: str | None) -> None:
    """Approve a period after its end plus the plan's settling days."""
    job = Job(tenant_slug, plan_key, label)
    row = job.run(lambda s, plan, period: closing.approve(s, job.engine, plan, period, ACTOR))
    click.echo(f"{plan_key} {row.label}: approved")


@payouts.command("close")
@plan_argument
@period_option
@tenant_option
@click.option("--approve", "also_approve", is_flag=True, help="Approve it first (when no manager did).")
def close(plan_key: str, label: str | None, tenant_slug: str | None, also_approve: bool) -> None:
    """Close an approved period: freeze its metrics and write its immutable snapshot."""
    job = Job(tenant_slug, plan_key, label)

    def work(session: Any, plan: Plan, period: PayPeriod) -> Any:
        if also_approve and job.engine.period_row(session, plan, period).status == "open":
            closing.approve(session, job.engine, plan, period, ACTOR)
        return closing.close(session, job.engine, plan, period, ACTOR)

    snapshot = job.run(work)
    total = sum(snapshot.content["totals"].values())
    click.echo(f"{plan_key} {snapshot.content['period']['label']}: closed, "
               f"{len(snapshot.content['participants'])} people, total "
               f"{format_money(total, snapshot.content['currency'])}, snapshot {snapshot.content_hash[:12]}")


@payouts.command("export")
@plan_argument
@period_option
@tenant_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File (default: stdout).")
def export_(plan_key: str, label: str | None, tenant_slug: str | None, output: Path | None) -> None:
    """Write the payroll CSV of a closed period."""
    job = Job(tenant_slug, plan_key, label)
    text = job.run(lambda s, plan, period: export.payroll_csv(s, plan, period))
    with click.open_file(str(output or "-"), "w", encoding="utf-8") as handle:
        handle.write(text)


@payouts.command("statement")
@plan_argument
@period_option
@tenant_option
@click.option("--person", "email", required=True, help="Whose statement (e-mail).")
@click.option("--format", "fmt", type=click.Choice(["html", "csv"]), default="html", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File (default: stdout).")
def statement(plan_key: str, label: str | None, tenant_slug: str | None, email: str, fmt: str,
              output: Path | None) -> None:
    """Write one person's statement: every line's math, with links to the records."""
    job = Job(tenant_slug, plan_key, label)

    def work(session: Any, plan: Plan, period: PayPeriod) -> str:
        built = statements.build(session, job.engine, plan, period, _person(session, email))
        return statements.render_html(built) if fmt == "html" else statements.render_csv(built)

    text = job.run(work)
    with click.open_file(str(output or "-"), "w", encoding="utf-8") as handle:
        handle.write(text)


@payouts.command("restatement")
@plan_argument
@period_option
@tenant_option
def restatement(plan_key: str, label: str | None, tenant_slug: str | None) -> None:
    """List what later data would change in a closed period (the period itself never changes)."""
    job = Job(tenant_slug, plan_key, label)
    report = job.run(lambda s, plan, period: closing.restatement(s, job.engine, plan, period))
    click.echo(json.dumps(report.as_dict(), indent=2, default=str))


COMMANDS = [payouts]
