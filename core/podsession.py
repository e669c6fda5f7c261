"""Pod sessions: who is looking at a pod, proven without a cookie.

A pod runs in the PSA's iframe, on another site than the PSA. Browsers that block
third-party cookies (and headless Chromium always) keep no cookie there, so a pod's
session is a **short-lived signed token held in the page's memory** and sent as
``Authorization: Pod <token>`` (design §7). It is issued only after an identity was
verified — by the vendor's embed handshake (:mod:`podium.embed`) or by a Podium sign-in
in a top-level popup (:mod:`podium.web.signin`) — and it binds the tenant, the person,
the user or vendor identity, and the connection. The page refreshes it before it expires;
a token that leaks from memory is useless minutes later.

Every request re-loads the viewer from the database (:func:`load_viewer`): the token
says *who was verified*, the store says *what they may see now*, so deactivating a user
or unlinking an identity takes effect on the next request, not at the token's expiry.
Nothing the browser sends besides the token is believed.

Where a header cannot be sent (``EventSource``) or a secret must cross windows (the
popup's one-time code), a **one-use ticket** stands in: a random secret stored
server-side — in Redis when configured, in the ``one_use_tickets`` table otherwise —
that works once and expires in seconds.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
import secrets
import time
import uuid
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, NoReturn, Protocol, TypeVar

import redis
from flask import g, request
from flask_smorest import abort
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import OctKey
from podium.config import Config
from podium.models import Identity, OneUseTicket, Person, Tenant, User, utcnow
from podium.runtime import Podium
from sqlalchemy import delete
from sqlalchemy.orm import Session

SCHEME = "Pod"
"""The ``Authorization`` scheme of pod requests: ``Authorization: Pod <token>``."""
AUDIENCE = "podium:pod"
"""The token's ``aud``: pod routes accept it, nothing else does (the REST API wants an API token)."""
ALGORITHM = "HS256"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class PodSettings:
    """Lifetimes, read from ``Config.extra`` (``PODIUM_POD_TOKEN_TTL_SECONDS`` etc.)."""

    token_ttl: int = 600
    """Seconds a pod token lives; the page refreshes it at about 80% of that."""
    stream_ticket_ttl: int = 20
    """Seconds between asking for a stream ticket and opening the stream with it."""
    signin_code_ttl: int = 60
    """Seconds between the popup's sign-in and the iframe exchanging the code."""

    @classmethod
    def from_config(cls, config: Config) -> PodSettings:
        extra = config.extra
        return cls(
            token_ttl=int(extra.get("pod_token_ttl_seconds", cls.token_ttl)),
            stream_ticket_ttl=int(extra.get("stream_ticket_ttl_seconds", cls.stream_ticket_ttl)),
            signin_code_ttl=int(extra.get("signin_code_ttl_seconds", cls.signin_code_ttl)),
        )


# -- grants and tokens -------------------------------------------------------------------


@dataclass(frozen=True)
class PodGrant:
    """What a verified identity entitles a pod to: the claims a pod token carries.

    ``via`` says how the identity was verified (``signin`` or ``embed``). ``user_id`` is
    set when a Podium user is behind the session (a sign-in, or an embed member whose
    person has a user); ``identity_id`` when a vendor identity was verified.
    """

    tenant_id: int
    person_id: int | None
    user_id: int | None
    identity_id: int | None
    connection_id: int | None
    via: str


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int

    def as_json(self) -> dict[str, Any]:
        return {"token": self.token, "token_type": SCHEME, "expires_in": self.expires_in}


