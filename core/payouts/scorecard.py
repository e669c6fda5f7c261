"""Weighted scorecard: components with threshold / target / stretch, weighted into a bonus.

Each component maps its metric's value to a payout %: nothing when the value is worse
than the threshold; ``payout_at_threshold`` (default 0%) exactly at it, 100% at target,
``payout_at_stretch`` (default 150%) at stretch, and never more than the component's cap
(its highest point unless ``cap_pct`` says otherwise). Between the points the % is
interpolated linearly or held at the lower step (``interpolate: stepped``). Every bound
is inclusive: exactly at target pays 100%. A component whose target is below its
threshold is one where lower is better (MTTR).

Component pay = target bonus × weight × payout %. Weights sum to 1. Tier weighting gives
a component different weights by level or role (``weights_by: level`` and
``weights: {L1: 0.4, L3: 0.1}``); each level's weights must also sum to 1.

During a phase-in, a threshold, target or stretch can be ``baseline``, ``baseline + 2``
or ``baseline - 5``: the participant's own value in the plan's baseline period.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from marshmallow import RAISE, ValidationError, fields, validate, validates_schema
from podium.payouts.base import Participant, PayoutLine, PayoutRule, RuleContext
from podium.payouts.curves import interpolate
from podium.payouts.fields import (
    Exact,
    LevelField,
    MetricUse,
    TargetAmount,
    weight_field,
)
from podium.payouts.hints import to_reach
from podium.payouts.measures import describe, figure, label_of, read
from podium.payouts.money import format_money, format_number, round_minor
from podium.payouts.targets import target_for


class ComponentSchema(MetricUse):
    weight = weight_field(required=True)
    weights = fields.Dict(keys=fields.String(), values=weight_field(),
                          metadata={"description": "Weight by level or role (see weights_by)."})
    threshold = LevelField(required=True)
    target = LevelField(required=True)
    stretch = LevelField()
    cap_pct = Exact(validate=validate.Range(min=0))

    @validates_schema
    def _order(self, data: dict[str, Any], **kwargs: Any) -> None:
        threshold, target, stretch = data.get("threshold"), data.get("target"), data.get("stretch")
        numbers = [level.number for level in (threshold, target, stretch) if level is not None]
        if len(numbers) < 2 or any(n is None for n in numbers):
            return
        if threshold.number == target.number:
            raise ValidationError("The target must differ from the threshold.", "target")
        higher = target.number > threshold.number
        if stretch is not None and stretch.number is not None and (
            (stretch.number <= target.number) if higher else (stretch.number >= target.number)
        ):
            side = "above" if higher else "below"
            raise ValidationError(f"The stretch must be {side} the target ({float(target.number):g}).", "stretch")


class ScorecardConfig(TargetAmount):
    class Meta:
        unknown = RAISE

    components = fields.List(fields.Nested(ComponentSchema), required=True, validate=validate.Length(min=1))
    interpolate = fields.String(load_default="linear", validate=validate.OneOf(("linear", "stepped")))
    payout_at_threshold = Exact(load_default=Fraction(0), validate=validate.Range(min=0))
    payout_at_stretch = Exact(load_default=Fraction(150), validate=validate.Range(min=0))
    weights_by = fields.String(validate=validate.OneOf(("level", "role")))

    @validates_schema
    def _weights(self, data: dict[str, Any], **kwargs: Any) -> None:
        components = data.get("components") or []
        total = sum((c["weight"] for c in components), Fraction(0))
        if total != 1:
            raise ValidationError(f"The component weights add up to {float(total):g}, not 1.", "components")
        tiers = {tier for c in components for tier in (c.get("weights") or {})}
        if tiers and "weights_by" not in data:
            raise ValidationError("Say what per-tier weights are keyed by: weights_by: level or role.", "weights_by")
        for tier in sorted(tiers):
            tier_total = sum(((c.get("weights") or {}).get(tier, c["weight"]) for c in components), Fraction(0))
            if tier_total != 1:
                raise ValidationError(f"The weights for {tier} add up to {float(tier_total):g}, not 1.", "components")


class WeightedScorecardRule(PayoutRule):
    key = "weighted_scorecard"
    label = "Weighted scorecard"
    config_schema = ScorecardConfig

    def metrics_used(self) -> list[tuple[str, dict[str, Any], str]]:
        return [(c["metric"], c["params"], c["grain"]) for c in self.config["components"]]

    def _weight(self, component: dict[str, Any], participant: Participant) -> tuple[Fraction, str]:
        by = self.config.get("weights_by")
        tier = getattr(participant, by) if by else None
        weights = component.get("weights") or {}
        if tier is not None and tier in weights:
            return weights[tier], f" for {tier}"
        return component["weight"], ""

    def _points(self, levels: tuple[Fraction, Fraction, Fraction | None]) -> tuple[list[tuple[Fraction, Fraction]], bool]:
        """Curve points in "higher is better" space (values negated when lower is better)."""
        threshold, target, stretch = levels
        higher = target > threshold
        sign = 1 if higher else -1
        points = [(sign * threshold, self.config["payout_at_threshold"]), (sign * target, Fraction(100))]
        if stretch is not None:
            points.append((sign * stretch, self.config["payout_at_stretch"]))
        return points, higher

    def evaluate(self, context: RuleContext) -> list[PayoutLine]:
        lines = []
        for participant in context.participants:
            bonus, bonus_how = target_for(context, self.config, participant)
            for component in self.config["components"]:
                lines.append(self._component(context, participant, component, bonus, bonus_how))
        return lines

    def _levels(self, context: Any, participant: Participant, component: dict[str, Any]) -> tuple[Any, list[str]]:
        refs: list[str] = []
        levels = [component["threshold"], component["target"], component.get("stretch")]
        baseline = None
        if any(level is not None and level.from_baseline for level in levels):
            if context.baseline is None:
                return None, refs
            reading = read(context, component, participant, period=context.baseline)
            refs.append(reading.ref)
            baseline = reading.value
        resolved = tuple(None if level is None else level.resolve(baseline) for level in levels)
        if resolved[0] is None or resolved[1] is None or resolved[0] == resolved[1]:
            return None, refs
        return resolved, refs

    def _component(self, context: Any, participant: Participant, component: dict[str, Any], bonus: Fraction,
                   bonus_how: str) -> PayoutLine:
        reading = read(context, component, participant)
        label = label_of(component, reading)
        weight, weight_note = self._weight(component, participant)
        levels, refs = self._levels(context, participant, component)
        refs = (reading.ref, *refs)
        share = bonus * weight
        unit = reading.unit
        if levels is None:
            return self.line(context, participant.person_id, 0,
                             f"{label}: no baseline value to set its levels from, so nothing is paid for it.",
                             readings=refs, inputs={"component": label})
        threshold, target, stretch = levels
        points, higher = self._points(levels)
        cap = component.get("cap_pct", max(y for _, y in points))
        potential = share * cap / 100
        level_text = (f"threshold {figure(threshold, unit)}, target {figure(target, unit)}"
                      + (f", stretch {figure(stretch, unit)}" if stretch is not None else ""))
        inputs = {"component": label, "weight": float(weight), "threshold": float(threshold), "target": float(target),
                  "stretch": None if stretch is None else float(stretch),
                  "value": None if reading.value is None else float(reading.value)}
        if reading.value is None:
            return self.line(context, participant.person_id, 0,
                             f"{describe(component, reading)}: no data this period, so nothing is paid for it "
                             f"({level_text}).", readings=refs, potential=potential, inputs=inputs,
                             hint=f"{label}: no data yet")
        value = reading.value
        x = value if higher else -value
        below = x < points[0][0]
        percent = Fraction(0) if below else min(interpolate(points, x, self.config["interpolate"]), cap)
        amount = share * percent / 100
        inputs["payout_pct"] = float(percent)
        where = ("worse than the threshold, so 0%" if below
                 else f"{self.config['interpolate']} between the levels → {format_number(percent)}%")
        explanation = (f"{describe(component, reading)}; {level_text}: {where} × weight {format_number(weight * 100)}%"
                       f"{weight_note} × {bonus_how} = {format_money(round_minor(amount), context.currency)}.")
        return self.line(context, participant.person_id, amount, explanation, readings=refs, potential=potential,
                         inputs=inputs, hint=self._hint(reading, label, points, higher, x, percent, share,
                                                                   context.currency))

    def _hint(self, reading: Any, label: str, points: list[tuple[Fraction, Fraction]], higher: bool, x: Fraction,
              percent: Fraction, share: Fraction, currency: str) -> str | None:
        for point_x, point_y in points:
            if point_x > x and point_y > percent:
                level = point_x if higher else -point_x
                gain = share * (point_y - percent) / 100
                return (f"{to_reach(reading, level, higher, label)} → {format_number(point_y)}% of this component, "
                        f"{format_money(round_minor(gain), currency, sign=True)}")
        return None
