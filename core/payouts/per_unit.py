"""Rules that pay a rate on a metric's total: paid-when-collected and after-hours differentials.

**Paid when collected** (``paid_when_collected``): ``rate`` × the money collected in the
period (the ``collected_revenue`` metric: payments received, anchored at the payment,
on invoices of the clients the person — or team — is responsible for). A partial payment
pays its share now; the rest pays in the period it is collected, so nothing is ever paid
on money that never came in, and no paid period has to be reopened.

**After-hours differential** (``after_hours_differential``): ``per_hour`` × the hours
worked outside the business calendar (the ``after_hours_hours`` metric: time entries, or
the parts of them, outside the person's calendar, holidays included), optionally only
for on-call work types (the metric's ``work_types`` parameter).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from marshmallow import RAISE, Schema, fields, validate
from podium.payouts.base import PayoutLine, PayoutRule, RuleContext
from podium.payouts.fields import Amount, Exact, MetricKey
from podium.payouts.measures import subject_of
from podium.payouts.money import exponent, format_money, format_number, round_minor


class _PerUnit(PayoutRule):
    """``rate × Σnumerator`` of one metric per participant; subclasses say what a unit is."""

    def metrics_used(self) -> list[tuple[str, dict[str, Any], str]]:
        return [(self.config["metric"], self.config["params"], self.config["grain"])]

    def rate_per_unit(self, currency: str) -> Fraction:
        raise NotImplementedError

    def describe(self, total: Fraction, rate: Fraction, amount: Fraction, currency: str) -> str:
        raise NotImplementedError

    def evaluate(self, context: RuleContext) -> list[PayoutLine]:
        rate = self.rate_per_unit(context.currency)
        lines = []
        for participant in context.participants:
            reading = context.metric(self.config["metric"], grain=self.config["grain"],
                                     subject=subject_of(context, self.config, participant),
                                     params=self.config["params"])
            amount = reading.total * rate
            lines.append(self.line(context, participant.person_id, amount,
                                   self.describe(reading.total, rate, amount, context.currency),
                                   readings=(reading.ref,), inputs={"units": float(reading.total)}))
        return lines


class CollectedConfig(Schema):
    class Meta:
        unknown = RAISE

    metric = MetricKey(load_default="collected_revenue")
    params = fields.Dict(keys=fields.String(), load_default=dict)
    grain = fields.String(load_default="person", validate=validate.OneOf(("person", "team", "company")))
    team = fields.String()
    rate = Exact(required=True, validate=validate.Range(min=0, max=1))


class PaidWhenCollectedRule(_PerUnit):
    key = "paid_when_collected"
    label = "Paid when collected"
    config_schema = CollectedConfig

    def rate_per_unit(self, currency: str) -> Fraction:
        return self.config["rate"]

    def describe(self, total: Fraction, rate: Fraction, amount: Fraction, currency: str) -> str:
        return (f"{format_number(rate * 100)}% of {format_money(round_minor(total), currency)} collected this period "
                f"= {format_money(round_minor(amount), currency)}; what is still owed pays in the period it is "
                "collected.")


class AfterHoursConfig(Schema):
    class Meta:
        unknown = RAISE

    metric = MetricKey(load_default="after_hours_hours")
    params = fields.Dict(keys=fields.String(), load_default=dict)
    grain = fields.String(load_default="person", validate=validate.OneOf(("person",)))
    per_hour = Amount(required=True, validate=validate.Range(min=0))


class AfterHoursRule(_PerUnit):
    key = "after_hours_differential"
    label = "After-hours differential"
    config_schema = AfterHoursConfig

    def rate_per_unit(self, currency: str) -> Fraction:
        return self.config["per_hour"] * 10 ** exponent(currency)

    def describe(self, total: Fraction, rate: Fraction, amount: Fraction, currency: str) -> str:
        return (f"{format_number(total)} h worked after hours × {format_money(round_minor(rate), currency)} per hour "
                f"= {format_money(round_minor(amount), currency)}.")
