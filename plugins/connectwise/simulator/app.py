"""The ConnectWise Manage REST API 3.0, served over a :class:`~.store.WorldStore`.

``GET /login/companyinfo/{companyId}`` answers codebase discovery without
authentication; everything else lives under ``/{codebase}apis/3.0/`` and needs the
``clientId`` header and API-key or member-hash credentials (:mod:`.auth`). List
endpoints page navigably (``page``/``pageSize`` with an RFC 5988 ``Link`` header carrying
first/prev/next/last, prev and next left out at the ends) or, with
``pagination-type: forward-only``, by keyset (``pageId``; a ``Link`` to the next
``pageId`` — the last id returned — on every page that returned rows, none on the empty
page that ends the walk, which is what lets christaylorcodes' ``Invoke-CWMAllResult``
loop terminate). Paths are matched without regard to case, and doubled slashes are
accepted (pyconnectwise builds ``{codebase}/apis``; ConnectWise's own links read
``apis/3.0//service``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from flask import Flask, Request, Response, request

from . import callbacks, delivery, hostpage
from .auth import Credentials, Principal, authenticate
from .errors import ApiError, bad_request, not_found
from .params import ListQuery, list_query, lower_keys, project, require_parameter
from .ratelimit import RateLimiter
from .render import my_member_info
from .resources import AUDIT_TRAIL_TYPES, RESOURCES, Resource
from .store import WorldStore

log = logging.getLogger(__name__)

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
SERVER_NAME = "PODIUMCWSIM01"
PAGING_PARAMS = ("page", "pagesize", "pageid")
AUDIT_TRAIL_PATH = "system/audittrail"


@dataclass(frozen=True)
class Route:
    """A resource's URL pattern: its list URL, then nothing, ``count`` or an id."""

    resource: Resource
    pattern: re.Pattern[str]


def _routes() -> list[Route]:
    routes = []
    for resource in RESOURCES.values():
        if resource.path == AUDIT_TRAIL_PATH:
            continue  # one URL for every record type: served by Simulator.audit_trail
        base = re.escape(resource.path).replace(re.escape("{parent}"), r"(?P<parent>\d+)")
        routes.append(Route(resource, re.compile(rf"{base}(?:/(?P<tail>count|\d+))?")))
    return routes


