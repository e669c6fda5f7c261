"""The metric engine's tables: definitions, materialised values, overrides and the time grid.

Values keep numerator and denominator, not just the ratio (design §1): a team's rate is
pooled from its members' records, and "3 more surveys reach 98%" needs both. Every value
names the definition version it was computed with, so a closed period keeps the
definition it was paid on when a plan's parameters change later.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from podium.models.base import Base, TenantScoped, id_column, one_of, ref_column, utcnow

GRAINS = ("person", "team", "role", "client", "company")
PERIOD_KINDS = ("day", "week", "month", "quarter", "fiscal_year", "custom")
OVERRIDE_ACTIONS = ("exclude", "reattribute")


class MetricDefinition(TenantScoped, Base):
    """One version of a metric's definition in a tenant: the key, its parameters and the
    code revision of the metric class. New parameters (or a new revision) make a new
    version; earlier versions stay, because closed values point at them."""

    __tablename__ = "metric_definitions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "metric_key", "fingerprint"),
        UniqueConstraint("tenant_id", "metric_key", "version"),
    )

    id: Mapped[int] = id_column()
    metric_key: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    """1, 2, … per metric key in the tenant, in order of first use."""
    revision: Mapped[int] = mapped_column(Integer)
    """The metric class's ``revision`` (bumped by its author when the formula changes)."""
    params: Mapped[Any] = mapped_column(JSON)
    """The parameters with defaults filled in, as the params schema dumps them."""
    fingerprint: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the key, revision and canonical parameters."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MetricTracked(TenantScoped, Base):
    """A (definition, grain, period kind) something uses — a plan or a pod — and that is
    therefore materialised and kept current from ``since`` on."""

    __tablename__ = "metric_tracked"
    __table_args__ = (
        UniqueConstraint("definition_id", "grain", "period_kind", "used_by"),
        one_of("grain", GRAINS),
        one_of("period_kind", PERIOD_KINDS[:-1]),
    )

    id: Mapped[int] = id_column()
    definition_id: Mapped[int] = ref_column("metric_definitions.id", index=True)
    grain: Mapped[str] = mapped_column(String(16))
    period_kind: Mapped[str] = mapped_column(String(16))
    since: Mapped[dt.date]
    """The first day whose periods are materialised."""
    used_by: Mapped[str] = mapped_column(String(200))
    """Who needs it, e.g. ``plan:engineer-quarterly`` or ``pod:scorecard``."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    refreshed_at: Mapped[dt.datetime | None]
    """When the last full refresh (``refresh_metrics``) started; the scheduler's "due" reads it."""


class MetricValue(TenantScoped, Base):
    """A materialised figure for one subject of one grain in one period."""

    __tablename__ = "metric_values"
    __table_args__ = (
        UniqueConstraint("definition_id", "grain", "subject", "period_kind", "period_start", "period_end"),
        Index("ix_metric_values_lookup", "tenant_id", "metric_key", "grain", "period_start"),
        one_of("grain", GRAINS),
        one_of("period_kind", PERIOD_KINDS),
    )

    id: Mapped[int] = id_column()
    definition_id: Mapped[int] = ref_column("metric_definitions.id", index=True)
    metric_key: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    grain: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200))
    """Person, team or client id as text, the role's name, or ``""`` for the company."""
    period_kind: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[dt.date]
    period_end: Mapped[dt.date]
    """Exclusive, like every Podium period end."""
    numerator: Mapped[float] = mapped_column(Float)
    denominator: Mapped[float] = mapped_column(Float)
    value: Mapped[float | None] = mapped_column(Float)
    """Null when the denominator is zero: "no data", never 0."""
    records: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    """"As of": when the figure was computed."""
    data_synced_at: Mapped[dt.datetime | None]
    """The newest ``synced_at`` of the metric's input tables when it was computed."""
    closed_at: Mapped[dt.datetime | None]
    """Set when the period closed: the value and its drill-down are frozen from then on."""


class MetricValueRecord(TenantScoped, Base):
    """The drill-down of a closed value, frozen: which records made it, with what weight."""

    __tablename__ = "metric_value_records"
    __table_args__ = (Index("ix_metric_value_records_value", "value_id"),)

    id: Mapped[int] = id_column()
    value_id: Mapped[int] = ref_column("metric_values.id")
    record_type: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[int] = mapped_column(BigInteger)
    anchored_at: Mapped[dt.datetime]
    numerator: Mapped[float] = mapped_column(Float)
    denominator: Mapped[float] = mapped_column(Float)


