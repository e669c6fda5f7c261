"""Gross margin, its attainment against budget, and gross profit.

Revenue is what was invoiced, on the invoice date (credit notes are negative invoices).
Cost is (a) agreement costs — each agreement's monthly cost, prorated per day over the
days it is in effect (``effective_from`` to ``effective_to`` inclusive, before
``cancelled_at``), divided by the days of that month — and (b) labour — each live time
entry's hours × the person's hourly cost that day: annual compensation ÷ (52 × weekly
capacity hours [40 when none is recorded]). Time of people without a compensation fact
costs nothing (there is no figure to use), which the explanation shows as missing.

Only amounts in the tenant's currency are summed; others are left out, never converted.
Rows belong to clients (labour: the ticket's or project's client; internal time has none
and counts for the company only) and reach people and teams through their client
responsibilities (``attribution = "client"``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import Schema, fields
from sqlalchemy import and_, func, or_, select, union_all

from podium.metrics.base import Metric, row
from podium.metrics.builtin.budgets import budget_rows
from podium.metrics.builtin.time import entries
from podium.metrics.sql import as_float
from podium.metrics.tables import Tables

REQUIRES = {
    "invoice": frozenset({"client_external_id", "invoice_date", "total_minor", "currency"}),
    "agreement": frozenset({"client_external_id", "monthly_cost_minor", "currency", "effective_from",
                            "effective_to", "cancelled_at"}),
    "time_entry": frozenset({"identity_external_id", "start_at", "hours", "ticket_external_id",
                             "project_external_id", "rejected"}),
}


class MarginParams(Schema):
    include_labour = fields.Boolean(load_default=True)


class AttainmentParams(MarginParams):
    budget_line = fields.String(load_default="gross_margin")


def valid_on(table: Any, day: Any) -> Any:
    """The effective-dated row of ``table`` is in force on ``day``."""
    return and_(table.c.valid_from <= day, or_(table.c.valid_to.is_(None), table.c.valid_to > day))


def invoiced_revenue(tables: Tables, *, numerator: bool = True, denominator: bool = False) -> Any:
    """Invoice totals in the tenant's currency on the invoice date, one row per invoice,
    for the invoice's client, as the numerator, the denominator, or both."""
    i, d = tables.invoices, tables.days
    amount = as_float(i.c.total_minor)
    return (
        select(*row(person_id=None, client_id=i.c.client_id, anchored_at=d.c.starts_at,
                    numerator=amount if numerator else 0.0, denominator=amount if denominator else 0.0,
                    record_type="invoice", record_id=i.c.id))
        .select_from(i.join(d, d.c.day == i.c.invoice_date))
        .where(i.c.currency == tables.currency)
    )


class GrossMarginBase(Metric):
    """Revenue − cost against a denominator a subclass chooses (revenue, budget, or
    agreement-months)."""

    revenue_is_denominator: ClassVar[bool] = False
    per_agreement_month: ClassVar[bool] = False
    """Agreement rows carry their day's share of an agreement-month as the denominator."""
    unit = "percent"
    better = "higher"
    attribution = "client"
    requires = REQUIRES
    anchor = "invoice date; each day of an agreement; time_entries.start_at"

    def _revenue(self, tables: Tables) -> Any:
        return invoiced_revenue(tables, denominator=self.revenue_is_denominator)

    def _agreement_costs(self, tables: Tables) -> Any:
        a, d = tables.agreements, tables.days
        in_effect = and_(
            d.c.day >= a.c.effective_from,
            or_(a.c.effective_to.is_(None), d.c.day <= a.c.effective_to),
            or_(a.c.cancelled_at.is_(None), d.c.day < a.c.cancelled_at),
        )
        statement = (
            select(*row(person_id=None, client_id=a.c.client_id, anchored_at=d.c.starts_at,
                        numerator=-as_float(a.c.monthly_cost_minor) / d.c.month_days,
                        denominator=1.0 / as_float(d.c.month_days) if self.per_agreement_month else 0.0,
                        record_type="agreement", record_id=a.c.id))
            .select_from(a.join(d, in_effect))
            .where(a.c.currency == tables.currency)
        )
        # A cost-free agreement adds nothing to a margin, but is still an agreement-month.
        return statement if self.per_agreement_month else statement.where(a.c.monthly_cost_minor != 0)

    def _labour(self, tables: Tables) -> Any:
        e, f = entries(tables), tables.person_facts
        worked = select(e.c.id, e.c.hours, e.c.start_at, e.c.person_id, e.c.entry_client_id,
                        tables.local_day(e.c.start_at).label("day")).subquery("worked")
        salary = (
            select(f.c.value_int)
            .where(f.c.person_id == worked.c.person_id, f.c.kind == "compensation",
                   f.c.currency == tables.currency, valid_on(f, worked.c.day))
            .limit(1).scalar_subquery()
        )
        capacity = (
            select(f.c.value_num)
            .where(f.c.person_id == worked.c.person_id, f.c.kind == "capacity_hours_week", valid_on(f, worked.c.day))
            .limit(1).scalar_subquery()
        )
        hourly = as_float(salary) / (52.0 * func.coalesce(capacity, 40.0))
        return select(*row(person_id=worked.c.person_id, client_id=worked.c.entry_client_id,
                           anchored_at=worked.c.start_at, numerator=-worked.c.hours * hourly, denominator=0.0,
                           record_type="time_entry", record_id=worked.c.id)).where(salary.is_not(None))

    def _denominators(self, tables: Tables) -> list[Any]:
        return []

    def select(self, tables: Tables) -> Any:
        parts = [self._revenue(tables), self._agreement_costs(tables)]
        if self.params["include_labour"]:
            parts.append(self._labour(tables))
        return union_all(*parts, *self._denominators(tables))


class GrossMargin(GrossMarginBase):
    """(Revenue − cost) / revenue."""

    key = "gross_margin_pct"
    label = "Gross margin"
    revenue_is_denominator = True
    params_schema = MarginParams


class GrossMarginAttainment(GrossMarginBase):
    """(Revenue − cost) / the gross-margin budget for the same days."""

    key = "gross_margin_attainment_pct"
    label = "Gross margin attainment"
    revenue_is_denominator = False
    params_schema = AttainmentParams

    def _denominators(self, tables: Tables) -> list[Any]:
        return [budget_rows(tables, self.params["budget_line"])]


class GrossProfit(GrossMarginBase):
    """Revenue − cost, in minor units: a sum, what a profit-funded team pool reads (its
    Σnumerator). The denominator counts agreement-months (each day an agreement is in
    effect adds its share of that month), so the reported value is the gross profit per
    agreement-month — as ``recurring_revenue``'s is the price per agreement-month — and a
    client without agreements has a total but no per-agreement figure (no data)."""

    key = "gross_profit"
    label = "Gross profit"
    unit = "money"
    per_agreement_month = True
    params_schema = MarginParams
