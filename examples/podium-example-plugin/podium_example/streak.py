"""``streak_bonus``: a fixed amount for holding a level several pay periods in a row.

One good month is luck; three in a row is a habit, and the habit is what an MSP wants
to pay for. The rule reads the metric for the current pay period and the ``periods − 1``
before it (the same grain, parameters and period length), counts how many of the most
recent ones in a row reached the level, and pays ``amount`` when all of them did.

* The level is ``at_least`` (metrics where higher is better) or ``at_most`` (lower is
  better), bounds inclusive; a period with no data breaks the streak.
* Each period's figure is read through ``context.metric`` — closed periods give their
  frozen values — and every reading is named on the line, so the statement links to the
  records behind each month.
* The line's ``potential`` is ``amount`` (it is what is "on the table"), and when the
  streak falls short its hint says how many more periods it takes.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from podium.payouts import PayoutLine, PayoutRule, RuleContext
from podium.payouts.fields import Amount, Exact, MetricKey
from podium.payouts.money import exponent, format_money, format_number, round_minor
from podium.payouts.periods import PayPeriod, containing


class StreakConfig(Schema):
    class Meta:
        unknown = RAISE

    metric = MetricKey(required=True)
    params = fields.Dict(keys=fields.String(), load_default=dict)
    at_least = Exact()
    at_most = Exact()
    periods = fields.Integer(required=True, validate=validate.Range(min=2, max=12))
    amount = Amount(required=True, validate=validate.Range(min=0))

    @validates_schema
    def one_level(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if ("at_least" in data) == ("at_most" in data):
            raise ValidationError("Give exactly one of at_least and at_most.", "at_least")


def earlier(period: PayPeriod) -> PayPeriod:
    """The pay period of the same kind just before ``period``.

    Periods of a kind are contiguous and aligned to the fiscal year, so the period that
    contains the day before this one's start, aligned on this one's start month, is it.
    """
    return containing(period.kind, period.start - dt.timedelta(days=1), fiscal_year_start_month=period.start.month)


def period_name(period: PayPeriod) -> str:
    return f"{period.start:%Y-%m}" if period.kind == "monthly" else f"{period.start}..{period.end}"


class StreakBonus(PayoutRule):
    key = "streak_bonus"
    label = "Streak bonus"
    config_schema = StreakConfig

    def metrics_used(self) -> list[tuple[str, dict[str, Any], str]]:
        return [(self.config["metric"], self.config["params"], "person")]

    def reached(self, value: Fraction | None) -> bool:
        if value is None:
            return False
        if "at_least" in self.config:
            return value >= self.config["at_least"]
        return value <= self.config["at_most"]

    def level_text(self) -> str:
        if "at_least" in self.config:
            return f"at or above {format_number(self.config['at_least'])}"
        return f"at or below {format_number(self.config['at_most'])}"

    def evaluate(self, context: RuleContext) -> list[PayoutLine]:
        needed = self.config["periods"]
        amount = self.config["amount"] * 10 ** exponent(context.currency)
        windows = [context.period]
        while len(windows) < needed:
            windows.append(earlier(windows[-1]))
        lines = []
        for participant in context.participants:
            readings = [context.metric(self.config["metric"], grain="person", subject=participant.person_id,
                                       params=self.config["params"], start=p.start, end=p.end) for p in windows]
            streak = 0
            for reading in readings:
                if not self.reached(reading.value):
                    break
                streak += 1
            figures = ", ".join(f"{period_name(p)}: {format_number(r.value)}" for p, r in zip(windows, readings))
            earned = amount if streak >= needed else Fraction(0)
            label = readings[0].label or self.config["metric"]
            explanation = (f"{label} {figures}; {streak} of {needed} periods in a row {self.level_text()} "
                           f"→ {format_money(round_minor(earned), context.currency)}.")
            hint = None
            if streak < needed:
                hint = (f"{needed - streak} more period{'s' if needed - streak != 1 else ''} in a row "
                        f"{self.level_text()} pays {format_money(round_minor(amount), context.currency)}"
                        if streak else
                        f"Reach {self.level_text()} this period to start a streak")
            lines.append(self.line(context, participant.person_id, earned, explanation, potential=amount,
                                   readings=tuple(r.ref for r in readings), hint=hint,
                                   inputs={"streak": streak, "needed": needed,
                                           "values": [None if r.value is None else float(r.value) for r in readings]}))
        return lines