class PodTokenError(Exception):
    """A pod token was refused; ``reason`` is ``missing``, ``expired`` or ``invalid``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _key(secret_key: str) -> OctKey:
    """The token key, derived from the instance secret for this one purpose, so a pod
    token and anything else signed with the secret (Flask's session) never verify as
    each other."""
    return OctKey.import_key(hashlib.sha256(b"podium pod token\x00" + secret_key.encode()).digest())


def issue_token(podium: Podium, grant: PodGrant, *, now: int | None = None) -> IssuedToken:
    """Sign a pod token for ``grant`` (``now``, in epoch seconds, is for tests of expiry)."""
    ttl = PodSettings.from_config(podium.config).token_ttl
    issued = int(time.time()) if now is None else now
    claims = {
        "aud": AUDIENCE,
        "iat": issued,
        "exp": issued + ttl,
        "jti": uuid.uuid4().hex,
        "sub": f"{grant.tenant_id}:{grant.person_id or '-'}",
        "pod": asdict(grant),
    }
    return IssuedToken(jwt.encode({"alg": ALGORITHM}, claims, _key(podium.config.secret_key)), ttl)


def read_token(podium: Podium, raw: str) -> PodGrant:
    """The grant a token carries; :class:`PodTokenError` if it is expired, forged or altered."""
    key = _key(podium.config.secret_key)
    try:
        token = jwt.decode(raw, key, algorithms=[ALGORITHM])
        jwt.JWTClaimsRegistry(
            aud={"essential": True, "value": AUDIENCE}, exp={"essential": True}, pod={"essential": True}
        ).validate(token.claims)
        return PodGrant(**token.claims["pod"])
    except ExpiredTokenError:
        raise PodTokenError("expired", "Your pod session has expired; sign in again.") from None
    except (JoseError, ValueError, TypeError):
        raise PodTokenError("invalid", "The pod session token is not valid.") from None


# -- one-use tickets ---------------------------------------------------------------------


class TicketStore(Protocol):
    """Issues secrets that can be redeemed once, within ``ttl`` seconds, for their purpose."""

    def issue(self, purpose: str, tenant_id: int, payload: Mapping[str, Any], ttl: float) -> str: ...

    def redeem(self, purpose: str, raw: str) -> dict[str, Any] | None: ...


def _ticket_hash(purpose: str, raw: str) -> str:
    return hashlib.sha256(f"{purpose}\x00{raw}".encode()).hexdigest()


class RedisTicketStore:
    """Tickets as Redis keys with a TTL; ``GETDEL`` makes redeeming atomic across processes."""

    PREFIX = "podium:ticket:"

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def issue(self, purpose: str, tenant_id: int, payload: Mapping[str, Any], ttl: float) -> str:
        raw = secrets.token_urlsafe(32)
        value = json.dumps({"tenant_id": tenant_id, "payload": dict(payload)})
        self.client.set(self.PREFIX + _ticket_hash(purpose, raw), value, px=max(1, int(ttl * 1000)))
        return raw

    def redeem(self, purpose: str, raw: str) -> dict[str, Any] | None:
        value = self.client.getdel(self.PREFIX + _ticket_hash(purpose, raw))
        return None if value is None else json.loads(value)["payload"]


class DbTicketStore:
    """Tickets as rows; redeeming is one ``DELETE … RETURNING``, so two concurrent
    redemptions cannot both get the row, on SQLite or PostgreSQL."""

    def __init__(self, podium: Podium) -> None:
        self.podium = podium

    def issue(self, purpose: str, tenant_id: int, payload: Mapping[str, Any], ttl: float) -> str:
        raw = secrets.token_urlsafe(32)
        now = utcnow()
        with self.podium.db.session() as session:
            # Expired tickets are swept here, by the writers, so the table stays small
            # without a scheduled job.
            session.execute(delete(OneUseTicket).where(OneUseTicket.expires_at < now))
            session.add(
                OneUseTicket(
                    key_hash=_ticket_hash(purpose, raw),
                    purpose=purpose,
                    tenant_id=tenant_id,
                    payload=dict(payload),
                    created_at=now,
                    expires_at=now + dt.timedelta(seconds=ttl),
                )
            )
        return raw

    def redeem(self, purpose: str, raw: str) -> dict[str, Any] | None:
        with self.podium.db.session() as session:
            row = session.execute(
                delete(OneUseTicket)
                .where(OneUseTicket.key_hash == _ticket_hash(purpose, raw), OneUseTicket.purpose == purpose)
                .returning(OneUseTicket.payload, OneUseTicket.expires_at)
            ).one_or_none()
        if row is None or row.expires_at <= utcnow():
            return None
        return row.payload


@functools.cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def ticket_store(podium: Podium) -> TicketStore:
    """Redis when the runtime has one (shared by every web process), the database otherwise."""
    if podium.config.redis_url:
        return RedisTicketStore(_redis(podium.config.redis_url))
    return DbTicketStore(podium)


def s256(verifier: str) -> str:
    """PKCE's S256 transform (RFC 7636): base64url(SHA-256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


# -- the viewer --------------------------------------------------------------------------


class PodRefused(Exception):
    """The verified identity may not (or may no longer) open pods; ``status`` is the HTTP code."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Viewer:
    """Who is looking, loaded from the store for this request (never from the browser)."""

    grant: PodGrant
    tenant: Tenant
    role: str
    user: User | None
    identity: Identity | None
    person: Person | None

    @property
    def tenant_id(self) -> int:
        return self.tenant.id

    @property
    def person_id(self) -> int | None:
        return self.person.id if self.person else None

    @property
    def name(self) -> str:
        if self.person is not None:
            return self.person.display_name
        if self.user is not None:
            return self.user.name
        return self.identity.display_name if self.identity else "Unknown"

    def today(self) -> dt.date:
        """Today in the tenant's time zone (periods and "current" org facts turn at local midnight)."""
        return dt.datetime.now(zoneinfo.ZoneInfo(self.tenant.time_zone)).date()


def load_viewer(session: Session, grant: PodGrant) -> Viewer:
    """The viewer behind ``grant`` as the store has it now; :class:`PodRefused` if it no
    longer holds (user deactivated, identity unlinked from the person it was verified as)."""
    tenant = session.get(Tenant, grant.tenant_id)
    if tenant is None:
        raise PodRefused(401, "invalid", "The pod session's organisation no longer exists.")
    user = identity = None
    role = "technician"
    person_id = grant.person_id
    if grant.user_id is not None:
        user = session.get(User, grant.user_id)
        if user is None or not user.active:
            raise PodRefused(401, "revoked", "Your Podium account is disabled; ask an administrator.")
        role = user.role
        if grant.via == "signin":
            person_id = user.person_id
    if grant.identity_id is not None:
        identity = session.get(Identity, grant.identity_id)
        if identity is None or not identity.is_person or identity.person_id != grant.person_id:
            raise PodRefused(401, "revoked", "Your vendor account is no longer linked to a person in Podium.")
    person = session.get(Person, person_id) if person_id is not None else None
    return Viewer(grant=grant, tenant=tenant, role=role, user=user, identity=identity, person=person)


def grant_for_user(user: User, connection_id: int | None) -> PodGrant:
    """The grant of a Podium sign-in."""
    return PodGrant(
        tenant_id=user.tenant_id,
        person_id=user.person_id,
        user_id=user.id,
        identity_id=None,
        connection_id=connection_id,
        via="signin",
    )


# -- the request guard -------------------------------------------------------------------


def _presented_token() -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme != SCHEME or not value.strip():
        raise PodTokenError("missing", f"This pod needs a session: send 'Authorization: {SCHEME} <token>'.")
    return value.strip()


def refuse(status: int, reason: str, message: str, errors: Mapping[str, list[str]] | None = None) -> NoReturn:
    """Abort with the error envelope; ``errors.session`` names the reason for the pod's
    script (or ``errors`` names the bad fields of the request)."""
    headers = {"WWW-Authenticate": f'{SCHEME} realm="podium"'} if status == 401 else {}
    abort(status, message=message, errors=dict(errors) if errors else {"session": [reason]}, headers=headers)


def pod_authenticated(view: F) -> F:
    """Serve ``view`` only with a valid pod token, in a tenant session, with the viewer loaded.

    The viewer is in :func:`current_viewer`; the tenant-scoped session in ``g.session``
    (:func:`podium.auth.tenant_session`), committed after the view like the REST API's.
    """

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        from podium.auth import current_podium

        podium = current_podium()
        try:
            grant = read_token(podium, _presented_token())
        except PodTokenError as exc:
            refuse(401, exc.reason, str(exc))
        with podium.db.session(tenant_id=grant.tenant_id) as session:
            try:
                viewer = load_viewer(session, grant)
            except PodRefused as exc:
                refuse(exc.status, exc.reason, str(exc))
            g.pod_viewer, g.session = viewer, session
            try:
                return view(*args, **kwargs)
            finally:
                del g.pod_viewer, g.session

    return guarded  # type: ignore[return-value]


def current_viewer() -> Viewer:
    """The viewer of the pod request being served (inside :func:`pod_authenticated`)."""
    return g.pod_viewer
