"""The metric engine: computes, materialises, explains and freezes metric values.

Design §1 and §3. A metric (a plugin) only says which rows count and how
(:mod:`podium.metrics.base`); the engine binds the tenant, applies the tenant's scope
filters, overrides and exclusion windows, aggregates grains and periods in SQL
(:mod:`podium.metrics.query`) and keeps what plans and pods use current:

* :meth:`MetricEngine.compute` — figures for any grain and period, live;
* :meth:`MetricEngine.explain` — the records behind one figure, from the very same
  query (or, for a closed period, from the drill-down frozen when it closed);
* :meth:`MetricEngine.track` — materialise a (metric, parameters, grain, period kind)
  a plan or pod uses, from a start date on; :meth:`MetricEngine.refresh` recomputes
  tracked values (:mod:`podium.metrics.changes` does it incrementally after syncs);
* :meth:`MetricEngine.values` — what the API, pods and payouts read: closed values
  first, then materialised ones, else a live computation;
* :meth:`MetricEngine.close_period` — freeze a period's values and their drill-down.

Every method works in the caller's session, which must be scoped to the tenant
(``podium.db.session(tenant_id)``), so the caller decides the transaction.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from marshmallow import missing
from sqlalchemy import delete, exists, func, insert, select
from sqlalchemy.orm import Session

from podium.metrics import periods, query
from podium.metrics.base import Metric
from podium.metrics.definitions import definition_for, find_definition
from podium.metrics.periods import KINDS, CalendarSettings, Period, containing, overlapping
from podium.metrics.scope import ScopeSettings, load_scope
from podium.metrics.spans import seed_record_spans
from podium.metrics.tables import Tables
from podium.metrics.timegrid import ensure, settings_of
from podium.models import (
    MetricDefinition,
    MetricExclusionWindow,
    MetricOverride,
    MetricTracked,
    MetricValue,
    MetricValueRecord,
    Tenant,
    Ticket,
    utcnow,
)
from podium.models.metrics import GRAINS
from podium.org.calendars import zone
from podium.runtime import Podium
from podium.schemas.canonical import ENTITY_MODELS

log = logging.getLogger(__name__)


class MetricError(ValueError):
    """A request the engine cannot answer; ``field`` names the offending input."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(f"{field}: {reason}")


class MetricFailed(MetricError):
    """A metric's own code or SQL raised: the error names the metric and the plugin that
    registered it, so an admin knows whom to ask (and which plugin to disable)."""

    def __init__(self, key: str, plugin: str, error: BaseException) -> None:
        self.key = key
        self.plugin = plugin
        self.error = error
        detail = "".join(traceback.format_exception_only(type(error), error)).strip().splitlines()[0]
        super().__init__("metric", f"{key!r} from plugin {plugin!r} failed: {detail}")


@dataclass(frozen=True)
class Value:
    """One figure: a subject of a grain in a period, with its inputs and freshness."""

    metric_key: str
    version: int | None
    """The definition version it was computed with (None for a live figure of a definition never used)."""
    grain: str
    subject: str
    period: Period
    numerator: float
    denominator: float
    value: float | None
    records: int
    computed_at: dt.datetime
    data_synced_at: dt.datetime | None
    closed: bool = False

    @property
    def data_age(self) -> dt.timedelta | None:
        """How old the newest input was when the figure was computed ("data 3 min old")."""
        return None if self.data_synced_at is None else self.computed_at - self.data_synced_at

    def as_dict(self) -> dict[str, Any]:
        age = self.data_age
        return {
            "metric": self.metric_key,
            "version": self.version,
            "grain": self.grain,
            "subject": self.subject,
            "period": str(self.period),
            "period_start": self.period.start.isoformat(),
            "period_end": self.period.end.isoformat(),
            "numerator": self.numerator,
            "denominator": self.denominator,
            "value": self.value,
            "records": self.records,
            "as_of": self.computed_at.isoformat(),
            "data_synced_at": None if self.data_synced_at is None else self.data_synced_at.isoformat(),
            "data_age_seconds": None if age is None else int(age.total_seconds()),
            "closed": self.closed,
        }

    @classmethod
    def from_row(cls, row: MetricValue) -> Value:
        return cls(
            metric_key=row.metric_key, version=row.version, grain=row.grain, subject=row.subject,
            period=Period(row.period_kind, row.period_start, row.period_end), numerator=row.numerator,
            denominator=row.denominator, value=row.value, records=row.records, computed_at=row.computed_at,
            data_synced_at=row.data_synced_at, closed=row.closed_at is not None,
        )


