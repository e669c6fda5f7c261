"""People, teams, clients and the effective-dated facts about them.

Podium owns the org data (design §4): vendors only suggest it, because their teams are
per board and current-only, or absent. Facts carry ``valid_from``/``valid_to`` (exclusive
end, null = still true) so a closed period is always computed with the org as it was.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Float,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from podium.models.base import Base, ExternalRecord, TenantScoped, id_column, one_of, ref_column

PERSON_FACT_KINDS = ("manager", "role", "level", "capacity_hours_week", "compensation")
CALENDAR_KINDS = ("tenant", "sla", "person")
AVAILABILITY_KINDS = ("pto", "internal")
MAPPING_KINDS = ("work_type", "agreement_type", "status", "board")
LINK_METHODS = ("email", "manual")

_VALID_RANGE = "valid_to IS NULL OR valid_to > valid_from"


class Person(TenantScoped, Base):
    """A human who does the work and may be paid for it — independent of any vendor,
    so one technician's work in two PSAs adds up to one scorecard."""

    __tablename__ = "people"

    id: Mapped[int] = id_column()
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    time_zone: Mapped[str | None] = mapped_column(String(64))
    """IANA name; null means the tenant's."""
    employed_from: Mapped[dt.date | None]
    employed_to: Mapped[dt.date | None]
    active: Mapped[bool] = mapped_column(default=True)


class Identity(ExternalRecord, Base):
    """A vendor's account for someone (a ConnectWise member, an Autotask resource).

    Work is attributed to a Person only through a link made by the audited resolver
    (verified email or manual confirm); an unlinked identity is kept but never
    attributed or paid. API and workflow accounts are marked ``is_person = False``.
    """

    __tablename__ = "identities"
    __table_args__ = (
        UniqueConstraint("connection_id", "external_id"),
        one_of("link_method", LINK_METHODS, nullable=True),
        Index("ix_identities_tenant_email", "tenant_id", "email"),
    )

    id: Mapped[int] = id_column()
    vendor_key: Mapped[str | None] = mapped_column(String(200))
    """A second vendor handle, e.g. ConnectWise's member ``identifier`` used in pods."""
    email: Mapped[str | None] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    is_person: Mapped[bool] = mapped_column(default=True)
    person_id: Mapped[int | None] = ref_column("people.id", ondelete="SET NULL", nullable=True, index=True)
    link_method: Mapped[str | None] = mapped_column(String(16))
    linked_by_user_id: Mapped[int | None] = ref_column("users.id", ondelete="SET NULL", nullable=True)
    linked_at: Mapped[dt.datetime | None]
    raw: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))


class Team(TenantScoped, Base):
    """A Podium team: the grain managers and pooled team metrics are reported at."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)


class TeamMembership(TenantScoped, Base):
    """Who was in which team when; ``share`` splits a person working for two teams."""

    __tablename__ = "team_memberships"
    __table_args__ = (
        Index("ix_team_memberships_person_valid_from", "person_id", "valid_from"),
        Index("ix_team_memberships_team_valid_from", "team_id", "valid_from"),
        CheckConstraint(_VALID_RANGE, name="valid_range"),
        CheckConstraint("share > 0 AND share <= 1", name="share_range"),
    )

    id: Mapped[int] = id_column()
    person_id: Mapped[int] = ref_column("people.id")
    team_id: Mapped[int] = ref_column("teams.id")
    valid_from: Mapped[dt.date]
    valid_to: Mapped[dt.date | None]
    share: Mapped[float] = mapped_column(Float, default=1.0)


class PersonFact(TenantScoped, Base):
    """An effective-dated fact about a person (manager, role, level, weekly capacity,
    compensation), one kind per row, so history is kept when any of them changes.

    The value lives in the column that fits the kind: ``value_int`` for a manager's
    person id or an annual base salary in minor units (with ``currency``), ``value_num``
    for capacity hours, ``value_text`` for role and level.
    """

    __tablename__ = "person_facts"
    __table_args__ = (
        Index("ix_person_facts_person_kind_valid_from", "person_id", "kind", "valid_from"),
        one_of("kind", PERSON_FACT_KINDS),
        CheckConstraint(_VALID_RANGE, name="valid_range"),
    )

    id: Mapped[int] = id_column()
    person_id: Mapped[int] = ref_column("people.id")
    kind: Mapped[str] = mapped_column(String(32))
    value_text: Mapped[str | None] = mapped_column(String(200))
    value_int: Mapped[int | None] = mapped_column(BigInteger)
    value_num: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(3))
    valid_from: Mapped[dt.date]
    valid_to: Mapped[dt.date | None]


class ClientResponsibility(TenantScoped, Base):
    """Which person or team answers for a client when (account-manager style metrics)."""

    __tablename__ = "client_responsibilities"
    __table_args__ = (
        Index("ix_client_responsibilities_client_valid_from", "client_id", "valid_from"),
        Index("ix_client_responsibilities_person_valid_from", "person_id", "valid_from"),
        CheckConstraint(_VALID_RANGE, name="valid_range"),
        CheckConstraint("person_id IS NOT NULL OR team_id IS NOT NULL", name="has_owner"),
    )

    id: Mapped[int] = id_column()
    client_id: Mapped[int] = ref_column("clients.id")
    person_id: Mapped[int | None] = ref_column("people.id", nullable=True)
    team_id: Mapped[int | None] = ref_column("teams.id", nullable=True, index=True)
    share: Mapped[float] = mapped_column(Float, default=1.0)
    valid_from: Mapped[dt.date]
    valid_to: Mapped[dt.date | None]


class Calendar(TenantScoped, Base):
    """Business hours in a time zone, so SLA clocks and capacity count working time only."""

    __tablename__ = "calendars"
    __table_args__ = (one_of("kind", CALENDAR_KINDS),)

    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64))
    business_hours: Mapped[Any] = mapped_column(JSON)
    """``{"mon": [["08:00", "17:00"]], ..., "sun": []}`` in the calendar's time zone."""
    kind: Mapped[str] = mapped_column(String(16), default="tenant")
    person_id: Mapped[int | None] = ref_column("people.id", nullable=True, index=True)
    """Set for ``kind = "person"``: that person's own working hours."""


