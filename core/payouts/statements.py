"""Statements: one person's pay for one period, every line's math in words and numbers.

A closed period's statement is rendered from its snapshot alone — the same bytes
forever, whatever syncs later. An open period's is rendered from a live evaluation and
says it is provisional.

Each line shows its explanation and the metric figures behind it (value, numerator and
denominator, definition version); the person's own figures link to the records they were
computed from, in the vendor's UI where the data source can link (``record_url``). Team
and company figures are shown as totals without their records: those include peers' work,
which a technician never sees (design §7).

Formats: HTML (``ui/templates/statements/statement.html``) and CSV.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from podium.models import PayoutPeriod, PayoutSnapshot, Plan
from podium.payouts.close import snapshot_content
from podium.payouts.engine import PayoutEngine, PayoutError
from podium.payouts.money import format_money, format_number, format_plain
from podium.payouts.periods import PayPeriod
from sqlalchemy import select
from sqlalchemy.orm import Session

RECORDS_SHOWN = 25
"""Records an HTML statement lists per figure before it says "and N more" (CSV lists all)."""

_ENV = Environment(loader=PackageLoader("podium.ui", "templates"), autoescape=select_autoescape(["html"]),
                   keep_trailing_newline=True)


@dataclass(frozen=True)
class Figure:
    """A metric figure as a statement shows it."""

    label: str
    text: str
    version: int | None
    records: list[tuple[str, str | None]]
    """(record, link or None) — only for the person's own figures (HTML lists the first
    :data:`RECORDS_SHOWN`, CSV all of them)."""


@dataclass(frozen=True)
class StatementLine:
    seq: int
    rule: str
    kind: str
    amount_minor: int
    amount: str
    explanation: str
    figures: list[Figure]


@dataclass(frozen=True)
class Statement:
    plan_key: str
    plan_title: str
    plan_version: int
    plan_hash: str
    period: str
    start: str
    end: str
    status: str
    person_id: int
    person_name: str
    currency: str
    lines: list[StatementLine]
    total_minor: int

    @property
    def total(self) -> str:
        return format_money(self.total_minor, self.currency)

    @property
    def provisional(self) -> bool:
        return self.status != "closed"


def _figure(reading: dict[str, Any], person_id: int, links: dict[str, str]) -> Figure:
    unit = {"percent": "%", "hours": " h"}.get(reading["unit"], "")
    value = "no data" if reading["value"] is None else f"{format_number(reading['value'])}{unit}"
    text = (f"{value} = {format_number(reading['factor'])} × {format_number(reading['numerator'])} / "
            f"{format_number(reading['denominator'])} ({reading['grain']}, {reading['start']} to {reading['end']})")
    own = reading["grain"] == "person" and reading["subject"] == str(person_id)
    records = [(f"{kind.replace('_', ' ')} {rid}", links.get(f"{kind}:{rid}"))
               for kind, rid in (reading["records"] if own else [])]
    return Figure(reading["label"] or reading["metric"], text, reading["version"], records)


def from_content(content: dict[str, Any], person_id: int, status: str) -> Statement:
    """A person's statement out of a snapshot's (or a live evaluation's) content."""
    person = next((p for p in content["participants"] if p["person_id"] == person_id), None)
    if person is None:
        raise PayoutError(f"person_id: person {person_id} takes no part in {content['period']['label']}")
    readings = {reading["ref"]: reading for reading in content["readings"]}
    currency = content["currency"]
    lines = [
        StatementLine(line["seq"], line["rule"], line["kind"], line["amount_minor"],
                      format_money(line["amount_minor"], currency, sign=True), line["explanation"],
                      [_figure(readings[ref], person_id, content["links"]) for ref in line["readings"] if ref in readings])
        for line in content["lines"] if line["person_id"] == person_id
    ]
    plan = content["plan"]
    return Statement(plan["key"], plan["title"], plan["version"], plan["content_hash"], content["period"]["label"],
                     content["period"]["start"], content["period"]["end"], status, person_id, person["name"],
                     currency, lines, sum(line.amount_minor for line in lines))


def build(session: Session, engine: PayoutEngine, plan: Plan, period: PayPeriod, person_id: int) -> Statement:
    """The statement of ``person_id`` for ``period``: from the snapshot once closed, else live."""
    row = session.scalars(select(PayoutPeriod).where(PayoutPeriod.plan_id == plan.id,
                                                     PayoutPeriod.starts_on == period.start)).one_or_none()
    if row is not None and row.status == "closed":
        snapshot = session.scalars(select(PayoutSnapshot).where(PayoutSnapshot.period_id == row.id)).one()
        return from_content(snapshot.content, person_id, "closed")
    evaluation = engine.evaluate(session, plan, period, reader=engine.reader(session, plan.tenant_id, with_records=True))
    if evaluation.errors:
        raise PayoutError("period: rules failed: " + "; ".join(evaluation.errors))
    content = snapshot_content(session, engine, plan, evaluation)
    return from_content(content, person_id, row.status if row is not None else "open")


def render_html(statement: Statement) -> str:
    return _ENV.get_template("statements/statement.html").render(s=statement, shown=RECORDS_SHOWN)


def render_csv(statement: Statement) -> str:
    """One row per line, then the total; amounts in major units with a dot (machine-readable)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["plan", "plan_version", "period", "status", "person_id", "person", "seq", "rule", "kind",
                     "amount", "currency", "explanation", "figures", "records"])
    head = [statement.plan_key, statement.plan_version, statement.period, statement.status, statement.person_id,
            statement.person_name]
    for line in statement.lines:
        figures = "; ".join(f"{f.label}: {f.text} (definition v{f.version})" for f in line.figures)
        records = " ".join(link or name for f in line.figures for name, link in f.records)
        writer.writerow([*head, line.seq, line.rule, line.kind, format_plain(line.amount_minor, statement.currency),
                         statement.currency, line.explanation, figures, records])
    writer.writerow([*head, "", "total", "total", format_plain(statement.total_minor, statement.currency),
                     statement.currency, "Sum of the lines above (each rounded once, to the cent).", "", ""])
    return out.getvalue()
