"""The work itself: tickets and their history, time, surveys, projects.

References between vendor records are row ids here (resolved by the sync engine from
the connector's external ids), except those Podium never joins on, which stay as the
vendor's id (``contact_external_id``, ``parent_external_id`` …).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from podium.models.base import Base, ExternalRecord, TenantScoped, id_column, one_of, ref_column

STATUS_CATEGORIES = ("open", "resolved", "closed")
SLA_SOURCES = ("vendor", "podium")
TICKET_EVENT_KINDS = ("status_change", "reassignment", "reopen", "escalation", "override")
TICKET_EVENT_SOURCES = ("snapshot", "audit", "webhook", "manual")


class Ticket(ExternalRecord, Base):
    """A service or project ticket as last seen in the vendor.

    Timestamps and SLA flags are stored as the vendor gives them (``sla_source =
    "vendor"``) or as Podium computed them from its calendars (``"podium"``) when the
    vendor has none, so metrics never need to know which vendor a ticket came from.
    """

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("connection_id", "external_id"),
        Index("ix_tickets_tenant_resolved_at", "tenant_id", "resolved_at"),
        Index("ix_tickets_tenant_created_at", "tenant_id", "created_at"),
        one_of("status_category", STATUS_CATEGORIES),
        one_of("sla_source", SLA_SOURCES, nullable=True),
    )

    id: Mapped[int] = id_column()
    number: Mapped[str] = mapped_column(String(64))
    """What people call the ticket (``#12345``); often but not always the external id."""
    summary: Mapped[str] = mapped_column(Text)
    client_id: Mapped[int | None] = ref_column("clients.id", ondelete="SET NULL", nullable=True, index=True)
    contact_external_id: Mapped[str | None] = mapped_column(String(64))
    board: Mapped[str | None] = mapped_column(String(200))
    """The vendor's board / queue."""
    type: Mapped[str | None] = mapped_column(String(200))
    subtype: Mapped[str | None] = mapped_column(String(200))
    item: Mapped[str | None] = mapped_column(String(200))
    priority: Mapped[str | None] = mapped_column(String(100))
    impact: Mapped[int | None] = mapped_column(Integer)
    """The vendor's impact/severity as a number (higher = more severe)."""
    weight: Mapped[int | None] = mapped_column(Integer)
    """Work weight for weighted counts; null counts as 1."""
    source: Mapped[str | None] = mapped_column(String(100))
    """Channel it came in through (email, phone, portal, monitoring …)."""
    status: Mapped[str] = mapped_column(String(100))
    status_category: Mapped[str] = mapped_column(String(16))
    closed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime]
    """When the ticket was opened in the vendor (not when Podium first saw it)."""
    first_response_at: Mapped[dt.datetime | None]
    resolved_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    sla_response_due_at: Mapped[dt.datetime | None]
    sla_resolution_due_at: Mapped[dt.datetime | None]
    sla_response_met: Mapped[bool | None]
    sla_resolution_met: Mapped[bool | None]
    sla_source: Mapped[str | None] = mapped_column(String(16))
    owner_identity_id: Mapped[int | None] = ref_column(
        "identities.id", ondelete="SET NULL", nullable=True, index=True
    )
    resolved_by_identity_id: Mapped[int | None] = ref_column(
        "identities.id", ondelete="SET NULL", nullable=True, index=True
    )
    tier: Mapped[int | None] = mapped_column(Integer)
    """Escalation level (1 = first line)."""
    parent_external_id: Mapped[str | None] = mapped_column(String(64))
    merged: Mapped[bool] = mapped_column(default=False)
    is_project: Mapped[bool] = mapped_column(default=False)
    configuration_external_id: Mapped[str | None] = mapped_column(String(64))
    root_cause_documented_at: Mapped[dt.datetime | None]
    """When a root-cause analysis was recorded on the ticket (the vendor's RCA / root-cause
    field or note); NULL while none is. What fills it per vendor: docs/metrics.md, ``rca_documented_pct``."""
    vendor_updated_at: Mapped[dt.datetime | None]
    """The vendor's last-updated time (ConnectWise ``lastUpdated``)."""