class Holiday(TenantScoped, Base):
    """A day a calendar does not work."""

    __tablename__ = "holidays"
    __table_args__ = (UniqueConstraint("calendar_id", "day"),)

    id: Mapped[int] = id_column()
    calendar_id: Mapped[int] = ref_column("calendars.id")
    day: Mapped[dt.date]
    name: Mapped[str] = mapped_column(String(200))


class Availability(TenantScoped, Base):
    """Hours a person was not available for billable work (PTO, internal duty), so
    utilisation is measured against the hours they actually had."""

    __tablename__ = "availability"
    __table_args__ = (
        Index("ix_availability_person_day", "person_id", "day"),
        one_of("kind", AVAILABILITY_KINDS),
        CheckConstraint("hours >= 0", name="hours_non_negative"),
    )

    id: Mapped[int] = id_column()
    person_id: Mapped[int] = ref_column("people.id")
    day: Mapped[dt.date]
    kind: Mapped[str] = mapped_column(String(16))
    hours: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(32), default="manual")
    """Where it came from: ``manual``, ``csv``, ``api``, ``time_entry`` …"""


class Mapping(TenantScoped, Base):
    """Translates a vendor's free-form value (a work type, an agreement type, a status,
    a board) into Podium's vocabulary; unconfirmed suggestions wait for an admin.

    ``connection_id`` null means the mapping applies to every connection of the tenant.
    """

    __tablename__ = "mappings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "connection_id", "kind", "vendor_value"),
        # NULLs are distinct in a UNIQUE constraint, so tenant-wide mappings need their own index.
        Index(
            "uq_mappings_tenant_wide",
            "tenant_id",
            "kind",
            "vendor_value",
            unique=True,
            sqlite_where=text("connection_id IS NULL"),
            postgresql_where=text("connection_id IS NULL"),
        ),
        one_of("kind", MAPPING_KINDS),
    )

    id: Mapped[int] = id_column()
    connection_id: Mapped[int | None] = ref_column("connections.id", nullable=True)
    kind: Mapped[str] = mapped_column(String(32))
    vendor_value: Mapped[str] = mapped_column(String(200))
    podium_value: Mapped[str] = mapped_column(String(64))
    confirmed: Mapped[bool] = mapped_column(default=False)


class Client(ExternalRecord, Base):
    """A customer company as one vendor knows it; ``is_internal`` marks the MSP itself,
    whose tickets and time are internal rather than billable work."""

    __tablename__ = "clients"
    __table_args__ = (UniqueConstraint("connection_id", "external_id"),)

    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    is_internal: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)


class ClientLink(TenantScoped, Base):
    """Says two clients of different connections are the same company (a NinjaOne
    organisation and a ConnectWise company), so endpoint and ticket data join up."""

    __tablename__ = "client_links"
    __table_args__ = (
        UniqueConstraint("client_id", "linked_client_id"),
        CheckConstraint("client_id <> linked_client_id", name="not_self"),
    )

    id: Mapped[int] = id_column()
    client_id: Mapped[int] = ref_column("clients.id")
    linked_client_id: Mapped[int] = ref_column("clients.id", index=True)
