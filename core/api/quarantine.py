"""``/api/v1/quarantine``: vendor records that failed canonical validation.

Each row carries the record as the connector produced it and marshmallow's field errors,
so an admin can see exactly which field of which record was refused and fix it at the
source. Then one of two audited decisions: *resolve* ("fixed at the source") queues a
fetch of that one record — the sync engine closes the row when it lands valid, or counts
another attempt — and *dismiss* ("known bad") closes the row without fetching. Rows hold
no connection config, so nothing secret is shown.

Admins and auditors may read; only admins resolve or dismiss.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import abort
from sqlalchemy import Select, select

from podium.api import ApiView, Blueprint, SelectPage, commit_so_far, dump, get_or_404
from podium.audit import record
from podium.auth import current_podium, current_user, require_role, tenant_session
from podium.jobs import enqueue
from podium.models import QuarantinedRecord, utcnow
from podium.schemas.api import (
    QuarantineActionSchema,
    QuarantinedRecordSchema,
    QuarantineQuerySchema,
    QuarantineResolveSchema,
)
from podium.schemas.canonical import ENTITY_MODELS

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


def _open_row(record_id: int) -> QuarantinedRecord:
    row = get_or_404(QuarantinedRecord, record_id)
    if row.resolved_at is not None:
        abort(409, message=f"Quarantined record {record_id} was already closed at {row.resolved_at.isoformat()}.")
    return row


def _refetchable(row: QuarantinedRecord) -> bool:
    model = ENTITY_MODELS.get(row.entity)
    return row.external_id is not None and model is not None and "external_id" in model.__table__.c


@blp.route("/quarantine/<int:record_id>/resolve")
class Resolve(ApiView):
    @require_role("admin")
    @blp.arguments(QuarantineActionSchema)
    @blp.response(202, QuarantineResolveSchema)
    def post(self, data: dict[str, Any], record_id: int) -> dict[str, Any]:
        """Fixed at the source: queue a fetch of the record. It leaves quarantine when it
        lands valid; if it is still invalid it stays here, one attempt more."""
        row = _open_row(record_id)
        if not _refetchable(row):
            abort(409, message=f"{row.entity} records cannot be fetched one by one; dismiss it or run a full sync.")
        commit_so_far()
        job_id = enqueue(
            current_podium(), "fetch_records", tenant_id=row.tenant_id, connection_id=row.connection_id,
            entity=row.entity, external_ids=[row.external_id], trigger="api",
        ).id
        record(tenant_session(), current_user(), "quarantine.resolve", row,
               after={"job_id": job_id}, reason=data.get("reason"))
        return {"record": row, "job_id": job_id}


@blp.route("/quarantine/<int:record_id>/dismiss")
class Dismiss(ApiView):
    @require_role("admin")
    @blp.arguments(QuarantineActionSchema)
    @blp.response(200, QuarantinedRecordSchema)
    def post(self, data: dict[str, Any], record_id: int) -> QuarantinedRecord:
        """Close the record as known bad: it is not fetched again (a later sync that
        still finds it invalid reopens it)."""
        row = _open_row(record_id)
        before = dump(QuarantinedRecordSchema, row)
        row.resolved_at = utcnow()
        record(tenant_session(), current_user(), "quarantine.dismiss", row, before,
               dump(QuarantinedRecordSchema, row), reason=data.get("reason"))
        return row
