"""Budget attainment and accelerators: one attainment figure through a curve.

**Budget attainment** (seed 001): company measures, each an attainment % (actual ÷
budget, from metrics that read the budget table), are averaged by weight; the weighted
attainment goes through a curve of ``[attainment %, payout %]`` points (linear between
them; below the first pays the first point's payout, above the last pays the last: the
cap) and the participant gets that % of their incentive — typically
``percent_of_base_salary: 5``, which brings a 95%-of-market base to 100% at budget.

**Accelerator** (and decelerator): one metric's attainment, through bands that each pay
at their own rate; a retroactive band re-prices the bands below it once reached
(:func:`podium.payouts.curves.tiered`).
"""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)
from podium.payouts.base import PayoutLine, PayoutRule, RuleContext
from podium.payouts.curves import Band, interpolate, tiered
from podium.payouts.fields import Curve, Exact, MetricUse, TargetAmount, weight_field
from podium.payouts.hints import to_reach
from podium.payouts.measures import describe, figure, label_of, read
from podium.payouts.money import format_money, format_number, round_minor
from podium.payouts.targets import target_for


class MeasureSchema(MetricUse):
    weight = weight_field(required=True)
    grain = fields.String(load_default="company", validate=validate.OneOf(("person", "team", "role", "company")))


class BudgetConfig(TargetAmount):
    class Meta:
        unknown = RAISE

    measures = fields.List(fields.Nested(MeasureSchema), required=True, validate=validate.Length(min=1))
    curve = Curve(required=True)
    interpolate = fields.String(load_default="linear", validate=validate.OneOf(("linear", "stepped")))

    @validates_schema
    def _weights(self, data: dict[str, Any], **kwargs: Any) -> None:
        total = sum((m["weight"] for m in data.get("measures") or []), Fraction(0))
        if total != 1:
            raise ValidationError(f"The measure weights add up to {float(total):g}, not 1.", "measures")


class BudgetAttainmentRule(PayoutRule):
    key = "budget_attainment"
    label = "Budget attainment"
    config_schema = BudgetConfig

    def metrics_used(self) -> list[tuple[str, dict[str, Any], str]]:
        return [(m["metric"], m["params"], m["grain"]) for m in self.config["measures"]]

    def evaluate(self, context: RuleContext) -> list[PayoutLine]:
        curve = self.config["curve"]
        cap = max(y for _, y in curve)
        lines = []
        for participant in context.participants:
            parts, refs, attainment = [], [], Fraction(0)
            for measure in self.config["measures"]:
                reading = read(context, measure, participant)
                refs.append(reading.ref)
                value = reading.value if reading.value is not None else Fraction(0)
                attainment += measure["weight"] * value
                parts.append(f"{describe(measure, reading)} × {format_number(measure['weight'] * 100)}%")
            percent = interpolate(curve, attainment, self.config["interpolate"])
            incentive, how = target_for(context, self.config, participant)
            amount = incentive * percent / 100
            explanation = (f"Weighted attainment {format_number(attainment)}% ({' + '.join(parts)}); "
                           f"the curve pays {format_number(percent)}% at that attainment, × {how} = "
                           f"{format_money(round_minor(amount), context.currency)}.")
            hint = None
            for x, y in curve:
                if x > attainment and y > percent:
                    gain = incentive * (y - percent) / 100
                    hint = (f"Weighted attainment needs {format_number(x)}% (now {format_number(attainment)}%) → "
                            f"{format_number(y)}% of the incentive, "
                            f"{format_money(round_minor(gain), context.currency, sign=True)}")
                    break
            lines.append(self.line(context, participant.person_id, amount, explanation, readings=tuple(refs),
                                   potential=incentive * cap / 100, hint=hint,
                                   inputs={"attainment_pct": float(attainment), "payout_pct": float(percent)}))
        return lines


class BandSchema(Schema):
    class Meta:
        unknown = RAISE

    start = Exact(data_key="from", required=True, validate=validate.Range(min=0))
    rate = Exact(required=True, validate=validate.Range(min=0))
    retroactive = fields.Boolean(load_default=False)


class AcceleratorConfig(TargetAmount, MetricUse):
    class Meta:
        unknown = RAISE

    quota = Exact(validate=validate.Range(min=0, min_inclusive=False), metadata={
        "description": "The metric value that is 100% attainment; without it the metric is an attainment %."})
    bands = fields.List(fields.Nested(BandSchema), required=True, validate=validate.Length(min=1))
    cap_pct = Exact(validate=validate.Range(min=0))

    @validates_schema
    def _bands(self, data: dict[str, Any], **kwargs: Any) -> None:
        starts = [band["start"] for band in data.get("bands") or []]
        if starts and starts[0] != 0:
            raise ValidationError("The first band starts from 0.", "bands")
        if any(b <= a for a, b in pairwise(starts)):
            raise ValidationError("Bands are listed in increasing order of from:.", "bands")


class AcceleratorRule(PayoutRule):
    key = "accelerator"
    label = "Accelerators and decelerators"
    config_schema = AcceleratorConfig

    def metrics_used(self) -> list[tuple[str, dict[str, Any], str]]:
        return [(self.config["metric"], self.config["params"], self.config["grain"])]

    def evaluate(self, context: RuleContext) -> list[PayoutLine]:
        bands = [Band(b["start"], b["rate"], b["retroactive"]) for b in self.config["bands"]]
        lines = []
        for participant in context.participants:
            reading = read(context, self.config, participant)
            incentive, how = target_for(context, self.config, participant)
            quota = self.config.get("quota")
            value = reading.value or Fraction(0)
            attainment = value * 100 / quota if quota else value
            percent, steps = tiered(bands, attainment)
            cap = self.config.get("cap_pct")
            if cap is not None:
                percent = min(percent, cap)
            amount = incentive * percent / 100
            of_quota = f" of quota {figure(quota, reading.unit)}" if quota else ""
            explanation = (f"{describe(self.config, reading)}: attainment {format_number(attainment)}%{of_quota}; "
                           f"{' + '.join(steps) or 'no band reached'} = {format_number(percent)}% × {how} = "
                           f"{format_money(round_minor(amount), context.currency)}.")
            upcoming = next((band for band in bands if band.start > attainment), None)
            hint = None
            if upcoming is not None:
                level = upcoming.start * quota / 100 if quota else upcoming.start
                hint = f"{to_reach(reading, level, True, label_of(self.config, reading))} → the {format_number(upcoming.rate)}× band"
            lines.append(self.line(context, participant.person_id, amount, explanation, readings=(reading.ref,),
                                   hint=hint, potential=None if cap is None else incentive * cap / 100,
                                   inputs={"attainment_pct": float(attainment), "payout_pct": float(percent)}))
        return lines
