"""Pod routes: the page a PSA frames, its guarded body, its session and its event stream.

``GET /pods/<key>`` is a shell with no data in it: it names the pod, the connection's
allowed parent origins and whether the vendor vouches for identities, sends
``frame-ancestors`` limited to that connection's site, and loads ``pod.js``. The script
obtains a pod token (vendor handshake or sign-in popup), keeps it in memory, and fetches
``GET /pods/<key>/body`` with ``Authorization: Pod <token>`` — the only route that renders
figures, through :func:`podium.podsession.pod_authenticated`.

Everything under ``/pods/-/`` is machinery (``-`` is not a valid pod key): exchanging a
handshake or a sign-in code for a token, refreshing it, and the event stream.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    jsonify,
    make_response,
    render_template,
    request,
    url_for,
)
from marshmallow import Schema, ValidationError, fields, validate
from podium import live
from podium.api import commit_so_far
from podium.api.errors import INVALID_INPUT_MESSAGE, flatten
from podium.api.people import visible
from podium.auth import current_podium, tenant_session
from podium.embed import (
    EmbedSite,
    connection_for_ref,
    describe_site,
    frame_ancestors,
    handshake_class,
    member_grant,
)
from podium.models import Person, User
from podium.pods import Pod
from podium.podsession import (
    PodRefused,
    PodSettings,
    Viewer,
    current_viewer,
    grant_for_user,
    issue_token,
    pod_authenticated,
    refuse,
    s256,
    ticket_store,
)
from podium.runtime import Podium
from podium.web import secure_page
from podium.web.signin import SIGNIN_CODE
from sqlalchemy import select
from sqlalchemy.orm import Session

bp = Blueprint("pods", __name__, url_prefix="/pods")

STREAM_TICKET = "stream"
AUDIENCES = {
    "technician": frozenset({"technician", "manager", "admin", "auditor"}),
    "manager": frozenset({"manager", "admin", "auditor"}),
    "admin": frozenset({"admin"}),
}
"""Which viewer roles may open a pod of each audience."""


@dataclass(frozen=True)
class PodView:
    """What :meth:`podium.pods.Pod.render` is given for one request.

    ``subject`` is the person the pod is about — the viewer's own, or one named by
    ``?person=`` that the viewer may see (checked before the pod runs). ``session`` is
    scoped to the viewer's tenant. ``args`` are the pod URL's other query parameters
    (``id`` and ``screen`` for ticket and company pods: context, never access).
    """

    podium: Podium
    viewer: Viewer
    subject: Person | None
    session: Session
    args: Mapping[str, str]


def _pod_class(key: str) -> type[Pod] | None:
    registry = current_podium().plugins.pods
    return registry.get(key) if key in registry else None


def _load(schema: Schema) -> dict[str, Any]:
    """The JSON body through ``schema``; a 422 naming each bad field otherwise."""
    try:
        return schema.load(request.get_json(silent=True) or {})
    except ValidationError as exc:
        refuse(422, "invalid-input", INVALID_INPUT_MESSAGE, errors=flatten(exc.messages))


# -- the shell ---------------------------------------------------------------------------


@bp.get("/<key>")
def shell(key: str) -> Response:
    """The page the PSA frames; it holds no data until the script has a pod token."""
    pod = _pod_class(key)
    if pod is None:
        return secure_page(make_response(render_template("pod_missing.html", key=key), 404))
    podium = current_podium()
    site: EmbedSite | None = None
    ref = request.args.get("c")
    if ref:
        with podium.db.session() as db:
            connection = connection_for_ref(podium, db, ref)
        site = describe_site(podium, connection) if connection is not None else None
        if site is None:
            return secure_page(make_response(render_template("pod_missing.html", key=key, bad_ref=True), 404))
    body_args = {k: v for k, v in request.args.items() if k != "c"}
    page = render_template(
        "pod.html",
        pod=pod,
        ref=ref or "",
        site=site,
        settings=live.LiveSettings.from_config(podium.config),
        body_url=url_for("pods.body", key=key) + (f"?{urlencode(body_args)}" if body_args else ""),
    )
    return secure_page(make_response(page), frame_ancestors(site.origins if site else ()))


# -- the body ----------------------------------------------------------------------------


def _subject(viewer: Viewer, requested: str | None) -> Person | None:
    """The person the pod is about; 403 for anyone the viewer may not see."""
    if requested is None or requested == "":
        return viewer.person
    try:
        person_id = int(requested)
    except ValueError:
        refuse(422, "invalid-input", "`person` must be a person id.")
    seen = tenant_session().scalar(
        select(Person).where(Person.id == person_id, visible(Person.id, viewer, viewer.today()))
    )
    if seen is None:
        refuse(403, "forbidden", "You may only see your own figures here." if viewer.role == "technician"
               else f"You may not see person {person_id}.")
    return seen


@bp.get("/<key>/body")
@pod_authenticated
def body(key: str) -> Response:
    """The pod's content for the viewer; an unchanged body is a 304 (the polling fallback)."""
    pod = _pod_class(key)
    if pod is None:
        refuse(404, "no-pod", f"There is no pod {key!r}.")
    viewer = current_viewer()
    if viewer.role not in AUDIENCES.get(pod.audience, frozenset()):
        refuse(403, "forbidden", f"The {pod.title} pod is for {pod.audience}s.")
    subject = _subject(viewer, request.args.get("person"))
    view = PodView(
        podium=current_podium(),
        viewer=viewer,
        subject=subject,
        session=tenant_session(),
        args={k: v for k, v in request.args.items() if k not in ("person", "c")},
    )
    html = pod().render(view)
    etag = hashlib.sha256(html.encode()).hexdigest()[:32]
    if request.if_none_match.contains(etag):
        response = make_response("", 304)
    else:
        response = make_response(html)
        response.mimetype = "text/html"
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-store"
    return response


