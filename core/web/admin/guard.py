"""The guard every admin page passes: signed in, the right role, a CSRF token, one tenant.

Admin pages are top-level pages behind the sign-in session (:mod:`podium.web.signin`),
never framed (``frame-ancestors 'none'``). Each view names the roles that may open it
(:func:`admin_page`); a technician is never one of them, so every admin page is a 403
for a technician. Auditors read and never write: every non-read request of an auditor is
refused whatever the view says, the same rule the REST API's token guard applies, so a
new form cannot forget it.

The view runs inside a tenant-scoped session set up exactly as the REST API's guard sets
it (``g.user``, ``g.session``), so the API's helpers — :func:`podium.api.get_or_404`,
:func:`podium.api.payouts.plan_period`, :func:`podium.api.connections.shown` … — serve
these pages unchanged. Their ``abort`` (a JSON envelope in the API) is rendered here as
an HTML page with the same message and field errors.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import Blueprint, Response, g, make_response, redirect, render_template, request, url_for
from flask_smorest import abort
from podium.api.errors import flatten
from podium.auth import READ_METHODS, current_podium
from podium.models.tenancy import ROLES
from podium.payouts.money import format_money
from podium.web import secure_page
from podium.web.signin import _csrf_ok, _csrf_token, signed_in_user
from werkzeug.exceptions import HTTPException

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint("admin", __name__, url_prefix="/admin")

STAFF = ("admin", "manager", "auditor")
"""Everyone who may open some admin page (technicians may open none)."""

NAV: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("admin.connections", "Connections", ("admin", "auditor")),
    ("admin.org", "Org data", ("admin", "auditor")),
    ("admin.identities", "Identities", ("admin", "auditor")),
    ("admin.plugins", "Plugins", ("admin", "auditor")),
    ("admin.plans", "Plans", STAFF),
    ("admin.periods", "Periods", STAFF),
    ("admin.appeals", "Appeals", STAFF),
    ("admin.audit", "Audit log", ("admin", "auditor")),
    ("admin.health", "Health", ("admin", "auditor")),
)
"""The admin menu: endpoint, label and who sees the entry (the view checks again)."""


def admin_page(*roles: str) -> Callable[[F], F]:
    """Serve a view only to a signed-in user of one of ``roles``, in a tenant session.

    Not signed in: a redirect to the sign-in page. Wrong role, or an auditor's write:
    403. A form without the session's CSRF token: 400. The session commits after the
    view returns, so a failed commit is the request's error, never a page saying "saved".
    """
    unknown = set(roles) - set(ROLES)
    if unknown or "technician" in roles:
        raise ValueError(f"admin pages are for {', '.join(STAFF)}; got {sorted(roles)}")

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user = signed_in_user()
            if user is None:
                return redirect(url_for("signin.form"))
            writes = request.method not in READ_METHODS
            if writes and user.role == "auditor":
                abort(403, message="Auditors have read-only access.")
            if user.role not in roles:
                abort(403, message=f"This page needs the role {' or '.join(roles)}; yours is {user.role}.")
            if writes and not _csrf_ok():
                abort(400, message="The form expired or did not come from Podium; reload the page and try again.")
            with current_podium().db.session(tenant_id=user.tenant_id) as scoped:
                g.user, g.session = user, scoped
                try:
                    result = view(*args, **kwargs)
                finally:
                    del g.user, g.session
            return secure_page(make_response(result))

        return guarded  # type: ignore[return-value]

    return decorate


def page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    """Render an admin template with what every admin page needs (user, menu, CSRF token)."""
    user = g.user
    context.setdefault("user", user)
    context.setdefault("csrf", _csrf_token())
    context.setdefault("nav", [(endpoint, label) for endpoint, label, who in NAV if user.role in who])
    context.setdefault("can_write", user.role != "auditor")
    context.setdefault("format_money", format_money)
    return render_template(template, **context), status


def errors_of(messages: Any) -> dict[str, list[str]]:
    """marshmallow messages (possibly nested) as ``{"field": [reasons]}`` for a form."""
    return flatten(messages) if messages else {}


@bp.errorhandler(HTTPException)
def error_page(error: HTTPException) -> Response:
    """Any HTTP error of an admin page (an API helper's ``abort`` included) as HTML."""
    code = error.code or 500
    data: Mapping[str, Any] = getattr(error, "data", None) or {}
    message = "The server failed to handle the request; the error was logged." if code == 500 else (
        data.get("message") or error.description or error.name)
    body = render_template("admin/error.html", code=code, title=error.name, message=message,
                           errors=flatten(data["errors"]) if data.get("errors") else {})
    return secure_page(make_response(body, code))
