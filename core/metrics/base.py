"""The metric contract.

A metric never aggregates and never filters by tenant: it returns a SQL selectable of
(subject, anchor time, numerator, denominator, record type, record id) over the
tenant-bound canonical tables it is given, and the engine does the rest — tenant scope,
grains (person, team, role, client, company), periods, pooling, drill-down. That keeps a
third party's metric as correct as a built-in one, and every figure explainable.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal

from marshmallow import Schema


class Metric:
    """Base class of every metric; subclass it and register it with ``registry.add``."""

    key: ClassVar[str]
    """Stable id used by plan files and the API, e.g. ``"fcr_pct"``."""
    label: ClassVar[str]
    unit: ClassVar[Literal["percent", "hours", "count", "money", "ratio", "days"]] = "percent"
    better: ClassVar[Literal["higher", "lower"]] = "higher"
    requires: ClassVar[dict[str, frozenset[str]]] = {}
    """Canonical entity → fields it reads; checked against the connections' capabilities."""
    params_schema: ClassVar[type[Schema]] = Schema
    """marshmallow schema of the metric's parameters (defaults included)."""
    anchor: ClassVar[str]
    """Which timestamp places a record in a period, e.g. ``"tickets.resolved_at"``."""
    look_back: ClassVar[dt.timedelta] = dt.timedelta(0)
    look_ahead: ClassVar[dt.timedelta] = dt.timedelta(0)
    """How far from a changed record's anchor a change can move this metric (reopen windows)."""

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.params = self.params_schema().load(params or {})

    def select(self, tables: Any) -> Any:
        """Return the selectable of (subject, anchored_at, numerator, denominator, record_type, record_id)."""
        raise NotImplementedError