class MetricScope(TenantScoped, Base):
    """A tenant's scope filters: which tickets no ticket metric ever counts."""

    __tablename__ = "metric_scopes"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    id: Mapped[int] = id_column()
    excluded_boards: Mapped[Any] = mapped_column(JSON, default=list)
    """Board names left out, whatever their mapping."""
    excluded_board_kinds: Mapped[Any] = mapped_column(JSON, default=lambda: ["alert"])
    """Boards whose ``board`` mapping is one of these kinds are left out (RMM alert boards)."""
    exclude_internal_clients: Mapped[bool] = mapped_column(default=True)
    exclude_merged: Mapped[bool] = mapped_column(default=True)
    exclude_child: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MetricOverride(TenantScoped, Base):
    """A manual decision about one record: leave it out, or credit it to someone else."""

    __tablename__ = "metric_overrides"
    __table_args__ = (
        Index("ix_metric_overrides_record", "tenant_id", "record_type", "record_id"),
        one_of("action", OVERRIDE_ACTIONS),
        CheckConstraint("action <> 'reattribute' OR person_id IS NOT NULL", name="reattribute_person"),
    )

    id: Mapped[int] = id_column()
    record_type: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[int] = mapped_column(BigInteger)
    metric_key: Mapped[str | None] = mapped_column(String(100))
    """Null: every metric."""
    action: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[int | None] = ref_column("people.id", nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]


class MetricExclusionWindow(TenantScoped, Base):
    """A time range (an outage, a rollout) whose tickets SLA and MTTR metrics leave out."""

    __tablename__ = "metric_exclusion_windows"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="window_range"),)

    id: Mapped[int] = id_column()
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    client_id: Mapped[int | None] = ref_column("clients.id", nullable=True)
    board: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]


class MetricDay(TenantScoped, Base):
    """One local day of the tenant: its UTC bounds, the periods it belongs to and its
    business time, so SQL can place a UTC instant in a local day and period on both
    backends without a time-zone database in SQLite."""

    __tablename__ = "metric_days"
    __table_args__ = (
        UniqueConstraint("tenant_id", "day"),
        Index("ix_metric_days_tenant_starts_at", "tenant_id", "starts_at"),
    )

    id: Mapped[int] = id_column()
    day: Mapped[dt.date]
    ordinal: Mapped[int] = mapped_column(Integer)
    """``day.toordinal()``: the record id of per-day rows (capacity)."""
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    business_seconds: Mapped[int] = mapped_column(Integer)
    capacity_fraction: Mapped[float] = mapped_column(Float)
    """This day's share of a normal week's business time (0 on holidays and weekends)."""
    month_days: Mapped[int] = mapped_column(Integer)
    """Days in this day's calendar month (monthly amounts are prorated per day)."""
    week_start: Mapped[dt.date]
    month_start: Mapped[dt.date]
    quarter_start: Mapped[dt.date]
    fiscal_year_start: Mapped[dt.date]


class MetricBusinessSpan(TenantScoped, Base):
    """One opening span of the tenant's business calendar with the business seconds
    before it, so business time between two instants is two index look-ups in SQL."""

    __tablename__ = "metric_business_spans"
    __table_args__ = (Index("ix_metric_business_spans_tenant_starts_at", "tenant_id", "starts_at"),)

    id: Mapped[int] = id_column()
    starts_at: Mapped[dt.datetime]
    start_epoch: Mapped[int] = mapped_column(BigInteger)
    seconds: Mapped[int] = mapped_column(Integer)
    cumulative: Mapped[int] = mapped_column(BigInteger)
    """Business seconds of all earlier spans of the grid."""


class MetricTimeGrid(TenantScoped, Base):
    """Which days the grid covers and the calendar settings it was built from."""

    __tablename__ = "metric_time_grids"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    id: Mapped[int] = id_column()
    fingerprint: Mapped[str] = mapped_column(String(64))
    covers_from: Mapped[dt.date]
    covers_to: Mapped[dt.date]


class MetricRecordSpan(TenantScoped, Base):
    """The days a synced record touched when the engine last saw it, so a later change
    or deletion also recomputes the periods it used to count in."""

    __tablename__ = "metric_record_spans"
    __table_args__ = (
        UniqueConstraint("tenant_id", "entity", "connection_id", "external_id"),
        Index("ix_metric_record_spans_record", "tenant_id", "entity", "record_id"),
    )

    id: Mapped[int] = id_column()
    entity: Mapped[str] = mapped_column(String(32))
    connection_id: Mapped[int] = ref_column("connections.id")
    external_id: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[int] = mapped_column(BigInteger)
    ticket_id: Mapped[int | None] = mapped_column(BigInteger)
    first_day: Mapped[dt.date | None]
    last_day: Mapped[dt.date | None]
