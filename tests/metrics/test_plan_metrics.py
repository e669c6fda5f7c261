"""The sums payout plans read — recurring and collected revenue, hours worked, reopened
tickets — against figures computed by hand from the world in ``world.py``, plus a few
agreements' categories and payments added here.

March 2024, New York. Ana (person 1) answers for Acme (client 1) alone and for half of
Beta (client 3); Ben (person 2) for the other half; Help Desk (team 1) for Beta as a team.
Each test runs on SQLite and on PostgreSQL (the ``database_url`` fixture).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from podium.db import Database
from podium.metrics.base import MetricParamsError
from podium.metrics.builtin.workload import ReopenedTickets
from podium.metrics.engine import MetricEngine
from podium.metrics.periods import Period
from podium.models import Agreement, Payment
from tests.metrics.test_builtin import APRIL, approx, figures
from tests.metrics.world import World, add, ny

Q1 = Period("quarter", dt.date(2024, 1, 1), dt.date(2024, 4, 1))
TEN_DAYS = 10 / 31
"""Ten days of March as a share of the month: A2 (Beta) is in effect 03-16 … 03-25 (it is
cancelled on 03-26), A3 (Acme's backup line) 03-01 … 03-10."""


def close(value: float) -> Any:
    """Agreement days are fractions the engine stores to nine decimals; their ratio is as close as that allows."""
    return pytest.approx(value, rel=1e-8)


@pytest.fixture
def money(db: Database, world: World) -> World:
    """Categories on the world's agreements, a backup agreement and a EUR one, and payments."""
    with db.session() as session:
        for name in ("A1", "A2"):
            session.get(Agreement, world[name]).category = "managed_services"
        for name, values in (
            # Acme's backup line, 03-01 … 03-10 inclusive: 10 of 31 days of 31,000 → 10,000.
            ("A3", {"client_id": world["acme"], "category": "backup", "monthly_price_minor": 31_000,
                    "currency": "USD", "effective_from": dt.date(2024, 3, 1), "effective_to": dt.date(2024, 3, 10)}),
            ("A4", {"client_id": world["beta"], "category": "managed_services", "monthly_price_minor": 777_000,
                    "currency": "EUR", "effective_from": dt.date(2024, 1, 1)}),
        ):
            add(session, world, name, Agreement(name=name, agreement_type="MSA", **values))
        for name, invoice, at, amount, currency in (
            ("P1", "I1", ny(3, 10, 12), 600_000, "USD"),
            ("P2", "I1", ny(4, 2, 9), 400_000, "USD"),          # the rest of I1, in April
            ("P3", "I2", ny(3, 31, 23, 30), 500_000, "USD"),    # 04-01 03:30 UTC: still March in New York
            ("P4", "I4", ny(3, 22, 9), 999_999, "EUR"),         # not the tenant's currency
        ):
            add(session, world, name, Payment(invoice_id=world[invoice], paid_at=at, amount_minor=amount,
                                              currency=currency))
    return world


def test_recurring_revenue(engine: MetricEngine, db: Database, money: World) -> None:
    managed = {"category": "managed_services"}
    # Acme: A1 900,000 all month (Σ 31 × 900,000/31; 1 agreement-month). Beta: A2 100,000 for
    # 10/31 of the month. The value is the mean monthly price of an agreement. A4 is in EUR.
    client = figures(engine, db, money, "recurring_revenue", "client", **managed)
    assert client == {"1": (approx(900_000), approx(1), approx(900_000)),
                      "3": (approx(100_000 * TEN_DAYS), approx(TEN_DAYS), close(100_000))}
    # Every category: + A3's 10,000 for 10/31 of a month on Acme.
    assert figures(engine, db, money, "recurring_revenue", "client")["1"][:2] == (approx(910_000),
                                                                                  approx(1 + TEN_DAYS))
    assert figures(engine, db, money, "recurring_revenue", "client", category="backup") == {
        "1": (approx(10_000), approx(TEN_DAYS), close(31_000)),
    }
    # People and teams through client responsibilities: Ana all of Acme and half of Beta.
    person = figures(engine, db, money, "recurring_revenue", "person", **managed)
    assert {k: v[0] for k, v in person.items()} == {"1": approx(900_000 + 50_000 * TEN_DAYS),
                                                    "2": approx(50_000 * TEN_DAYS)}
    assert figures(engine, db, money, "recurring_revenue", "team", **managed)["1"][0] == approx(100_000 * TEN_DAYS)
    # A quarter sums its months (A1 since January: 3 × 900,000; A2 only in March).
    quarter = figures(engine, db, money, "recurring_revenue", "company", Q1, **managed)
    assert quarter == {"": (approx(2_700_000 + 100_000 * TEN_DAYS), approx(3 + TEN_DAYS),
                            close((2_700_000 + 100_000 * TEN_DAYS) / (3 + TEN_DAYS)))}
    # April: A1 only (A2 was cancelled).
    assert figures(engine, db, money, "recurring_revenue", "company", APRIL, **managed)[""][0] == approx(900_000)


def test_collected_revenue(engine: MetricEngine, db: Database, money: World) -> None:
    # March: P1 600,000 (Acme) and P3 500,000 (Beta, 23:30 New York on 03-31); P2 is April's,
    # P4 is in EUR.
    assert figures(engine, db, money, "collected_revenue", "client") == {
        "1": (600_000, 1, 600_000), "3": (500_000, 1, 500_000),
    }
    # Ana: Acme + half of Beta; Ben: half of Beta; Help Desk: Beta.
    assert figures(engine, db, money, "collected_revenue", "person") == {
        "1": (850_000, 1.5, approx(850_000 / 1.5)), "2": (250_000, 0.5, 500_000),
    }
    assert figures(engine, db, money, "collected_revenue", "team") == {"1": (500_000, 1, 500_000)}
    assert figures(engine, db, money, "collected_revenue", "company", APRIL) == {"": (400_000, 1, 400_000)}


def test_hours_worked(engine: MetricEngine, db: Database, world: World) -> None:
    # Ana: e1 1.5 + e2 1 + e3 0.5 + e4 2 + e5 1 + e6 2 (internal counts too) + e7 4.5 + e9 1
    # = 13.5 h over 8 entries; e8 is rejected. Ben: b1 1 + b2 1 + b3 6 = 8 h.
    assert figures(engine, db, world, "hours_worked", "person") == {
        "1": (13.5, 8, approx(13.5 / 8)), "2": (8, 3, approx(8 / 3)),
    }
    # Help Desk: Ana + Ben from 03-16 (b2, b3); Projects: b1 (03-14).
    assert figures(engine, db, world, "hours_worked", "team") == {"1": (20.5, 10, 2.05), "2": (1, 1, 1.0)}
    # Clients: Acme e1, e2, e3, e5 = 4 h; Beta e4, b1, b2 and the unlinked g1 = 6 h.
    assert {k: v[0] for k, v in figures(engine, db, world, "hours_worked", "client").items()} == {"1": 4, "3": 6}
    # The company also has g1 (2 h, nobody's).
    assert figures(engine, db, world, "hours_worked", "company")[""][0] == 23.5


def test_reopened_tickets(engine: MetricEngine, db: Database, world: World) -> None:
    # T5: first resolved 03-19 10:00 (its history), reopened 03-22 → Ana's, in March.
    assert figures(engine, db, world, "reopened_tickets", "person") == {"1": (1, 1, 1.0)}
    assert figures(engine, db, world, "reopened_tickets", "client") == {"1": (1, 1, 1.0)}
    # T4: first resolved 03-18 12:00, reopened 04-05 — 18 days: only within 20 days, then
    # Ben's (its owner: nobody resolved it), in April, the month of the reopen.
    assert figures(engine, db, world, "reopened_tickets", "person", APRIL) == {}
    assert figures(engine, db, world, "reopened_tickets", "person", APRIL, within_days=20) == {"2": (1, 1, 1.0)}
    # Within 2 days T5's reopen (2 days 23 hours later) is too late as well.
    assert figures(engine, db, world, "reopened_tickets", "person", within_days=2) == {}


def test_reopened_tickets_window_follows_the_parameter() -> None:
    assert ReopenedTickets({"within_days": 20}).window() == (dt.timedelta(0), dt.timedelta(days=20))
    with pytest.raises(MetricParamsError, match="within_days"):
        ReopenedTickets({"within_days": -1})
