"""What the "My scorecard" pod shows, read from the payout and metric engines.

Nothing here computes a figure of its own: the pay summary is the payout engine's live
preview (:meth:`podium.payouts.engine.PayoutEngine.preview` — the same numbers as
``GET /api/v1/payouts/<plan>/<period>/preview``), every figure is a metric reading the
plan was evaluated on (the metric engine's values — the same as ``GET /api/v1/metrics``),
the trend reads the same metric for earlier pay periods, and a drill-down is the metric
engine's :meth:`~podium.metrics.engine.MetricEngine.explain` of one figure. So the pod
cannot disagree with the API, a statement or a payout.

A plan's lines say what they read (:attr:`PayoutLine.readings`); each reading of the
current period becomes one figure, in the order the plan's rules read them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from podium.metrics.engine import MetricEngine
from podium.models import Connection, Person, Plan, SyncState, Tenant, utcnow
from podium.payouts.base import PayoutLine
from podium.payouts.engine import Evaluation, PayoutEngine, PayoutError, PersonPreview
from podium.payouts.measures import figure
from podium.payouts.money import exact, format_number
from podium.payouts.periods import PayPeriod, preceding
from podium.payouts.plan import PlanError
from podium.payouts.readings import MetricReading
from podium.web.sparkline import Sparkline, sparkline
from sqlalchemy import func, select
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

TREND_PERIODS = 6
"""Pay periods in a trend line, the current one included."""


@dataclass(frozen=True)
class Figure:
    """One metric figure of a plan, as the scorecard shows it."""

    index: int
    """Its position on the plan's card: how a drill-down link names it."""
    label: str
    reading: MetricReading
    line: PayoutLine
    """The payout line that read it (its amount, potential, hint and explanation)."""
    goal: Fraction | None
    status: str
    """``met``, ``short`` (between threshold and target), ``below``, ``none`` (no data) or ``info``."""
    status_text: str
    trend: Sparkline | None = None

    @property
    def value_text(self) -> str:
        return figure(self.reading.value, self.reading.unit)

    @property
    def pooled_text(self) -> str | None:
        """``39 of 40`` for a rate, so "3 more positive surveys" can be checked."""
        if self.reading.value is None or self.reading.unit not in ("percent", "ratio"):
            return None
        return f"{format_number(exact(self.reading.numerator))} of {format_number(exact(self.reading.denominator))}"

    @property
    def goal_text(self) -> str | None:
        return None if self.goal is None else figure(self.goal, self.reading.unit)

    @property
    def drillable(self) -> bool:
        """Only a person's own figure lists its records here; a team's figure holds other
        people's work, which a technician may not see."""
        return self.reading.grain == "person"


@dataclass(frozen=True)
class PlanCard:
    """One plan the person takes part in, for its current period."""

    key: str
    title: str
    period: PayPeriod | None
    currency: str
    as_of: dt.date
    preview: PersonPreview | None
    figures: tuple[Figure, ...]
    problem: str | None = None
    """Why the plan could not be shown (a plan file that no longer validates)."""

    @property
    def days_left(self) -> int:
        """Whole days of the period after today."""
        return 0 if self.period is None else max(0, (self.period.end - self.as_of).days - 1)

    @property
    def other_lines(self) -> list[PayoutLine]:
        """Lines that change pay without a figure of their own (eligibility, clawbacks, limits)."""
        shown = {id(f.line) for f in self.figures}
        return [line for line in self.preview.lines if id(line) not in shown and line.kind != "earning"] \
            if self.preview else []


def status_of(line: PayoutLine, reading: MetricReading) -> tuple[str, str]:
    """A figure's standing in words, from what its line says about it."""
    if reading.value is None:
        return "none", "No data yet"
    inputs = line.inputs
    if "payout_pct" in inputs:
        paid = Fraction(inputs["payout_pct"])
        if paid == 0:
            return "below", "Below threshold"
        if paid < 100:
            return "short", "Below target"
        if line.potential_minor is not None and line.amount_minor >= line.potential_minor:
            return "met", "At the cap"
        return "met", "Target met"
    if line.kind == "gate":
        return ("met", "Gates hold") if inputs.get("passed") else ("below", "A gate is not met")
    return "info", ""


def _readings(evaluation: Evaluation, lines: list[PayoutLine], period: PayPeriod
              ) -> Iterator[tuple[PayoutLine, MetricReading]]:
    """Each current-period reading behind ``lines`` once, with the first line that read it
    (a phase-in's baseline reading is another period's and is left out)."""
    seen: set[str] = set()
    for line in lines:
        for ref in line.readings:
            reading = evaluation.readings.get(ref)
            if reading is None or ref in seen or (reading.start, reading.end) != (period.start, period.end):
                continue
            seen.add(ref)
            yield line, reading


def _figures(evaluation: Evaluation, preview: PersonPreview) -> list[Figure]:
    figures = []
    for index, (line, reading) in enumerate(_readings(evaluation, preview.lines, evaluation.period)):
        target = line.inputs.get("target")
        label = line.inputs.get("component") if line.readings[0] == reading.ref else None
        status, words = status_of(line, reading)
        figures.append(Figure(index=index, label=label or reading.label or reading.metric_key, reading=reading,
                              line=line, goal=None if target is None else exact(target), status=status,
                              status_text=words))
    return figures


