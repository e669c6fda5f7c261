"""marshmallow fields shared by the plan schema and the built-in rule types.

Rule config schemas are ordinary marshmallow schemas, so a third party's rule is
validated the same way. A few checks need to know the plan being loaded (its currency,
which metrics exist); marshmallow 4 has no schema context, so :func:`loading` sets them
in a :class:`contextvars.ContextVar` for the duration of one plan load.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)
from podium.payouts.money import MoneyError, exact, exponent


@dataclass(frozen=True)
class PlanLoad:
    """What the fields may check against while a plan file is being validated."""

    currency: str | None = None
    metrics: frozenset[str] | None = None
    """Registered metric keys, or None when unknown (then any key is accepted)."""


_NOTHING_LOADING = PlanLoad()
_LOAD: ContextVar[PlanLoad] = ContextVar("podium_plan_load", default=_NOTHING_LOADING)


@contextlib.contextmanager
def loading(currency: str | None, metrics: frozenset[str] | None) -> Iterator[None]:
    token = _LOAD.set(PlanLoad(currency, metrics))
    try:
        yield
    finally:
        _LOAD.reset(token)


class Exact(fields.Field):
    """A number read exactly (``0.3`` is three tenths), as a :class:`Fraction`."""

    default_error_messages: ClassVar[dict[str, str]] = {"invalid": "Not a number."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Fraction:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        try:
            return exact(value)
        except MoneyError:
            raise self.make_error("invalid") from None

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else float(value)


class Amount(Exact):
    """A money amount in major units of the plan's currency (``1500``, ``"1500.50"``)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Fraction:
        amount = super()._deserialize(value, attr, data, **kwargs)
        currency = _LOAD.get().currency
        if currency is not None and (amount * 10 ** exponent(currency)).denominator != 1:
            raise ValidationError(f"{currency} has {exponent(currency)} decimal places; {value} has more.")
        return amount


class MetricKey(fields.String):
    """The key of a registered metric."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        key = super()._deserialize(value, attr, data, **kwargs)
        known = _LOAD.get().metrics
        if known is not None and key not in known:
            listed = ", ".join(sorted(known)) or "none"
            raise ValidationError(f"There is no metric {key!r}; registered metrics: {listed}.")
        return key


_BASELINE = re.compile(r"^baseline(?:\s*([+-])\s*(\d+(?:\.\d+)?))?$")


@dataclass(frozen=True)
class Level:
    """A threshold, target or stretch: a number, or the participant's baseline value plus
    an offset (``baseline + 2``) during a phase-in."""

    number: Fraction | None = None
    baseline_offset: Fraction | None = None

    @property
    def from_baseline(self) -> bool:
        return self.baseline_offset is not None

    def resolve(self, baseline: Fraction | None) -> Fraction | None:
        if self.number is not None:
            return self.number
        if baseline is None or self.baseline_offset is None:
            return None
        return baseline + self.baseline_offset

    def __str__(self) -> str:
        if self.number is not None:
            return str(float(self.number))
        offset = self.baseline_offset or 0
        return "baseline" if offset == 0 else f"baseline {'+' if offset > 0 else '-'} {float(abs(offset))}"


class LevelField(fields.Field):
    """``72`` or ``baseline``, ``baseline + 2``, ``baseline - 5``."""

    default_error_messages: ClassVar[dict[str, str]] = {"invalid": "Give a number, or 'baseline' with an optional '+ N' or '- N'."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Level:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return Level(number=exact(value))
        match = _BASELINE.match(value.strip()) if isinstance(value, str) else None
        if match is None:
            raise self.make_error("invalid")
        offset = exact(match.group(2)) if match.group(2) else Fraction(0)
        return Level(baseline_offset=-offset if match.group(1) == "-" else offset)


class Curve(fields.Field):
    """Points ``[[x, y], …]`` with x strictly increasing: attainment % → payout %."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[tuple[Fraction, Fraction], ...]:
        if not isinstance(value, list) or len(value) < 2:
            raise ValidationError("Give at least two points, each [attainment %, payout %].")
        points: list[tuple[Fraction, Fraction]] = []
        for index, point in enumerate(value):
            if not isinstance(point, list) or len(point) != 2 or any(
                isinstance(v, bool) or not isinstance(v, (int, float)) for v in point
            ):
                raise ValidationError(f"Point {index + 1} must be [attainment %, payout %], two numbers.")
            x, y = exact(point[0]), exact(point[1])
            if y < 0:
                raise ValidationError(f"Point {index + 1}: a payout % cannot be negative.")
            if points and x <= points[-1][0]:
                raise ValidationError(
                    f"Point {index + 1}: attainment {point[0]} must be above the previous point's "
                    f"{float(points[-1][0]):g}."
                )
            points.append((x, y))
        return tuple(points)


def weight_field(**kwargs: Any) -> Exact:
    """A weight: more than 0, at most 1."""
    return Exact(validate=validate.Range(min=0, max=1, min_inclusive=False), **kwargs)


def percent_field(**kwargs: Any) -> Exact:
    """A percentage, 0 or more (``validate`` may narrow it)."""
    kwargs.setdefault("validate", validate.Range(min=0))
    return Exact(**kwargs)


class MetricUse(Schema):
    """Which metric a rule reads, with what parameters, at which grain.

    ``grain: team`` reads the team's pooled value (the plan's team, a named ``team``, or
    the team the participant spent most of the period on); ``company`` the whole
    tenant's; ``person`` (the default) the participant's own.
    """

    class Meta:
        unknown = RAISE

    metric = MetricKey(required=True)
    params = fields.Dict(keys=fields.String(), load_default=dict)
    grain = fields.String(load_default="person", validate=validate.OneOf(("person", "team", "role", "company")))
    team = fields.String()
    label = fields.String(metadata={"description": "What statements call it (default: the metric's label)."})


class TargetAmount(Schema):
    """The amount paid at 100%: a fixed ``target_amount`` or a ``percent_of_base_salary``
    (the effective-dated annual base salary's share of the period)."""

    class Meta:
        unknown = RAISE

    target_amount = Amount(validate=validate.Range(min=0))
    percent_of_base_salary = percent_field()

    @validates_schema
    def _one_target(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("target_amount" in data) == ("percent_of_base_salary" in data):
            raise ValidationError("Give exactly one of target_amount or percent_of_base_salary.")
