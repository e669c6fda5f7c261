"""The payout engine: evaluates a plan version for a period, previews it live, and answers
what-if questions without saving anything.

* :meth:`PayoutEngine.evaluate` — every participant's lines for a period, from metric
  values as they stand (or as frozen, for a closed period's metrics);
* :meth:`PayoutEngine.preview` — per person: earned so far, still on the table,
  projected to the period's end (the same plan over straight-line projected metric
  totals), and what it takes to reach each component's next tier;
* :meth:`PayoutEngine.what_if` — the same evaluation with some metric values or plan
  parameters changed, and every line that would change. Nothing is written.

A rule that raises (a third-party rule's bug, a team that does not exist) does not take
the run down: its error is reported with the rule's name and the other rules still run;
a period with errors cannot be closed.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from podium.metrics.engine import MetricEngine
from podium.metrics.timegrid import settings_of
from podium.models import (
    Adjustment,
    PayoutPeriod,
    Person,
    PersonFact,
    Plan,
    PlanVersion,
    Team,
    TeamMembership,
    Tenant,
)
from podium.org.calendars import zone
from podium.org.effective import overlapping
from podium.payouts.base import Participant, PayoutLine, TeamSpan
from podium.payouts.context import EvaluationContext
from podium.payouts.money import format_money
from podium.payouts.periods import PayPeriod, containing, parse, preceding
from podium.payouts.plan import PlanDefinition, load_plan
from podium.payouts.readings import (
    EngineMetricReader,
    MetricReader,
    MetricReading,
    ProjectedReader,
    WhatIfReader,
)
from podium.runtime import Podium
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


class PayoutError(ValueError):
    """A request the payout engine cannot answer (unknown plan, no version in force …)."""


@dataclass
class Evaluation:
    """A plan's lines for one period, with what they were computed from."""

    plan: PlanDefinition
    plan_version_id: int
    period: PayPeriod
    as_of: dt.date
    participants: list[Participant]
    lines: list[PayoutLine]
    readings: dict[str, MetricReading]
    errors: list[str] = field(default_factory=list)

    def totals(self) -> dict[int, int]:
        totals: dict[int, int] = {p.person_id: 0 for p in self.participants}
        for line in self.lines:
            totals[line.person_id] = totals.get(line.person_id, 0) + line.amount_minor
        return totals

    def lines_of(self, person_id: int) -> list[PayoutLine]:
        return [line for line in self.lines if line.person_id == person_id]


@dataclass(frozen=True)
class PersonPreview:
    """What the technician pod shows: earned, on the table, projected, next tiers."""

    person_id: int
    name: str
    earned_minor: int
    on_the_table_minor: int
    projected_minor: int
    hints: list[str]
    lines: list[PayoutLine]

    def as_dict(self) -> dict[str, Any]:
        return {"person_id": self.person_id, "name": self.name, "earned_minor": self.earned_minor,
                "on_the_table_minor": self.on_the_table_minor, "projected_minor": self.projected_minor,
                "hints": self.hints, "lines": [line.as_dict() for line in self.lines]}


@dataclass(frozen=True)
class LineChange:
    person_id: int
    rule: str
    kind: str
    before_minor: int
    after_minor: int
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        return {"person_id": self.person_id, "rule": self.rule, "kind": self.kind,
                "before_minor": self.before_minor, "after_minor": self.after_minor,
                "change_minor": self.after_minor - self.before_minor, "explanation": self.explanation}


def tenant_today(tenant: Tenant) -> dt.date:
    return dt.datetime.now(zone(tenant.time_zone)).date()


