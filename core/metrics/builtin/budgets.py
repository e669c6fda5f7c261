"""Budget targets as metric rows: a budget line's target spread evenly over its days.

A ``Budget`` row says "gross margin, Q1, 120 000.00"; spreading it per day lets any
period — the quarter itself, a month of it, a custom range — get its share, and lets an
attainment metric pool actuals against targets like any other rate. Budgets are company
wide: their rows belong to no person or client, so attainment is a company figure (a
person's or client's has no target, hence no data).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select

from podium.metrics.base import row
from podium.metrics.sql import as_float, day_diff
from podium.metrics.tables import Tables


def budget_rows(tables: Tables, line: str) -> Any:
    """Rows of the ``line`` budgets in the tenant's currency: numerator 0, denominator
    the day's share of the target (in minor units)."""
    b, d = tables.budgets, tables.days
    return (
        select(*row(person_id=None, client_id=None, anchored_at=d.c.starts_at, numerator=0.0,
                    denominator=as_float(b.c.target_minor) / day_diff(b.c.period_start, b.c.period_end),
                    record_type="budget", record_id=b.c.id))
        .select_from(b.join(d, and_(d.c.day >= b.c.period_start, d.c.day < b.c.period_end)))
        .where(b.c.line == line, b.c.target_minor.is_not(None),
               or_(b.c.currency.is_(None), b.c.currency == tables.currency))
    )
