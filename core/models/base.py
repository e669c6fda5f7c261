"""Declarative base and the column conventions every Podium table follows.

Three rules hold for the whole store, so they live here once:

* every row belongs to a tenant (``TenantScoped``), and the session machinery in
  :mod:`podium.db` adds the tenant filter to every ORM query it runs;
* every record that came from a vendor carries the connection it came from and the
  vendor's id, unique per connection (``ExternalRecord``), which is what makes upserts
  idempotent;
* times are stored as UTC (SQLite has no time-zone type, so ``UTCDateTime`` stores naive
  UTC and hands back aware datetimes), money as integer minor units next to a currency.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite's INTEGER PRIMARY KEY is the rowid only when the type is exactly INTEGER.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as UTC on every backend and always returned time-zone aware.

    Naive datetimes are refused rather than guessed: a naive time from a vendor is a
    connector bug that would silently shift every SLA clock.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: Podium stores only time-zone aware times")
        value = value.astimezone(dt.timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


def utcnow() -> dt.datetime:
    """The current time, aware, in UTC."""
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    """Base of every Podium table, with a stable constraint naming scheme for Alembic."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime()}


class TenantScoped:
    """Mixin for rows that belong to a tenant; :mod:`podium.db` filters every query on it."""

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:  # noqa: N805 - SQLAlchemy declared_attr signature
        return mapped_column(
            BigInteger().with_variant(Integer(), "sqlite"),
            ForeignKey("tenants.id", ondelete="CASCADE"),
            index=True,
            nullable=False,
        )


class ExternalRecord(TenantScoped):
    """Mixin for rows synced from a vendor: (connection, external id) is unique.

    Subclasses add ``UniqueConstraint("connection_id", "external_id")`` in their
    ``__table_args__`` (the constraint needs the concrete table name).
    """

    @declared_attr
    def connection_id(cls) -> Mapped[int]:  # noqa: N805
        return mapped_column(
            BigInteger().with_variant(Integer(), "sqlite"),
            ForeignKey("connections.id", ondelete="CASCADE"),
            nullable=False,
        )

    external_id: Mapped[str] = mapped_column(String(64), nullable=False)
    synced_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


# --- column helpers -------------------------------------------------------------------
# Every id and every reference to one uses the same type, so a foreign key always matches
# the primary key it points to on both backends (BIGINT on PostgreSQL, the rowid on SQLite).


def id_column() -> Any:
    """The surrogate primary key of a table."""
    return mapped_column(BigIntPK, primary_key=True, autoincrement=True)


def ref_column(
    target: str,
    *,
    ondelete: str | None = "CASCADE",
    nullable: bool = False,
    index: bool = False,
    **kwargs: Any,
) -> Any:
    """A foreign key to another table's ``id`` (``target`` is ``"table.id"``)."""
    return mapped_column(
        BigIntPK,
        ForeignKey(target, ondelete=ondelete),
        nullable=nullable,
        index=index,
        **kwargs,
    )


def one_of(column: str, values: tuple[str, ...], *, nullable: bool = False) -> CheckConstraint:
    """A CHECK that keeps an enum-as-string column inside its allowed values.

    Enums are stored as plain strings (no native ENUM type), so adding a value swaps a
    CHECK rather than altering a PostgreSQL type; the check still refuses typos at the
    database. Alembic's autogenerate does not compare CHECKs: changing the allowed
    values needs a hand-written migration (or, pre-release, regenerating 0001).
    """
    allowed = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    condition = f"{column} IN ({allowed})"
    if nullable:
        condition = f"{column} IS NULL OR {condition}"
    return CheckConstraint(condition, name=f"{column}_allowed")
