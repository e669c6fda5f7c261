"""Floors and caps on a person's total for the period: the last rule of a plan.

* The total is never negative: the floor is ``floor`` (default 0). A positive floor is a
  guaranteed minimum, paid only to people who did not forfeit the period (eligibility).
* What the floor absorbs of a negative total (clawbacks beyond earnings) is forgiven
  (``absorbed: forgive``, the default) or carried forward (``carry_forward``): the next
  period starts with a ``carry_in`` line taking it back, before its own floor, which may
  absorb (and carry) it again.
* ``cap`` limits the total from above.
"""

from __future__ import annotations

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
from podium.payouts.fields import Amount
from podium.payouts.money import exponent, format_money, round_minor


class LimitsConfig(Schema):
    class Meta:
        unknown = RAISE

    floor = Amount(load_default=0, validate=validate.Range(min=0, error="The floor cannot be negative: a bonus "
                                                                         "is never below 0."))
    cap = Amount(validate=validate.Range(min=0))
    absorbed = fields.String(load_default="forgive", validate=validate.OneOf(("forgive", "carry_forward")))

    @validates_schema
    def _range(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "cap" in data and data["cap"] < data.get("floor", 0):
            raise ValidationError("The cap is below the floor.", "cap")


class LimitsRule(PayoutRule):
    key = "limits"
    label = "Floor and cap"
    config_schema = LimitsConfig

    def evaluate(self, context: RuleContext) -> list[PayoutLine]:
        currency = context.currency
        scale = 10 ** exponent(currency)
        floor = round_minor(self.config["floor"] * scale)
        cap = round_minor(self.config["cap"] * scale) if "cap" in self.config else None
        carry = self.config["absorbed"] == "carry_forward"
        lines = []
        for participant in context.participants:
            pid = participant.person_id
            total = context.total(pid)
            carried = context.carried_in(pid) if carry else 0
            if carried:
                lines.append(self.line(context, pid, -carried,
                                       f"Carried forward from the previous period: clawbacks its floor absorbed "
                                       f"({format_money(-carried, currency)}).", kind="carry_in",
                                       inputs={"carried_in_minor": carried}))
                total -= carried
            forfeited = any(line.person_id == pid and line.inputs.get("forfeit") for line in context.lines)
            applies = 0 if forfeited else floor
            if total < applies:
                below_zero = max(0, -total)
                fate = ("carried forward to the next period" if carry else "forgiven") if below_zero else ""
                what = (f"the total {format_money(total, currency)} is below the floor "
                        f"{format_money(applies, currency)}")
                tail = f"; {format_money(below_zero, currency)} below zero is {fate}" if below_zero else ""
                lines.append(self.line(context, pid, applies - total, f"Floor: {what}, so it is raised to the floor{tail}.",
                                       kind="floor", inputs={"carry_forward_minor": below_zero if carry else 0,
                                                             "absorbed_minor": below_zero}))
            elif cap is not None and total > cap:
                lines.append(self.line(context, pid, cap - total,
                                       f"Cap: the total {format_money(total, currency)} is above the cap "
                                       f"{format_money(cap, currency)}.", kind="cap"))
        return lines
