"""Money rules and pay periods, without a database."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from podium.payouts.money import (
    MoneyError,
    exact,
    format_money,
    round_minor,
    split_largest_remainder,
    to_minor,
)
from podium.payouts.periods import PeriodError, containing, following, parse, preceding

from tests.payouts.conftest import D


def test_rounding_is_half_away_from_zero_once() -> None:
    assert [round_minor(Fraction(n, 8)) for n in (4, 12, -4, -12, 3, -3, 5)] == [1, 2, -1, -2, 0, 0, 1]
    assert round_minor(exact("351.5625")) == 352
    assert round_minor(exact("35156.25")) == 35156


def test_amounts_are_exact_and_respect_the_currency() -> None:
    assert exact(0.1) + exact(0.2) == exact("0.3")
    assert to_minor("1500.50", "USD") == 150050
    assert to_minor(1500, "JPY") == 1500
    with pytest.raises(MoneyError, match="more decimal places than USD"):
        to_minor("1.005", "USD")
    assert format_money(-123456, "USD") == "-1,234.56 USD"
    assert format_money(1234, "KWD", sign=True) == "+1.234 KWD"


@given(st.integers(min_value=0, max_value=10**9),
       st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12))
def test_largest_remainder_splits_add_up_exactly(total: int, weights: list[int]) -> None:
    parts = split_largest_remainder(total, [Fraction(w) for w in weights])
    if sum(weights) == 0:
        assert parts == [0] * len(weights)
        return
    assert sum(parts) == total
    for part, weight in zip(parts, weights, strict=True):
        share = Fraction(total * weight, sum(weights))
        assert share - 1 < part < share + 1


def test_periods_are_fiscal_year_aware() -> None:
    q = containing("quarterly", D(2025, 5, 20), fiscal_year_start_month=4)
    assert (q.start, q.end, q.label) == (D(2025, 4, 1), D(2025, 7, 1), "FY2026-Q1")
    h = containing("semi_annual", D(2026, 2, 1), fiscal_year_start_month=4)
    assert (h.start, h.end, h.label) == (D(2025, 10, 1), D(2026, 4, 1), "FY2026-H2")
    year = containing("annual", D(2025, 12, 31))
    assert (year.label, year.days) == ("FY2025", 365)
    assert following(q, 4).label == "FY2026-Q2" and preceding(q, 4).label == "FY2025-Q4"
    assert parse("FY2026-H2", "semi_annual", 4) == h
    assert parse("2025-03-14", "monthly").label == "2025-03"
    with pytest.raises(PeriodError, match="did you mean FY2025-Q1"):
        parse("2025-03", "quarterly")
    with pytest.raises(PeriodError, match="a fiscal year has 4 of those"):
        parse("FY2025-Q5", "quarterly")
