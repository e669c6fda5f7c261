"""Users, roles, passwords and API tokens, and the request guard of the REST API.

Roles (design §7): ``admin`` changes anything in its tenant; ``manager`` reads the people
of their teams; ``technician`` sees only their own person, never a peer's; ``auditor``
reads everything and writes nothing (every non-read request is refused, whatever the
view, so a new endpoint cannot forget the rule).

API tokens are shown once: only their SHA-256 is stored, so a database dump cannot be
replayed against the API, and a short prefix lets people tell their tokens apart.

A request is authenticated in a short unscoped transaction (a token is looked up before
its tenant is known) and then served inside a *tenant-scoped* session kept in
``flask.g``: every ORM query a view runs is limited to the caller's tenant by
:mod:`podium.db`, so another tenant's row is simply not found (404, never 403).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request
from flask_smorest import abort
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from podium.models import ApiToken, Tenant, User, utcnow
from podium.models.tenancy import ROLES
from podium.runtime import Podium

TOKEN_PREFIX = "pod_"
DISPLAY_PREFIX_LENGTH = 8
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
"""``last_used_at`` is rewritten at most this often, so reads do not each cost a write
(which on SQLite would serialise every API request behind the database's write lock)."""

F = TypeVar("F", bound=Callable[..., Any])


# -- users and passwords -----------------------------------------------------------------


def hash_password(password: str) -> str:
    """A salted, slow hash (werkzeug's scrypt default) — never the password itself."""
    return generate_password_hash(password)


def check_password(user: User, password: str) -> bool:
    return bool(user.password_hash) and check_password_hash(user.password_hash, password)


def create_user(
    session: Session,
    tenant_id: int,
    email: str,
    role: str,
    *,
    name: str | None = None,
    password: str | None = None,
    person_id: int | None = None,
) -> User:
    """Add a user; the e-mail is stored lower-cased (unique per tenant)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    email = email.strip().lower()
    user = User(
        tenant_id=tenant_id,
        email=email,
        name=name or email.split("@", 1)[0],
        role=role,
        password_hash=hash_password(password) if password else None,
        person_id=person_id,
    )
    session.add(user)
    session.flush()
    return user


# -- API tokens --------------------------------------------------------------------------


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(session: Session, user: User, name: str, expires_at: dt.datetime | None = None) -> str:
    """Issue a token for ``user`` and return it — the only time it is ever available."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            tenant_id=user.tenant_id,
            user_id=user.id,
            name=name,
            token_hash=_digest(raw),
            prefix=raw[:DISPLAY_PREFIX_LENGTH],
            expires_at=expires_at,
        )
    )
    session.flush()
    return raw


def authenticate(session: Session, raw: str) -> User | None:
    """The active user a raw token belongs to, or None (unknown, revoked, expired)."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    token = session.scalars(select(ApiToken).where(ApiToken.token_hash == _digest(raw))).one_or_none()
    now = utcnow()
    if token is None or token.revoked_at is not None or (token.expires_at and token.expires_at <= now):
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
    return user


def _bearer() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


# -- the request guard -------------------------------------------------------------------


def current_podium() -> Podium:
    """The runtime of the app serving this request."""
    return current_app.extensions["podium"]


def current_user() -> User:
    """The authenticated user (detached: read it, do not change it through this object)."""
    return g.user


def tenant_session() -> Session:
    """The request's session, limited to the caller's tenant."""
    return g.session


def current_tenant() -> Tenant:
    """The caller's tenant, loaded in the request's session (so a PATCH is saved with it)."""
    return tenant_session().get(Tenant, current_user().tenant_id)


def authenticated(view: F) -> F:
    """Serve ``view`` only for a valid ``Authorization: Bearer`` token, in a tenant session.

    The session commits after the view's response has been serialised, so a failed
    commit is the request's error (500), never a 200 for a change that was not saved.
    """

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        raw = _bearer()
        if raw is None:
            abort(401, message="Authentication required: send 'Authorization: Bearer <API token>'.")
        podium = current_podium()
        with podium.db.session() as session:
            user = authenticate(session, raw)
        if user is None:
            abort(401, message="The API token is invalid, expired or revoked.")
        if user.role == "auditor" and request.method not in READ_METHODS:
            abort(403, message="Auditors have read-only access.")
        with podium.db.session(tenant_id=user.tenant_id) as scoped:
            g.user, g.session = user, scoped
            try:
                return view(*args, **kwargs)
            finally:
                del g.user, g.session

    return guarded  # type: ignore[return-value]


def require_role(*roles: str) -> Callable[[F], F]:
    """Refuse (403) callers whose role is not one of ``roles``."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown role(s) {sorted(unknown)}; roles are {', '.join(ROLES)}")

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            role = current_user().role
            if role not in roles:
                abort(403, message=f"This needs the role {' or '.join(roles)}; yours is {role}.")
            return view(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate
