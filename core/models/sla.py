"""SLA targets Podium computes due times from, and the due times it computed.

Vendors that give no SLA due times on their tickets (ConnectWise gives verdicts but no
due instants; some give nothing) still have SLAs: response and resolution targets per
priority, counted in business hours on the SLA's calendar. The tenant states them as
:class:`SlaTarget` rows and :mod:`podium.metrics.sla_clock` writes one
:class:`TicketSlaClock` per ticket — kept apart from ``tickets`` so a sync, which
rewrites the vendor's columns, never erases what Podium computed.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Float, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from podium.models.base import Base, TenantScoped, id_column, one_of, ref_column, utcnow
from podium.models.work import SLA_SOURCES


class SlaTarget(TenantScoped, Base):
    """Response and resolution targets (business hours) of one SLA for the tickets it matches.

    ``board`` and ``priority`` narrow which tickets a row applies to (null: any); the most
    specific row matching a ticket wins. ``sla`` names the SLA, and with it the calendar
    its clock runs on (the ``sla`` calendar of that name, else the tenant's).
    """

    __tablename__ = "sla_targets"
    __table_args__ = (
        Index("ix_sla_targets_tenant_sla", "tenant_id", "sla"),
        CheckConstraint("response_hours IS NULL OR response_hours >= 0", name="response_non_negative"),
        CheckConstraint("resolution_hours IS NULL OR resolution_hours >= 0", name="resolution_non_negative"),
    )

    id: Mapped[int] = id_column()
    sla: Mapped[str] = mapped_column(String(200))
    board: Mapped[str | None] = mapped_column(String(200))
    priority: Mapped[str | None] = mapped_column(String(100))
    response_hours: Mapped[float | None] = mapped_column(Float)
    resolution_hours: Mapped[float | None] = mapped_column(Float)


class TicketSlaClock(TenantScoped, Base):
    """A ticket's SLA due times as the SLA metrics use them, and where each came from.

    ``*_source`` is ``vendor`` when the ticket's own due time was taken, ``podium`` when
    Podium computed it from the matching :class:`SlaTarget`, its calendar and the
    ticket's waiting-status pauses, and null when the stage has no due time.
    """

    __tablename__ = "ticket_sla_clocks"
    __table_args__ = (
        UniqueConstraint("ticket_id"),
        one_of("response_source", SLA_SOURCES, nullable=True),
        one_of("resolution_source", SLA_SOURCES, nullable=True),
    )

    id: Mapped[int] = id_column()
    ticket_id: Mapped[int] = ref_column("tickets.id")
    sla: Mapped[str | None] = mapped_column(String(200))
    """The SLA whose targets were applied (null when both due times are the vendor's)."""
    response_due_at: Mapped[dt.datetime | None]
    resolution_due_at: Mapped[dt.datetime | None]
    response_source: Mapped[str | None] = mapped_column(String(16))
    resolution_source: Mapped[str | None] = mapped_column(String(16))
    waiting_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    """Business seconds the clock stood still in waiting statuses (before resolution)."""
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
