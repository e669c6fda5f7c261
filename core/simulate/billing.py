"""Invoices and payments: agreements billed monthly in advance (prorated), billable time
and T&M project time at month end, fixed-fee projects half at start and half on completion.

Each client pays after its own typical delay (some late, a few in two instalments), so
days-to-pay and paid-when-collected rules have something to chew on; invoices still
unpaid at "now" keep their balance.
"""

from __future__ import annotations

import calendar as month_calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from podium.simulate import catalog
from podium.simulate.clients import SimClient
from podium.simulate.records import Record
from podium.simulate.streams import derive, lognormal

if TYPE_CHECKING:
    from podium.simulate.world import World

UTC = dt.timezone.utc
FIRST_INVOICE = 5001
NET_DAYS = 30


@dataclass(frozen=True)
class Bill:
    client: SimClient
    day: dt.date
    kind: str
    """ConnectWise invoice type: Agreement, Standard or Progress."""
    total: int
    reference: str | None
    """The agreement or project billed, when there is one."""


def _months(start: dt.date, end: dt.date) -> Iterator[tuple[dt.date, dt.date]]:
    """(first day, first day of next month) of every month overlapping ``[start, end)``."""
    month = start.replace(day=1)
    while month < end:
        following = (month + dt.timedelta(days=32)).replace(day=1)
        yield month, following
        month = following


def billable_by_month(world: World) -> dict[tuple[str, dt.date], int]:
    """(client, month) → billable time in minor units, from every billable entry logged."""
    totals: dict[tuple[str, dt.date], int] = defaultdict(int)
    entries = (entry for story in world.stories() for entry in story.time_entries)
    project_entries = (entry for project in world.projects for entry in world.project_records(project)[3])
    for source in (entries, project_entries):
        for entry in source:
            if entry.data["billable"]:
                month = world.org.calendar.local_day(entry.data["start_at"]).replace(day=1)
                amount = round(entry.data["billed_hours"] * entry.vendor["hourly_rate_minor"])
                totals[(entry.vendor["company_external_id"], month)] += amount
    return dict(totals)


def bills(world: World) -> list[Bill]:
    """Every invoice the world has issued by "now", in date order."""
    result: list[Bill] = []
    today = world.org.calendar.local_day(world.now - dt.timedelta(seconds=1))
    for first, following in _months(world.start, world.end):
        days = month_calendar.monthrange(first.year, first.month)[1]
        if world.start <= first <= today:
            per_client: dict[str, int] = defaultdict(int)
            for line in world.agreement_lines:
                per_client[line.client.external_id] += round(
                    line.monthly_price * line.active_days(first, following) / days
                )
            for client in world.clients:
                if per_client.get(client.external_id):
                    result.append(Bill(client, first, "Agreement", per_client[client.external_id], None))
        last = following - dt.timedelta(days=1)
        if world.start <= last <= today:
            for client in world.clients:
                amount = world.billable_by_month.get((client.external_id, first), 0)
                if amount:
                    result.append(Bill(client, last, "Standard", amount, None))
    rate = catalog.PROJECT_RATE * 100
    for project in world.projects:
        if not project.fixed_fee:
            continue
        half = round(project.budget_hours * rate / 2)
        for day in (project.start, project.actual_end):
            if day <= today:
                result.append(Bill(project.client, day, "Progress", half, project.external_id))
    return sorted(result, key=lambda bill: (bill.day, bill.client.index, bill.kind, bill.reference or ""))


def invoice_records(world: World) -> Iterator[tuple[Record, list[Record]]]:
    """(invoice, its payments) as seen at "now"."""
    currency = catalog.TENANT["currency"]
    for number, bill in enumerate(world.bills, FIRST_INVOICE):
        invoice_id = str(number)
        rng = derive(world.seed, "payment", invoice_id)
        delay = bill.client.pay_days * lognormal(rng, 1.0, 0.35)
        issued = dt.datetime.combine(bill.day, dt.time(14), UTC)
        if rng.random() < 0.05:
            instalments = [
                (issued + dt.timedelta(days=delay * 0.6), bill.total // 2),
                (issued + dt.timedelta(days=delay * 1.2), bill.total - bill.total // 2),
            ]
        else:
            instalments = [(issued + dt.timedelta(days=delay), bill.total)]
        paid = [(at.replace(microsecond=0), amount) for at, amount in instalments if at <= world.now]
        balance = bill.total - sum(amount for _, amount in paid)
        payments = [
            Record(
                "payment",
                {
                    "external_id": str(number * 10 + k),
                    "invoice_external_id": invoice_id,
                    "paid_at": at,
                    "amount_minor": amount,
                    "currency": currency,
                },
                {"method": rng.choice(("ACH", "Check", "Credit Card"))},
            )
            for k, (at, amount) in enumerate(paid)
        ]
        data = {
            "external_id": invoice_id,
            "client_external_id": bill.client.external_id,
            "number": f"INV-{number}",
            "invoice_date": bill.day,
            "due_date": bill.day + dt.timedelta(days=NET_DAYS),
            "total_minor": bill.total,
            "balance_minor": balance,
            "currency": currency,
            "paid_at": paid[-1][0] if balance == 0 and paid else None,
            "vendor_updated_at": paid[-1][0] if paid else issued,
        }
        vendor = {
            "type": bill.kind,
            "status": "Paid" if balance == 0 else "Open",
            "agreement_external_id": world.managed_agreement.get(bill.client.external_id)
            if bill.kind == "Agreement"
            else None,
            "project_external_id": bill.reference if bill.kind == "Progress" else None,
            "company_identifier": bill.client.identifier,
        }
        yield Record("invoice", data, vendor), payments