def apply_changes(data: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``{"rules[1].rate": 0.07}`` applied to a copy of a plan file's data (what-if)."""
    copy = yaml.safe_load(yaml.safe_dump(data))
    for path, value in changes.items():
        parts = [int(p) if p.isdigit() else p for p in re.split(r"[.\[\]]+", path) if p]
        target: Any = copy
        try:
            for part in parts[:-1]:
                target = target[part]
            target[parts[-1]] = value
        except (KeyError, IndexError, TypeError):
            raise PayoutError(f"{path}: the plan has no such field to change") from None
    return copy


class PayoutEngine:
    """Payout evaluation for one Podium runtime (its plugins supply rule types and metrics)."""

    def __init__(self, podium: Podium, *, metric_engine: MetricEngine | None = None) -> None:
        self.podium = podium
        self.metrics = metric_engine or MetricEngine(podium)

    # -- plans, versions, periods ------------------------------------------------------------

    def load(self, text: str, source: str) -> PlanDefinition:
        """Validate a plan file against the registered rule types and metrics."""
        plugins = self.podium.plugins
        return load_plan(text, source, plugins.payout_rules, [m.key for m in plugins.metrics])

    def plan(self, session: Session, key: str) -> Plan:
        plan = session.scalars(select(Plan).where(Plan.key == key)).one_or_none()
        if plan is None:
            raise PayoutError(f"no plan {key!r}; apply its file first (podium plans apply FILE)")
        return plan

    def version_for(self, session: Session, plan: Plan, day: dt.date) -> PlanVersion:
        """The version in force on ``day``: the latest applied with the latest start on or before it."""
        version = session.scalars(
            select(PlanVersion).where(PlanVersion.plan_id == plan.id, PlanVersion.effective_from <= day)
            .order_by(PlanVersion.effective_from.desc(), PlanVersion.version.desc())
        ).first()
        if version is None:
            raise PayoutError(f"plan {plan.key!r} has no version in force on {day.isoformat()}")
        return version

    def definition(self, version: PlanVersion) -> PlanDefinition:
        return self.load(version.source_text, version.source_name)

    def pay_period(self, session: Session, plan: Plan, label: str | None, today: dt.date | None = None) -> PayPeriod:
        """The plan's period called ``label`` (default: the one containing today)."""
        tenant = session.get(Tenant, plan.tenant_id)
        assert tenant is not None
        today = today or tenant_today(tenant)
        kind = self.version_for(session, plan, today).period_kind if label is None else self._kind(session, plan)
        if label is None:
            return containing(kind, today, tenant.fiscal_year_start_month)
        return parse(label, kind, tenant.fiscal_year_start_month)

    def _kind(self, session: Session, plan: Plan) -> str:
        return session.scalars(select(PlanVersion.period_kind).where(PlanVersion.plan_id == plan.id)
                               .order_by(PlanVersion.version.desc())).first() or "monthly"

    def period_row(self, session: Session, plan: Plan, period: PayPeriod) -> PayoutPeriod:
        """The stored row of a pay period, created (open) on first use."""
        row = session.scalars(select(PayoutPeriod).where(PayoutPeriod.plan_id == plan.id,
                                                         PayoutPeriod.starts_on == period.start)).one_or_none()
        if row is None:
            row = PayoutPeriod(tenant_id=plan.tenant_id, plan_id=plan.id, kind=period.kind, label=period.label,
                               starts_on=period.start, ends_on=period.end, status="open")
            session.add(row)
            session.flush()
        return row

    # -- participants ------------------------------------------------------------------------

    def participants(self, session: Session, spec: Mapping[str, Any], period: PayPeriod) -> list[Participant]:
        """Who takes part in ``period``: the union of the selectors, less ``exclude``,
        limited to people employed on at least one day of it."""
        start, end = period.start, period.end
        chosen: set[int] = set()
        people = select(Person.id).where(
            or_(Person.employed_from.is_(None), Person.employed_from < end),
            or_(Person.employed_to.is_(None), Person.employed_to >= start),
        )
        if spec.get("all"):
            chosen |= set(session.scalars(people.where(Person.active.is_(True))))
        if spec.get("teams"):
            chosen |= set(session.scalars(
                select(TeamMembership.person_id).join(Team, Team.id == TeamMembership.team_id)
                .where(Team.name.in_(spec["teams"]), overlapping(TeamMembership, start, end))
            ))
        for kind, key in (("role", "roles"), ("level", "levels")):
            if spec.get(key):
                chosen |= set(session.scalars(
                    select(PersonFact.person_id).where(PersonFact.kind == kind, PersonFact.value_text.in_(spec[key]),
                                                       overlapping(PersonFact, start, end))
                ))
        emails = [e.lower() for e in spec.get("people") or []]
        if emails:
            chosen |= set(session.scalars(select(Person.id).where(Person.email.in_(emails))))
        excluded = [e.lower() for e in spec.get("exclude") or []]
        if excluded:
            chosen -= set(session.scalars(select(Person.id).where(Person.email.in_(excluded))))
        employed = set(session.scalars(people.where(Person.id.in_(chosen)))) if chosen else set()
        return [self._participant(session, person_id, period) for person_id in sorted(employed)]

    def _participant(self, session: Session, person_id: int, period: PayPeriod) -> Participant:
        person = session.get(Person, person_id)
        assert person is not None
        facts: dict[str, str] = {}
        for fact in session.scalars(
            select(PersonFact).where(PersonFact.person_id == person_id, PersonFact.kind.in_(("role", "level")),
                                     overlapping(PersonFact, period.start, period.end))
            .order_by(PersonFact.valid_from)
        ):
            facts[fact.kind] = fact.value_text or ""
        spans = []
        for membership, name in session.execute(
            select(TeamMembership, Team.name).join(Team, Team.id == TeamMembership.team_id)
            .where(TeamMembership.person_id == person_id, overlapping(TeamMembership, period.start, period.end))
            .order_by(TeamMembership.valid_from, TeamMembership.team_id)
        ):
            spans.append(TeamSpan(membership.team_id, name, max(period.start, membership.valid_from),
                                  min(period.end, membership.valid_to or period.end), membership.share))
        return Participant(
            person_id=person_id, name=person.display_name, email=person.email,
            role=facts.get("role"), level=facts.get("level"), employed_from=person.employed_from,
            employed_to=None if person.employed_to is None else person.employed_to + dt.timedelta(days=1),
            teams=tuple(spans),
        )

    # -- evaluation --------------------------------------------------------------------------

    def reader(self, session: Session, tenant_id: int, *, with_records: bool = False) -> EngineMetricReader:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        return EngineMetricReader(self.metrics, session, tenant_id, settings_of(tenant), with_records=with_records)

    def evaluate(
        self,
        session: Session,
        plan: Plan,
        period: PayPeriod,
        *,
        as_of: dt.date | None = None,
        reader: MetricReader | None = None,
        definition: PlanDefinition | None = None,
        version: PlanVersion | None = None,
        participants: list[Participant] | None = None,
    ) -> Evaluation:
        """Every participant's lines for ``period`` under the version in force at its start
        (``participants``: as an earlier evaluation of the same period found them)."""
        tenant = session.get(Tenant, plan.tenant_id)
        assert tenant is not None
        version = version or self.version_for(session, plan, period.start)
        definition = definition or self.definition(version)
        reader = reader or self.reader(session, plan.tenant_id)
        fy = tenant.fiscal_year_start_month
        as_of = as_of or min(tenant_today(tenant), period.last_day)
        baseline = parse(definition.baseline_period, definition.period, fy) if definition.baseline_period else None
        previous = session.scalars(select(PayoutPeriod.id).where(
            PayoutPeriod.plan_id == plan.id, PayoutPeriod.starts_on == preceding(period, fy).start,
            PayoutPeriod.status == "closed")).first()
        if participants is None:
            participants = self.participants(session, definition.participants, period)
        context = EvaluationContext(
            session=session, plan_key=definition.key, currency=definition.currency, period=period, as_of=as_of,
            participants=participants, reader=reader, plan_teams=tuple(definition.participants.get("teams") or ()),
            plan_version_id=version.id, baseline=baseline, pay_days_after_end=definition.pay_days_after_end,
            previous_period_id=previous,
        )
        errors: list[str] = []
        if baseline is not None and period.start <= baseline.start:
            context.lines.extend(PayoutLine(p.person_id, "phase_in", 0, definition.currency,
                                            f"Baseline period of the phase-in ({baseline.label}): results set the "
                                            "initial targets; nothing is paid.", kind="earning")
                                 for p in participants)
        else:
            for rule in definition.build_rules(self.podium.plugins.payout_rules):
                try:
                    context.lines.extend(rule.evaluate(context))
                except Exception as exc:
                    log.warning("rule %s of plan %s failed for %s: %s", rule.name, plan.key, period.label, exc,
                                exc_info=True)
                    errors.append(f"rule {rule.name!r} ({rule.key}) failed: {exc}")
        context.lines.extend(self._adjustments(session, plan, period, definition.currency))
        return Evaluation(definition, version.id, period, as_of, participants, context.lines,
                          dict(reader.readings), errors)

    def _adjustments(self, session: Session, plan: Plan, period: PayPeriod, currency: str) -> list[PayoutLine]:
        row = session.scalars(select(PayoutPeriod).where(PayoutPeriod.plan_id == plan.id,
                                                         PayoutPeriod.starts_on == period.start)).one_or_none()
        if row is None:
            return []
        lines = []
        for adjustment in session.scalars(select(Adjustment).where(Adjustment.period_id == row.id)
                                          .order_by(Adjustment.id)):
            link = f" (re: {adjustment.link})" if adjustment.link else ""
            lines.append(PayoutLine(
                adjustment.person_id, "adjustment", adjustment.amount_minor, adjustment.currency,
                f"Adjustment by {adjustment.author_label} on {adjustment.created_at.date().isoformat()}: "
                f"{adjustment.reason}{link} ({format_money(adjustment.amount_minor, adjustment.currency, sign=True)}).",
                kind="adjustment", inputs={"adjustment_id": adjustment.id, "link": adjustment.link},
            ))
        return lines

    # -- live preview and what-if ------------------------------------------------------------

    def preview(self, session: Session, plan: Plan, period: PayPeriod, *, person_ids: list[int] | None = None,
                as_of: dt.date | None = None) -> tuple[Evaluation, list[PersonPreview]]:
        """Earned so far, still on the table, projected to the period's end, next-tier hints."""
        # Both evaluations read the same metric values (the projection scales them) of the
        # same plan version and participants, so they share them and each is read once.
        reader = self.reader(session, plan.tenant_id)
        now = self.evaluate(session, plan, period, as_of=as_of, reader=reader)
        projected = self.evaluate(session, plan, period, as_of=now.as_of,
                                  reader=ProjectedReader(reader, now.as_of + dt.timedelta(days=1)),
                                  definition=now.plan, version=session.get(PlanVersion, now.plan_version_id),
                                  participants=now.participants)
        projected_totals = projected.totals()
        previews = []
        for participant in now.participants:
            if person_ids is not None and participant.person_id not in person_ids:
                continue
            lines = now.lines_of(participant.person_id)
            earned = sum(line.amount_minor for line in lines)
            table = sum(max(0, line.potential_minor - line.amount_minor) for line in lines
                        if line.potential_minor is not None and line.kind == "earning")
            previews.append(PersonPreview(participant.person_id, participant.name, earned, table,
                                          projected_totals.get(participant.person_id, 0),
                                          [line.hint for line in lines if line.hint], lines))
        return now, previews

    def what_if(
        self,
        session: Session,
        plan: Plan,
        period: PayPeriod,
        *,
        metric_values: Mapping[str, Any] | None = None,
        plan_changes: Mapping[str, Any] | None = None,
    ) -> tuple[Evaluation, Evaluation, list[LineChange]]:
        """Evaluate as is and with the changes; return both and every line that differs."""
        before = self.evaluate(session, plan, period)
        version = self.version_for(session, plan, period.start)
        definition = before.plan
        if plan_changes:
            changed = apply_changes(definition.data, plan_changes)
            definition = self.load(yaml.safe_dump(changed, sort_keys=False), f"{version.source_name} (what-if)")
        reader: MetricReader = self.reader(session, plan.tenant_id)
        if metric_values:
            reader = WhatIfReader(reader, metric_values)
        after = self.evaluate(session, plan, period, reader=reader, definition=definition, version=version)
        return before, after, diff(before.lines, after.lines)


def diff(before: Sequence[PayoutLine], after: Sequence[PayoutLine]) -> list[LineChange]:
    """Lines whose amount changed, matched by (person, rule, kind, position among those)."""

    def keyed(lines: Sequence[PayoutLine]) -> dict[tuple[int, str, str, int], PayoutLine]:
        seen: dict[tuple[int, str, str], int] = defaultdict(int)
        out = {}
        for line in lines:
            base = (line.person_id, line.rule, line.kind)
            out[(*base, seen[base])] = line
            seen[base] += 1
        return out

    old, new = keyed(before), keyed(after)
    changes = []
    for key in sorted(set(old) | set(new)):
        was, now = old.get(key), new.get(key)
        before_minor = was.amount_minor if was else 0
        after_minor = now.amount_minor if now else 0
        if before_minor != after_minor:
            shown = now if now is not None else was
            assert shown is not None
            changes.append(LineChange(key[0], key[1], key[2], before_minor, after_minor, shown.explanation))
    return changes
