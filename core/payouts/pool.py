"""Team pool: an amount funded for a team, split between its members.

Funding (``funded_by``):

* ``recurring_revenue`` — ``rate`` × the team's recurring revenue of a ``category`` in the
  period: the ``recurring_revenue`` metric at team grain, which sums the active agreement
  lines of the clients the team is responsible for, prorated by agreement and
  responsibility dates (seed 002: 6% of managed-services revenue);
* ``profit`` — ``rate`` × the team's gross profit (the ``gross_profit`` metric);
* ``fixed`` — a set ``amount``.

A different metric can stand in with ``metric:`` (its Σnumerator is read as minor units).

The pool is rounded once to minor units and split by the largest-remainder method, so
the lines add up to it exactly. Split (``split``): ``equal``; ``hours_worked`` — each
member's logged hours (the ``hours_worked`` metric) *while on the team*; ``shares`` —
``shares`` by role or e-mail (default 1). Everyone's weight also counts only the days
they were on the team, so a mid-period move splits by days on each team.
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
from podium.payouts.base import (
    Participant,
    PayoutLine,
    PayoutRule,
    RuleContext,
    TeamSpan,
)
from podium.payouts.fields import Amount, Exact, MetricKey
from podium.payouts.measures import MeasureError
from podium.payouts.money import (
    exponent,
    format_money,
    format_number,
    round_minor,
    split_largest_remainder,
)

FUNDING_METRICS = {"recurring_revenue": "recurring_revenue", "profit": "gross_profit"}


class PoolConfig(Schema):
    class Meta:
        unknown = RAISE

    team = fields.String()
    funded_by = fields.String(required=True, validate=validate.OneOf(("recurring_revenue", "profit", "fixed")))
    category = fields.String()
    rate = Exact(validate=validate.Range(min=0, max=1))
    amount = Amount(validate=validate.Range(min=0))
    metric = MetricKey()
    params = fields.Dict(keys=fields.String(), load_default=dict)
    split = fields.String(load_default="equal", validate=validate.OneOf(("equal", "hours_worked", "shares")))
    hours_metric = MetricKey(load_default="hours_worked")
    shares = fields.Dict(keys=fields.String(), values=Exact(validate=validate.Range(min=0)))

    @validates_schema
    def _funding(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("funded_by") == "fixed":
            if "amount" not in data:
                raise ValidationError("A fixed pool needs amount:.", "amount")
        elif data.get("funded_by") and "rate" not in data:
            raise ValidationError("A funded pool needs rate: (e.g. 0.06 for 6%).", "rate")
        if data.get("split") == "shares" and not data.get("shares"):
            raise ValidationError("Splitting by shares needs shares: {role or e-mail: number}.", "shares")


class TeamPoolRule(PayoutRule):
    key = "team_pool"
    label = "Team pool"
    config_schema = PoolConfig

    def _funding_params(self) -> dict[str, Any]:
        params = dict(self.config["params"])
        if "category" in self.config:
            params.setdefault("category", self.config["category"])
        return params

    def metrics_used(self) -> list[tuple[str, dict[str, Any], str]]:
        used = []
        if self.config["funded_by"] != "fixed":
            metric = self.config.get("metric") or FUNDING_METRICS[self.config["funded_by"]]
            used.append((metric, self._funding_params(), "team"))
        if self.config["split"] == "hours_worked":
            used.append((self.config["hours_metric"], {}, "person"))
        return used

    def _team(self, context: Any) -> tuple[int, str]:
        name = self.config.get("team") or (context.plan_teams[0] if len(context.plan_teams) == 1 else None)
        if name is None:
            raise MeasureError("the team pool does not say which team: give it team:")
        team_id = context.team_named(name)
        if team_id is None:
            raise MeasureError(f"there is no team named {name!r}")
        return team_id, name

    def _fund(self, context: Any, team_id: int) -> tuple[int, str, tuple[str, ...]]:
        currency = context.currency
        if self.config["funded_by"] == "fixed":
            pool = round_minor(self.config["amount"] * 10 ** exponent(currency))
            return pool, f"a fixed pool of {format_money(pool, currency)}", ()
        metric = self.config.get("metric") or FUNDING_METRICS[self.config["funded_by"]]
        use = {"metric": metric, "params": self._funding_params(), "grain": "team"}
        reading = context.metric(metric, grain="team", subject=str(team_id), params=use["params"])
        base = reading.total
        pool = round_minor(base * self.config["rate"])
        what = self.config.get("category", "").replace("_", " ")
        source = f"{what} {'revenue' if self.config['funded_by'] == 'recurring_revenue' else 'profit'}".strip()
        text = (f"{format_number(self.config['rate'] * 100)}% of the team's {source} "
                f"{format_money(round_minor(base), currency)} = {format_money(pool, currency)}")
        return pool, text, (reading.ref,)

    def _weight(self, context: Any, participant: Participant, spans: list[TeamSpan]) -> tuple[Fraction, str, list[str]]:
        days = sum(span.days for span in spans)
        period_days = context.period.days
        on_team = "" if days == period_days else f", {days} of {period_days} days on the team"
        split = self.config["split"]
        if split == "hours_worked":
            hours, refs = Fraction(0), []
            for span in spans:
                reading = context.metric(self.config["hours_metric"], grain="person",
                                         subject=str(participant.person_id), start=span.start, end=span.end)
                hours += reading.total
                refs.append(reading.ref)
            return hours, f"{format_number(hours)} h worked on the team{on_team}", refs
        share = Fraction(1)
        if split == "shares":
            shares = self.config["shares"]
            for key in (participant.email or "", participant.role or "", participant.level or ""):
                if key in shares:
                    share = shares[key]
                    break
        weight = share * Fraction(sum(Fraction(span.days) * Fraction(str(span.share)) for span in spans))
        label = f"{format_number(share)} share(s)" if split == "shares" else "an equal share"
        return weight, f"{label}{on_team}", []

    def evaluate(self, context: RuleContext) -> list[PayoutLine]:
        team_id, team_name = self._team(context)
        members = []
        for participant in context.participants:
            spans = [span for span in participant.teams if span.team_id == team_id]
            if spans:
                members.append((participant, spans))
        if not members:
            return []
        pool, funding, funding_refs = self._fund(context, team_id)
        weighed = [(p, *self._weight(context, p, spans)) for p, spans in members]
        total_weight = sum((w for _, w, _, _ in weighed), Fraction(0))
        parts = split_largest_remainder(pool, [w for _, w, _, _ in weighed])
        lines = []
        unit = "h" if self.config["split"] == "hours_worked" else "weight"
        for (participant, weight, how, refs), part in zip(weighed, parts):
            if pool == 0:
                explanation = f"Team pool of {team_name}: {funding}; nothing to split."
            elif total_weight == 0:
                explanation = f"Team pool of {team_name}: {funding}; no one logged hours, so nothing is split."
            else:
                share_text = (f"{format_number(weight)} of {format_number(total_weight)} {unit}"
                              if self.config["split"] == "hours_worked"
                              else f"{format_number(weight / total_weight * 100)}% of the pool")
                explanation = (f"Team pool of {team_name}: {funding}; split by "
                               f"{self.config['split'].replace('_', ' ')}: {how}, {share_text} → "
                               f"{format_money(part, context.currency)} (largest-remainder split, lines sum to the pool).")
            lines.append(self.line(context, participant.person_id, part, explanation,
                                   readings=(*funding_refs, *refs),
                                   inputs={"pool_minor": pool, "weight": float(weight),
                                           "total_weight": float(total_weight), "team": team_name}))
        return lines

