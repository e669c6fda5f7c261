"""Incentives: plans and their versions, pay periods, closed snapshots, adjustments,
appeals and acknowledgments (design §4, §7).

A closed period never changes: its snapshot and lines are append-only, and the ORM
refuses to update or delete them, to change a closed period's row, or to add an
adjustment to it. A later correction is an :class:`Adjustment` in an open period, with
an author, a reason and a link to what it corrects.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from podium.models.base import Base, TenantScoped, id_column, one_of, ref_column, utcnow
from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    select,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

PERIOD_STATUSES = ("open", "approved", "closed")
APPEAL_STATUSES = ("open", "accepted", "partly_accepted", "rejected")


class ClosedPeriodImmutable(RuntimeError):
    """Something tried to change a closed pay period, its snapshot or its lines."""


class Plan(TenantScoped, Base):
    """A payout plan of a tenant, known by the key its files carry."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    id: Mapped[int] = id_column()
    key: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PlanVersion(TenantScoped, Base):
    """One applied plan file. A period is paid by the version in force on its first day."""

    __tablename__ = "plan_versions"
    __table_args__ = (
        UniqueConstraint("plan_id", "version"),
        Index("ix_plan_versions_plan_effective_from", "plan_id", "effective_from"),
    )

    id: Mapped[int] = id_column()
    plan_id: Mapped[int] = ref_column("plans.id")
    version: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[dt.date]
    title: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    period_kind: Mapped[str] = mapped_column(String(16))
    source_name: Mapped[str] = mapped_column(String(300))
    source_text: Mapped[str] = mapped_column(Text)
    """The plan file exactly as applied: what statements and audits quote."""
    content_hash: Mapped[str] = mapped_column(String(64))
    applied_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    applied_by: Mapped[str] = mapped_column(String(200))


