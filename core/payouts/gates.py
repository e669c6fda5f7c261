"""Gates: conditions that must all hold, or what was earned before them is not paid.

A gate rule comes after the rules whose pay it guards. Each gate reads one metric — for
the person, or pooled for their team or the company — and checks it against inclusive
(``at_least``, ``at_most``) or exclusive (``above``, ``below``) bounds. No data fails a
gate unless it says ``on_no_data: pass`` (a help desk with no surveys has not shown 99%
CSAT). When a gate fails, a line takes back what the person earned so far, or all but
``otherwise_pay_pct`` of it.

The root-cause-analysis prerequisite (``rca_prerequisite``) is the same mechanism with
one gate on the RCA completion rate and, usually, a partial ``otherwise_pay_pct``.
"""

from __future__ import annotations

from fractions import Fraction
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
from podium.payouts.fields import Exact, MetricUse, percent_field
from podium.payouts.hints import to_reach
from podium.payouts.measures import describe, figure, label_of, read
from podium.payouts.money import format_money, format_number, round_minor

BOUNDS = {"at_least": ">=", "at_most": "<=", "above": ">", "below": "<"}


class GateSchema(MetricUse):
    at_least = Exact()
    at_most = Exact()
    above = Exact()
    below = Exact()
    on_no_data = fields.String(load_default="fail", validate=validate.OneOf(("fail", "pass")))

    @validates_schema
    def _bounds(self, data: dict[str, Any], **kwargs: Any) -> None:
        given = [name for name in BOUNDS if name in data]
        if not given:
            raise ValidationError("Give a bound: at_least, at_most (inclusive), above or below (exclusive).")
        if "at_least" in data and "above" in data or "at_most" in data and "below" in data:
            raise ValidationError("Give one lower bound (at_least or above) and one upper (at_most or below).")


class GatesConfig(Schema):
    class Meta:
        unknown = RAISE

    gates = fields.List(fields.Nested(GateSchema), required=True, validate=validate.Length(min=1))
    otherwise_pay_pct = percent_field(load_default=Fraction(0), validate=validate.Range(min=0, max=100))


def holds(value: Fraction, gate: dict[str, Any]) -> bool:
    checks = {
        "at_least": lambda v, b: v >= b,
        "at_most": lambda v, b: v <= b,
        "above": lambda v, b: v > b,
        "below": lambda v, b: v < b,
    }
    return all(checks[name](value, gate[name]) for name in BOUNDS if name in gate)


def bound_text(gate: dict[str, Any], unit: str) -> str:
    words = {"at_least": "at least", "at_most": "at most", "above": "above", "below": "below"}
    return " and ".join(f"{words[name]} {figure(gate[name], unit)}" for name in BOUNDS if name in gate)


class GatesRule(PayoutRule):
    key = "gates"
    label = "Gates (all must hold)"
    config_schema = GatesConfig

    def metrics_used(self) -> list[tuple[str, dict[str, Any], str]]:
        return [(g["metric"], g["params"], g["grain"]) for g in self.config["gates"]]

    def evaluate(self, context: RuleContext) -> list[PayoutLine]:
        lines = []
        for participant in context.participants:
            passed, failed, refs, hints = [], [], [], []
            for gate in self.config["gates"]:
                reading = read(context, gate, participant)
                refs.append(reading.ref)
                what = f"{describe(gate, reading)} — needs {bound_text(gate, reading.unit)}"
                ok = gate["on_no_data"] == "pass" if reading.value is None else holds(reading.value, gate)
                (passed if ok else failed).append(what)
                if not ok and reading.value is not None:
                    level = gate.get("at_least", gate.get("above", gate.get("at_most", gate.get("below"))))
                    hints.append(to_reach(reading, level, "at_least" in gate or "above" in gate,
                                          label_of(gate, reading)))
            earned = context.total(participant.person_id)
            if not failed:
                lines.append(self.line(context, participant.person_id, 0, "All gates hold: " + "; ".join(passed) + ".",
                                       kind="gate", readings=tuple(refs), inputs={"passed": True}))
                continue
            kept = self.config["otherwise_pay_pct"]
            taken = -Fraction(max(earned, 0)) * (100 - kept) / 100
            consequence = (f"nothing earned above is paid ({format_money(round_minor(taken), context.currency)})"
                           if kept == 0 else
                           f"only {format_number(kept)}% of the {format_money(earned, context.currency)} earned "
                           f"above is paid ({format_money(round_minor(taken), context.currency)})")
            lines.append(self.line(
                context, participant.person_id, taken,
                "Gate not met: " + "; ".join(failed) + f" → {consequence}.",
                kind="gate", readings=tuple(refs), potential=0,
                inputs={"passed": False, "earned_minor": earned, "otherwise_pay_pct": float(kept)},
                hint="; ".join(hints) or None,
            ))
        return lines


class RcaConfig(Schema):
    class Meta:
        unknown = RAISE

    metric = fields.String(load_default="rca_documented_pct")
    params = fields.Dict(keys=fields.String(), load_default=dict)
    grain = fields.String(load_default="person", validate=validate.OneOf(("person", "team", "company")))
    required_pct = Exact(load_default=Fraction(100), validate=validate.Range(min=0, max=100))
    otherwise_pay_pct = percent_field(load_default=Fraction(50), validate=validate.Range(min=0, max=100))


class RcaPrerequisiteRule(GatesRule):
    """Documented root-cause analysis for recurring incidents as a prerequisite for full
    pay: a gate on the RCA completion rate whose failure keeps ``otherwise_pay_pct``."""

    key = "rca_prerequisite"
    label = "Root-cause analysis prerequisite"
    config_schema = RcaConfig

    def __init__(self, config: Any, name: str | None = None) -> None:
        super().__init__(config, name)
        c = self.config
        gate = {"metric": c["metric"], "params": c["params"], "grain": c["grain"], "label": "RCA documented",
                "at_least": c["required_pct"], "on_no_data": "pass"}
        self.config = {"gates": [gate], "otherwise_pay_pct": c["otherwise_pay_pct"]}
