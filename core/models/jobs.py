"""The database-backed job queue, used when no Redis is configured (design §1, §8).

A background thread in the web process works it, so webhooks and syncs never run inside
a request. Arguments are ids only: a job row must never carry a secret.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from podium.models.base import Base, id_column, one_of, ref_column, utcnow

JOB_STATUSES = ("queued", "started", "finished", "failed")


class DbJob(Base):
    """One queued call of ``func(*args, **kwargs)``.

    Not ``TenantScoped``: the worker claims jobs of every tenant in one query, and some
    jobs (scheduler ticks) belong to none, so ``tenant_id`` is nullable and informative.
    ``job_key`` is a deterministic id (e.g. ``sync:<connection>:<entity>``) whose
    uniqueness coalesces a burst of webhooks into one queued job.
    """

    __tablename__ = "db_jobs"
    __table_args__ = (
        Index("ix_db_jobs_status_run_after", "status", "run_after"),
        one_of("status", JOB_STATUSES),
    )

    id: Mapped[int] = id_column()
    tenant_id: Mapped[int | None] = ref_column("tenants.id", nullable=True, index=True)
    queue: Mapped[str] = mapped_column(String(64), default="default")
    func: Mapped[str] = mapped_column(String(255))
    """Dotted path of the job function, e.g. ``podium.jobs.sync_entity``."""
    args: Mapped[Any] = mapped_column(JSON, default=list)
    kwargs: Mapped[Any] = mapped_column(JSON, default=dict)
    job_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=600)
    run_after: Mapped[dt.datetime] = mapped_column(default=utcnow)
    """Not before this time: scheduled jobs and retry back-off."""
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
