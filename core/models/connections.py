"""Vendor connections and the bookkeeping that makes their syncs resumable and safe.

The sync semantics these tables serve (design §1): a page batch commits with a resume
cursor; the watermark moves only once a whole window has been scanned; one sync per
(connection, entity) at a time across processes; bad records are quarantined and records
that arrive before what they reference wait in ``pending_records``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, Integer, PrimaryKeyConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from podium.models.base import Base, TenantScoped, id_column, one_of, ref_column, utcnow

SYNC_STATUSES = ("idle", "running", "failed", "stopped")
RUN_STATUSES = ("running", "succeeded", "failed", "stopped")
RUN_TRIGGERS = ("scheduler", "webhook", "cli", "api")


class Connection(TenantScoped, Base):
    """One configured vendor account. The config (URLs, keys) is stored only as
    ciphertext so a database dump leaks no vendor credential."""

    __tablename__ = "connections"

    id: Mapped[int] = id_column()
    vendor: Mapped[str] = mapped_column(String(64))
    """The data-source plugin id, e.g. ``connectwise``."""
    name: Mapped[str] = mapped_column(String(200))
    config_encrypted: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="new")
    webhook_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    """SHA-256 (hex) of the ``/hooks/<token>`` path segment: what a delivery is looked up by."""
    webhook_token_encrypted: Mapped[str | None] = mapped_column(Text)
    """The token itself, sealed like the config: Halo and NinjaOne sign nothing, so for them the
    token is the only secret, and it must be shown again to register the webhook URL."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_test_at: Mapped[dt.datetime | None]
    last_test_message: Mapped[str | None] = mapped_column(Text)


class SyncState(TenantScoped, Base):
    """Where each entity's incremental sync stands, so a crash resumes mid-window
    instead of starting over or, worse, skipping ahead."""

    __tablename__ = "sync_states"
    __table_args__ = (
        UniqueConstraint("connection_id", "entity"),
        one_of("status", SYNC_STATUSES),
    )

    id: Mapped[int] = id_column()
    connection_id: Mapped[int] = ref_column("connections.id")
    entity: Mapped[str] = mapped_column(String(32))
    watermark: Mapped[dt.datetime | None]
    """Where the next incremental window starts; null means "never fully synced"."""
    window_start: Mapped[dt.datetime | None]
    window_end: Mapped[dt.datetime | None]
    """The window being scanned; null end means "up to now"."""
    scan_started_at: Mapped[dt.datetime | None]
    """Server clock when the scan began: the next watermark is this minus the overlap."""
    cursor: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))
    """Resume point inside the window (connector-defined, e.g. a page number)."""
    status: Mapped[str] = mapped_column(String(16), default="idle")
    last_error: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[dt.datetime | None]
    records_synced: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SyncRun(TenantScoped, Base):
    """One sync attempt, kept as history so an admin can see what ran, why and what it did."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        Index("ix_sync_runs_connection_entity_started", "connection_id", "entity", "started_at"),
        one_of("status", RUN_STATUSES),
        one_of("trigger", RUN_TRIGGERS),
    )

    id: Mapped[int] = id_column()
    connection_id: Mapped[int] = ref_column("connections.id")
    entity: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running")
    trigger: Mapped[str] = mapped_column(String(16))
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    upserted: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    deferred: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class SyncLock(TenantScoped, Base):
    """A lease, so only one sync per (connection, entity) runs at a time across web
    processes and workers; it expires so a crashed holder does not block forever."""

    __tablename__ = "sync_locks"
    __table_args__ = (PrimaryKeyConstraint("connection_id", "entity"),)

    connection_id: Mapped[int] = ref_column("connections.id")
    entity: Mapped[str] = mapped_column(String(32))
    holder: Mapped[str] = mapped_column(String(200))
    """Who holds it (host, pid, run id) — for diagnostics and safe release."""
    acquired_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]


class QuarantinedRecord(TenantScoped, Base):
    """A vendor record that failed canonical validation: kept with its errors, not
    dropped, so it can be fixed and replayed. One row per record (when its id is
    known) however often it fails, counting the attempts."""

    __tablename__ = "quarantined_records"
    __table_args__ = (UniqueConstraint("connection_id", "entity", "external_id"),)

    id: Mapped[int] = id_column()
    connection_id: Mapped[int] = ref_column("connections.id")
    entity: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[Any] = mapped_column(JSON)
    errors: Mapped[Any] = mapped_column(JSON)
    """marshmallow's field errors, e.g. ``{"hours": ["Must be greater than or equal to 0."]}``."""
    first_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    resolved_at: Mapped[dt.datetime | None]


class PendingRecord(TenantScoped, Base):
    """A valid record that references something not synced yet (a time entry before its
    ticket). It waits here and is applied once what it waits for arrives."""

    __tablename__ = "pending_records"
    __table_args__ = (UniqueConstraint("connection_id", "entity", "external_id"),)

    id: Mapped[int] = id_column()
    connection_id: Mapped[int] = ref_column("connections.id")
    entity: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(200))
    """The record's external id (a derived key for entities without one, e.g. ticket events)."""
    payload: Mapped[Any] = mapped_column(JSON)
    """The validated canonical record, as loaded by its schema (JSON-safe form)."""
    waiting_for: Mapped[Any] = mapped_column(JSON)
    """``[{"entity": "ticket", "external_id": "123"}, ...]``."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class RequestBudget(TenantScoped, Base):
    """A per-connection, per-minute request budget shared by every process when there is
    no Redis, so parallel syncs together stay under the vendor's rate limit."""

    __tablename__ = "request_budgets"

    connection_id: Mapped[int] = ref_column("connections.id", primary_key=True)
    window_start: Mapped[dt.datetime]
    used: Mapped[int] = mapped_column(Integer, default=0)
