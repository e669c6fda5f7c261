"""The metric contract.

A metric never aggregates and never filters by tenant: it returns a SQL selectable of
one row per record (or per share of a record) over the tenant-bound tables it is given,
and the engine does the rest — tenant scope, scope filters and overrides, grains (person,
team, role, client, company), periods, pooling, drill-down. That keeps a third party's
metric as correct as a built-in one, and every figure explainable.

The selectable's columns, by label (:data:`ROW_COLUMNS`):

``person_id``
    Who the record is credited to (``podium.models.Person`` id), or NULL — an unattributed
    record still counts for its client and the company.
``client_id``
    The client the record belongs to, or NULL.
``anchored_at``
    The UTC instant that places the record in a period (the ``anchor``).
``numerator``, ``denominator``
    The record's contribution; the engine sums both per subject and period (a team's rate
    is pooled, never a mean of rates) and reports ``scale × Σnumerator / Σdenominator``,
    or "no data" (None) when Σdenominator is 0.
``record_type``, ``record_id``
    The record behind the row (``"ticket"``, 42) — what drill-down lists and overrides name.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any, ClassVar, Literal

from marshmallow import Schema, ValidationError
from sqlalchemy import BigInteger, ColumnElement, Float, String, cast, literal, null

ROW_COLUMNS = ("person_id", "client_id", "anchored_at", "numerator", "denominator", "record_type", "record_id")
"""The labels every metric's selectable has, in this order."""

Unit = Literal["percent", "hours", "count", "money", "ratio", "days"]


def row(
    *,
    person_id: Any,
    client_id: Any,
    anchored_at: Any,
    numerator: Any,
    denominator: Any,
    record_type: str,
    record_id: Any,
) -> list[ColumnElement[Any]]:
    """The columns of a metric row, labelled and in order; Python values become typed
    literals (``person_id=None`` is a typed NULL, which PostgreSQL needs in a UNION)."""

    def value(given: Any, type_: Any) -> ColumnElement[Any]:
        if isinstance(given, ColumnElement):
            return given
        return cast(null(), type_) if given is None else literal(given, type_)

    return [
        value(person_id, BigInteger()).label("person_id"),
        value(client_id, BigInteger()).label("client_id"),
        anchored_at.label("anchored_at"),
        value(numerator, Float()).label("numerator"),
        value(denominator, Float()).label("denominator"),
        literal(record_type, String()).label("record_type"),
        record_id.label("record_id"),
    ]


class MetricParamsError(ValueError):
    """Parameters a metric's schema refused; ``errors`` maps each field to its reasons."""

    def __init__(self, key: str, errors: dict[str, Any]) -> None:
        self.key = key
        self.errors = errors
        detail = "; ".join(f"{name}: {' '.join(map(str, reasons)) if isinstance(reasons, list) else reasons}"
                           for name, reasons in errors.items())
        super().__init__(f"invalid parameters for {key}: {detail}")


class Metric:
    """Base class of every metric; subclass it and register it with ``registry.add``."""

    key: ClassVar[str]
    """Stable id used by plan files and the API, e.g. ``"fcr_pct"``."""
    label: ClassVar[str]
    unit: ClassVar[Unit] = "percent"
    better: ClassVar[Literal["higher", "lower"]] = "higher"
    revision: ClassVar[int] = 1
    """Bump when the formula changes: values computed before keep the old definition version."""
    requires: ClassVar[dict[str, frozenset[str]]] = {}
    """Canonical entity → fields it reads. A synced change of one of these entities
    recomputes the metric; the fields are checked against the connections' capabilities."""
    params_schema: ClassVar[type[Schema]] = Schema
    """marshmallow schema of the metric's parameters (defaults included)."""
    anchor: ClassVar[str]
    """Which timestamp places a record in a period, e.g. ``"tickets.resolved_at"`` (documentation)."""
    look_back: ClassVar[dt.timedelta] = dt.timedelta(0)
    look_ahead: ClassVar[dt.timedelta] = dt.timedelta(0)
    """How far from a changed record's own times the anchors of the rows it affects can
    lie: a reopen at *t* changes the reopen rate of resolutions back to *t* − 14 days
    (``look_back``). See :meth:`window` for parameter-dependent windows."""
    attribution: ClassVar[Literal["person", "client"]] = "person"
    """How person, team and role grains find a row's subjects: ``"person"`` — the row's
    ``person_id``, their team memberships and role on the record's day; ``"client"`` —
    the people and teams responsible for the row's ``client_id`` that day, weighted by
    their responsibility shares (endpoint health, margins)."""
    exclusion_windows: ClassVar[bool] = False
    """True for metrics whose ``record_type = "ticket"`` rows exclusion windows (outages,
    rollouts) remove — SLA and MTTR."""
    scale: ClassVar[float | None] = None
    """Factor applied to Σnumerator / Σdenominator; None means 100 for percentages, else 1."""

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        try:
            self.params = self.params_schema().load(params or {})
        except ValidationError as exc:
            raise MetricParamsError(self.key, exc.messages_dict) from None

    @property
    def factor(self) -> float:
        """The scale the engine multiplies a pooled ratio by."""
        if self.scale is not None:
            return self.scale
        return 100.0 if self.unit == "percent" else 1.0

    def window(self) -> tuple[dt.timedelta, dt.timedelta]:
        """(look_back, look_ahead) for these parameters; override when they depend on one."""
        return self.look_back, self.look_ahead

    def dumped_params(self) -> dict[str, Any]:
        """The parameters in their JSON form (what a definition version stores)."""
        return dict(self._dumped)

    @functools.cached_property
    def _dumped(self) -> dict[str, Any]:
        # Dumped once per instance: a pod render asks hundreds of times, and a schema
        # instance costs more than the figure's own query on a small tenant.
        return self.params_schema().dump(self.params)

    def select(self, tables: Any) -> Any:
        """Return the selectable of :data:`ROW_COLUMNS` over ``tables``
        (a :class:`podium.metrics.tables.Tables`)."""
        raise NotImplementedError
