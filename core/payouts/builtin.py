"""Podium's built-in payout-rule types, registered exactly as a third-party plugin's are.

This module is a plugin: it is loaded through the ``podium`` entry-point group
(``payout_rules = podium.payouts.builtin`` in ``setup.cfg``) and registers its rule types
through the public ``podium_register_payout_rules`` hook, so the hook API is exercised
by Podium's own rules. Importing it also registers the payout job types
(``track_plan_metrics``), so workers that load plugins can run them.
"""

from __future__ import annotations

from podium import hookimpl
from podium.payouts import versions  # noqa: F401 - registers the payout job types
from podium.payouts.attainment import AcceleratorRule, BudgetAttainmentRule
from podium.payouts.base import PayoutRule
from podium.payouts.clawbacks import ClawbackRule
from podium.payouts.eligibility import EligibilityRule
from podium.payouts.gates import GatesRule, RcaPrerequisiteRule
from podium.payouts.limits import LimitsRule
from podium.payouts.per_unit import AfterHoursRule, PaidWhenCollectedRule
from podium.payouts.pool import TeamPoolRule
from podium.payouts.scorecard import WeightedScorecardRule
from podium.registry import Registry

RULE_TYPES: tuple[type[PayoutRule], ...] = (
    WeightedScorecardRule,
    BudgetAttainmentRule,
    AcceleratorRule,
    TeamPoolRule,
    PaidWhenCollectedRule,
    AfterHoursRule,
    GatesRule,
    RcaPrerequisiteRule,
    EligibilityRule,
    ClawbackRule,
    LimitsRule,
)


@hookimpl
def podium_register_payout_rules(registry: Registry[PayoutRule]) -> None:
    for rule_type in RULE_TYPES:
        registry.add(rule_type)
