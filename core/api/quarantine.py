"""``/api/v1/quarantine``: vendor records that failed canonical validation.

Each row carries the record as the connector produced it and marshmallow's field errors,
so an admin can see exactly which field of which record was refused and fix it at the
source. Closing a row is one of two audited decisions: *resolve* ("fixed at the source;
the next sync brings the corrected record") or *dismiss* ("known bad, ignore it"). Rows
hold no connection config, so nothing secret is shown.

Admins and auditors may read; only admins resolve or dismiss.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import abort
from sqlalchemy import Select, select

from podium.api import ApiView, Blueprint, SelectPage, dump, get_or_404
from podium.audit import record
from podium.auth import current_user, require_role, tenant_session
from podium.models import QuarantinedRecord, utcnow
from podium.schemas.api import QuarantineActionSchema, QuarantinedRecordSchema, QuarantineQuerySchema

blp = Blueprint("quarantine", __name__, url_prefix="/api/v1", description="Records refused by validation.")


@blp.route("/quarantine")
class Quarantine(ApiView):
    @require_role("admin", "auditor")
    @blp.arguments(QuarantineQuerySchema, location="query")
    @blp.response(200, QuarantinedRecordSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, query: dict[str, Any]) -> Select[tuple[QuarantinedRecord]]:
        """Quarantined records, newest failure first; filter by connection and entity."""
        statement = select(QuarantinedRecord)
        if "connection_id" in query:
            statement = statement.where(QuarantinedRecord.connection_id == query["connection_id"])
        if "entity" in query:
            statement = statement.where(QuarantinedRecord.entity == query["entity"])
        resolved = QuarantinedRecord.resolved_at.is_not(None)
        statement = statement.where(resolved if query["resolved"] else ~resolved)
        return statement.order_by(QuarantinedRecord.last_seen_at.desc(), QuarantinedRecord.id.desc())


def _close(record_id: int, action: str, reason: str | None) -> QuarantinedRecord:
    row = get_or_404(QuarantinedRecord, record_id)
    if row.resolved_at is not None:
        abort(409, message=f"Quarantined record {record_id} was already closed at {row.resolved_at.isoformat()}.")
    before = dump(QuarantinedRecordSchema, row)
    row.resolved_at = utcnow()
    record(tenant_session(), current_user(), f"quarantine.{action}", row, before,
           dump(QuarantinedRecordSchema, row), reason=reason)
    return row


@blp.route("/quarantine/<int:record_id>/resolve")
class Resolve(ApiView):
    @require_role("admin")
    @blp.arguments(QuarantineActionSchema)
    @blp.response(200, QuarantinedRecordSchema)
    def post(self, data: dict[str, Any], record_id: int) -> QuarantinedRecord:
        """Close the record as fixed at the source (the next sync brings the corrected one)."""
        return _close(record_id, "resolve", data.get("reason"))


@blp.route("/quarantine/<int:record_id>/dismiss")
class Dismiss(ApiView):
    @require_role("admin")
    @blp.arguments(QuarantineActionSchema)
    @blp.response(200, QuarantinedRecordSchema)
    def post(self, data: dict[str, Any], record_id: int) -> QuarantinedRecord:
        """Close the record as known bad: it stays out of the store."""
        return _close(record_id, "dismiss", data.get("reason"))
