"""Tenants, the people who sign in to Podium, and their API tokens."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from podium.models.base import Base, TenantScoped, id_column, one_of, ref_column, utcnow

ROLES = ("admin", "manager", "technician", "auditor")


class Tenant(Base):
    """The unit of isolation: one MSP company (an MSP group or a hosting provider has many).

    Its calendar settings live here because every period boundary (fiscal year, week,
    month in local time) is computed from them.
    """

    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint("fiscal_year_start_month BETWEEN 1 AND 12", name="fiscal_year_start_month_range"),
        CheckConstraint("week_start BETWEEN 0 AND 6", name="week_start_range"),
    )

    id: Mapped[int] = id_column()
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    """IANA name, e.g. ``Europe/London``."""
    fiscal_year_start_month: Mapped[int] = mapped_column(Integer, default=1)
    week_start: Mapped[int] = mapped_column(Integer, default=0)
    """0 = Monday … 6 = Sunday, as :meth:`datetime.date.weekday`."""
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class User(TenantScoped, Base):
    """Someone who signs in. A technician's user points at their Person so that "my
    scorecard" can be answered without trusting anything the browser says."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email"),
        one_of("role", ROLES),
    )

    id: Mapped[int] = id_column()
    email: Mapped[str] = mapped_column(String(320))
    """Stored lower-cased; unique within the tenant (the same person may work for two)."""
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    """Null for users who only sign in through OIDC/OAuth."""
    role: Mapped[str] = mapped_column(String(16), default="technician")
    person_id: Mapped[int | None] = ref_column("people.id", ondelete="SET NULL", nullable=True, index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ApiToken(TenantScoped, Base):
    """A bearer token for the REST API. Only its SHA-256 is kept, so a database dump
    cannot be replayed against the API; the prefix lets a user tell tokens apart."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = id_column()
    user_id: Mapped[int] = ref_column("users.id", index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """Hex SHA-256 of the raw token; unique across tenants so lookup needs no tenant."""
    prefix: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
