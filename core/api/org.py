"""``/api/v1/org``: org data by CSV, and the identity resolver.

The REST twin of ``podium org``: ``GET /api/v1/org/csv/<kind>`` exports a kind (or, with
``?suggested=true``, what vendors suggest), ``POST`` the same URL imports a file — sent as
the ``text/csv`` body or as the multipart field ``file`` — all or nothing; a refused file
is a 422 whose ``errors`` name each line and column. Identities are listed, linked and
unlinked here, each change audited.

Org exports carry compensation and e-mails, so reads are for admins and auditors; every
write is for admins.
"""

from __future__ import annotations

import io
from collections import defaultdict
from typing import Any

from flask import Response, request
from flask_smorest import abort
from marshmallow import Schema, fields, validate
from sqlalchemy import Select, select

from podium.api import ApiView, Blueprint, SelectPage, get_or_404
from podium.auth import current_user, require_role, tenant_session
from podium.models import Identity
from podium.org import csvio, identities
from podium.org.suggestions import suggestions

blp = Blueprint("org", __name__, url_prefix="/api/v1/org", description="Org data by CSV; the identity resolver.")

KIND = f"<any({', '.join(csvio.KINDS)}):kind>"
CSV_BODY = {
    "required": True,
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        "multipart/form-data": {
            "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
        },
    },
}
CSV_RESPONSE = {"200": {"description": "The rows as CSV.", "content": {"text/csv": {"schema": {"type": "string"}}}}}


class ExportQuerySchema(Schema):
    suggested = fields.Boolean(
        load_default=False, metadata={"description": "Rows vendors suggest that nobody confirmed yet."}
    )


class ImportResultSchema(Schema):
    kind = fields.String()
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()


class OrgIdentitySchema(Schema):
    id = fields.Integer()
    connection_id = fields.Integer()
    external_id = fields.String()
    vendor_key = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    display_name = fields.String()
    is_person = fields.Boolean(metadata={"description": "False for API and workflow accounts."})
    person_id = fields.Integer(allow_none=True, metadata={"description": "Null: unlinked, never attributed."})
    link_method = fields.String(allow_none=True)
    linked_at = fields.DateTime(allow_none=True)


class IdentityQuerySchema(Schema):
    unlinked = fields.Boolean(load_default=False, metadata={"description": "Only unlinked person accounts."})


class LinkSchema(Schema):
    person_id = fields.Integer(required=True)
    reason = fields.String(validate=validate.Length(max=2000), metadata={"description": "Kept in the audit trail."})


class ReasonSchema(Schema):
    reason = fields.String(validate=validate.Length(max=2000), metadata={"description": "Kept in the audit trail."})


class ResolveReportSchema(Schema):
    linked = fields.List(fields.List(fields.Integer()), metadata={"description": "[identity id, person id] pairs."})
    ambiguous = fields.List(fields.Integer())
    unmatched = fields.List(fields.Integer())


def _uploaded_text() -> tuple[str, str | None]:
    """The CSV text of the request and its file name, if it came as a file."""
    upload = request.files.get("file")
    raw = upload.read() if upload is not None else request.get_data()
    if not raw:
        abort(
            422,
            message="Send the CSV as a text/csv body or as the multipart field 'file'.",
            errors={"file": ["Missing data for required field."]},
        )
    try:
        return raw.decode("utf-8-sig"), upload.filename if upload is not None else None
    except UnicodeDecodeError:
        abort(422, message="The file is not UTF-8 text.", errors={"file": ["Not UTF-8 text."]})


@blp.route(f"/csv/{KIND}")
class OrgCsv(ApiView):
    @require_role("admin", "auditor")
    @blp.arguments(ExportQuerySchema, location="query")
    @blp.doc(responses=CSV_RESPONSE)
    def get(self, query: dict[str, Any], kind: str) -> Response:
        """Export one kind of org data as CSV (the shape POST accepts)."""
        rows = suggestions(tenant_session(), kind) if query["suggested"] else csvio.export_rows(tenant_session(), kind)
        body = _csv(kind, rows)
        return Response(
            body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'}
        )

    @require_role("admin")
    @blp.doc(requestBody=CSV_BODY)
    @blp.response(200, ImportResultSchema)
    def post(self, kind: str) -> csvio.ImportResult:
        """Import a CSV file of one kind: every row is checked first, and nothing is stored
        unless all are good (422 with an error per line and column)."""
        text, filename = _uploaded_text()
        try:
            return csvio.import_csv(tenant_session(), kind, text, actor=current_user(), source=filename)
        except csvio.CsvImportError as exc:
            errors: dict[str, list[str]] = defaultdict(list)
            for error in exc.errors:
                where = f"line {error.line}" + (f", column {error.column}" if error.column else "")
                errors[where].append(error.message)
            abort(422, message=f"{len(exc.errors)} error(s) in the {kind} file; nothing was imported.", errors=errors)


def _csv(kind: str, rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    csvio.write_csv(kind, rows, buffer)
    return buffer.getvalue()


@blp.route("/identities")
class Identities(ApiView):
    @require_role("admin", "auditor")
    @blp.arguments(IdentityQuerySchema, location="query")
    @blp.response(200, OrgIdentitySchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, query: dict[str, Any]) -> Select[tuple[Identity]]:
        """Vendor accounts of every connection and whom they are linked to."""
        statement = select(Identity).order_by(Identity.connection_id, Identity.id)
        if query["unlinked"]:
            statement = statement.where(Identity.person_id.is_(None), Identity.is_person.is_(True))
        return statement


@blp.route("/identities/resolve")
class Resolve(ApiView):
    @require_role("admin")
    @blp.response(200, ResolveReportSchema)
    def post(self) -> identities.ResolveReport:
        """Link unlinked person accounts whose e-mail matches exactly one person."""
        return identities.link_by_email(tenant_session(), current_user())


@blp.route("/identities/<int:identity_id>/link")
class Link(ApiView):
    @require_role("admin")
    @blp.arguments(LinkSchema)
    @blp.response(200, OrgIdentitySchema)
    def post(self, data: dict[str, Any], identity_id: int) -> Identity:
        """Confirm by hand which person an account is (audited)."""
        get_or_404(Identity, identity_id)
        try:
            return identities.link(tenant_session(), identity_id, data["person_id"], current_user(), data.get("reason"))
        except identities.IdentityError as exc:
            abort(422, message=str(exc), errors={"person_id": [str(exc)]})


@blp.route("/identities/<int:identity_id>/unlink")
class Unlink(ApiView):
    @require_role("admin")
    @blp.arguments(ReasonSchema)
    @blp.response(200, OrgIdentitySchema)
    def post(self, data: dict[str, Any], identity_id: int) -> Identity:
        """Remove a link; the account's work is no longer attributed to anyone."""
        get_or_404(Identity, identity_id)
        return identities.unlink(tenant_session(), identity_id, current_user(), data.get("reason"))