class TicketEvent(TenantScoped, Base):
    """Something that happened to a ticket, with who and when: a reopen changes the
    closer's earlier period, so metrics need the history, not just the latest snapshot.

    Events come from vendor audit trails, from comparing snapshots, from webhooks, or are
    entered by hand (``override``); the unique key makes replays idempotent.
    """

    __tablename__ = "ticket_events"
    __table_args__ = (
        UniqueConstraint("ticket_id", "kind", "at", "to_value"),
        Index("ix_ticket_events_tenant_at", "tenant_id", "at"),
        one_of("kind", TICKET_EVENT_KINDS),
        one_of("source", TICKET_EVENT_SOURCES),
    )

    id: Mapped[int] = id_column()
    connection_id: Mapped[int] = ref_column("connections.id", index=True)
    ticket_id: Mapped[int] = ref_column("tickets.id")
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime]
    actor_identity_id: Mapped[int | None] = ref_column(
        "identities.id", ondelete="SET NULL", nullable=True, index=True
    )
    from_value: Mapped[str | None] = mapped_column(String(200))
    to_value: Mapped[str] = mapped_column(String(200), default="")
    """Never null (a NULL would defeat the unique key); ``""`` means "nothing/nobody"."""
    source: Mapped[str] = mapped_column(String(16))


class TimeEntry(ExternalRecord, Base):
    """Time someone logged, against a ticket, a project or neither (internal time)."""

    __tablename__ = "time_entries"
    __table_args__ = (
        UniqueConstraint("connection_id", "external_id"),
        Index("ix_time_entries_identity_start_at", "identity_id", "start_at"),
        Index("ix_time_entries_tenant_start_at", "tenant_id", "start_at"),
        CheckConstraint("hours >= 0", name="hours_non_negative"),
        CheckConstraint("end_at IS NULL OR end_at >= start_at", name="end_after_start"),
    )

    id: Mapped[int] = id_column()
    identity_id: Mapped[int | None] = ref_column("identities.id", ondelete="SET NULL", nullable=True)
    ticket_id: Mapped[int | None] = ref_column("tickets.id", ondelete="SET NULL", nullable=True, index=True)
    project_id: Mapped[int | None] = ref_column("projects.id", ondelete="SET NULL", nullable=True, index=True)
    work_type: Mapped[str | None] = mapped_column(String(200))
    """The vendor's work type; a Mapping says whether it is productive, billable or PTO."""
    start_at: Mapped[dt.datetime]
    end_at: Mapped[dt.datetime | None]
    hours: Mapped[float] = mapped_column(Float)
    billable: Mapped[bool] = mapped_column(default=False)
    billed_hours: Mapped[float | None] = mapped_column(Float)
    entered_at: Mapped[dt.datetime | None]
    """When it was logged — late entry is itself a metric."""
    rejected: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    vendor_updated_at: Mapped[dt.datetime | None]


class Survey(ExternalRecord, Base):
    """A customer satisfaction response; scores keep their scale so vendors with
    different scales compare through ``positive`` or a normalised score."""

    __tablename__ = "surveys"
    __table_args__ = (
        UniqueConstraint("connection_id", "external_id"),
        Index("ix_surveys_tenant_submitted_at", "tenant_id", "submitted_at"),
        CheckConstraint("scale_max > scale_min", name="scale_range"),
    )

    id: Mapped[int] = id_column()
    ticket_id: Mapped[int | None] = ref_column("tickets.id", ondelete="SET NULL", nullable=True, index=True)
    identity_id: Mapped[int | None] = ref_column(
        "identities.id", ondelete="SET NULL", nullable=True, index=True
    )
    """Whom the vendor attributes the response to (usually the ticket's resolver)."""
    score: Mapped[float] = mapped_column(Float)
    scale_min: Mapped[float] = mapped_column(Float)
    scale_max: Mapped[float] = mapped_column(Float)
    positive: Mapped[bool | None]
    submitted_at: Mapped[dt.datetime]
    vendor_updated_at: Mapped[dt.datetime | None]


class Project(ExternalRecord, Base):
    """A project, for on-time delivery and budget-versus-actual metrics."""

    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("connection_id", "external_id"),)

    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[int | None] = ref_column("clients.id", ondelete="SET NULL", nullable=True, index=True)
    manager_identity_id: Mapped[int | None] = ref_column(
        "identities.id", ondelete="SET NULL", nullable=True, index=True
    )
    status: Mapped[str | None] = mapped_column(String(100))
    estimated_end: Mapped[dt.date | None]
    actual_end: Mapped[dt.date | None]
    budget_hours: Mapped[float | None] = mapped_column(Float)
    actual_hours: Mapped[float | None] = mapped_column(Float)
    billable_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    vendor_updated_at: Mapped[dt.datetime | None]
