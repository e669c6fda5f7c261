"""The payout-rule contract.

A rule reads metric values only (design §1: payout rules never query vendors or raw
records) and returns lines that carry their own explanation, so a statement can say in
words and numbers why each amount is what it is.

A plan lists its rules in order; each rule sees the lines the rules before it produced
(:attr:`RuleContext.lines`). Earning rules (a scorecard, a pool) add positive lines;
rules that act on what was earned — gates, eligibility and proration, clawbacks, floors
and caps — add lines that take some of it back, with the reason. The amount paid is the
sum of a person's lines, which is why a statement can show every step.

Money is integer minor units of the plan's one currency; a rule computes an exact
amount (:class:`fractions.Fraction`) and :meth:`PayoutRule.line` rounds it once
(:func:`podium.payouts.money.round_minor`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar, Protocol

from marshmallow import Schema
from podium.payouts.money import round_minor

LINE_KINDS = (
    "earning",
    "gate",
    "eligibility",
    "proration",
    "clawback",
    "carry_in",
    "floor",
    "cap",
    "adjustment",
)
"""What a line is, for statements and the payroll export's columns:
``earning`` adds pay; ``gate``, ``eligibility`` and ``proration`` take back what was
earned (a failed gate, a missing acknowledgment, days not employed); ``clawback`` takes
back a set amount (a reopened ticket); ``carry_in`` is what a floor absorbed last period
and the plan carries forward; ``floor`` and ``cap`` bring a total up to its floor or down
to its cap; ``adjustment`` is a manual correction with an author and a reason."""


@dataclass(frozen=True)
class PayoutLine:
    """One amount for one person, in integer minor units, with the math behind it."""

    person_id: int
    rule: str
    """The rule's name in the plan (its ``name``, or its type key)."""
    amount_minor: int
    currency: str
    explanation: str
    """The math in words and numbers: "CSAT 97.5% is between threshold 90% and target 98% …"."""
    inputs: dict[str, Any] = field(default_factory=dict)
    """The figures the explanation uses (JSON-safe), for CSV statements and audits."""
    kind: str = "earning"
    """One of :data:`LINE_KINDS`."""
    readings: tuple[str, ...] = ()
    """Refs of the metric readings behind the line (:attr:`MetricReading.ref`): drill-down."""
    potential_minor: int | None = None
    """The most this line could pay this period (a component at its cap): what is still
    "on the table" is ``potential_minor - amount_minor``."""
    hint: str | None = None
    """What it takes to reach the next tier, in plain words (live preview)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "rule": self.rule,
            "kind": self.kind,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "explanation": self.explanation,
            "inputs": self.inputs,
            "readings": list(self.readings),
            "potential_minor": self.potential_minor,
            "hint": self.hint,
        }


def line_from_dict(data: Mapping[str, Any]) -> PayoutLine:
    """A line back from its JSON form (:meth:`PayoutLine.as_dict`, as a snapshot keeps it)."""
    return PayoutLine(
        person_id=data["person_id"], rule=data["rule"], amount_minor=data["amount_minor"], currency=data["currency"],
        explanation=data["explanation"], inputs=dict(data.get("inputs") or {}), kind=data.get("kind", "earning"),
        readings=tuple(data.get("readings") or ()), potential_minor=data.get("potential_minor"),
        hint=data.get("hint"),
    )


@dataclass(frozen=True)
class TeamSpan:
    """Days a participant was on a team during the period (mid-period moves split by them)."""

    team_id: int
    team_name: str
    start: dt.date
    end: dt.date
    share: float = 1.0

    @property
    def days(self) -> int:
        return (self.end - self.start).days


@dataclass(frozen=True)
class Participant:
    """Someone a plan pays this period, with the org facts rules may need."""

    person_id: int
    name: str
    email: str | None
    role: str | None
    level: str | None
    employed_from: dt.date | None
    employed_to: dt.date | None
    """Last day employed + 1 (exclusive, like every Podium end), or None."""
    teams: tuple[TeamSpan, ...] = ()

    def days_employed(self, start: dt.date, end: dt.date) -> int:
        first = max(start, self.employed_from) if self.employed_from else start
        last = min(end, self.employed_to) if self.employed_to else end
        return max(0, (last - first).days)


class RuleContext(Protocol):
    """What :meth:`PayoutRule.evaluate` is given (implemented by the payout engine)."""

    plan_key: str
    currency: str
    period: Any
    """A :class:`podium.payouts.periods.PayPeriod` (``start``, ``end``, ``kind``, ``label``)."""
    as_of: dt.date
    """Data up to this day counts (the period's end once it is over)."""
    participants: Sequence[Participant]
    lines: Sequence[PayoutLine]
    """Lines of the rules before this one, in order."""

    def metric(
        self,
        key: str,
        *,
        grain: str,
        subject: str | int,
        params: Mapping[str, Any] | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> Any:
        """A :class:`podium.payouts.readings.MetricReading` (default range: the period)."""

    def total(self, person_id: int) -> int:
        """The sum of ``person_id``'s lines so far."""

    def base_salary(self, person_id: int) -> tuple[Fraction, str]:
        """Base salary for the period (annual salary × the period's share of the year,
        split by days when it changed mid-period), in minor units, and how it was worked out."""

    def acknowledged(self, person_id: int, by: dt.date) -> bool:
        """Whether the person acknowledged this plan's version before ``by``."""

    def leave_days(self, person_id: int) -> int:
        """Whole days of leave (PTO covering a full working day) in the period."""

    def carried_in(self, person_id: int) -> int:
        """What a floor absorbed last period and this plan carries forward (≥ 0)."""

    def pay_date(self) -> dt.date:
        """The day this period is paid."""


class PayoutRule:
    """Base class of every payout rule type; subclass it and register it with ``registry.add``."""

    key: ClassVar[str]
    """The rule type's name in plan files, e.g. ``"weighted_scorecard"``."""
    label: ClassVar[str]
    config_schema: ClassVar[type[Schema]] = Schema

    def __init__(self, config: Mapping[str, Any], name: str | None = None) -> None:
        self.config = self.config_schema().load(dict(config))
        self.name = name or self.key

    def evaluate(self, context: RuleContext) -> list[PayoutLine]:
        """Compute this rule's lines for the period and people in ``context``."""
        raise NotImplementedError

    def metrics_used(self) -> list[tuple[str, dict[str, Any], str]]:
        """``(metric key, params, grain)`` this rule reads, so a plan can be checked
        against the registered metrics and the engine asked to keep them current."""
        return []

    def line(
        self,
        context: RuleContext,
        person_id: int,
        amount: Fraction | int,
        explanation: str,
        *,
        kind: str = "earning",
        potential: Fraction | int | None = None,
        **extra: Any,
    ) -> PayoutLine:
        """A line of this rule: ``amount`` (exact minor units) rounded once, here."""
        return PayoutLine(
            person_id=person_id,
            rule=self.name,
            amount_minor=round_minor(Fraction(amount)),
            currency=context.currency,
            explanation=explanation,
            kind=kind,
            potential_minor=None if potential is None else round_minor(Fraction(potential)),
            **extra,
        )
