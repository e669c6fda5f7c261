"""A tenant's scope filters: tickets no ticket metric counts, whatever the metric.

RMM alert boards auto-close thousands of tickets that would flatter every resolution
metric, tickets of the MSP's own company are internal work, and merged or child tickets
would count one problem twice. The defaults leave all of those out; a tenant changes
them (audited) with :func:`update_scope`. Applied in :meth:`podium.metrics.tables.Tables.scoped_tickets`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium import audit
from podium.models import MetricScope, User


@dataclass(frozen=True)
class ScopeSettings:
    """The filters as values (defaults when the tenant stored none)."""

    excluded_boards: tuple[str, ...] = ()
    excluded_board_kinds: tuple[str, ...] = ("alert",)
    exclude_internal_clients: bool = True
    exclude_merged: bool = True
    exclude_child: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


FIELDS = ("excluded_boards", "excluded_board_kinds", "exclude_internal_clients", "exclude_merged", "exclude_child")


def load_scope(session: Session, tenant_id: int) -> ScopeSettings:
    """The tenant's scope filters."""
    row = session.scalars(select(MetricScope).where(MetricScope.tenant_id == tenant_id)).one_or_none()
    if row is None:
        return ScopeSettings()
    return ScopeSettings(
        excluded_boards=tuple(row.excluded_boards or ()),
        excluded_board_kinds=tuple(row.excluded_board_kinds or ()),
        exclude_internal_clients=row.exclude_internal_clients,
        exclude_merged=row.exclude_merged,
        exclude_child=row.exclude_child,
    )


def update_scope(
    session: Session, tenant_id: int, actor: User | str, reason: str | None = None, **changes: Any
) -> ScopeSettings:
    """Change some of the filters (names as in :data:`FIELDS`), with an audit event.

    Values of open periods change on the next refresh; closed periods keep theirs.
    """
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown scope field(s) {', '.join(unknown)}; one of {', '.join(FIELDS)}")
    for name in ("excluded_boards", "excluded_board_kinds"):
        if name in changes and (isinstance(changes[name], str)
                                or not all(isinstance(v, str) for v in changes[name])):
            raise ValueError(f"{name}: give a list of names")
    before = load_scope(session, tenant_id)
    row = session.scalars(select(MetricScope).where(MetricScope.tenant_id == tenant_id)).one_or_none()
    if row is None:
        row = MetricScope(tenant_id=tenant_id, **before.as_dict())
        session.add(row)
    for name, value in changes.items():
        setattr(row, name, list(value) if name.startswith("excluded") else bool(value))
    session.flush()
    after = load_scope(session, tenant_id)
    audit.record(session, actor, "metrics.scope.update", row, before.as_dict(), after.as_dict(), reason)
    return after
