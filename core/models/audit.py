"""The audit trail: who changed what, when and why (design §7).

Append-only: the ORM refuses to update or delete an event, so an after-the-fact change
to a figure can always be traced. (Retention pruning, if ever needed, must go through
the Core table deliberately.)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, String, Text, event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from podium.models.base import Base, TenantScoped, id_column, ref_column, utcnow


class AuditEventImmutable(RuntimeError):
    """An audit event was about to be changed or deleted."""


class AuditEvent(TenantScoped, Base):
    """One audited action. ``actor_label`` keeps a readable name even after the user is
    gone; ``before``/``after`` are JSON snapshots of what changed (never secrets)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_tenant_at", "tenant_id", "at"),
        Index("ix_audit_events_target", "target_type", "target_id"),
    )

    id: Mapped[int] = id_column()
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_user_id: Mapped[int | None] = ref_column("users.id", ondelete="SET NULL", nullable=True)
    actor_label: Mapped[str] = mapped_column(String(200))
    """``"alice@example.com"``, ``"system:sync"``, ``"plugin:foo"`` …"""
    action: Mapped[str] = mapped_column(String(64))
    """Dotted verb, e.g. ``identity.link``, ``period.close``, ``adjustment.create``."""
    target_type: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))
    after: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))
    reason: Mapped[str | None] = mapped_column(Text)


@event.listens_for(AuditEvent, "before_update")
def _refuse_update(_mapper: Any, _connection: Any, target: AuditEvent) -> None:
    raise AuditEventImmutable(f"audit event {target.id} is append-only")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_delete(_mapper: Any, _connection: Any, target: AuditEvent) -> None:
    raise AuditEventImmutable(f"audit event {target.id} is append-only")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_change(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and any(m.class_ is AuditEvent for m in state.all_mappers):
        raise AuditEventImmutable("audit events are append-only")
