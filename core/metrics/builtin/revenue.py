"""Revenue as sums: recurring (agreements in effect) and collected (payments received).

Both are money in minor units and belong to clients: they reach people and teams through
client responsibilities, weighted by share (``attribution = "client"``). Only amounts in
the tenant's currency count; others are left out, never converted.

The engine reports Σnumerator ÷ Σdenominator, so a sum needs a denominator that makes the
reported value mean something: the total is always the numerator (what payout rules read).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import and_, or_, select

from podium.metrics.base import Metric, row
from podium.metrics.sql import as_float
from podium.metrics.tables import Tables


class RecurringParams(Schema):
    category = fields.String(load_default=None, allow_none=True,
                             metadata={"description": "Only agreements of this category (e.g. managed_services); "
                                                      "none: every category."})


class RecurringRevenue(Metric):
    """Monthly price of the agreements in effect, prorated per day: each day an agreement
    is in effect (``effective_from`` … ``effective_to`` inclusive, before ``cancelled_at``)
    adds price ÷ days of that month. A month's total is therefore its monthly recurring
    revenue, and a partial month its share. The denominator is the same share of one
    (agreement-months), so the value is the mean monthly price of an agreement."""

    key = "recurring_revenue"
    label = "Recurring revenue"
    unit = "money"
    better = "higher"
    attribution = "client"
    requires = {"agreement": frozenset({"client_external_id", "category", "monthly_price_minor", "currency",
                                        "effective_from", "effective_to", "cancelled_at"})}
    anchor = "each day an agreement is in effect"
    params_schema = RecurringParams

    def select(self, tables: Tables) -> Any:
        a, d = tables.agreements, tables.days
        in_effect = and_(
            d.c.day >= a.c.effective_from,
            or_(a.c.effective_to.is_(None), d.c.day <= a.c.effective_to),
            or_(a.c.cancelled_at.is_(None), d.c.day < a.c.cancelled_at),
        )
        statement = (
            select(*row(person_id=None, client_id=a.c.client_id, anchored_at=d.c.starts_at,
                        numerator=as_float(a.c.monthly_price_minor) / d.c.month_days,
                        denominator=1.0 / as_float(d.c.month_days), record_type="agreement", record_id=a.c.id))
            .select_from(a.join(d, in_effect))
            .where(a.c.currency == tables.currency)
        )
        if self.params["category"] is not None:
            statement = statement.where(a.c.category == self.params["category"])
        return statement


class CollectedRevenue(Metric):
    """Payments received, anchored at the payment, for the invoice's client. A partial
    payment counts when it arrives. Denominator 1 per payment: the value is the mean payment."""

    key = "collected_revenue"
    label = "Collected revenue"
    unit = "money"
    better = "higher"
    attribution = "client"
    requires = {"payment": frozenset({"invoice_external_id", "paid_at", "amount_minor", "currency"}),
                "invoice": frozenset({"client_external_id"})}
    anchor = "payments.paid_at"

    def select(self, tables: Tables) -> Any:
        p, i = tables.payments, tables.invoices
        return (
            select(*row(person_id=None, client_id=i.c.client_id, anchored_at=p.c.paid_at,
                        numerator=as_float(p.c.amount_minor), denominator=1.0, record_type="payment",
                        record_id=p.c.id))
            .join_from(p, i, i.c.id == p.c.invoice_id)
            .where(p.c.currency == tables.currency)
        )