class Scorecard:
    """Reads one person's scorecard in one tenant session (scoped to the viewer's tenant)."""

    def __init__(self, podium: Any, session: Session, tenant: Tenant, person: Person, today: dt.date) -> None:
        self.payouts = PayoutEngine(podium)
        self.metrics: MetricEngine = self.payouts.metrics
        self.session = session
        self.tenant = tenant
        self.person = person
        self.today = today

    # -- the cards ----------------------------------------------------------------------

    def _current(self, plan: Plan) -> tuple[PayPeriod, Evaluation, PersonPreview] | None:
        """The plan's current period, evaluation and this person's preview; None when the
        plan has no version in force or does not include the person."""
        try:
            period = self.payouts.pay_period(self.session, plan, None, self.today)
        except PayoutError:
            return None
        evaluation, previews = self.payouts.preview(self.session, plan, period, person_ids=[self.person.id],
                                                    as_of=min(self.today, period.last_day))
        return (period, evaluation, previews[0]) if previews else None

    def cards(self) -> list[PlanCard]:
        """Every plan the person takes part in this period, with its figures and trends."""
        cards = []
        for plan in self.session.scalars(select(Plan).order_by(Plan.title, Plan.id)):
            try:
                current = self._current(plan)
            except (PlanError, PayoutError) as exc:
                log.warning("scorecard: plan %s cannot be previewed: %s", plan.key, exc)
                cards.append(PlanCard(plan.key, plan.title, None, "", self.today, None, (), problem="This plan cannot be shown right now; an "
                                      "administrator has been told why."))
                continue
            if current is None:
                continue
            period, evaluation, preview = current
            figures = tuple(self._with_trend(f, period) for f in _figures(evaluation, preview))
            cards.append(PlanCard(plan.key, evaluation.plan.title, period, evaluation.plan.currency,
                                  evaluation.as_of, preview, figures))
        return cards

    def _with_trend(self, item: Figure, period: PayPeriod) -> Figure:
        """``item`` with the same metric read for the pay periods before this one."""
        reading = item.reading
        reader = self.payouts.reader(self.session, self.tenant.id)
        periods = [period]
        while len(periods) < TREND_PERIODS:
            periods.insert(0, preceding(periods[0], self.tenant.fiscal_year_start_month))
        past = reader.series(reading.metric_key, reading.params, reading.grain, reading.subject,
                             [(p.start, p.end) for p in periods[:-1]])
        values = [(p.label, earlier.value) for p, earlier in zip(periods[:-1], past, strict=True)]
        values.append((period.label, reading.value))
        trend = sparkline(values, lambda v: figure(v, reading.unit), item.goal, what=item.label)
        return Figure(item.index, item.label, item.reading, item.line, item.goal, item.status, item.status_text,
                      trend)

    # -- one figure ---------------------------------------------------------------------

    def figure(self, plan_key: str, index: int) -> tuple[PlanCard, Figure] | None:
        """Figure ``index`` of plan ``plan_key``'s card (no trend: a drill-down lists records)."""
        plan = self.session.scalars(select(Plan).where(Plan.key == plan_key)).one_or_none()
        current = self._current(plan) if plan is not None else None
        if current is None:
            return None
        period, evaluation, preview = current
        figures = _figures(evaluation, preview)
        if not 0 <= index < len(figures):
            return None
        card = PlanCard(plan_key, evaluation.plan.title, period, evaluation.plan.currency, evaluation.as_of, preview,
                        tuple(figures))
        return card, figures[index]

    # -- freshness ----------------------------------------------------------------------

    def data_as_of(self, cards: list[PlanCard]) -> dt.datetime | None:
        """When the data behind these figures was last brought in: the newest successful
        sync of the tenant's connections, else the newest record the figures read."""
        synced = self.session.scalar(
            select(func.max(SyncState.last_success_at)).join(Connection, Connection.id == SyncState.connection_id))
        ctx = self.metrics.context(self.session, self.tenant.id)
        keys = {(f.reading.metric_key, _key(f.reading.params)): f.reading for c in cards for f in c.figures}
        newest = [self.metrics.data_synced_at(self.session, ctx, self.metrics.metric(r.metric_key, dict(r.params)))
                  for r in keys.values()]
        known = [t for t in (synced, *newest) if t is not None]
        return max(known, default=None)


def _key(params: Any) -> str:
    return repr(sorted(dict(params).items()))


def age_text(then: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """``data 3 min old`` — how long ago the data was brought in."""
    if then is None:
        return "no data synced yet"
    seconds = max(0, int(((now or utcnow()) - then).total_seconds()))
    if seconds < 60:
        return "data less than a minute old"
    if seconds < 3600:
        return f"data {seconds // 60} min old"
    if seconds < 86400:
        return f"data {seconds // 3600} h old"
    days = seconds // 86400
    return f"data {days} day{'s' if days != 1 else ''} old"
