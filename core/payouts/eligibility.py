"""Eligibility and proration: who may be paid what was earned, and how much of it.

Placed after the earning rules, it takes back, with the reason:

* everything, when the plan requires a signed acknowledgment of its version and there
  is none before ``acknowledged_by`` (the period's start by default);
* everything, when ``employed_on_pay_date`` is required and the person left before the
  pay date (period end + the plan's ``pay_days_after_end``);
* everything, when the person was employed fewer than ``min_days_employed`` days of the
  period;
* otherwise the share of days not worked: proration by days employed
  (``prorate_employment``) and, optionally, by whole days of leave
  (``prorate_leave``; leave shorter than ``leave_min_days`` in the period is ignored, so
  ordinary PTO does not cut a bonus).

Only earnings are prorated: lines after this rule (clawbacks, floors) are not.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from marshmallow import RAISE, Schema, fields, validate
from podium.payouts.base import PayoutLine, PayoutRule, RuleContext
from podium.payouts.money import format_money, round_minor


class EligibilityConfig(Schema):
    class Meta:
        unknown = RAISE

    acknowledgment_required = fields.Boolean(load_default=False)
    acknowledged_by = fields.String(load_default="period_start", validate=validate.OneOf(("period_start", "period_end")))
    employed_on_pay_date = fields.Boolean(load_default=False, metadata={
        "description": "True: someone who left before the pay date forfeits the period's pay."})
    min_days_employed = fields.Integer(load_default=0, validate=validate.Range(min=0))
    prorate_employment = fields.Boolean(load_default=True)
    prorate_leave = fields.Boolean(load_default=False)
    leave_min_days = fields.Integer(load_default=0, validate=validate.Range(min=0))


class EligibilityRule(PayoutRule):
    key = "eligibility"
    label = "Eligibility and proration"
    config_schema = EligibilityConfig

    def evaluate(self, context: RuleContext) -> list[PayoutLine]:
        lines = []
        period = context.period
        for participant in context.participants:
            earned = max(context.total(participant.person_id), 0)
            if earned == 0:
                continue
            reason = self._forfeit(context, participant)
            money = format_money(earned, context.currency)
            if reason is not None:
                lines.append(self.line(context, participant.person_id, -earned, f"{reason}, so the {money} earned is "
                                       "not paid.", kind="eligibility", potential=0, inputs={"forfeit": True}))
                continue
            employed = participant.days_employed(period.start, period.end) if self.config["prorate_employment"] \
                else period.days
            leave = context.leave_days(participant.person_id) if self.config["prorate_leave"] else 0
            if leave < self.config["leave_min_days"]:
                leave = 0
            paid_days = max(0, employed - leave)
            if paid_days >= period.days:
                continue
            taken = -Fraction(earned) * (period.days - paid_days) / period.days
            parts = []
            if employed < period.days:
                parts.append(f"employed {employed} of {period.days} days")
            if leave:
                parts.append(f"{leave} days of leave")
            lines.append(self.line(
                context, participant.person_id, taken,
                f"Prorated: {' and '.join(parts)}, so {paid_days}/{period.days} of the {money} earned is paid "
                f"({format_money(round_minor(taken), context.currency)}).",
                kind="proration", inputs={"days_paid": paid_days, "period_days": period.days, "leave_days": leave},
            ))
        return lines

    def _forfeit(self, context: Any, participant: Any) -> str | None:
        period = context.period
        if self.config["acknowledgment_required"]:
            by = period.start if self.config["acknowledged_by"] == "period_start" else period.end
            if not context.acknowledged(participant.person_id, by):
                return f"No signed acknowledgment of this plan before {by.isoformat()}"
        if self.config["employed_on_pay_date"]:
            pay_date = context.pay_date()
            if participant.employed_to is not None and participant.employed_to <= pay_date:
                return f"Not employed on the pay date {pay_date.isoformat()}"
        employed = participant.days_employed(period.start, period.end)
        if employed < self.config["min_days_employed"]:
            return f"Employed {employed} days of the period, fewer than the {self.config['min_days_employed']} required"
        return None