class Simulator:
    """Dispatches one request; holds the store, the accepted credentials and the rate limiter."""

    def __init__(self, store: WorldStore, credentials: Credentials, limiter: RateLimiter | None, codebase: str) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.]+/", codebase):
            raise ValueError(f"codebase must look like 'v2025_1/' (with the trailing slash), not {codebase!r}")
        self.store = store
        self.credentials = credentials
        self.limiter = limiter
        self.codebase = codebase
        self.api_prefix = f"{codebase.lower()}apis/3.0/"
        self.version = codebase.strip("/").lstrip("v").replace("_", ".")
        self.routes = _routes()

    # -- entry --------------------------------------------------------------------------

    def handle(self, req: Request, path: str) -> Response:
        lowered = path.lower().strip("/")
        try:
            if lowered.startswith("login/companyinfo/") and req.method == "GET":
                return self.company_info(path.strip("/").split("/", 2)[2])
            if not (lowered + "/").startswith(self.api_prefix):
                raise not_found(f"No resource was found at /{path}")
            response = self.api(req, lowered[len(self.api_prefix):])
        except ApiError as exc:
            response = _json(exc.body(), exc.status)
        except Exception:  # noqa: BLE001 - a bug must still answer in ConnectWise's shape; the traceback is logged
            log.exception("simulator failed on %s %s", req.method, req.path)
            response = _json(ApiError(500, "InternalServerError", "An unexpected error occurred").body(), 500)
        if lowered.startswith(self.api_prefix.rstrip("/")):
            response.headers.update({
                "api-current-version": self.version,
                "x-cw-request-id": str(uuid.uuid4()),
                "x-server-name": SERVER_NAME,
                "Cache-Control": "no-cache",
                "Pragma": "no-cache",
                "X-Frame-Options": "SAMEORIGIN",
            })
        return response

    def company_info(self, company_id: str) -> Response:
        if company_id.lower() != self.credentials.company_id.lower():
            raise not_found(f"Company {company_id} was not found")
        return _json({
            "CompanyName": self.store.meta("company_name") or self.credentials.company_id,
            "Codebase": self.codebase,
            "VersionCode": f"v{self.version}",
            "VersionNumber": "v4.6.96001",
            "CompanyID": self.credentials.company_id,
            "IsCloud": "True",
        })

    def api(self, req: Request, rest: str) -> Response:
        principal = authenticate(req.headers, req.cookies, self.credentials, self.store)
        if self.limiter is not None:
            wait = self.limiter.retry_after(f"{principal.kind}:{principal.identifier.lower()}")
            if wait is not None:
                # ConnectWise's 429 body has its own shape (Developer Guide, "Rate Limiting").
                response = _json({"error": "ConnectWiseAPI",
                                  "message": f"Too many requests. Please try again in {wait} seconds."}, 429)
                response.headers["Retry-After"] = str(wait)
                return response
        args = lower_keys(req.args)
        if rest == "system/mymembers/info":
            return self.only(req, "GET", lambda: self.my_member(principal))
        if rest == AUDIT_TRAIL_PATH:
            return self.only(req, "GET", lambda: self.audit_trail(req, args))
        if rest == "service/tickets/search":
            return self.only(req, "POST", lambda: self.search(req, args))
        for route in self.routes:
            match = route.pattern.fullmatch(rest)
            if match:
                groups = match.groupdict()
                return self.resource(req, route.resource, args, principal, groups.get("parent"), groups["tail"])
        raise not_found(f"No resource was found at {rest}")

    @staticmethod
    def only(req: Request, method: str, handler: Callable[[], Response]) -> Response:
        if req.method != method:
            raise ApiError(405, "MethodNotAllowed", f"{req.method} is not allowed here")
        return handler()

    # -- resources ------------------------------------------------------------------------

    def resource(self, req: Request, resource: Resource, args: Mapping[str, str], principal: Principal,
                 parent: str | None, tail: str | None) -> Response:
        parent_id = int(parent) if parent is not None else None
        if parent_id is not None:
            parent_resource = RESOURCES[resource.parent or ""]
            if not self.store.exists(parent_resource, parent_id):
                raise not_found(f"{parent_resource.label} {parent_id} was not found")
        if tail is None and req.method == "GET":
            return self.listing(req, resource, args, parent_id)
        if tail == "count" and req.method == "GET":
            return _json({"count": self.store.count(resource, list_query(resource, args, forward_only=False).conditions,
                                                    parent_id)})
        if tail not in (None, "count"):
            record_id = int(tail)
            if req.method == "GET":
                return _json(self.record(resource, record_id, parent_id, args))
            if resource.writable and req.method in ("PUT", "PATCH", "DELETE"):
                return self.change(req, resource, record_id, principal)
        if tail is None and resource.writable and req.method == "POST":
            return self.create(req, resource, principal)
        raise ApiError(405, "MethodNotAllowed", f"{req.method} is not allowed on {resource.path}")

    def record(self, resource: Resource, record_id: int, parent_id: int | None, args: Mapping[str, str]) -> Any:
        record = self.store.get(resource, record_id, parent_id)
        if record is None:
            raise not_found(f"{resource.label} {record_id} was not found")
        query = list_query(resource, args, forward_only=False)
        return project(record, query.fields) if query.fields else record

    def listing(self, req: Request, resource: Resource, args: Mapping[str, str], parent_id: int | None,
                conditions: str | None = None) -> Response:
        forward_only = req.headers.get("pagination-type", "").lower() == "forward-only"
        query = list_query(resource, args, forward_only=forward_only)
        if conditions is not None:
            query = dataclasses.replace(query, conditions=conditions)
        rows = self.store.page(resource, query, parent_id)
        if query.fields:
            body = json.dumps([project(json.loads(text), query.fields) for _, text in rows], separators=(",", ":"))
        else:
            body = "[" + ",".join(text for _, text in rows) + "]"
        response = Response(body, 200, content_type="application/json; charset=utf-8")
        links = self.links(req, resource, query, parent_id, rows)
        if links:
            response.headers["Link"] = links
        return response

    def links(self, req: Request, resource: Resource, query: ListQuery, parent_id: int | None,
              rows: list[tuple[int, str]]) -> str:
        base = req.host_url.rstrip("/") + req.path
        kept = [(k, v) for k, v in parse_qsl(req.query_string.decode(), keep_blank_values=True)
                if k.lower() not in PAGING_PARAMS]

        def url(**paging: int) -> str:
            pairs = [*kept, ("pageSize", str(query.page_size)), *((k, str(v)) for k, v in paging.items())]
            return f"{base}?{urlencode(pairs, quote_via=quote)}"

        if query.forward_only:
            return f'<{url(pageId=rows[-1][0])}>; rel="next"' if rows else ""
        total = self.store.count(resource, query.conditions, parent_id)
        last = max(1, math.ceil(total / query.page_size))
        parts = []
        if query.page < last:
            parts.append(f'<{url(page=query.page + 1)}>; rel="next"')
        if query.page > 1:
            parts.append(f'<{url(page=min(query.page - 1, last))}>; rel="prev"')
        parts.append(f'<{url(page=last)}>; rel="last"')
        parts.append(f'<{url(page=1)}>; rel="first"')
        return ", ".join(parts)

    def search(self, req: Request, args: Mapping[str, str]) -> Response:
        """``POST service/tickets/search`` with ``{"conditions": ...}``: for conditions too long for a URL."""
        body = req.get_json(silent=True)
        if not isinstance(body, dict):
            raise bad_request('the body must be a JSON object such as {"conditions": "..."}', resource="search")
        unknown = sorted(set(body) - {"conditions"})
        if unknown:
            raise bad_request(f"{', '.join(unknown)} is not supported in a search body (only conditions)",
                              resource="search", field_name=unknown[0], code="NotSupported")
        conditions = body.get("conditions") or ""
        if not isinstance(conditions, str):
            raise bad_request("conditions must be a string", resource="conditions")
        if args.get("conditions"):
            raise bad_request("give conditions in the body or the URL, not both", resource="conditions")
        return self.listing(req, RESOURCES["service_tickets"], args, None, conditions.strip() or None)

    def audit_trail(self, req: Request, args: Mapping[str, str]) -> Response:
        """``system/audittrail?type=Ticket&id=`` — the status and owner changes of one record."""
        kind = require_parameter(args, "type")
        record_id = require_parameter(args, "id")
        name = next((v for k, v in AUDIT_TRAIL_TYPES.items() if k.lower() == kind.lower()), None)
        if name is None:
            raise bad_request(f"the simulator keeps an audit trail for type {' and '.join(AUDIT_TRAIL_TYPES)} only, "
                              f"not {kind}", resource="type", code="NotSupported")
        if not record_id.isdigit():
            raise bad_request(f"id must be an integer, not {record_id!r}", resource="id")
        resource = RESOURCES[name]
        parent = RESOURCES[resource.parent or ""]
        if not self.store.exists(parent, int(record_id)):
            raise not_found(f"{parent.label} {record_id} was not found")
        return self.listing(req, resource, args, int(record_id))

    def my_member(self, principal: Principal) -> Response:
        member = self.store.find_member(self.member_identifier(principal))
        if member is None:
            raise not_found("The authenticated member was not found")
        return _json(my_member_info(member))

    def member_identifier(self, principal: Principal) -> str:
        """The member behind a principal: API keys belong to the world's API member."""
        if principal.kind == "member":
            return principal.identifier
        return self.store.meta("api_member") or ""

    # -- callbacks ------------------------------------------------------------------------

    def create(self, req: Request, resource: Resource, principal: Principal) -> Response:
        member = self.store.find_member(self.member_identifier(principal))
        record = callbacks.new_entry(
            req.get_json(silent=True), member_id=member["id"] if member else None,
            by=member["identifier"] if member else principal.identifier, existing=self.all_of(resource),
        )
        return _json(self.store.insert(resource.name, record), 201)

    def change(self, req: Request, resource: Resource, record_id: int, principal: Principal) -> Response:
        current = self.store.get(resource, record_id)
        if current is None:
            raise not_found(f"{resource.label} {record_id} was not found")
        if req.method == "DELETE":
            self.store.delete(resource.name, record_id)
            return Response(status=204)
        by = self.member_identifier(principal) or principal.identifier
        body = req.get_json(silent=True)
        if req.method == "PUT":
            record = callbacks.replaced(current, body, by=by, existing=self.all_of(resource))
        else:
            record = callbacks.patched(current, body, by=by, existing=self.all_of(resource))
        self.store.replace(resource.name, record_id, record)
        return _json(record)

    def all_of(self, resource: Resource) -> list[dict[str, Any]]:
        return [json.loads(text) for _, text in self.store.page(resource, ListQuery(page_size=10**6))]


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status, content_type="application/json; charset=utf-8")


