"""Sign-in to Podium: local accounts and any OIDC/OAuth provider, in a top-level window.

The sign-in pages always run top-level — as the admin pages' sign-in, or as the popup a
pod opens when its vendor vouches for no one (Autotask, Halo tabs). That is what lets
them use a cookie: the Flask session cookie here is first-party, so it survives the
OAuth round trip, and authlib keeps the OAuth ``state``, the PKCE ``code_verifier`` and
the OIDC ``nonce`` in it. Inside a PSA's iframe the same cookie would be third-party and
dropped (design §7), the state check would fail every time (authlib#376), and a provider's
login page may refuse to be framed anyway — so an iframe never runs this flow itself.

The popup hand-off: the pod makes a random verifier, opens ``/signin/?pod=<S256(verifier)>&c=<ref>``
as a popup, and the viewer signs in. ``/signin/done`` then issues a one-use code bound to
the user, the challenge and the pod's connection, and posts it to ``window.opener`` with
Podium's own origin as the target, so only a Podium page can receive it; the iframe
trades code + verifier for a pod token (``/pods/-/session/code``). A code seen by anyone
else is useless without the verifier, which never left the iframe.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import (
    Blueprint,
    Flask,
    Response,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from podium.api.errors import flatten
from podium.auth import check_password, current_podium
from podium.embed import connection_for_ref
from podium.models import Tenant, User
from podium.podsession import PodSettings, ticket_store
from podium.runtime import Podium
from podium.web import secure_page
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

bp = Blueprint("signin", __name__, url_prefix="/signin")

SIGNIN_CODE = "signin-code"
"""Purpose of the one-use codes the popup hands to a pod."""
CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
"""An S256 challenge: 32 bytes of SHA-256, base64url without padding."""
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))
"""Checked against when no user matches, so an unknown e-mail takes as long as a wrong password."""


# -- OAuth / OIDC providers --------------------------------------------------------------


class ProviderSchema(Schema):
    """One entry of the ``oidc_providers`` setting (instance file or ``PODIUM_OIDC_PROVIDERS`` JSON).

    An OIDC provider needs ``server_metadata_url`` (its discovery document); a plain
    OAuth 2 provider (Halo) names ``authorize_url``, ``access_token_url`` and a
    ``userinfo_endpoint`` that returns the signed-in user's e-mail (Halo: ``/api/Agent/me``).
    """

    label = fields.String(required=True)
    tenant = fields.String(required=True, metadata={"description": "slug of the tenant whose users it signs in"})
    client_id = fields.String(required=True)
    client_secret = fields.String(required=True, metadata={"secret": True})
    scope = fields.String(load_default="openid email profile")
    server_metadata_url = fields.Url(require_tld=False)
    authorize_url = fields.Url(require_tld=False)
    access_token_url = fields.Url(require_tld=False)
    userinfo_endpoint = fields.Url(require_tld=False)
    email_claim = fields.String(load_default="email", validate=validate.Length(min=1))

    @validates_schema
    def endpoints(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if "server_metadata_url" in data:
            return
        missing = [f for f in ("authorize_url", "access_token_url", "userinfo_endpoint") if f not in data]
        if missing:
            raise ValidationError(
                {name: ["Required when there is no server_metadata_url."] for name in missing}
            )


@dataclass(frozen=True)
class Provider:
    name: str
    label: str
    tenant: str
    email_claim: str


class ProviderConfigError(ValueError):
    """The ``oidc_providers`` setting is invalid; names the provider and each field."""


def load_providers(podium: Podium) -> dict[str, dict[str, Any]]:
    """The validated provider settings; raises :class:`ProviderConfigError` at start-up."""
    raw = podium.config.extra.get("oidc_providers") or {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ProviderConfigError(f"oidc_providers: not valid JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise ProviderConfigError("oidc_providers: must be an object of provider name → settings")
    loaded: dict[str, dict[str, Any]] = {}
    for name, settings in raw.items():
        if not re.fullmatch(r"[a-z0-9_]{1,40}", name):
            raise ProviderConfigError(f"oidc_providers.{name}: a name is 1-40 of a-z, 0-9 and _")
        try:
            loaded[name] = ProviderSchema().load(settings)
        except ValidationError as exc:
            problems = "; ".join(f"{field}: {' '.join(reasons)}" for field, reasons in flatten(exc.messages).items())
            raise ProviderConfigError(f"oidc_providers.{name}: {problems}") from None
    return loaded


def init_oauth(app: Flask, podium: Podium) -> None:
    """Register each configured provider with authlib's Flask client, with PKCE (S256)."""
    oauth = OAuth(app)
    providers: dict[str, Provider] = {}
    for name, settings in load_providers(podium).items():
        endpoints = {
            key: settings[key]
            for key in ("server_metadata_url", "authorize_url", "access_token_url", "userinfo_endpoint")
            if key in settings
        }
        oauth.register(
            name,
            client_id=settings["client_id"],
            client_secret=settings["client_secret"],
            client_kwargs={"scope": settings["scope"], "code_challenge_method": "S256"},
            **endpoints,
        )
        providers[name] = Provider(name, settings["label"], settings["tenant"], settings["email_claim"])
    app.extensions["podium.oauth"] = oauth
    app.extensions["podium.providers"] = providers


