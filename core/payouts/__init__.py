"""Payouts: plan files, the rule contract and built-in rule types, the payout engine,
pay periods that lock, statements, appeals and the payroll export (see docs/plans.md).

Only the rule contract is imported here: the plugin manager imports this package while
it starts, before the engine's dependencies (the metric engine, the runtime) can be.
"""

from podium.payouts.base import (
    LINE_KINDS,
    Participant,
    PayoutLine,
    PayoutRule,
    RuleContext,
    TeamSpan,
)

__all__ = ["LINE_KINDS", "Participant", "PayoutLine", "PayoutRule", "RuleContext", "TeamSpan"]