class _CollapseSlashes:
    """Serve ``apis/3.0//service/...`` as ``apis/3.0/service/...`` instead of redirecting it."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ["PATH_INFO"] = re.sub(r"/{2,}", "/", environ.get("PATH_INFO", ""))
        return self.app(environ, start_response)


def create_simulator_app(
    store: WorldStore,
    credentials: Credentials,
    rate_limit_per_minute: int | None = None,
    codebase: str = "v2025_1/",
    *,
    rate_window_seconds: float = 60.0,
) -> Flask:
    """A Flask app serving ``store`` as ConnectWise to callers holding ``credentials``.

    ``rate_limit_per_minute`` (None: unlimited) counts requests per caller per
    ``rate_window_seconds`` (60 unless a test wants short windows).
    """
    limiter = RateLimiter(rate_limit_per_minute, rate_window_seconds) if rate_limit_per_minute else None
    simulator = Simulator(store, credentials, limiter, codebase)
    app = Flask(__name__)
    app.extensions["connectwise_simulator"] = simulator

    @app.route("/", defaults={"path": ""}, methods=METHODS)
    @app.route("/<path:path>", methods=METHODS)
    def dispatch(path: str) -> Response:
        return simulator.handle(request, path)

    app.register_blueprint(hostpage.bp)  # the Hosted API host page (pods)
    app.register_blueprint(delivery.keys)  # callback signing keys (key_url)
    app.wsgi_app = _CollapseSlashes(app.wsgi_app)  # type: ignore[method-assign]
    return app
