"""``streak_bonus`` in a plan file, paying on ``first_touch_pct`` computed from tickets."""

from __future__ import annotations

import datetime as dt

import pytest
from podium.payouts.plan import PlanError
from podium.testing import PodiumWorld

PLAN = """\
plan: first-touch-streak
title: First touch streak
currency: USD
period: monthly
participants:
  all: true
rules:
  - type: streak_bonus
    metric: first_touch_pct
    at_least: 90
    periods: 3
    amount: 150
"""


def at(month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, tzinfo=dt.timezone.utc)


@pytest.fixture
def streaks(podium_tenant: PodiumWorld) -> dict[str, int]:
    """First touch (30 min) by month: Ana 2/2, 1/1, 1/1; Ben 1/1, 1/2, 1/1; Cara only January."""
    w = podium_tenant
    w.now = dt.datetime(2025, 4, 1, tzinfo=dt.timezone.utc)
    people = {}
    for name, responses in {
        "Ana": {at(1, 6): 10, at(1, 7): 20, at(2, 4): 5, at(3, 4): 29},
        "Ben": {at(1, 8): 10, at(2, 5): 15, at(2, 6): 50, at(3, 5): 1},
        "Cara": {at(1, 9): 3},
    }.items():
        person, identity = w.technician(name)
        people[name] = person
        for created, after in responses.items():
            w.ticket(created_at=created, first_response_at=created + dt.timedelta(minutes=after),
                     owner_identity_id=identity)
    return people


def test_three_months_in_a_row_pay_and_the_others_are_told_what_it_takes(podium_tenant: PodiumWorld,
                                                                          streaks: dict[str, int]) -> None:
    podium_tenant.apply_plan(PLAN, effective_from=dt.date(2025, 1, 1))
    result = podium_tenant.evaluate("first-touch-streak", "2025-03")
    lines = {line.person_id: line for line in result.lines}
    assert {name: lines[pid].amount_minor for name, pid in streaks.items()} == {"Ana": 15000, "Ben": 0, "Cara": 0}
    ana, ben, cara = (lines[streaks[name]] for name in ("Ana", "Ben", "Cara"))
    assert ana.explanation == ("First touch within target 2025-03: 100, 2025-02: 100, 2025-01: 100; "
                               "3 of 3 periods in a row at or above 90 → 150.00 USD.")
    assert ana.hint is None and ana.potential_minor == 15000
    # Ben's February is 50 %: March alone is a streak of one.
    assert ben.inputs["streak"] == 1 and ben.inputs["values"] == [100.0, 50.0, 100.0]
    assert ben.hint == "2 more periods in a row at or above 90 pays 150.00 USD"
    # Cara has no March tickets: no data breaks a streak.
    assert cara.inputs["values"] == [None, None, 100.0]
    assert cara.hint == "Reach at or above 90 this period to start a streak"
    assert len(ana.readings) == 3, "each month's reading is named on the line (drill-down)"
    assert not result.errors


def test_the_plan_must_give_exactly_one_level(podium_tenant: PodiumWorld) -> None:
    both = PLAN.replace("    at_least: 90\n", "    at_least: 90\n    at_most: 99\n")
    with pytest.raises(PlanError) as caught:
        podium_tenant.apply_plan(both, source="streak.yaml")
    assert str(caught.value) == ("streak.yaml, line 10, field rules[0].at_least: "
                                 "Give exactly one of at_least and at_most.")
    with pytest.raises(PlanError, match="periods: Must be greater than or equal to 2"):
        podium_tenant.apply_plan(PLAN.replace("periods: 3", "periods: 1"), source="streak.yaml")
