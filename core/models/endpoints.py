"""Managed devices and their daily health, from the RMM (NinjaOne) or the PSA."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from podium.models.base import Base, ExternalRecord, TenantScoped, id_column, ref_column


class Endpoint(ExternalRecord, Base):
    """A managed device; its client may come from another connection (see ClientLink)."""

    __tablename__ = "endpoints"
    __table_args__ = (UniqueConstraint("connection_id", "external_id"),)

    id: Mapped[int] = id_column()
    client_id: Mapped[int | None] = ref_column("clients.id", ondelete="SET NULL", nullable=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    device_class: Mapped[str] = mapped_column(String(64))
    """``workstation``, ``server``, ``network`` … (the RMM's node class, normalised)."""
    last_contact_at: Mapped[dt.datetime | None]
    active: Mapped[bool] = mapped_column(default=True)


class EndpointStatus(TenantScoped, Base):
    """One day's health of one endpoint, kept daily so "patched %" can be averaged
    over a period; null means "not managed / unknown", not "failed"."""

    __tablename__ = "endpoint_statuses"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "day"),
        Index("ix_endpoint_statuses_tenant_day", "tenant_id", "day"),
    )

    id: Mapped[int] = id_column()
    endpoint_id: Mapped[int] = ref_column("endpoints.id")
    day: Mapped[dt.date]
    patch_ok: Mapped[bool | None]
    av_ok: Mapped[bool | None]
    backup_ok: Mapped[bool | None]
    health_ok: Mapped[bool | None]
