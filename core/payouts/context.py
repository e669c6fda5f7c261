"""The evaluation context rules see: the period, the participants, metric readings and
the org facts pay depends on (base salary, acknowledgments, leave, carried-forward
clawbacks).

Rules read metrics only through :meth:`EvaluationContext.metric`, which goes through a
:class:`podium.payouts.readings.MetricReader` and so is recorded for the snapshot. Org
facts come from :mod:`podium.org.effective` as they were during the period, never as
they are today.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import Any

from podium.models import Acknowledgment, Availability, PersonFact, SnapshotLine, Team
from podium.org.effective import overlapping
from podium.payouts.base import Participant, PayoutLine
from podium.payouts.money import exact, format_money, round_minor
from podium.payouts.periods import MONTHS, PayPeriod
from podium.payouts.readings import MetricReader, MetricReading
from sqlalchemy import func, select
from sqlalchemy.orm import Session

DEFAULT_DAY_HOURS = Fraction(8)


@dataclass
class EvaluationContext:
    """Implements :class:`podium.payouts.base.RuleContext` for one plan and period."""

    session: Session
    plan_key: str
    currency: str
    period: PayPeriod
    as_of: dt.date
    participants: list[Participant]
    reader: MetricReader
    plan_teams: tuple[str, ...] = ()
    """Team names the plan's participants are chosen by (a pool or team gate defaults to
    the only one)."""
    plan_version_id: int | None = None
    baseline: PayPeriod | None = None
    pay_days_after_end: int = 0
    previous_period_id: int | None = None
    lines: list[PayoutLine] = field(default_factory=list)

    # -- metrics ------------------------------------------------------------------------------

    def metric(
        self,
        key: str,
        *,
        grain: str,
        subject: str | int,
        params: Mapping[str, Any] | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> MetricReading:
        start = start or self.period.start
        end = end or self.period.end
        return self.reader.read(key, params, grain, str(subject), start, end)

    # -- lines so far -------------------------------------------------------------------------

    def total(self, person_id: int) -> int:
        return sum(line.amount_minor for line in self.lines if line.person_id == person_id)

    # -- org facts ----------------------------------------------------------------------------

    @cached_property
    def _teams(self) -> dict[str, int]:
        return {name: team_id for team_id, name in self.session.execute(select(Team.id, Team.name))}

    def team_named(self, name: str) -> int | None:
        return self._teams.get(name)

    def pay_date(self) -> dt.date:
        return self.period.last_day + dt.timedelta(days=self.pay_days_after_end)

    def base_salary(self, person_id: int) -> tuple[Fraction, str]:
        """Annual base × months/12, each salary weighted by its days in the period."""
        facts = list(self.session.scalars(
            select(PersonFact).where(PersonFact.person_id == person_id, PersonFact.kind == "compensation",
                                     overlapping(PersonFact, self.period.start, self.period.end))
            .order_by(PersonFact.valid_from)
        ))
        months = MONTHS[self.period.kind]
        total = Fraction(0)
        parts = []
        for fact in facts:
            if fact.currency and fact.currency != self.currency:
                raise ValueError(f"person {person_id}'s salary is in {fact.currency}; the plan pays {self.currency}")
            days = self.period.days_overlapping(fact.valid_from, fact.valid_to)
            annual = Fraction(int(fact.value_int or 0))
            total += annual * months / 12 * days / self.period.days
            share = "" if days == self.period.days else f" for {days} of {self.period.days} days"
            parts.append(f"{format_money(int(fact.value_int or 0), self.currency)} a year{share}")
        if not parts:
            return Fraction(0), "base salary (none on file for the period)"
        how = (f"base salary {' then '.join(parts)} × {months}/12 = "
               f"{format_money(round_minor(total), self.currency)}")
        return total, how

    @cached_property
    def _acknowledged(self) -> dict[int, dt.datetime]:
        if self.plan_version_id is None:
            return {}
        rows = self.session.execute(select(Acknowledgment.person_id, Acknowledgment.acknowledged_at)
                                    .where(Acknowledgment.plan_version_id == self.plan_version_id))
        return {person_id: at for person_id, at in rows}

    def acknowledged(self, person_id: int, by: dt.date) -> bool:
        at = self._acknowledged.get(person_id)
        return at is not None and at.date() < by

    def leave_days(self, person_id: int) -> int:
        """Days of the period whose PTO covers a full working day (capacity ÷ 5, or 8 h)."""
        capacity = self.session.scalar(
            select(PersonFact.value_num).where(PersonFact.person_id == person_id,
                                               PersonFact.kind == "capacity_hours_week",
                                               overlapping(PersonFact, self.period.start, self.period.end))
            .order_by(PersonFact.valid_from.desc())
        )
        full_day = exact(capacity) / 5 if capacity else DEFAULT_DAY_HOURS
        rows = self.session.execute(
            select(Availability.day, func.sum(Availability.hours))
            .where(Availability.person_id == person_id, Availability.kind == "pto",
                   Availability.day >= self.period.start, Availability.day < self.period.end)
            .group_by(Availability.day)
        )
        return sum(1 for _day, hours in rows if exact(float(hours)) >= full_day)

    @cached_property
    def _carried(self) -> dict[int, int]:
        if self.previous_period_id is None:
            return {}
        carried: dict[int, int] = defaultdict(int)
        for line in self.session.scalars(select(SnapshotLine).where(SnapshotLine.period_id == self.previous_period_id,
                                                                    SnapshotLine.kind == "floor")):
            carried[line.person_id] += int((line.inputs or {}).get("carry_forward_minor") or 0)
        return dict(carried)

    def carried_in(self, person_id: int) -> int:
        return self._carried.get(person_id, 0)