@dataclass(frozen=True)
class Record:
    """One row of a drill-down: a record and what it contributed (weighted for the grain)."""

    record_type: str
    record_id: int
    anchored_at: dt.datetime
    numerator: float
    denominator: float

    def as_dict(self) -> dict[str, Any]:
        return {"record_type": self.record_type, "record_id": self.record_id,
                "anchored_at": self.anchored_at.isoformat(), "numerator": self.numerator,
                "denominator": self.denominator}


@dataclass(frozen=True)
class Explanation:
    """A figure and the records it was computed from, with the definition that computed it."""

    value: Value | None
    records: list[Record]
    params: dict[str, Any]
    frozen: bool
    """True when the records come from the drill-down frozen at the period's close."""


@dataclass
class Context:
    """What one computation in one tenant needs, built once."""

    tenant_id: int
    settings: CalendarSettings
    currency: str
    scope: ScopeSettings
    adjustments: query.Adjustments
    now: dt.datetime
    today: dt.date
    grid_ready: set[tuple[dt.date, dt.date]] = field(default_factory=set)
    synced: dict[str, dt.datetime | None] = field(default_factory=dict)
    """Entity → newest ``synced_at``, looked up once per computation."""

    @property
    def tables(self) -> Tables:
        return Tables(self.tenant_id, currency=self.currency, scope=self.scope)

    def parameters(self, start: dt.date, end: dt.date, custom: Period | None = None) -> dict[str, Any]:
        """Bound values for a statement over the local days ``[start, end)``."""
        begin, finish = Period("custom", start, end).utc_bounds(self.settings.time_zone)
        return query.parameters(begin, finish, self.now, custom)


@functools.lru_cache(maxsize=512)
def _pooled_statement(
    metric_class: type[Metric], params: str, grain: str, kind: str, tenant_id: int, currency: str,
    scope: ScopeSettings, adjustments: query.Adjustments,
) -> Any:
    """The pooled statement of a metric, built once per process for each shape.

    Building a metric's SQL costs more than running it on a small tenant; the statement
    depends only on these arguments (periods and the clock are bound parameters), so it
    is reused, and SQLAlchemy's compiled cache then serves it without compiling again.
    """
    metric = metric_class(json.loads(params))
    tables = Tables(tenant_id, currency=currency, scope=scope)
    return query.pooled(query.rows(metric, tables, adjustments), grain, metric, tables, kind)