# -- sessions ----------------------------------------------------------------------------


class EmbedExchange(Schema):
    ref = fields.String(required=True, validate=validate.Length(min=1, max=200))
    origin = fields.String(required=True, validate=validate.Length(min=1, max=300))
    claims = fields.Dict(keys=fields.String(), required=True)


class CodeExchange(Schema):
    code = fields.String(required=True, validate=validate.Length(min=20, max=100))
    verifier = fields.String(required=True, validate=validate.Length(min=43, max=128))


@bp.post("/-/session/embed")
def session_from_embed() -> Response:
    """Trade the identity claims the vendor's page gave the pod for a pod token."""
    data = _load(EmbedExchange())
    podium = current_podium()
    with podium.db.session() as db:
        connection = connection_for_ref(podium, db, data["ref"])
    if connection is None:
        refuse(404, "bad-ref", "This pod's link is damaged; ask an administrator for a new one.")
    try:
        grant = member_grant(podium, connection, data["origin"], data["claims"])
    except PodRefused as exc:
        refuse(exc.status, exc.reason, str(exc))
    return jsonify(issue_token(podium, grant).as_json())


@bp.post("/-/session/code")
def session_from_code() -> Response:
    """Trade the sign-in popup's one-use code, and the verifier only this pod knows, for a token."""
    data = _load(CodeExchange())
    podium = current_podium()
    payload = ticket_store(podium).redeem(SIGNIN_CODE, data["code"])
    if payload is None:
        refuse(401, "bad-code", "The sign-in code is unknown, used or expired; sign in again.")
    if not hmac.compare_digest(s256(data["verifier"]), payload["challenge"]):
        refuse(401, "bad-code", "The sign-in code was issued to another window; sign in again.")
    with podium.db.session() as db:
        user = db.get(User, payload["user_id"])
    if user is None or not user.active:
        refuse(401, "revoked", "Your Podium account is disabled; ask an administrator.")
    return jsonify(issue_token(podium, grant_for_user(user, payload["connection_id"])).as_json())


@bp.post("/-/session/refresh")
@pod_authenticated
def session_refresh() -> Response:
    """A fresh token for a still-valid session (the viewer was re-checked by the guard)."""
    return jsonify(issue_token(current_podium(), current_viewer().grant).as_json())


# -- live --------------------------------------------------------------------------------


@bp.post("/-/stream/ticket")
@pod_authenticated
def stream_ticket() -> Response:
    """A one-use ticket to open the viewer's event stream within a few seconds."""
    podium = current_podium()
    if not live.LiveSettings.from_config(podium.config).sse:
        refuse(503, "no-stream", "Live streams are off on this server; the pod polls instead.")
    viewer = current_viewer()
    channels = live.viewer_channels(viewer.tenant_id, viewer.person_id, viewer.role)
    commit_so_far()  # the ticket is written in a transaction of its own (SQLite has one writer)
    ticket = ticket_store(podium).issue(
        STREAM_TICKET, viewer.tenant_id, {"channels": channels}, PodSettings.from_config(podium.config).stream_ticket_ttl
    )
    return jsonify({"ticket": ticket})


@bp.get("/-/stream")
def stream() -> Response:
    """The viewer's Server-Sent Events; the ticket in the URL works once."""
    podium = current_podium()
    settings = live.LiveSettings.from_config(podium.config)
    if not settings.sse:
        refuse(503, "no-stream", "Live streams are off on this server; the pod polls instead.")
    payload = ticket_store(podium).redeem(STREAM_TICKET, request.args.get("ticket", ""))
    if payload is None:
        refuse(403, "bad-ticket", "The stream ticket is unknown, used or expired.")
    subscription = live.broker(podium).subscribe(payload["channels"])
    response = Response(live.sse_events(subscription, settings), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


@bp.get("/-/embed/<vendor>.js")
def embed_script(vendor: str) -> Response:
    """The vendor's handshake script (its ``postMessage`` protocol), loaded by the pod shell."""
    cls = handshake_class(current_podium(), vendor)
    script = cls.client_script() if cls is not None else None
    if script is None:
        refuse(404, "no-script", f"The {vendor} connector has no embed script.")
    response = make_response(script)
    response.mimetype = "text/javascript"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