def _providers() -> dict[str, Provider]:
    from flask import current_app

    return current_app.extensions["podium.providers"]


# -- the session (top-level only) --------------------------------------------------------


def _csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _csrf_ok() -> bool:
    sent = request.form.get("csrf", "")
    return bool(sent) and hmac.compare_digest(sent, session.get("csrf", ""))


def _sign_in(user: User) -> None:
    """Start a fresh session for ``user`` (a new session on sign-in defeats fixation),
    keeping only a pending pod hand-off."""
    pending = session.get("pod_signin")
    session.clear()
    session["uid"], session["tid"] = user.id, user.tenant_id
    if pending:
        session["pod_signin"] = pending


def signed_in_user() -> User | None:
    """The user of this (top-level) browser session, if still active."""
    uid, tid = session.get("uid"), session.get("tid")
    if uid is None or tid is None:
        return None
    with current_podium().db.session(tenant_id=tid) as db:
        user = db.get(User, uid)
    return user if user is not None and user.active else None


def _page(template: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("providers", _providers())
    context.setdefault("csrf", _csrf_token())
    return secure_page(make_response(render_template(template, **context), status))


def _pending_tenant_id() -> int | None:
    """The tenant of the pod that opened this popup, which narrows who can sign in."""
    pending = session.get("pod_signin") or {}
    if not pending.get("ref"):
        return None
    podium = current_podium()
    with podium.db.session() as db:
        connection = connection_for_ref(podium, db, pending["ref"])
        return connection.tenant_id if connection else None


# -- local accounts ----------------------------------------------------------------------


class AmbiguousAccount(Exception):
    """The e-mail has accounts in several organisations and none was named."""


def find_local_user(email: str, organisation: str | None, tenant_id: int | None) -> User | None:
    """The active user with this e-mail in the named (or only) organisation."""
    podium = current_podium()
    statement = select(User).where(User.email == email.strip().lower(), User.active.is_(True))
    if tenant_id is not None:
        statement = statement.where(User.tenant_id == tenant_id)
    elif organisation:
        statement = statement.join(Tenant, Tenant.id == User.tenant_id).where(Tenant.slug == organisation.strip())
    with podium.db.session() as db:
        users = list(db.scalars(statement.limit(2)))
    if len(users) > 1:
        raise AmbiguousAccount
    return users[0] if users else None


@bp.get("/")
def form() -> Response:
    """The sign-in page; with ``pod`` (an S256 challenge) it is a pod's sign-in popup."""
    challenge = request.args.get("pod")
    if challenge is not None:
        if not CHALLENGE.fullmatch(challenge):
            return _page("signin.html", 400, error="This sign-in link is damaged; close the window and try again.")
        session["pod_signin"] = {"challenge": challenge, "ref": request.args.get("c") or None}
        if signed_in_user() is not None:
            return redirect(url_for("signin.done"))
    return _page("signin.html", popup=challenge is not None)


@bp.post("/")
def submit() -> Response:
    popup = "pod_signin" in session
    if not _csrf_ok():
        return _page("signin.html", 400, popup=popup, error="The form expired; please try again.")
    email, password = request.form.get("email", ""), request.form.get("password", "")
    errors = {name: "Required." for name, value in (("email", email), ("password", password)) if not value.strip()}
    if errors:
        return _page("signin.html", 422, popup=popup, field_errors=errors, email=email)
    try:
        user = find_local_user(email, request.form.get("organisation"), _pending_tenant_id())
    except AmbiguousAccount:
        return _page(
            "signin.html", 422, popup=popup, email=email, ask_organisation=True,
            field_errors={"organisation": "This e-mail has accounts in several organisations; name one."},
        )
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return _page("signin.html", 401, popup=popup, email=email, error="E-mail or password is wrong.")
    if not check_password(user, password):
        return _page("signin.html", 401, popup=popup, email=email, error="E-mail or password is wrong.")
    _sign_in(user)
    return redirect(url_for("signin.done"))


# -- OAuth / OIDC ------------------------------------------------------------------------


@bp.get("/oauth/<name>")
def oauth_start(name: str) -> Response:
    if name not in _providers():
        return _page("signin.html", 404, error=f"There is no sign-in provider {name!r}.")
    client = _oauth_client(name)
    return client.authorize_redirect(url_for("signin.oauth_callback", name=name, _external=True))


@bp.get("/oauth/<name>/callback")
def oauth_callback(name: str) -> Response:
    """Finish the provider's flow: authlib checks ``state`` against the session and sends
    the PKCE verifier; the e-mail it vouches for must belong to a user of its tenant."""
    provider = _providers().get(name)
    if provider is None:
        return _page("signin.html", 404, error=f"There is no sign-in provider {name!r}.")
    client = _oauth_client(name)
    try:
        token = client.authorize_access_token()
        claims = token.get("userinfo") or client.userinfo(token=token)
    except OAuthError as exc:
        return _page("signin.html", 400, error=f"{provider.label} sign-in was refused ({exc.error}); please try again.")
    email = claims.get(provider.email_claim)
    if not email or claims.get("email_verified") is False:
        return _page("signin.html", 403, error=f"{provider.label} did not confirm an e-mail address for you.")
    podium = current_podium()
    with podium.db.session() as db:
        user = db.scalars(
            select(User)
            .join(Tenant, Tenant.id == User.tenant_id)
            .where(Tenant.slug == provider.tenant, User.email == str(email).lower(), User.active.is_(True))
        ).one_or_none()
    if user is None:
        return _page("signin.html", 403, error=f"There is no Podium account for {email}; ask an administrator.")
    _sign_in(user)
    return redirect(url_for("signin.done"))


def _oauth_client(name: str) -> Any:
    from flask import current_app

    return current_app.extensions["podium.oauth"].create_client(name)


# -- after sign-in -----------------------------------------------------------------------


@bp.get("/done")
def done() -> Response:
    """Signed in: hand a pod its one-use code, or show who is signed in."""
    user = signed_in_user()
    if user is None:
        return redirect(url_for("signin.form"))
    pending = session.pop("pod_signin", None)
    if pending is None:
        return _page("signed_in.html", user=user)
    podium = current_podium()
    connection_id = None
    if pending.get("ref"):
        with podium.db.session() as db:
            connection = connection_for_ref(podium, db, pending["ref"])
        if connection is None:
            return _page("signin.html", 400, error="This pod's link is damaged; ask an administrator for a new one.")
        if connection.tenant_id != user.tenant_id:
            return _page("signin.html", 403, error="Your account belongs to another organisation than this pod.")
        connection_id = connection.id
    code = ticket_store(podium).issue(
        SIGNIN_CODE,
        user.tenant_id,
        {"user_id": user.id, "connection_id": connection_id, "challenge": pending["challenge"]},
        PodSettings.from_config(podium.config).signin_code_ttl,
    )
    return _page("signin_handoff.html", user=user, code=code)


@bp.post("/out")
def sign_out() -> Response:
    if _csrf_ok():
        session.clear()
    return redirect(url_for("signin.form"))
