"""The amount a rule pays at 100%: fixed, or a percent of base salary.

A fixed ``target_amount`` is in major units of the plan's currency. A
``percent_of_base_salary`` takes the participant's effective-dated annual base salary
(``PersonFact(kind="compensation")``) for the period — annual × the period's months / 12,
each salary weighted by the days it was in force when it changed mid-period — so the
5% incentive of seed 001 is 5% of what the person was actually paid in the quarter.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from podium.payouts.base import Participant, RuleContext
from podium.payouts.money import exponent, format_money, format_number, round_minor


def target_for(context: RuleContext, config: Mapping[str, Any], participant: Participant) -> tuple[Fraction, str]:
    """(exact minor units, how it was worked out) for ``participant``."""
    if "target_amount" in config:
        amount = config["target_amount"] * 10 ** exponent(context.currency)
        return amount, f"target {format_money(round_minor(amount), context.currency)}"
    percent = config["percent_of_base_salary"]
    base, how = context.base_salary(participant.person_id)
    amount = base * percent / 100
    return amount, f"{format_number(percent)}% of {how}"
