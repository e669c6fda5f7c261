"""What payout rules may know: metric values, read through one narrow interface.

Payout rules never query records (design §1). They ask a :class:`MetricReader` for
``(metric, params, grain, subject, [start, end))`` and get a :class:`MetricReading`: the
pooled numerator and denominator, the value the engine reports (``factor × Σnumerator /
Σdenominator``, None when there is no data), the metric definition's version, when it
was computed, and the records behind it (drill-down). Everything a statement explains
and a closed period freezes is in the reading.

Readers:

* :class:`EngineMetricReader` — the real one, through the metric engine: a closed
  period's frozen values, the materialised values of tracked metrics, or a live
  computation for a range no period kind covers (the days someone was on a team);
* :class:`WhatIfReader` — the same, with some values replaced (what-if, never saved);
* :class:`ProjectedReader` — the same, with totals extrapolated to the period's end
  (live preview: "projected to period end").

Every reader records what it was asked (:attr:`MetricReader.readings`), which is how a
closed period's snapshot knows every metric value and version it was paid on.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from podium.metrics import Metric
from podium.metrics.base import MetricParamsError
from podium.metrics.engine import MetricError, Value
from podium.metrics.periods import CalendarSettings, Period, containing
from podium.payouts.money import exact
from sqlalchemy.orm import Session

GRAINS = ("person", "team", "role", "client", "company")


class MetricReadError(LookupError):
    """A metric a plan names is not registered, or its parameters are invalid."""


@dataclass(frozen=True)
class RecordRef:
    """One record behind a metric value (a ticket, a time entry, a survey …)."""

    record_type: str
    record_id: int


@dataclass(frozen=True)
class MetricReading:
    """A metric's figure for one subject and date range, with where it came from."""

    metric_key: str
    params: Mapping[str, Any]
    grain: str
    subject: str
    start: dt.date
    end: dt.date
    numerator: float
    denominator: float
    factor: float
    unit: str = "percent"
    label: str = ""
    version: int | None = None
    computed_at: dt.datetime | None = None
    records: tuple[RecordRef, ...] = ()
    note: str | None = None
    """Why the figure is not the stored one (``"what-if"``, ``"projected"``)."""

    @property
    def exact_factor(self) -> Fraction:
        """The metric's scale as the ratio it stands for (``1/3600`` for seconds → hours, not
        the float nearest to it), so a value exactly at a threshold compares as exactly there."""
        return exact(self.factor).limit_denominator(1_000_000)

    @property
    def value(self) -> Fraction | None:
        """``factor × numerator / denominator`` exactly, or None: no data."""
        if not self.denominator:
            return None
        return self.exact_factor * exact(self.numerator) / exact(self.denominator)

    @property
    def total(self) -> Fraction:
        """Σnumerator: the sum a pool is funded from or a split is weighted by."""
        return exact(self.numerator)

    @property
    def ref(self) -> str:
        """A stable name for this reading, used by lines and snapshots to point at it."""
        params = json.dumps(dict(self.params), sort_keys=True, separators=(",", ":"), default=str)
        return f"{self.metric_key}{params}|{self.grain}:{self.subject}|{self.start}..{self.end}"

    def as_dict(self) -> dict[str, Any]:
        """The JSON form kept in a closed period's snapshot."""
        return {
            "ref": self.ref,
            "metric": self.metric_key,
            "label": self.label,
            "unit": self.unit,
            "params": dict(self.params),
            "grain": self.grain,
            "subject": self.subject,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "numerator": self.numerator,
            "denominator": self.denominator,
            "factor": self.factor,
            "value": None if self.value is None else float(self.value),
            "version": self.version,
            "computed_at": self.computed_at.isoformat() if self.computed_at else None,
            "records": [[r.record_type, r.record_id] for r in self.records],
            "note": self.note,
        }


@dataclass
class MetricReader:
    """Base of readers: remembers every reading it handed out, by :attr:`MetricReading.ref`."""

    readings: dict[str, MetricReading] = field(default_factory=dict, init=False)

    def read(
        self,
        metric_key: str,
        params: Mapping[str, Any] | None,
        grain: str,
        subject: str,
        start: dt.date,
        end: dt.date,
    ) -> MetricReading:
        if grain not in GRAINS:
            raise MetricReadError(f"unknown grain {grain!r}; one of {', '.join(GRAINS)}")
        reading = self._read(metric_key, dict(params or {}), grain, str(subject), start, end)
        self.readings[reading.ref] = reading
        return reading

    def _read(
        self, metric_key: str, params: dict[str, Any], grain: str, subject: str, start: dt.date, end: dt.date
    ) -> MetricReading:
        raise NotImplementedError


