"""``/api/v1/connections``: a tenant's vendor connections — configure, test, sync.

Secrets never leave the server: every response is built from
:func:`podium.connections.describe` (secret fields masked, webhook token omitted), and a
connector's test message is scrubbed of the connection's secret values in case the
vendor or connector echoed one. A PATCH that sends a secret back masked (or leaves it
out) keeps the stored value. Syncs are queued (``podium.jobs``), never run inside the
request; a connection test is one short vendor call, run inline so the admin sees the
answer.

Admins manage connections; auditors may read them; other roles may not.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from flask_smorest import abort
from marshmallow import ValidationError
from sqlalchemy import Select, select

from podium.api import ApiView, Blueprint, SelectPage, get_or_404
from podium.audit import record
from podium.auth import current_podium, current_user, require_role, tenant_session
from podium.connections import create_connection, describe, run_test, source_class, update_config
from podium.crypto import MASK
from podium.models import Connection
from podium.schemas.api import (
    ConnectionCreateSchema,
    ConnectionPatchSchema,
    ConnectionSchema,
    ConnectionTestSchema,
    SyncQueuedSchema,
    SyncRequestSchema,
)

blp = Blueprint("connections", __name__, url_prefix="/api/v1", description="Vendor connections (secrets masked).")


def _secret_values(connection: Connection) -> list[str]:
    podium = current_podium()
    config = podium.secrets.decrypt(connection.config_encrypted)
    try:
        secret_fields = source_class(podium, connection.vendor).secret_fields()
    except KeyError:  # connector gone: treat every value as secret, as describe() does
        secret_fields = frozenset(config)
    return [str(config[name]) for name in secret_fields if config.get(name) not in (None, "")]


def scrub(text: str | None, connection: Connection) -> str | None:
    """``text`` with any of the connection's secret values replaced by the mask."""
    if not text:
        return text
    for value in sorted(_secret_values(connection), key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def shown(connection: Connection) -> dict[str, Any]:
    """The connection as the API returns it (and as audit snapshots record it)."""
    view = describe(current_podium(), connection)
    view["last_test_message"] = scrub(view["last_test_message"], connection)
    return ConnectionSchema().dump(view)


def _invalid_config(exc: ValidationError) -> None:
    abort(422, message="The connection config is not valid for this connector.", errors={"config": exc.messages})


def _jobs() -> ModuleType | None:
    """``podium.jobs`` when the job layer is installed (it queues on RQ or the database)."""
    try:
        return importlib.import_module("podium.jobs")
    except ModuleNotFoundError as exc:
        if exc.name != "podium.jobs":
            raise
        return None


@blp.route("/connections")
class Connections(ApiView):
    @require_role("admin", "auditor")
    @blp.response(200, ConnectionSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self) -> Select[tuple[Connection]]:
        """List connections, by name."""
        return select(Connection).order_by(Connection.name, Connection.id)

    @require_role("admin")
    @blp.arguments(ConnectionCreateSchema)
    @blp.response(201, ConnectionSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Add a connection; ``config`` is validated by the connector's own schema."""
        podium = current_podium()
        if data["vendor"] not in podium.plugins.data_sources:
            known = ", ".join(sorted(cls.key for cls in podium.plugins.data_sources)) or "none"
            abort(422, message="Unknown vendor.", errors={"vendor": [f"No connector {data['vendor']!r} (registered: {known})."]})
        user = current_user()
        session = tenant_session()
        try:
            connection = create_connection(podium, session, user.tenant_id, data["vendor"], data["name"], data["config"])
        except ValidationError as exc:
            _invalid_config(exc)
        view = shown(connection)
        record(session, user, "connection.create", connection, after=view)
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
        before = shown(connection)
        if "name" in changes:
            connection.name = changes["name"]
        if "config" in changes:
            try:
                update_config(current_podium(), connection, changes["config"])
            except ValidationError as exc:
                _invalid_config(exc)
            except KeyError as exc:
                abort(409, message=f"The connector of this connection is not loaded: {exc.args[0]}")
        after = shown(connection)
        record(tenant_session(), current_user(), "connection.update", connection, before, after)
        return after


@blp.route("/connections/<int:connection_id>/test")
class ConnectionTest(ApiView):
    @require_role("admin")
    @blp.response(200, ConnectionTestSchema)
    def post(self, connection_id: int) -> dict[str, Any]:
        """Check the credentials against the vendor now; the outcome is stored on the connection."""
        connection = get_or_404(Connection, connection_id)
        try:
            ok, message = run_test(current_podium(), connection)
        except KeyError as exc:
            abort(409, message=f"The connector of this connection is not loaded: {exc.args[0]}")
        view = shown(connection)
        record(tenant_session(), current_user(), "connection.test", connection, after={"ok": ok, "status": view["status"]})
        return {"ok": ok, "message": scrub(message, connection), "connection": view}


@blp.route("/connections/<int:connection_id>/sync")
class ConnectionSync(ApiView):
    @require_role("admin")
    @blp.arguments(SyncRequestSchema)
    @blp.response(202, SyncQueuedSchema)
    def post(self, data: dict[str, Any], connection_id: int) -> dict[str, Any]:
        """Queue a sync of the given entities (default: all); it runs on a worker, not here."""
        connection = get_or_404(Connection, connection_id)
        podium = current_podium()
        try:
            available = source_class(podium, connection.vendor).entities()
        except KeyError as exc:
            abort(409, message=f"The connector of this connection is not loaded: {exc.args[0]}")
        entities = data.get("entities") or available
        unknown = [entity for entity in entities if entity not in available]
        if unknown:
            abort(422, message="Unknown entities.",
                  errors={"entities": [f"{', '.join(unknown)} not supplied by {connection.vendor} (it has: {', '.join(available)})."]})
        jobs = _jobs()
        if jobs is None or not hasattr(jobs, "enqueue_sync"):
            abort(503, message="No job queue is available to run the sync.")
        queued = [{"entity": entity, "job_id": jobs.enqueue_sync(podium, connection, entity, trigger="api")} for entity in entities]
        record(tenant_session(), current_user(), "connection.sync", connection, after={"entities": entities})
        return {"connection_id": connection.id, "queued": queued}
