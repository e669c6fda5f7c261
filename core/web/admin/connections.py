"""Connections: list, add (a form generated from the connector's config schema), test,
sync now, sync status and history, and the quarantine.

Everything a page shows of a connection comes from :func:`podium.api.connections.shown`
(secrets masked, test messages scrubbed), the same view the REST API returns. Syncs are
queued (:func:`podium.jobs.enqueue_sync`), never run inside the request; a test is one
short vendor call, run outside the request's transaction as the API runs it.

Admins manage connections; auditors may read them.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from flask_smorest import abort
from marshmallow import ValidationError
from podium.api import commit_so_far, dump, get_or_404
from podium.api.connections import connector_or_409, shown
from podium.audit import record
from podium.auth import current_podium, current_user, tenant_session
from podium.connections import create_connection, run_test, source_class, validate_config
from podium.jobs import enqueue_sync
from podium.models import Connection, QuarantinedRecord, SyncRun, SyncState
from podium.schemas.api import ConnectionSchema
from podium.sync import source_context
from podium.web.admin.forms import config_form, read_config
from podium.web.admin.guard import admin_page, bp, errors_of, page
from sqlalchemy import select

HISTORY_SHOWN = 50
"""Sync runs listed on a connection's page, newest first."""


@bp.get("/connections")
@admin_page("admin", "auditor")
def connections() -> Any:
    rows = tenant_session().scalars(select(Connection).order_by(Connection.name, Connection.id))
    vendors = sorted(current_podium().plugins.data_sources, key=lambda cls: cls.label)
    return page("admin/connections.html", connections=[shown(c) for c in rows], vendors=vendors)


def _vendor_or_404(vendor: str) -> Any:
    try:
        return source_class(current_podium(), vendor)
    except KeyError:
        abort(404, message=f"No connector {vendor!r} is loaded; see the plugins page.")


@bp.route("/connections/new/<vendor>", methods=["GET", "POST"])
@admin_page("admin")
def new_connection(vendor: str) -> Any:
    """The vendor's config form; on POST the connector's schema validates it (422 with
    each field's reason — every field's at once, even when one is not valid JSON — and
    the secrets never echoed back into the form)."""
    cls = _vendor_or_404(vendor)
    form = config_form(cls.config_schema)
    if request.method == "GET":
        return page("admin/connection_new.html", source=cls, form=form, values={}, errors={})
    name = request.form.get("name", "").strip()
    config, errors = read_config(form, request.form)
    if not name:
        errors["name"] = ["Give the connection a name."]
    try:
        validate_config(current_podium(), vendor, config)
    except ValidationError as exc:
        errors = {**errors_of(exc.messages), **errors}
    if not errors:
        user = current_user()
        connection = create_connection(current_podium(), tenant_session(), user.tenant_id, vendor, name, config)
        record(tenant_session(), user, "connection.create", connection, after=dump(ConnectionSchema, shown(connection)))
        return redirect(url_for("admin.connection", connection_id=connection.id))
    values = {item.name: request.form.get(item.name, "") for item in form if not item.secret}
    values["name"] = name
    return page("admin/connection_new.html", 422, source=cls, form=form, values=values, errors=errors)


@bp.get("/connections/<int:connection_id>")
@admin_page("admin", "auditor")
def connection(connection_id: int) -> Any:
    """One connection: its masked config, each entity's sync state, and its recent runs."""
    found = get_or_404(Connection, connection_id)
    session = tenant_session()
    states = session.scalars(select(SyncState).where(SyncState.connection_id == found.id)
                             .order_by(SyncState.entity))
    runs = session.scalars(select(SyncRun).where(SyncRun.connection_id == found.id)
                           .order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(HISTORY_SHOWN))
    quarantined = session.scalar(select(QuarantinedRecord.id).where(
        QuarantinedRecord.connection_id == found.id, QuarantinedRecord.resolved_at.is_(None)).limit(1))
    try:
        entities = source_class(current_podium(), found.vendor).entities()
    except KeyError:
        entities = []
    return page("admin/connection.html", connection=shown(found), states=list(states), runs=list(runs),
                entities=entities, has_quarantine=quarantined is not None,
                test=request.args.get("test"), queued=request.args.get("queued", type=int))


@bp.post("/connections/<int:connection_id>/test")
@admin_page("admin")
def test_connection(connection_id: int) -> Any:
    """Check the credentials against the vendor now; the outcome is stored and shown."""
    found = get_or_404(Connection, connection_id)
    connector_or_409(found)
    podium = current_podium()
    commit_so_far()
    context = source_context(podium, found)
    try:
        ok, _message = run_test(podium, found, context)
    finally:
        context.close()
    record(tenant_session(), current_user(), "connection.test", found, after={"ok": ok, "status": found.status})
    return redirect(url_for("admin.connection", connection_id=found.id, test="ok" if ok else "failed"))


@bp.post("/connections/<int:connection_id>/sync")
@admin_page("admin")
def sync_connection(connection_id: int) -> Any:
    """Queue a sync of every entity (or the one named); a worker runs it, not this request."""
    found = get_or_404(Connection, connection_id)
    available = connector_or_409(found).entities()
    chosen = request.form.get("entity") or ""
    if chosen and chosen not in available:
        abort(422, message="Unknown entity.",
              errors={"entity": [f"{chosen} is not supplied by {found.vendor} (it has: {', '.join(available)})."]})
    entities = [chosen] if chosen else available
    commit_so_far()
    for entity in entities:
        enqueue_sync(current_podium(), found, entity, trigger="api")
    record(tenant_session(), current_user(), "connection.sync", found, after={"entities": entities})
    return redirect(url_for("admin.connection", connection_id=found.id, queued=len(entities)))


@bp.get("/quarantine")
@admin_page("admin", "auditor")
def quarantine() -> Any:
    """Open quarantined records, newest failure first, optionally of one connection."""
    statement = select(QuarantinedRecord).where(QuarantinedRecord.resolved_at.is_(None))
    connection_id = request.args.get("connection_id", type=int)
    if connection_id is not None:
        statement = statement.where(QuarantinedRecord.connection_id == connection_id)
    rows = tenant_session().scalars(
        statement.order_by(QuarantinedRecord.last_seen_at.desc(), QuarantinedRecord.id.desc()).limit(200))
    return page("admin/quarantine.html", records=[(row, errors_of(row.errors)) for row in rows],
                connection_id=connection_id)
