"""The audit log: every audited action (who, when, before and after, why), newest first,
paged in the database like the API's ``/api/v1/audit`` and filterable by the kind of
thing acted on and by action.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_smorest.pagination import PaginationParameters
from podium.api import SelectPage
from podium.auth import tenant_session
from podium.models import AuditEvent
from podium.web.admin.guard import admin_page, bp, page
from sqlalchemy import select

PAGE_SIZE = 50


@bp.get("/audit")
@admin_page("admin", "auditor")
def audit() -> Any:
    kind = request.args.get("kind") or ""
    action = request.args.get("action") or ""
    number = max(request.args.get("page", 1, type=int), 1)
    statement = select(AuditEvent)
    if kind:
        statement = statement.where(AuditEvent.target_type == kind)
    if action:
        statement = statement.where(AuditEvent.action == action)
    events = SelectPage(statement.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()),
                        PaginationParameters(number, PAGE_SIZE))
    total = events.item_count
    kinds = tenant_session().scalars(select(AuditEvent.target_type).distinct().order_by(AuditEvent.target_type))
    return page("admin/audit.html", events=events.items, total=total, number=number,
                pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1), kind=kind, action=action, kinds=list(kinds))
