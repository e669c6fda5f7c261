"""Vendor webhooks: ``POST /hooks/<token>`` checks a delivery and queues a fetch of what it names.

The flow (design §1) is the same for every vendor, so it is written once here:

1. **The token names the connection.** It is the connection's webhook token, 256 random
   bits, not a guessable id (Halo and NinjaOne sign nothing, so for them the token is the
   only secret); the store keeps only its SHA-256 and its ciphertext
   (:func:`podium.connections.issue_webhook_token`). An unknown token is a bare 404: nothing tells a prober whether a token
   was close, or which vendor it would have been for.
2. **The connector verifies.** A connector that accepts webhooks names a
   :class:`WebhookVerifier` subclass in its ``DataSource`` class's ``webhooks`` attribute.
   It checks the delivery came from the vendor (ConnectWise's ``x-content-signature``) and
   returns the records it announces. A delivery it cannot trust is a 401 and **nothing is
   queued**.
3. **Nothing runs here.** Each announced record becomes an id in a ``fetch_records`` job
   (:mod:`podium.jobs`: RQ, or the database queue), and the vendor gets a 202 at once —
   ConnectWise waits 5 s for an answer. Fetching by id makes duplicates, replays and
   out-of-order deliveries harmless: whatever the delivery said, the record lands as the
   vendor has it when the job runs, and one the vendor no longer has (a ``deleted``
   action, or a change that arrives after the deletion) is deleted. A burst coalesces:
   ids sent while a fetch of the same connection and entity is still queued are merged
   into it. Polling stays the safety net for a delivery that never comes.

No database transaction is held while the verifier talks to the vendor (fetching a
signing key): on SQLite it would hold the write lock the queue needs.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from podium import jobs
from podium.api.errors import error_response
from podium.auth import current_podium
from podium.connections import open_source, source_class, webhook_token_digest
from podium.datasource import DataSource
from podium.errors import ConnectorError
from podium.models import Connection
from podium.runtime import Podium
from podium.sync import connection_label, source_context

log = logging.getLogger(__name__)

bp = Blueprint("hooks", __name__, url_prefix="/hooks")

MAX_BODY_BYTES = 1 << 20
"""Largest delivery read (1 MiB). A callback carries one record; anything bigger is not one."""

TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{20,64}")
"""What a webhook token looks like (``secrets.token_urlsafe``); anything else is not looked up."""


@dataclass(frozen=True)
class WebhookDelivery:
    """One POST as the vendor sent it: the raw body (signatures cover these exact bytes),
    the headers (case-insensitive) and the query string."""

    body: bytes
    headers: Mapping[str, str]
    query: Mapping[str, str]


@dataclass(frozen=True)
class WebhookEvent:
    """A record a verified delivery announces: its canonical entity and vendor id.

    What happened to it (added, changed, deleted) is deliberately not carried: the fetch
    asks the vendor, so a stale or reordered delivery cannot make Podium believe it.
    """

    entity: str
    external_id: str


class WebhookRejected(Exception):
    """The delivery cannot be acted on; nothing is queued.

    ``reason`` is a short code the response names (``unsigned``, ``bad-signature``,
    ``foreign-key-url``, ``wrong-company``, …); ``status`` is 401 when the delivery cannot
    be shown to come from the vendor, 400 when it is the vendor's but unreadable, 503
    when it cannot be checked right now (the vendor's key is out of reach).
    """

    def __init__(self, reason: str, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


class WebhookVerifier:
    """Base class of a vendor's webhook verifier (named by ``DataSource.webhooks``).

    Made per delivery with the connection's opened connector (``source``: its decrypted
    config and HTTP context), so any request to the vendor goes through the same
    retrying, secret-redacting client as a sync.
    """

    def __init__(self, source: DataSource) -> None:
        self.source = source

    def verify(self, connection: Connection, delivery: WebhookDelivery) -> list[WebhookEvent]:
        """Check ``delivery`` came from the vendor and return the records it announces.

        Raise :class:`WebhookRejected` when it cannot be trusted (or read). Return an
        empty list for a genuine delivery that needs no fetch (a type Podium does not
        sync, a duplicate already queued). Never log the body or the signature.
        """
        raise NotImplementedError


def verifier_class(podium: Podium, vendor: str) -> type[WebhookVerifier] | None:
    """The vendor's verifier, or None when its connector takes no webhooks."""
    try:
        verifier = source_class(podium, vendor).webhooks
    except KeyError:
        return None
    return verifier if isinstance(verifier, type) and issubclass(verifier, WebhookVerifier) else None


def connection_for_token(podium: Podium, token: str) -> Connection | None:
    """The connection whose webhook token is ``token``, or None.

    The store holds only the token's SHA-256, so it is the digest the unique index finds: a
    lookup reveals nothing about how much of a guess matches, and a database dump holds no
    usable token.
    """
    if not TOKEN_PATTERN.fullmatch(token):
        return None
    digest = webhook_token_digest(token)
    with podium.db.session() as session:
        return session.scalars(select(Connection).where(Connection.webhook_token_hash == digest)).first()


@contextlib.contextmanager
def opened_verifier(podium: Podium, connection: Connection, cls: type[WebhookVerifier]) -> Iterator[WebhookVerifier]:
    """``cls`` with the connection's connector opened; its HTTP clients are closed afterwards."""
    context = source_context(podium, connection)
    try:
        yield cls(open_source(podium, connection, context))
    finally:
        context.close()


def queue_fetches(podium: Podium, connection: Connection, events: list[WebhookEvent]) -> int:
    """One ``fetch_records`` job per entity for the announced ids; how many ids were queued.

    ``podium.jobs`` merges ids into a fetch of the same connection and entity that is
    still queued, which is how a burst becomes one fetch.
    """
    by_entity: dict[str, list[str]] = {}
    for event in events:
        by_entity[event.entity] = jobs.merged(by_entity.get(event.entity, []), [event.external_id])
    for entity, external_ids in by_entity.items():
        jobs.enqueue(
            podium, "fetch_records", tenant_id=connection.tenant_id, connection_id=connection.id,
            entity=entity, external_ids=external_ids, trigger="webhook",
        )
    return sum(len(ids) for ids in by_entity.values())


@bp.post("/<token>")
def receive(token: str) -> Response:
    """Verify one delivery and queue the fetch it asks for; 202 as soon as it is queued."""
    podium = current_podium()
    connection = connection_for_token(podium, token)
    cls = verifier_class(podium, connection.vendor) if connection is not None else None
    if connection is None or cls is None:
        return Response(status=404)
    request.max_content_length = MAX_BODY_BYTES  # a longer body is a 413 before it is read
    delivery = WebhookDelivery(body=request.get_data(cache=False), headers=request.headers, query=request.args)
    label = connection_label(connection)
    try:
        with opened_verifier(podium, connection, cls) as verifier:
            events = verifier.verify(connection, delivery)
    except WebhookRejected as exc:
        log.warning("webhook for %s refused (%s): %s", label, exc.reason, exc)
        return error_response(exc.status, str(exc), {"delivery": [exc.reason]})
    except ConnectorError as exc:
        log.warning("webhook for %s could not be verified: %s", label, exc)
        return error_response(
            503, "The delivery could not be verified right now.", {"delivery": ["vendor-unreachable"]}
        )
    queued = queue_fetches(podium, connection, events)
    log.info("webhook for %s: %d record(s) queued for fetching", label, queued)
    response = jsonify({"queued": queued})
    response.status_code = 202
    return response