@dataclass
class EngineMetricReader(MetricReader):
    """Reads through the metric engine (:meth:`podium.metrics.engine.MetricEngine.values`):
    a closed period's frozen values, else the materialised values of tracked metrics,
    else a live computation. ``with_records`` also fetches each value's drill-down
    (frozen after a close) — what statements and snapshots need, previews do not."""

    engine: Any
    session: Session
    tenant_id: int
    settings: CalendarSettings
    with_records: bool = False
    _subjects: dict[tuple[str, str, str, Period], dict[str, Value]] = field(default_factory=dict, init=False,
                                                                           repr=False)
    """Values read so far, every subject of each (metric, parameters, grain, period): the
    reader serves one evaluation (or a preview's two), over data that does not change."""

    def _metric(self, metric_key: str, params: dict[str, Any]) -> Metric:
        try:
            return self.engine.metric(metric_key, params)
        except (MetricError, MetricParamsError) as exc:
            raise MetricReadError(str(exc)) from None

    def period(self, start: dt.date, end: dt.date) -> Period:
        """The engine's period for ``[start, end)``: a month, quarter or fiscal year when
        it is exactly one (those are materialised), else a custom range."""
        for kind in ("month", "quarter", "fiscal_year"):
            candidate = containing(kind, start, self.settings)
            if (candidate.start, candidate.end) == (start, end):
                return candidate
        return Period("custom", start, end)

    def _read(
        self, metric_key: str, params: dict[str, Any], grain: str, subject: str, start: dt.date, end: dt.date
    ) -> MetricReading:
        metric = self._metric(metric_key, params)
        period = self.period(start, end)
        key = (metric_key, json.dumps(metric.dumped_params(), sort_keys=True, default=str), grain, period)
        if key not in self._subjects:
            # Every subject of the grain comes from the one statement anyway: a plan reads
            # each metric for all its participants, so one query serves them all.
            self._subjects[key] = {v.subject: v for v in self.engine.values(self.session, self.tenant_id, metric_key,
                                                                            grain, period, params)}
        return self._reading(metric, params, grain, subject, period, self._subjects[key].get(subject))

    def series(
        self, metric_key: str, params: Mapping[str, Any] | None, grain: str, subject: str,
        ranges: Sequence[tuple[dt.date, dt.date]],
    ) -> list[MetricReading]:
        """One subject's readings of ``ranges`` (a trend), read together
        (:meth:`podium.metrics.engine.MetricEngine.series`); not recorded in :attr:`readings`."""
        params = dict(params or {})
        metric = self._metric(metric_key, params)
        periods = [self.period(start, end) for start, end in ranges]
        values = self.engine.series(self.session, self.tenant_id, metric_key, grain, periods, params, [str(subject)])
        return [self._reading(metric, params, grain, str(subject), period, next(iter(values[period]), None))
                for period in periods]

    def _reading(self, metric: Metric, params: dict[str, Any], grain: str, subject: str, period: Period,
                 value: Value | None) -> MetricReading:
        """The reading of ``value`` (None: no data), with its drill-down when asked for."""
        base = MetricReading(
            metric_key=metric.key, params=metric.dumped_params(), grain=grain, subject=subject, start=period.start,
            end=period.end, numerator=0.0, denominator=0.0, factor=metric.factor, unit=metric.unit,
            label=getattr(metric, "label", metric.key),
        )
        if value is None:
            return base
        records: tuple[RecordRef, ...] = ()
        if self.with_records:
            explained = self.engine.explain(self.session, self.tenant_id, metric.key, grain, period, subject, params)
            records = tuple(RecordRef(r.record_type, int(r.record_id)) for r in explained.records)
        return replace(base, numerator=value.numerator, denominator=value.denominator, version=value.version,
                       computed_at=value.computed_at, records=records)


@dataclass
class WhatIfReader(MetricReader):
    """``base`` with some values replaced: ``{metric_key: value}`` applies to every
    subject, ``{"metric_key@grain:subject": value}`` to one. Nothing is saved."""

    base: MetricReader
    values: Mapping[str, Any]

    def _read(
        self, metric_key: str, params: dict[str, Any], grain: str, subject: str, start: dt.date, end: dt.date
    ) -> MetricReading:
        reading = self.base.read(metric_key, params, grain, subject, start, end)
        for key in (f"{metric_key}@{grain}:{subject}", metric_key):
            if key in self.values:
                wanted = exact(self.values[key])
                numerator = wanted / reading.exact_factor
                return replace(reading, numerator=float(numerator), denominator=1.0, records=(), note="what-if")
        return reading


@dataclass
class ProjectedReader(MetricReader):
    """``base`` with sums extrapolated to ``period_end`` at the pace so far.

    Numerator and denominator both scale by elapsed → whole period, so rates stay what
    they are and totals (revenue, hours, counts) grow in proportion: a plain
    straight-line projection that any rule, built-in or not, gets for free.
    """

    base: MetricReader
    as_of: dt.date

    def _read(
        self, metric_key: str, params: dict[str, Any], grain: str, subject: str, start: dt.date, end: dt.date
    ) -> MetricReading:
        reading = self.base.read(metric_key, params, grain, subject, start, end)
        elapsed = (min(max(self.as_of, start), end) - start).days
        whole = (end - start).days
        if elapsed <= 0 or elapsed >= whole:
            return reading
        scale = Fraction(whole, elapsed)
        return replace(
            reading,
            numerator=float(exact(reading.numerator) * scale),
            denominator=float(exact(reading.denominator) * scale),
            note=f"projected from {elapsed} of {whole} days",
        )
