"""``/api/v1/connections``: a tenant's vendor connections — configure, test, sync.

Secrets never leave the server: every response is built from
:func:`podium.connections.describe` (secret fields masked, webhook token omitted), and a
connector's test message is scrubbed of the connection's secret values in case the
vendor or connector echoed one. A PATCH that sends a secret back masked (or leaves it
out) keeps the stored value. Syncs are queued (``podium.jobs``), never run inside the
request; a connection test is one short vendor call, run inline (outside the request's
transaction) so the admin sees the answer.

Admins manage connections; auditors may read them; other roles may not.
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask_smorest import abort
from flask_smorest.pagination import PaginationParameters
from marshmallow import ValidationError
from sqlalchemy import select

from podium.api import ApiView, Blueprint, SelectPage, commit_so_far, dump, get_or_404
from podium.audit import record
from podium.auth import current_podium, current_user, require_role, tenant_session
from podium.connections import create_connection, describe, run_test, source_class, update_config
from podium.datasource import DataSource
from podium.jobs import enqueue_sync
from podium.models import Connection
from podium.schemas.api import (
    ConnectionCreateSchema,
    ConnectionPatchSchema,
    ConnectionSchema,
    ConnectionTestSchema,
    SyncQueuedSchema,
    SyncRequestSchema,
)
from podium.sync import source_context

blp = Blueprint("connections", __name__, url_prefix="/api/v1", description="Vendor connections (secrets masked).")


def scrub(text: str | None, connection: Connection) -> str | None:
    """``text`` with any of the connection's secret values replaced by the mask."""
    return source_context(current_podium(), connection).redactor(text) if text else text


def connector_or_409(connection: Connection) -> type[DataSource]:
    """The connection's connector; 409 when its plugin is not loaded (removed or broken)."""
    try:
        return source_class(current_podium(), connection.vendor)
    except KeyError:
        abort(409, message=f"The connector {connection.vendor!r} of this connection is not loaded; see /-/plugins.")


def shown(connection: Connection) -> dict[str, Any]:
    """The connection as the API returns it and audit snapshots record it (via ``dump``)."""
    view = describe(current_podium(), connection)
    view["last_test_message"] = scrub(view["last_test_message"], connection)
    return view


def _invalid_config(exc: ValidationError) -> NoReturn:
    abort(422, message="The connection config is not valid for this connector.", errors={"config": exc.messages})


@blp.route("/connections")
class Connections(ApiView):
    @require_role("admin", "auditor")
    @blp.response(200, ConnectionSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: PaginationParameters) -> list[dict[str, Any]]:
        """List connections, by name."""
        statement = select(Connection).order_by(Connection.name, Connection.id)
        return [shown(connection) for connection in SelectPage(statement, pagination_parameters).items]

    @require_role("admin")
    @blp.arguments(ConnectionCreateSchema)
    @blp.response(201, ConnectionSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Add a connection; ``config`` is validated by the connector's own schema."""
        podium = current_podium()
        if data["vendor"] not in podium.plugins.data_sources:
            known = ", ".join(sorted(cls.key for cls in podium.plugins.data_sources)) or "none"
            abort(422, message="Unknown vendor.",
                  errors={"vendor": [f"No connector {data['vendor']!r} (registered: {known})."]})
        user = current_user()
        session = tenant_session()
        try:
            connection = create_connection(
                podium, session, user.tenant_id, data["vendor"], data["name"], data["config"]
            )
        except ValidationError as exc:
            _invalid_config(exc)
        view = shown(connection)
        record(session, user, "connection.create", connection, after=dump(ConnectionSchema, view))
        return view


@blp.route("/connections/<int:connection_id>")
class ConnectionItem(ApiView):
    @require_role("admin", "auditor")
    @blp.response(200, ConnectionSchema)
    def get(self, connection_id: int) -> dict[str, Any]:
        """One connection."""
        return shown(get_or_404(Connection, connection_id))

    @require_role("admin")
    @blp.arguments(ConnectionPatchSchema)
    @blp.response(200, ConnectionSchema)
    def patch(self, changes: dict[str, Any], connection_id: int) -> dict[str, Any]:
        """Rename a connection or change config fields (masked secrets are kept)."""
        connection = get_or_404(Connection, connection_id)
        before = dump(ConnectionSchema, shown(connection))
        if "name" in changes:
            connection.name = changes["name"]
        if "config" in changes:
            connector_or_409(connection)
            try:
                update_config(current_podium(), connection, changes["config"])
            except ValidationError as exc:
                _invalid_config(exc)
        after = shown(connection)
        record(tenant_session(), current_user(), "connection.update", connection, before,
               dump(ConnectionSchema, after))
        return after


@blp.route("/connections/<int:connection_id>/test")
class ConnectionTest(ApiView):
    @require_role("admin")
    @blp.response(200, ConnectionTestSchema)
    def post(self, connection_id: int) -> dict[str, Any]:
        """Check the credentials against the vendor now; the outcome is stored on the connection."""
        connection = get_or_404(Connection, connection_id)
        connector_or_409(connection)
        podium = current_podium()
        commit_so_far()
        context = source_context(podium, connection)
        try:
            ok, message = run_test(podium, connection, context)
        finally:
            context.close()
        view = shown(connection)
        record(tenant_session(), current_user(), "connection.test", connection,
               after={"ok": ok, "status": view["status"]})
        return {"ok": ok, "message": message, "connection": view}


@blp.route("/connections/<int:connection_id>/sync")
class ConnectionSync(ApiView):
    @require_role("admin")
    @blp.arguments(SyncRequestSchema)
    @blp.response(202, SyncQueuedSchema)
    def post(self, data: dict[str, Any], connection_id: int) -> dict[str, Any]:
        """Queue a sync of the given entities (default: all); it runs on a worker, not here."""
        connection = get_or_404(Connection, connection_id)
        podium = current_podium()
        available = connector_or_409(connection).entities()
        entities = data.get("entities") or available
        unknown = [entity for entity in entities if entity not in available]
        if unknown:
            reason = f"{', '.join(unknown)} not supplied by {connection.vendor} (it has: {', '.join(available)})."
            abort(422, message="Unknown entities.", errors={"entities": [reason]})
        commit_so_far()
        queued = [
            {"entity": entity, "job_id": enqueue_sync(podium, connection, entity, trigger="api")} for entity in entities
        ]
        record(tenant_session(), current_user(), "connection.sync", connection, after={"entities": entities})
        return {"connection_id": connection.id, "queued": queued}
