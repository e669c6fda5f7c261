"""The vendor-embed contract: how a pod inside a PSA learns, safely, who is looking.

A connector plugin makes its pods embeddable by giving its :class:`~podium.datasource.DataSource`
class an ``embed`` attribute naming an :class:`EmbedHandshake` subclass. The handshake
says which parent origins may frame the connection's pods (the PSA's site, from the
connection's config) and, where the vendor signs an identity (ConnectWise's Hosted API
member hash), verifies it **server-side against the vendor** and returns the
:class:`VerifiedMember`. Where the vendor signs none (Autotask, Halo tabs),
``signs_identity`` is False and the pod asks its viewer to sign in to Podium in a popup.

Core does the rest the same way for every vendor: maps the member to a Person through
the identity resolver's links (an unknown or unlinked member is refused), issues the pod
token (:mod:`podium.podsession`), sends ``Content-Security-Policy: frame-ancestors``
with the connection's origins, and tells the pod's script which origins it may accept
``postMessage`` from.

A pod URL names its connection by an opaque *embed reference* (the connection id signed
with the instance secret): it can be pasted into the PSA's setup screen, but it cannot
be forged or enumerated to learn another tenant's PSA site.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from itsdangerous import BadSignature, Signer
from podium.connections import open_source, source_class
from podium.datasource import DataSource
from podium.errors import ConnectorError
from podium.models import Connection, Identity, User
from podium.podsession import PodGrant, PodRefused
from podium.runtime import Podium
from podium.sync import source_context
from sqlalchemy import select
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class VerifiedMember:
    """A vendor account the vendor itself vouched for, as the handshake found it.

    ``external_id`` is the vendor's id of the account (``Identity.external_id``);
    ``vendor_key`` a second handle it may be known by (ConnectWise's member
    ``identifier``, ``Identity.vendor_key``). ``context`` carries what the PSA screen
    showed (record id, screen) for pods with a ticket or company context; it is
    informational, never used to decide access.
    """

    external_id: str | None = None
    vendor_key: str | None = None
    email: str | None = None
    display_name: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)


class EmbedRefused(Exception):
    """The handshake failed; ``reason`` is a short code (``tampered``, ``wrong-origin``,
    ``unknown-member``, ``unlinked-member``, ``vendor-unreachable``) and the message is
    shown to the viewer, so it says what happened without echoing a credential."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class EmbedHandshake:
    """Base class of a vendor's pod handshake (named by ``DataSource.embed``).

    Instances are made per request with the connection's opened connector (``source``:
    its decrypted config and HTTP context), so a handshake calls the vendor through the
    same budgeted, retrying, secret-redacting client as a sync.
    """

    signs_identity: ClassVar[bool] = True
    """False for vendors that vouch for no one: the pod falls back to a Podium sign-in popup."""

    def __init__(self, source: DataSource) -> None:
        self.source = source

    def parent_origins(self, connection: Connection) -> list[str]:
        """Origins (``https://host[:port]``) of the vendor UI that frames this connection's pods."""
        raise NotImplementedError

    def verify(self, connection: Connection, claims: Mapping[str, Any]) -> VerifiedMember:
        """Check the identity claims the pod received from the parent window with the vendor.

        Raise :class:`EmbedRefused` when the vendor does not confirm them. Never store or
        log a claim that is a credential (a member hash): it is a live login.
        """
        raise NotImplementedError

    @classmethod
    def client_script(cls) -> str | None:
        """JavaScript that speaks the vendor's ``postMessage`` protocol inside the pod.

        It calls ``PodiumPod.registerHandshake(async (parent) => claims)``; ``parent.send(obj)``
        posts to the parent window and ``parent.receive(test, ms)`` resolves with the next
        message ``test`` accepts — both only ever talk to an allowed parent origin.
        """
        return None


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-cased: what CSP and ``event.origin`` compare."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    default = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def handshake_class(podium: Podium, vendor: str) -> type[EmbedHandshake] | None:
    """The vendor's handshake, or None when its connector cannot be embedded."""
    try:
        embed = source_class(podium, vendor).embed
    except KeyError:
        return None
    return embed if isinstance(embed, type) and issubclass(embed, EmbedHandshake) else None


@contextlib.contextmanager
def opened_handshake(podium: Podium, connection: Connection) -> Iterator[EmbedHandshake | None]:
    """The connection's handshake with its connector opened (None when it has none);
    the connector's HTTP clients are closed afterwards."""
    cls = handshake_class(podium, connection.vendor)
    if cls is None:
        yield None
        return
    context = source_context(podium, connection)
    try:
        yield cls(open_source(podium, connection, context))
    finally:
        context.close()


