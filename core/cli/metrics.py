"""``podium metrics``: the metric catalogue, figures, and the records behind them.

``podium metrics show KEY`` prints the same figures the API and the pods read (closed
periods frozen, tracked ones materialised, anything else computed live), each with its
freshness; ``--explain`` lists the records behind one subject's figure.
"""

from __future__ import annotations

import json
from typing import Any

import click

from podium.cli import get_podium
from podium.cli.connections import tenant_for
from podium.metrics.base import MetricParamsError
from podium.metrics.changes import refresh_tenant
from podium.metrics.engine import MetricEngine, MetricError, Value
from podium.models.metrics import GRAINS


def parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``("within_minutes=30", "ticket_types=[\\"Incident\\"]")`` → a dict; values are JSON
    when they parse as JSON, else text."""
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r}: write NAME=VALUE", param_hint="--param")
        try:
            params[name] = json.loads(text)
        except json.JSONDecodeError:
            params[name] = text
    return params


def _figure(value: Value, unit: str) -> str:
    if value.value is None:
        return "no data"
    suffix = {"percent": " %", "hours": " h", "days": " d"}.get(unit, "")
    return f"{value.value:.2f}{suffix}"


def _freshness(value: Value) -> str:
    age = value.data_age
    data = "" if age is None else f", data {int(age.total_seconds() // 60)} min old"
    return f"as of {value.computed_at:%Y-%m-%d %H:%M} UTC{data}" + (", closed" if value.closed else "")


@click.group()
def metrics() -> None:
    """Metrics: definitions, figures and drill-down."""


@metrics.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the same as GET /api/v1/metrics).")
def list_metrics(as_json: bool) -> None:
    """Show every registered metric with its unit, anchor and parameters."""
    catalogue = MetricEngine(get_podium()).catalogue()
    if as_json:
        click.echo(json.dumps(catalogue, indent=2))
        return
    for metric in catalogue:
        click.echo(f"{metric['key']}  {metric['label']}  [{metric['unit']}, {metric['better']} is better]"
                   f"  ({metric['plugin']})")
        for name, param in metric["params"].items():
            click.echo(f"    {name} = {json.dumps(param['default'])}")


@metrics.command("show")
@click.argument("key")
@click.option("--tenant", "slug", help="Tenant slug (needed when there are several).")
@click.option("--grain", type=click.Choice(GRAINS), default="person", show_default=True)
@click.option("--period", default="month", show_default=True,
              help="month, month:2024-03, quarter:2024-02-01, custom:2024-03-01..2024-04-01 …")
@click.option("--subject", help="Only this subject: a person, team or client id, or a role name.")
@click.option("--param", "params", multiple=True, help="A metric parameter, NAME=VALUE (repeatable).")
@click.option("--explain", is_flag=True, help="List the records behind the figure (needs --subject).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(key: str, slug: str | None, grain: str, period: str, subject: str | None, params: tuple[str, ...],
         explain: bool, as_json: bool) -> None:
    """Show the figures of metric KEY for a grain and period."""
    if explain and subject is None:
        raise click.UsageError("--explain needs --subject (the figure to explain)")
    podium = get_podium()
    engine = MetricEngine(podium)
    with podium.db.session() as unscoped:
        tenant_id = tenant_for(unscoped, slug).id
    try:
        with podium.db.session(tenant_id) as session:
            chosen = engine.period(session, tenant_id, period)
            given = parse_params(params)
            metric = engine.metric(key, given)
            if explain:
                assert subject is not None
                explanation = engine.explain(session, tenant_id, key, grain, chosen, subject, given)
                values = [explanation.value] if explanation.value else []
            else:
                values = engine.values(session, tenant_id, key, grain, chosen, given, [subject] if subject else None)
    except (MetricError, MetricParamsError) as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        out: dict[str, Any] = {"metric": key, "grain": grain, "period": str(chosen),
                               "values": [v.as_dict() for v in values]}
        if explain:
            out["records"] = [r.as_dict() for r in explanation.records]
            out["frozen"] = explanation.frozen
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"{metric.label} ({key}) by {grain}, {chosen}")
    if not values:
        click.echo("  no data")
    for value in values:
        click.echo(f"  {value.subject or 'company'}: {_figure(value, metric.unit)}"
                   f"  ({value.numerator:g} / {value.denominator:g}, {value.records} records;"
                   f" {_freshness(value)})")
    if explain:
        click.echo(f"records{' (frozen at close)' if explanation.frozen else ''}:")
        for record in explanation.records:
            click.echo(f"  {record.record_type} {record.record_id}  {record.anchored_at:%Y-%m-%d %H:%M} UTC"
                       f"  {record.numerator:g} / {record.denominator:g}")


@metrics.command("refresh")
@click.option("--tenant", "slug", help="Tenant slug (needed when there are several).")
def refresh(slug: str | None) -> None:
    """Recompute SLA due times and every tracked figure of open periods (after org data changed)."""
    podium = get_podium()
    with podium.db.session() as unscoped:
        tenant_id = tenant_for(unscoped, slug).id
    changed = refresh_tenant(podium, tenant_id)
    click.echo(f"{len(changed)} figure(s) changed")


COMMANDS = [metrics]
