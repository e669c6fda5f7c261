"""Billing: effective hourly rate, revenue to pay, days sales outstanding.

Revenue is what was invoiced (:func:`podium.metrics.builtin.money.invoiced_revenue`: invoice
totals on the invoice date, credit notes negative), in the tenant's currency only — other
currencies are left out, never converted. Money is in minor units throughout, so an
effective hourly rate of 15000 is 150.00 per hour.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Float, and_, exists, func, literal, or_, select, true, union_all

from podium.metrics.base import Metric, row
from podium.metrics.builtin.money import invoiced_revenue, valid_on
from podium.metrics.builtin.time import entries
from podium.metrics.sql import as_float
from podium.metrics.tables import Tables

INVOICE_FIELDS = frozenset({"client_external_id", "invoice_date", "total_minor", "currency"})


class EffectiveHourlyRate(Metric):
    """Invoiced revenue ÷ hours worked for the same clients, in minor units per hour.

    Hours are every live time entry on a client's ticket or project (whoever logged it);
    internal time and time on the MSP's own company earn no invoice and are left out.
    Rows belong to clients and reach people and teams through client responsibilities,
    so a person's figure is the rate of the clients they answer for.
    """

    key = "effective_hourly_rate"
    label = "Effective hourly rate"
    unit = "money"
    better = "higher"
    attribution = "client"
    requires = {
        "invoice": INVOICE_FIELDS,
        "time_entry": frozenset({"start_at", "hours", "rejected", "ticket_external_id", "project_external_id"}),
    }
    anchor = "invoice date; time_entries.start_at"

    def _hours(self, tables: Tables) -> Any:
        e, c = entries(tables), tables.clients
        internal = exists().where(c.c.id == e.c.entry_client_id, c.c.is_internal.is_(True))
        return select(*row(person_id=None, client_id=e.c.entry_client_id, anchored_at=e.c.start_at, numerator=0.0,
                           denominator=e.c.hours, record_type="time_entry", record_id=e.c.id)).where(
            e.c.entry_client_id.is_not(None), ~internal)

    def select(self, tables: Tables) -> Any:
        return union_all(invoiced_revenue(tables), self._hours(tables))


class RevenueToPay(Metric):
    """Invoiced revenue a person answers for ÷ what they are paid over the same days.

    Revenue reaches a person through their own client responsibilities on the invoice
    date, weighted by share (a team's responsibility does not make its members' revenue:
    the ratio is about people). The part of an invoice no person answers for stays with
    the client and the company. Pay is the person's effective-dated annual compensation
    (``compensation`` facts, in the tenant's currency) spread over the days they are
    employed: a twelfth per month, divided by that month's days — a full month costs
    exactly annual ÷ 12. A team's ratio pools its members' revenue and pay; a client has
    revenue but no pay, so no figure.
    """

    key = "revenue_to_pay_ratio"
    label = "Revenue to pay"
    unit = "ratio"
    better = "higher"
    requires = {"invoice": INVOICE_FIELDS}
    anchor = "invoice date; each day of compensation"

    def _revenue(self, tables: Tables) -> list[Any]:
        """Each invoice's shares for the people answering for its client, and the rest."""
        i, d, cr = tables.invoices, tables.days, tables.client_responsibilities
        amount = as_float(i.c.total_minor)
        personal = and_(cr.c.client_id == i.c.client_id, cr.c.person_id.is_not(None), valid_on(cr, i.c.invoice_date))
        credited = (
            select(*row(person_id=cr.c.person_id, client_id=i.c.client_id, anchored_at=d.c.starts_at,
                        numerator=amount * cr.c.share, denominator=0.0, record_type="invoice", record_id=i.c.id))
            .select_from(i.join(d, d.c.day == i.c.invoice_date).join(cr, personal))
            .where(i.c.currency == tables.currency)
        )
        cr2 = tables.table("client_responsibilities", "shares")
        assigned = func.coalesce(
            select(func.sum(cr2.c.share))
            .where(cr2.c.client_id == i.c.client_id, cr2.c.person_id.is_not(None), valid_on(cr2, i.c.invoice_date))
            .scalar_subquery(),
            0.0,
        )
        unassigned = (
            select(*row(person_id=None, client_id=i.c.client_id, anchored_at=d.c.starts_at,
                        numerator=amount * (literal(1.0, Float) - assigned), denominator=0.0, record_type="invoice",
                        record_id=i.c.id))
            .select_from(i.join(d, d.c.day == i.c.invoice_date))
            .where(i.c.currency == tables.currency, assigned < 1.0)
        )
        return [credited, unassigned]

    def _pay(self, tables: Tables) -> Any:
        f, d, p = tables.person_facts, tables.days, tables.people
        employed = and_(p.c.id == f.c.person_id,
                        or_(p.c.employed_from.is_(None), p.c.employed_from <= d.c.day),
                        or_(p.c.employed_to.is_(None), p.c.employed_to >= d.c.day))
        return (
            select(*row(person_id=f.c.person_id, client_id=None, anchored_at=d.c.starts_at, numerator=0.0,
                        denominator=as_float(f.c.value_int) / 12.0 / as_float(d.c.month_days),
                        record_type="compensation", record_id=f.c.id))
            .select_from(f.join(d, valid_on(f, d.c.day)).join(p, employed))
            .where(f.c.kind == "compensation", f.c.currency == tables.currency, f.c.value_int.is_not(None))
        )

    def select(self, tables: Tables) -> Any:
        return union_all(*self._revenue(tables), self._pay(tables))


class DaysSalesOutstanding(Metric):
    """Average receivables ÷ average daily sales over the period, in days.

    Each local day, every invoice (positive total, tenant currency) adds what is still
    owed on it at the end of that day — its total less the payments received by then,
    nothing once it is marked paid — from its invoice date until it is paid or until
    now. Sales are the invoice totals dated in the period (credit notes reduce them).
    Σ(daily receivables) ÷ Σ(sales) = (mean receivables ÷ days) ÷ (sales ÷ days): the
    "average receivables" variant of DSO, which a period-end snapshot would make depend
    on one day. An invoice of 1,000 paid in full ten days after it was issued, alone in
    its period, gives exactly 10.
    """

    key = "dso_days"
    label = "Days sales outstanding"
    unit = "days"
    better = "lower"
    attribution = "client"
    requires = {
        "invoice": INVOICE_FIELDS | {"paid_at"},
        "payment": frozenset({"invoice_external_id", "paid_at", "amount_minor", "currency"}),
    }
    anchor = "each day an invoice is owed; invoice date for sales"
    look_back = dt.timedelta(days=366)
    look_ahead = dt.timedelta(days=366)
    """A payment changes what was owed every day from its invoice's date to the payment."""

    def _receivables(self, tables: Tables) -> Any:
        i, d, pm = tables.invoices, tables.days, tables.payments
        received = func.coalesce(
            select(func.sum(pm.c.amount_minor))
            .where(pm.c.invoice_id == i.c.id, pm.c.currency == i.c.currency, pm.c.paid_at < d.c.ends_at)
            .scalar_subquery(),
            0,
        )
        owed = as_float(i.c.total_minor - received)
        owing = and_(d.c.day >= i.c.invoice_date, d.c.starts_at < tables.now,
                     or_(i.c.paid_at.is_(None), i.c.paid_at >= d.c.ends_at))
        return (
            select(*row(person_id=None, client_id=i.c.client_id, anchored_at=d.c.starts_at, numerator=owed,
                        denominator=0.0, record_type="invoice", record_id=i.c.id))
            .select_from(i.join(d, true()))
            .where(owing, i.c.currency == tables.currency, i.c.total_minor > 0, owed > 0)
        )

    def select(self, tables: Tables) -> Any:
        return union_all(self._receivables(tables), invoiced_revenue(tables, numerator=False, denominator=True))