class MetricEngine:
    """The engine of one Podium runtime; metric classes come from its plugins' registry."""

    def __init__(self, podium: Podium, *, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.podium = podium
        self.clock = clock
        self.failures: list[MetricError] = []
        """Tracked metrics that failed to recompute (each also logged); the others were."""

    # -- metrics and parameters -----------------------------------------------------------

    def metric(self, key: str, params: dict[str, Any] | None = None) -> Metric:
        """An instance of the registered metric ``key`` with validated ``params``."""
        registry = self.podium.plugins.metrics
        if key not in registry:
            known = ", ".join(sorted(m.key for m in registry)) or "none"
            raise MetricError("metric", f"no metric {key!r} (registered: {known})")
        return registry.get(key)(params)

    def catalogue(self) -> list[dict[str, Any]]:
        """Every registered metric: what it measures, how, and its parameters with defaults."""
        registry = self.podium.plugins.metrics
        return [describe(cls, registry.owner(cls.key)) for cls in sorted(registry, key=lambda m: m.key)]

    def period(self, session: Session, tenant_id: int, text: str) -> Period:
        """A period from its text form, in the tenant's calendar settings."""
        ctx = self.context(session, tenant_id)
        try:
            return periods.parse(text, ctx.settings, ctx.today)
        except periods.PeriodError as exc:
            raise MetricError("period", str(exc)) from None

    def context(self, session: Session, tenant_id: int) -> Context:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            raise MetricError("tenant", f"no tenant {tenant_id}")
        now = self.clock()
        has = {
            model: session.scalar(
                select(exists().where(model.tenant_id == tenant_id, model.revoked_at.is_(None)))
            )
            for model in (MetricOverride, MetricExclusionWindow)
        }
        return Context(
            tenant_id=tenant_id,
            settings=settings_of(tenant),
            currency=tenant.currency,
            scope=load_scope(session, tenant_id),
            adjustments=query.Adjustments(overrides=bool(has[MetricOverride]),
                                          windows=bool(has[MetricExclusionWindow])),
            now=now,
            today=now.astimezone(zone(tenant.time_zone)).date(),
        )

    def _grid(self, session: Session, ctx: Context, start: dt.date, end: dt.date) -> None:
        """Cover ``[start, end)`` and every ticket's life (business time is measured from creation)."""
        if (start, end) in ctx.grid_ready:
            return
        first_ticket = session.scalar(select(func.min(Ticket.created_at)).where(Ticket.tenant_id == ctx.tenant_id))
        earliest = start if first_ticket is None else min(start, first_ticket.date() - dt.timedelta(days=1))
        ensure(session, ctx.tenant_id, earliest, max(end, ctx.today + dt.timedelta(days=1)))
        ctx.grid_ready.add((start, end))

    @staticmethod
    def _check(grain: str) -> None:
        if grain not in GRAINS:
            raise MetricError("grain", f"one of {', '.join(GRAINS)}")

    def _expanded(self, session: Session, ctx: Context, metric: Metric, grain: str, start: dt.date,
                  end: dt.date) -> Any:
        """Every row of ``metric`` in the local days ``[start, end)`` with its subject and weight."""
        self._grid(session, ctx, start, end)
        tables = ctx.tables
        with self.guarded(metric):
            rows = query.rows(metric, tables, ctx.adjustments)
            return query.expanded(rows, grain, metric, tables).subquery("expanded")

    @contextlib.contextmanager
    def guarded(self, metric: Metric) -> Iterator[None]:
        """Turn anything a metric's code or SQL raises into :class:`MetricFailed`."""
        try:
            yield
        except MetricError:
            raise
        except Exception as exc:  # noqa: BLE001 - a plugin's bug may raise anything
            registry = self.podium.plugins.metrics
            plugin = registry.owner(metric.key) if metric.key in registry else "unknown"
            raise MetricFailed(metric.key, plugin, exc) from exc

    @staticmethod
    def data_synced_at(session: Session, ctx: Context, metric: Metric) -> dt.datetime | None:
        """The newest ``synced_at`` among the tables ``metric`` reads: its data version."""
        for entity in metric.requires:
            model = ENTITY_MODELS.get(entity)
            if entity not in ctx.synced and model is not None and hasattr(model, "synced_at"):
                ctx.synced[entity] = session.scalar(
                    select(func.max(model.synced_at)).where(model.tenant_id == ctx.tenant_id)
                )
        known = [ctx.synced[e] for e in metric.requires if ctx.synced.get(e) is not None]
        return max(known, default=None)

    # -- live figures ---------------------------------------------------------------------

    def _pooled(
        self, session: Session, ctx: Context, metric: Metric, grain: str, periods: Sequence[Period],
        subjects: list[str] | None = None,
    ) -> dict[tuple[str, dt.date], tuple[float, float, int]]:
        """(subject, period start) → (numerator, denominator, records) for ``periods`` (one kind)."""
        kind, start, end = periods[0].kind, periods[0].start, periods[-1].end
        self._grid(session, ctx, start, end)
        parameters = ctx.parameters(start, end, periods[0] if kind == "custom" else None)
        with self.guarded(metric):
            statement = _pooled_statement(type(metric), json.dumps(metric.dumped_params(), sort_keys=True), grain,
                                          kind, ctx.tenant_id, ctx.currency, ctx.scope, ctx.adjustments)
            return {
                (row.subject, _date(row.period_start)): (query.settle(row.numerator), query.settle(row.denominator),
                                                         row.records)
                for row in session.execute(statement, parameters)
                if subjects is None or row.subject in subjects
            }

    def compute(
        self,
        session: Session,
        tenant_id: int,
        key: str,
        grain: str,
        period: Period,
        params: dict[str, Any] | None = None,
        subjects: list[str] | None = None,
    ) -> list[Value]:
        """Compute ``key`` for every subject of ``grain`` in ``period`` (or only ``subjects``), live."""
        self._check(grain)
        metric = self.metric(key, params)
        return self._live(session, tenant_id, metric, grain, [period], subjects)[period]

    def _live(
        self, session: Session, tenant_id: int, metric: Metric, grain: str, periods: Sequence[Period],
        subjects: list[str] | None,
    ) -> dict[Period, list[Value]]:
        """Live figures of ``periods`` (one kind, in order; a custom period alone), in one statement."""
        ctx = self.context(session, tenant_id)
        definition = find_definition(session, tenant_id, metric)
        pooled = self._pooled(session, ctx, metric, grain, periods, subjects)
        synced = self.data_synced_at(session, ctx, metric)
        by_start = {p.start: p for p in periods}
        live: dict[Period, list[Value]] = {p: [] for p in periods}
        for (subject, start), (num, den, count) in sorted(pooled.items()):
            if start in by_start:
                live[by_start[start]].append(
                    Value(metric.key, definition.version if definition else None, grain, subject, by_start[start],
                          num, den, query.ratio(num, den, metric.factor), count, ctx.now, synced))
        return live

    def explain(
        self,
        session: Session,
        tenant_id: int,
        key: str,
        grain: str,
        period: Period,
        subject: str,
        params: dict[str, Any] | None = None,
    ) -> Explanation:
        """The figure of one subject and the records behind it.

        For a closed period the drill-down frozen at the close is returned; otherwise the
        records come from the same query the figure does, so they always add up to it.
        """
        self._check(grain)
        metric = self.metric(key, params)
        closed = self._closed_values(session, tenant_id, key, grain, period, [subject])
        if closed:
            row = closed[0]
            frozen = session.scalars(
                select(MetricValueRecord)
                .where(MetricValueRecord.value_id == row.id)
                .order_by(MetricValueRecord.anchored_at, MetricValueRecord.record_type, MetricValueRecord.record_id)
            )
            definition = session.get(MetricDefinition, row.definition_id)
            return Explanation(
                Value.from_row(row),
                [Record(r.record_type, r.record_id, r.anchored_at, r.numerator, r.denominator) for r in frozen],
                dict(definition.params) if definition else {},
                frozen=True,
            )
        values = self.values(session, tenant_id, key, grain, period, params, [subject])
        ctx = self.context(session, tenant_id)
        e = self._expanded(session, ctx, metric, grain, period.start, period.end)
        statement = (
            select(e.c.record_type, e.c.record_id, e.c.anchored_at, (e.c.numerator * e.c.weight).label("numerator"),
                   (e.c.denominator * e.c.weight).label("denominator"))
            .where(e.c.subject == subject)
            .order_by(e.c.anchored_at, e.c.record_type, e.c.record_id)
        )
        with self.guarded(metric):
            listed = [
                Record(r.record_type, int(r.record_id), r.anchored_at, query.settle(r.numerator),
                       query.settle(r.denominator))
                for r in session.execute(statement, ctx.parameters(period.start, period.end))
            ]
        return Explanation(values[0] if values else None, listed, metric.dumped_params(), frozen=False)

    # -- reading --------------------------------------------------------------------------

    def _closed_values(
        self, session: Session, tenant_id: int, key: str, grain: str, period: Period, subjects: list[str] | None
    ) -> list[MetricValue]:
        statement = select(MetricValue).where(
            MetricValue.tenant_id == tenant_id,
            MetricValue.metric_key == key,
            MetricValue.grain == grain,
            MetricValue.period_kind == period.kind,
            MetricValue.period_start == period.start,
            MetricValue.period_end == period.end,
            MetricValue.closed_at.is_not(None),
        )
        if subjects is not None:
            statement = statement.where(MetricValue.subject.in_(subjects))
        return list(session.scalars(statement.order_by(MetricValue.subject)))

    @staticmethod
    def _closed_starts(
        session: Session, tenant_id: int, key: str, grain: str, periods: Sequence[Period]
    ) -> set[dt.date]:
        """Starts of those of ``periods`` (one kind) that are closed for ``key`` at ``grain``."""
        return set(session.scalars(select(MetricValue.period_start).distinct().where(
            MetricValue.tenant_id == tenant_id, MetricValue.metric_key == key, MetricValue.grain == grain,
            MetricValue.period_kind == periods[0].kind, MetricValue.period_start.in_([p.start for p in periods]),
            MetricValue.closed_at.is_not(None),
        )))

    def values(
        self,
        session: Session,
        tenant_id: int,
        key: str,
        grain: str,
        period: Period,
        params: dict[str, Any] | None = None,
        subjects: list[str] | None = None,
    ) -> list[Value]:
        """The figures of ``key`` for ``grain`` in ``period``, the way everyone reads them.

        A closed period answers with its frozen values (whatever parameters were asked:
        a closed period keeps its definition). A materialised period answers with its
        stored values; anything else is computed live.
        """
        self._check(grain)
        metric = self.metric(key, params)
        if self._closed_starts(session, tenant_id, key, grain, [period]):
            return [Value.from_row(row) for row in self._closed_values(session, tenant_id, key, grain, period, subjects)]
        definition = find_definition(session, tenant_id, metric)
        stored: list[Value] = []
        if definition is not None and period.kind != "custom":
            rows = session.scalars(select(MetricValue).where(
                MetricValue.definition_id == definition.id, MetricValue.grain == grain,
                MetricValue.period_kind == period.kind, MetricValue.period_start == period.start,
                MetricValue.period_end == period.end,
            ).order_by(MetricValue.subject))
            stored = [Value.from_row(row) for row in rows]
        if not stored:
            # Not tracked, or nothing materialised (yet): the period began after the last
            # recompute, or it has no data — which a live computation says as well.
            return self.compute(session, tenant_id, key, grain, period, params, subjects)
        return [v for v in stored if subjects is None or v.subject in subjects]

    def series(
        self,
        session: Session,
        tenant_id: int,
        key: str,
        grain: str,
        periods: Sequence[Period],
        params: dict[str, Any] | None = None,
        subjects: list[str] | None = None,
    ) -> dict[Period, list[Value]]:
        """:meth:`values` of many periods at once (a trend line), each read exactly as
        :meth:`values` reads it — closed periods frozen, materialised ones stored, the rest
        live — but with one statement for each of those per period kind instead of one
        round of them per period. A custom period is read on its own."""
        self._check(grain)
        metric = self.metric(key, params)
        read: dict[Period, list[Value]] = {}
        kinds: dict[str, list[Period]] = {}
        for period in dict.fromkeys(periods):
            if period.kind == "custom":
                read[period] = self.values(session, tenant_id, key, grain, period, params, subjects)
            else:
                kinds.setdefault(period.kind, []).append(period)
        for group in kinds.values():
            read.update(self._kind_series(session, tenant_id, metric, grain, sorted(group, key=lambda p: p.start),
                                          subjects))
        return {period: read[period] for period in periods}

    def _kind_series(
        self, session: Session, tenant_id: int, metric: Metric, grain: str, periods: list[Period],
        subjects: list[str] | None,
    ) -> dict[Period, list[Value]]:
        """:meth:`series` for periods of one (non-custom) kind, in order."""
        by_start = {p.start: p for p in periods}
        found: dict[Period, list[Value]] = {p: [] for p in periods}
        closed = self._closed_starts(session, tenant_id, metric.key, grain, periods)
        definition = find_definition(session, tenant_id, metric)
        scope = [MetricValue.tenant_id == tenant_id, MetricValue.metric_key == metric.key,
                 MetricValue.closed_at.is_not(None)] if closed else []
        open_starts = [start for start in by_start if start not in closed]
        wanted = []
        if closed:
            wanted.append((scope, list(closed)))
        if definition is not None and open_starts:
            wanted.append(([MetricValue.definition_id == definition.id], open_starts))
        for where, starts in wanted:
            statement = select(MetricValue).where(
                *where, MetricValue.grain == grain, MetricValue.period_kind == periods[0].kind,
                MetricValue.period_start.in_(starts), MetricValue.period_end.in_([by_start[s].end for s in starts]),
            )
            if subjects is not None:
                statement = statement.where(MetricValue.subject.in_(subjects))
            for row in session.scalars(statement.order_by(MetricValue.period_start, MetricValue.subject)):
                period = by_start[row.period_start]
                if period.end == row.period_end:
                    found[period].append(Value.from_row(row))
        # A period with nothing stored is computed live, as values() does. (Whether anything
        # is stored does not depend on ``subjects``: only a subject-free probe decides.)
        stored = self._stored_starts(session, definition, grain, periods[0].kind, open_starts) \
            if subjects is not None and definition is not None and open_starts else \
            {p.start for p, values in found.items() if values}
        missing = [by_start[s] for s in open_starts if s not in stored]
        if missing:
            found.update(self._live(session, tenant_id, metric, grain, missing, subjects))
        return found

    @staticmethod
    def _stored_starts(
        session: Session, definition: MetricDefinition, grain: str, kind: str, starts: list[dt.date]
    ) -> set[dt.date]:
        """Which of ``starts`` have materialised values of ``definition`` at ``grain``."""
        return set(session.scalars(select(MetricValue.period_start).distinct().where(
            MetricValue.definition_id == definition.id, MetricValue.grain == grain, MetricValue.period_kind == kind,
            MetricValue.period_start.in_(starts),
        )))

    # -- materialisation ------------------------------------------------------------------

    def track(
        self,
        session: Session,
        tenant_id: int,
        key: str,
        grain: str,
        period_kind: str,
        used_by: str,
        since: dt.date,
        params: dict[str, Any] | None = None,
    ) -> MetricTracked:
        """Keep ``key`` (with ``params``) materialised for ``grain`` × ``period_kind`` from
        ``since`` on, for ``used_by`` (``"plan:…"``, ``"pod:…"``); computes it now."""
        self._check(grain)
        if period_kind not in KINDS:
            raise MetricError("period_kind", f"one of {', '.join(KINDS)}")
        metric = self.metric(key, params)
        definition = definition_for(session, tenant_id, metric)
        if not session.scalar(select(exists().where(MetricTracked.tenant_id == tenant_id))):
            # Until something is tracked the change hook keeps nothing up to date, so what
            # each record touches is remembered afresh now (see podium.metrics.spans).
            seed_record_spans(session, tenant_id)
        tracked = session.scalars(select(MetricTracked).where(
            MetricTracked.definition_id == definition.id, MetricTracked.grain == grain,
            MetricTracked.period_kind == period_kind, MetricTracked.used_by == used_by,
        )).one_or_none()
        if tracked is None:
            tracked = MetricTracked(tenant_id=tenant_id, definition_id=definition.id, grain=grain,
                                    period_kind=period_kind, since=since, used_by=used_by)
            session.add(tracked)
        else:
            tracked.since = min(tracked.since, since)
        session.flush()
        self.refresh(session, tenant_id, [tracked], isolate=False)  # whoever starts tracking hears of a failure
        return tracked

    def tracked(self, session: Session, tenant_id: int) -> list[MetricTracked]:
        return list(session.scalars(
            select(MetricTracked).where(MetricTracked.tenant_id == tenant_id).order_by(MetricTracked.id)
        ))

    def refresh(
        self, session: Session, tenant_id: int, tracked: Iterable[MetricTracked] | None = None, *,
        isolate: bool = True,
    ) -> list[Value]:
        """Recompute every period of each tracked entry (default: all of the tenant's) from
        its ``since`` to the current period; returns the values that changed. A failing
        metric is isolated (:meth:`refresh_isolated`) unless ``isolate`` is False."""
        ctx = self.context(session, tenant_id)
        changed: list[Value] = []
        for entry in self.tracked(session, tenant_id) if tracked is None else tracked:
            periods = overlapping(entry.period_kind, entry.since,
                                  containing(entry.period_kind, ctx.today, ctx.settings).end, ctx.settings)
            refresh = self.refresh_isolated if isolate else self.refresh_periods
            changed += refresh(session, ctx, entry, periods)
        return changed

    def refresh_isolated(
        self, session: Session, ctx: Context, entry: MetricTracked, periods: Sequence[Period]
    ) -> list[Value]:
        """:meth:`refresh_periods` in a savepoint: a metric that fails (its plugin raised, or
        was disabled since it was tracked) is logged, kept in :attr:`failures` and left as it
        was, and the other tracked metrics are still recomputed — one plugin's bug must not
        freeze every figure."""
        try:
            with session.begin_nested():
                return self.refresh_periods(session, ctx, entry, periods)
        except MetricError as failure:
            log.error("tenant %s: tracked metric %s not recomputed: %s", ctx.tenant_id, entry.id, failure,
                      exc_info=failure)
            self.failures.append(failure)
            return []

    def refresh_periods(
        self, session: Session, ctx: Context, entry: MetricTracked, periods: Sequence[Period]
    ) -> list[Value]:
        """Recompute ``periods`` (of ``entry``'s kind, in order) of one tracked entry; closed
        periods are left as they are. Returns the values that changed (a value that went
        away is returned with no data)."""
        definition = session.get(MetricDefinition, entry.definition_id)
        if definition is None or not periods:
            return []
        metric = self.metric(definition.metric_key, definition.params)
        closed = self._closed_starts(session, ctx.tenant_id, metric.key, entry.grain, periods)
        open_periods = [p for p in periods if p.start not in closed]
        if not open_periods:
            return []
        fresh = self._pooled(session, ctx, metric, entry.grain, open_periods)
        by_start = {p.start: p for p in open_periods}
        synced = self.data_synced_at(session, ctx, metric)
        now = ctx.now
        scope = (
            MetricValue.definition_id == definition.id,
            MetricValue.grain == entry.grain,
            MetricValue.period_kind == entry.period_kind,
            MetricValue.period_start.in_(list(by_start)),
        )
        before = {(row.subject, row.period_start): (row.numerator, row.denominator, row.records)
                  for row in session.execute(select(MetricValue.subject, MetricValue.period_start,
                                                    MetricValue.numerator, MetricValue.denominator,
                                                    MetricValue.records).where(*scope))}
        session.execute(delete(MetricValue).where(*scope).execution_options(synchronize_session=False))
        rows = [
            {
                "tenant_id": ctx.tenant_id, "definition_id": definition.id, "metric_key": metric.key,
                "version": definition.version, "grain": entry.grain, "subject": subject,
                "period_kind": entry.period_kind, "period_start": start, "period_end": by_start[start].end,
                "numerator": num, "denominator": den, "value": query.ratio(num, den, metric.factor),
                "records": count, "computed_at": now, "data_synced_at": synced,
            }
            for (subject, start), (num, den, count) in sorted(fresh.items())
            if start in by_start
        ]
        if rows:
            session.execute(insert(MetricValue), rows)
        changed = []
        for subject_start in sorted(set(before) | {k for k in fresh if k[1] in by_start}):
            new = fresh.get(subject_start)
            if before.get(subject_start) == new:
                continue
            subject, start = subject_start
            num, den, count = new or (0.0, 0.0, 0)
            changed.append(Value(metric.key, definition.version, entry.grain, subject, by_start[start], num, den,
                                 query.ratio(num, den, metric.factor) if new else None, count, now, synced))
        return changed

    # -- closing --------------------------------------------------------------------------

    def close_period(self, session: Session, tenant_id: int, period: Period) -> int:
        """Freeze every materialised value inside ``period`` (a value and its drill-down
        never change again); returns how many values were closed. Idempotent."""
        ctx = self.context(session, tenant_id)
        values = list(session.scalars(select(MetricValue).where(
            MetricValue.tenant_id == tenant_id, MetricValue.closed_at.is_(None),
            MetricValue.period_start >= period.start, MetricValue.period_end <= period.end,
        )))
        groups: dict[tuple[int, str, str, dt.date, dt.date], dict[str, MetricValue]] = {}
        for value in values:
            groups.setdefault((value.definition_id, value.grain, value.period_kind, value.period_start,
                               value.period_end), {})[value.subject] = value
        now = ctx.now
        for (definition_id, grain, _kind, start, end), by_subject in groups.items():
            definition = session.get(MetricDefinition, definition_id)
            assert definition is not None
            metric = self.metric(definition.metric_key, definition.params)
            e = self._expanded(session, ctx, metric, grain, start, end)
            frozen = [
                {"tenant_id": tenant_id, "value_id": by_subject[r.subject].id, "record_type": r.record_type,
                 "record_id": int(r.record_id), "anchored_at": r.anchored_at,
                 "numerator": query.settle(r.numerator * r.weight),
                 "denominator": query.settle(r.denominator * r.weight)}
                for r in session.execute(select(e).where(e.c.subject.in_(list(by_subject))),
                                         ctx.parameters(start, end))
            ]
            if frozen:
                session.execute(insert(MetricValueRecord), frozen)
            for value in by_subject.values():
                value.closed_at = now
        session.flush()
        return len(values)


def describe(cls: type[Metric], plugin: str) -> dict[str, Any]:
    """A metric class as the catalogue (CLI, API) shows it."""
    params = {}
    for name, schema_field in cls.params_schema().fields.items():
        default = schema_field.load_default
        params[name] = {
            "type": type(schema_field).__name__,
            "default": None if default is missing else (default() if callable(default) else default),
            "description": schema_field.metadata.get("description"),
        }
    return {
        "key": cls.key,
        "label": cls.label,
        "description": (cls.__doc__ or "").strip().split("\n")[0] or None,
        "unit": cls.unit,
        "better": cls.better,
        "anchor": cls.anchor,
        "attribution": cls.attribution,
        "revision": cls.revision,
        "requires": {entity: sorted(names) for entity, names in cls.requires.items()},
        "params": params,
        "plugin": plugin,
    }


def _date(value: Any) -> dt.date:
    """SQLite returns dates computed in SQL as text."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