class PayoutPeriod(TenantScoped, Base):
    """One pay period of a plan: open, approved by a manager, then closed by an admin."""

    __tablename__ = "payout_periods"
    __table_args__ = (
        UniqueConstraint("plan_id", "starts_on"),
        CheckConstraint("ends_on > starts_on", name="period_range"),
        one_of("status", PERIOD_STATUSES),
    )

    id: Mapped[int] = id_column()
    plan_id: Mapped[int] = ref_column("plans.id", index=True)
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(32))
    starts_on: Mapped[dt.date]
    ends_on: Mapped[dt.date]
    """Exclusive, like every Podium period end."""
    status: Mapped[str] = mapped_column(String(16), default="open")
    plan_version_id: Mapped[int | None] = ref_column("plan_versions.id", nullable=True, ondelete="RESTRICT")
    approved_at: Mapped[dt.datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[dt.datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(200))


class PayoutSnapshot(TenantScoped, Base):
    """Everything a closed period was paid on: plan version, metric readings (values,
    versions, frozen drill-down ids), participants and lines. Written once, never changed."""

    __tablename__ = "payout_snapshots"
    __table_args__ = (UniqueConstraint("period_id"),)

    id: Mapped[int] = id_column()
    period_id: Mapped[int] = ref_column("payout_periods.id", ondelete="RESTRICT")
    plan_version_id: Mapped[int] = ref_column("plan_versions.id", ondelete="RESTRICT")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    content: Mapped[Any] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the canonical JSON of ``content``: a restatement or audit can prove it unchanged."""


class SnapshotLine(TenantScoped, Base):
    """One payout line of a closed period (the evaluated lines are not stored before)."""

    __tablename__ = "payout_lines"
    __table_args__ = (
        UniqueConstraint("snapshot_id", "seq"),
        Index("ix_payout_lines_period_person", "period_id", "person_id"),
    )

    id: Mapped[int] = id_column()
    snapshot_id: Mapped[int] = ref_column("payout_snapshots.id", ondelete="RESTRICT")
    period_id: Mapped[int] = ref_column("payout_periods.id", ondelete="RESTRICT")
    person_id: Mapped[int] = ref_column("people.id", ondelete="RESTRICT")
    seq: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    explanation: Mapped[str] = mapped_column(Text)
    inputs: Mapped[Any] = mapped_column(JSON)
    readings: Mapped[Any] = mapped_column(JSON)


class Adjustment(TenantScoped, Base):
    """A manual correction paid in an open period: who, why, and what it corrects."""

    __tablename__ = "payout_adjustments"
    __table_args__ = (Index("ix_payout_adjustments_period_person", "period_id", "person_id"),)

    id: Mapped[int] = id_column()
    period_id: Mapped[int] = ref_column("payout_periods.id", ondelete="RESTRICT")
    person_id: Mapped[int] = ref_column("people.id", ondelete="RESTRICT")
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    """What it corrects: ``period:FY2025-Q1``, ``appeal:12``, a ticket URL …"""
    author_user_id: Mapped[int | None] = ref_column("users.id", ondelete="SET NULL", nullable=True)
    author_label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Appeal(TenantScoped, Base):
    """A technician's dispute of a line, and the manager's decision within the turnaround."""

    __tablename__ = "payout_appeals"
    __table_args__ = (
        Index("ix_payout_appeals_period_person", "period_id", "person_id"),
        one_of("status", APPEAL_STATUSES),
    )

    id: Mapped[int] = id_column()
    period_id: Mapped[int] = ref_column("payout_periods.id", ondelete="RESTRICT")
    person_id: Mapped[int] = ref_column("people.id", ondelete="RESTRICT")
    rule: Mapped[str] = mapped_column(String(100))
    """The disputed line's rule (and component, for scorecards: ``scorecard/CSAT``)."""
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    opened_by: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    due_at: Mapped[dt.datetime]
    decided_at: Mapped[dt.datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decision_note: Mapped[str | None] = mapped_column(Text)
    accepted_minor: Mapped[int | None] = mapped_column(BigInteger)
    adjustment_id: Mapped[int | None] = ref_column("payout_adjustments.id", nullable=True, ondelete="SET NULL")


class Acknowledgment(TenantScoped, Base):
    """A person's signed acknowledgment of a plan version."""

    __tablename__ = "plan_acknowledgments"
    __table_args__ = (UniqueConstraint("plan_version_id", "person_id"),)

    id: Mapped[int] = id_column()
    plan_version_id: Mapped[int] = ref_column("plan_versions.id")
    person_id: Mapped[int] = ref_column("people.id")
    acknowledged_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(200))


# -- closed periods never change ---------------------------------------------------------------

_APPEND_ONLY = (PayoutSnapshot, SnapshotLine)


def _refuse(_mapper: Any, _connection: Any, target: Any) -> None:
    raise ClosedPeriodImmutable(f"{type(target).__name__} {target.id} belongs to a closed period and never changes")


for _model in _APPEND_ONLY:
    event.listen(_model, "before_update", _refuse)
    event.listen(_model, "before_delete", _refuse)


@event.listens_for(PayoutPeriod, "before_update")
def _closed_period_update(_mapper: Any, _connection: Any, target: PayoutPeriod) -> None:
    history = sa_inspect(target).attrs.status.history
    was = history.deleted[0] if history.deleted else (None if history.added else target.status)
    if was == "closed":
        raise ClosedPeriodImmutable(f"pay period {target.label} is closed and never changes")


@event.listens_for(PayoutPeriod, "before_delete")
def _closed_period_delete(_mapper: Any, _connection: Any, target: PayoutPeriod) -> None:
    if target.status == "closed":
        raise ClosedPeriodImmutable(f"pay period {target.label} is closed and never changes")


@event.listens_for(Adjustment, "before_insert")
@event.listens_for(Adjustment, "before_update")
@event.listens_for(Adjustment, "before_delete")
def _adjust_open_periods_only(_mapper: Any, connection: Any, target: Adjustment) -> None:
    status = connection.scalar(select(PayoutPeriod.status).where(PayoutPeriod.id == target.period_id))
    if status == "closed":
        raise ClosedPeriodImmutable("adjustments go in an open period; this one is closed")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_change(state: ORMExecuteState) -> None:
    guarded = (*_APPEND_ONLY, PayoutPeriod, Adjustment)
    if (state.is_update or state.is_delete) and any(m.class_ in guarded for m in state.all_mappers):
        raise ClosedPeriodImmutable("pay periods, snapshots, lines and adjustments change one row at a time, "
                                    "through the ORM, so closed periods stay closed")
