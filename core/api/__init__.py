"""The REST API, ``/api/v1``: one module per resource, composed here.

Conventions every resource module follows, so none has to re-decide them:

* views are :class:`ApiView` method views — token-authenticated and served inside a
  tenant-scoped session (:func:`podium.auth.authenticated`); writes add an audit event;
* lists are paginated in the database (:class:`SelectPage`: ``?page=&page_size=``, an
  ``X-Pagination`` header with the totals);
* every error is the one envelope of :mod:`podium.api.errors`;
* the OpenAPI document at ``/api/v1/openapi.json`` is generated from the marshmallow
  schemas in :mod:`podium.schemas.api` and declares the bearer-token scheme.
"""

from __future__ import annotations

import datetime as dt
import importlib
import zoneinfo
from typing import Any, TypeVar

import flask_smorest
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import Schema
from sqlalchemy import Select, func, select
from werkzeug.exceptions import HTTPException

from podium.api.errors import handle_http_exception
from podium.auth import authenticated, current_tenant, tenant_session
from podium.schemas.api import ErrorSchema
from podium.version import __version__

PREFIX = "/api/v1"
RESOURCES = ("tenants", "people", "teams", "org", "connections", "quarantine", "plans", "payouts", "metrics")
"""Modules of this package that each define a blueprint ``blp``, in OpenAPI tag order."""
SECURITY_SCHEME = "bearerToken"

M = TypeVar("M")


class Api(flask_smorest.Api):
    """flask-smorest's Api with Podium's error envelope instead of its own."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        self._app.register_error_handler(HTTPException, handle_http_exception)


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with Podium's page sizes (smorest's default of 10 is small
    for people lists; 500 keeps one page to one quick query)."""

    DEFAULT_PAGINATION_PARAMETERS = {"page": 1, "page_size": 50, "max_page_size": 500}


class ApiView(MethodView):
    """Base of every API view: no method runs without a valid token."""

    decorators = [authenticated]


class SelectPage(flask_smorest.Page):
    """Pages a SELECT in the database (a COUNT and OFFSET/LIMIT), not in Python."""

    collection: Select[Any]

    @property
    def items(self) -> list[Any]:
        params = self.page_params
        statement = self.collection.offset(params.first_item).limit(params.page_size)
        return list(tenant_session().scalars(statement))

    @property
    def item_count(self) -> int:
        counted = select(func.count()).select_from(self.collection.order_by(None).subquery())
        return tenant_session().scalar(counted) or 0


def get_or_404(model: type[M], ident: int) -> M:
    """The caller's tenant's row with this id; another tenant's row is as absent as a
    missing one (404), so ids of other tenants cannot even be probed."""
    found = tenant_session().scalars(select(model).where(model.id == ident)).one_or_none()  # type: ignore[attr-defined]
    if found is None:
        abort(404, message=f"{model.__name__} {ident} not found.")
    return found


def commit_so_far() -> None:
    """Commit the request's work so far, before work that opens transactions of its own
    (queueing a job on the database queue, a connector spending its request budget).

    On SQLite a transaction holds the one write lock from its start, so such a second
    writer would wait on the request's transaction until it timed out. Work after this
    runs in a new transaction, committed when the request ends.
    """
    tenant_session().commit()


def tenant_today() -> dt.date:
    """Today in the tenant's time zone: memberships and facts change at local midnight."""
    return dt.datetime.now(zoneinfo.ZoneInfo(current_tenant().time_zone)).date()


def dump(schema: type[Schema], obj: Any) -> dict[str, Any]:
    """A JSON-safe snapshot of ``obj`` for the audit trail (same fields the API shows)."""
    return schema().dump(obj)


def _schema_name(schema: type[Schema] | Schema) -> str:
    """OpenAPI component name: ``PersonSchema`` → ``Person``; a partial one → ``PersonPatch``."""
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__.removesuffix("Schema")
    return name + "Patch" if not isinstance(schema, type) and schema.partial else name


def register_api(app: Flask) -> Api:
    """Attach ``/api/v1`` and its OpenAPI document to ``app``."""
    app.config.update(
        API_TITLE="Podium",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={"security": [{SECURITY_SCHEME: []}]},
    )
    api = Api(app, spec_kwargs={"marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=_schema_name)})
    api.spec.components.security_scheme(
        SECURITY_SCHEME,
        {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token (`pod_…`) from `podium tokens create`.",
        },
    )
    for name in RESOURCES:
        api.register_blueprint(importlib.import_module(f"{__name__}.{name}").blp)
    return api