@dataclass(frozen=True)
class EmbedSite:
    """What a pod page needs to know about the connection that frames it."""

    connection_id: int
    tenant_id: int
    vendor: str
    origins: tuple[str, ...]
    signs_identity: bool
    has_script: bool


def describe_site(podium: Podium, connection: Connection) -> EmbedSite | None:
    """The connection's embed facts, or None when its vendor has no handshake."""
    with opened_handshake(podium, connection) as handshake:
        if handshake is None:
            return None
        return EmbedSite(
            connection_id=connection.id,
            tenant_id=connection.tenant_id,
            vendor=connection.vendor,
            origins=tuple(origin_of(origin) for origin in handshake.parent_origins(connection)),
            signs_identity=handshake.signs_identity,
            has_script=handshake.client_script() is not None,
        )


def frame_ancestors(origins: tuple[str, ...] | list[str]) -> str:
    """The CSP ``frame-ancestors`` source list: exactly those origins, else only Podium itself."""
    return "frame-ancestors " + (" ".join(origins) if origins else "'self'")


# -- embed references --------------------------------------------------------------------


def _signer(podium: Podium) -> Signer:
    return Signer(podium.config.secret_key, salt="podium.embed-ref")


def embed_ref(podium: Podium, connection_id: int) -> str:
    """The opaque reference to put in a pod URL registered with the PSA (``?c=…``)."""
    return _signer(podium).sign(str(connection_id)).decode()


def connection_for_ref(podium: Podium, session: Session, ref: str) -> Connection | None:
    """The connection a reference names, or None for a forged, altered or stale one."""
    try:
        connection_id = int(_signer(podium).unsign(ref))
    except (BadSignature, ValueError):
        return None
    return session.get(Connection, connection_id)


def pod_url(podium: Podium, connection_id: int, pod_key: str) -> str:
    """The URL an admin registers in the PSA for ``pod_key`` on this connection."""
    return f"{podium.config.base_url.rstrip('/')}/pods/{pod_key}?c={embed_ref(podium, connection_id)}"


# -- from a verified member to a pod grant ----------------------------------------------


def member_grant(podium: Podium, connection: Connection, origin: str, claims: Mapping[str, Any]) -> PodGrant:
    """Verify the pod's claims with the vendor and return the grant for its person.

    ``origin`` is the ``event.origin`` the pod received the claims from (set by the
    browser, not by the parent page's script); it must be one of the connection's.
    The tenant and connection come from the reference the pod was opened with, never
    from the claims. No database transaction is held while the vendor is asked (on
    SQLite it would hold the write lock the connector's request budget needs).
    """
    with opened_handshake(podium, connection) as handshake:
        if handshake is None or not handshake.signs_identity:
            raise PodRefused(
                400, "no-handshake", f"The {connection.vendor} connection signs no identity; sign in instead."
            )
        allowed = {origin_of(o) for o in handshake.parent_origins(connection)}
        try:
            claimed_origin = origin_of(origin)
        except ValueError:
            claimed_origin = ""
        if claimed_origin not in allowed:
            raise PodRefused(403, "wrong-origin", "This pod was opened from a site its connection does not name.")
        try:
            member = handshake.verify(connection, claims)
        except EmbedRefused as exc:
            raise PodRefused(403, exc.reason, str(exc)) from None
        except ConnectorError:
            raise PodRefused(
                502, "vendor-unreachable", f"{connection.vendor} could not confirm who you are; try again shortly."
            ) from None
    with podium.db.session(tenant_id=connection.tenant_id) as session:
        identity = _identity(session, connection, member)
        if identity is None:
            raise PodRefused(
                403, "unknown-member", "Podium does not know this account; an admin must sync or add it."
            )
        if identity.person_id is None or not identity.is_person:
            raise PodRefused(
                403, "unlinked-member", "This account is not linked to a person in Podium; an admin can link it."
            )
        user_id = session.scalar(
            select(User.id).where(User.person_id == identity.person_id, User.active.is_(True)).order_by(User.id)
        )
        return PodGrant(
            tenant_id=connection.tenant_id,
            person_id=identity.person_id,
            user_id=user_id,
            identity_id=identity.id,
            connection_id=connection.id,
            via="embed",
        )


def _identity(session: Session, connection: Connection, member: VerifiedMember) -> Identity | None:
    """The connection's identity for the member: by vendor id, else by vendor key."""
    for column, value in ((Identity.external_id, member.external_id), (Identity.vendor_key, member.vendor_key)):
        if value:
            found = session.scalars(
                select(Identity).where(Identity.connection_id == connection.id, column == str(value))
            ).first()
            if found is not None:
                return found
    return None
