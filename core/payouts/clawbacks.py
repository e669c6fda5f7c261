"""Clawbacks: a set amount taken back for each ticket reopened soon after it was resolved.

The ``reopened_tickets`` metric (params ``within_days``) credits a reopen to the person
who resolved the ticket and anchors it at the *reopen*, so a ticket resolved on 28 March
and reopened on 3 April is clawed back in April's (or Q2's) period — the period where it
reopens — never by rewriting the paid one. Clawbacks come before the floor (a limits
rule), which decides whether a negative total is forgiven or carried forward.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, validate
from podium.payouts.base import PayoutLine, PayoutRule, RuleContext
from podium.payouts.fields import Amount, MetricKey
from podium.payouts.money import exponent, format_money, format_number, round_minor


class ClawbackConfig(Schema):
    class Meta:
        unknown = RAISE

    reopened_within_days = fields.Integer(required=True, validate=validate.Range(min=1, max=365))
    per_ticket = Amount(required=True, validate=validate.Range(min=0, min_inclusive=False))
    metric = MetricKey(load_default="reopened_tickets")


class ClawbackRule(PayoutRule):
    key = "clawback"
    label = "Clawback on reopened tickets"
    config_schema = ClawbackConfig

    def _params(self) -> dict[str, Any]:
        return {"within_days": self.config["reopened_within_days"]}

    def metrics_used(self) -> list[tuple[str, dict[str, Any], str]]:
        return [(self.config["metric"], self._params(), "person")]

    def evaluate(self, context: RuleContext) -> list[PayoutLine]:
        per_ticket = self.config["per_ticket"] * 10 ** exponent(context.currency)
        days = self.config["reopened_within_days"]
        lines = []
        for participant in context.participants:
            reading = context.metric(self.config["metric"], grain="person", subject=str(participant.person_id),
                                     params=self._params())
            count = reading.total
            if count == 0:
                continue
            amount = -count * per_ticket
            lines.append(self.line(
                context, participant.person_id, amount,
                f"{format_number(count)} ticket(s) you resolved were reopened within {days} days during this "
                f"period: {format_number(count)} × {format_money(round_minor(per_ticket), context.currency)} "
                f"= {format_money(round_minor(amount), context.currency)}.",
                kind="clawback", readings=(reading.ref,), inputs={"tickets": float(count)},
            ))
        return lines
