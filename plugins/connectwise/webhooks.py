"""ConnectWise Manage callbacks: prove a delivery came from the connection's site, then read it.

ConnectWise signs each callback POST (facts §1.11, the Developer Guide's "Verifying the
Callback Source")::

    x-content-signature: base64( HMAC-SHA256( key = SHA256(signing_key), msg = raw body ) )

and names where the signing key is in the body, ``Metadata.key_url``
(``…/{codebase}/system/callbackkey/index.rails?companyName=…&id=<guid>`` →
``{"signing_key": "…"}``). A forger controls that URL as much as the rest of the body, so
the URL is trusted only on **the connection's own site** (:mod:`.sites`: scheme, host and
port), only at ConnectWise's key path, and only for **the connection's company** (``companyName`` and the body's
``CompanyId`` — a cloud host serves many companies); anything else is refused before any
request is made. Keys are cached per connection and URL (:data:`KEY_TTL_SECONDS`); when a
signature does not match a cached key that is a little old, the key is fetched once more
(ConnectWise may have rotated it), at most every :data:`KEY_REFRESH_SECONDS`, so forged
deliveries cannot make Podium hammer the site. The key fetch has its own short timeout,
well inside the 5 s ConnectWise waits for an answer.

A verified body is read for ``ID``, ``Action`` (added, updated, deleted), ``Type`` and
``Entity`` (the record as a JSON *string*, null on a delete). Only the id matters to what
happens next: Podium fetches the record (:mod:`podium.webhooks`), so a stale, replayed or
reordered delivery changes nothing, and a deleted record is deleted because the fetch
finds it gone. A ``MessageId`` seen in the last hour is dropped as a duplicate (ConnectWise
retries with the same body), which saves a fetch; it is not what makes duplicates safe.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from podium.embed import origin_of
from podium.errors import FatalError
from podium.http import RestClient, RetryPolicy
from podium.models import Connection
from podium.webhooks import WebhookDelivery, WebhookEvent, WebhookRejected, WebhookVerifier

from .expiring import ExpiringCache, config_fingerprint
from .sites import site_origins

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-content-signature"
KEY_PATH = "/system/callbackkey/index.rails"
"""Where on the site ConnectWise serves callback signing keys (after the codebase)."""
ACTIONS = ("added", "updated", "deleted")
CALLBACK_ENTITIES = {"ticket": "ticket", "time": "time_entry"}
"""Callback ``Type`` → the canonical entity Podium fetches (the types ``register-callbacks``
registers; a service ticket and a project ticket are both ``ticket``). ``time`` for time
entries is [UNCONFIRMED]: the facts list "Time Entries" as a callback type without its
string (docs/connectwise.md)."""

KEY_TTL_SECONDS = 600.0
"""How long a fetched signing key is used without asking the site again."""
KEY_REFRESH_SECONDS = 30.0
"""A cached key at least this old is fetched again once when a signature does not match it."""
KEY_TIMEOUT_SECONDS = 3.0
"""Time allowed for fetching a key: the whole answer must reach ConnectWise within 5 s."""
MESSAGE_TTL_SECONDS = 3600.0
"""How long a ``MessageId`` is remembered to drop repeats."""


@dataclass(frozen=True)
class SigningKey:
    value: str
    fetched_at: float


_keys: ExpiringCache[tuple[str, str], SigningKey] = ExpiringCache(KEY_TTL_SECONDS, size=1_000)
_messages: ExpiringCache[tuple[int, str], bool] = ExpiringCache(MESSAGE_TTL_SECONDS, size=100_000)


def signature(signing_key: str, body: bytes) -> str:
    """The ``x-content-signature`` ConnectWise sends for ``body`` signed with ``signing_key``."""
    key = hashlib.sha256(signing_key.encode("utf-8")).digest()
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode("ascii")


@dataclass(frozen=True)
class Callback:
    """What a verified callback says. ``entity`` is None for a type Podium does not fetch."""

    message_id: str | None
    action: str
    type: str
    record_id: str
    entity: str | None


def read_callback(payload: Mapping[str, Any]) -> Callback:
    """The fields of a (verified) callback body; a 400 :class:`WebhookRejected` names a bad one."""
    record_id = payload.get("ID")
    if isinstance(record_id, bool) or not isinstance(record_id, (int, str)) or not str(record_id).isdigit():
        raise _unreadable("ID", "must be the record's integer id")
    action = str(payload.get("Action") or "").lower()
    if action not in ACTIONS:
        raise _unreadable("Action", f"must be one of {', '.join(ACTIONS)}")
    kind = payload.get("Type")
    if not isinstance(kind, str) or not kind:
        raise _unreadable("Type", "must name the record type")
    entity = payload.get("Entity")
    if entity is not None:
        if not isinstance(entity, str):
            raise _unreadable("Entity", "must be the record as a JSON string, or null")
        try:
            record = json.loads(entity)
        except ValueError:
            raise _unreadable("Entity", "is not valid JSON") from None
        if not isinstance(record, dict) or str(record.get("id", record_id)) != str(record_id):
            raise _unreadable("Entity", "must be a JSON object of the record the callback names")
    message_id = payload.get("MessageId")
    return Callback(
        message_id=str(message_id) if message_id else None,
        action=action,
        type=kind.lower(),
        record_id=str(record_id),
        entity=CALLBACK_ENTITIES.get(kind.lower()),
    )


def _unreadable(field: str, reason: str) -> WebhookRejected:
    return WebhookRejected("unreadable", f"The callback's {field} {reason}.", status=400)


class ConnectWiseCallbacks(WebhookVerifier):
    """Verifies ConnectWise callbacks for one connection (``ConnectWiseManage.webhooks``)."""

    def verify(self, connection: Connection, delivery: WebhookDelivery) -> list[WebhookEvent]:
        given = delivery.headers.get(SIGNATURE_HEADER, "").strip()
        if not given:
            raise WebhookRejected("unsigned", f"The delivery has no {SIGNATURE_HEADER} header.")
        payload = _json_object(delivery.body)
        key_url = self.trusted_key_url(payload)
        if not self.signed(connection, key_url, delivery.body, given):
            raise WebhookRejected("bad-signature", "The delivery's signature does not match ConnectWise's key.")
        callback = read_callback(payload)
        if callback.entity is None:
            log.info("ConnectWise callback of type %r ignored: Podium does not fetch it", callback.type)
            return []
        if callback.message_id and not _messages.add((connection.id, callback.message_id), True):
            log.info("ConnectWise callback %s for %s %s is a repeat; already queued",
                     callback.message_id, callback.type, callback.record_id)
            return []
        return [WebhookEvent(callback.entity, callback.record_id)]

    def trusted_key_url(self, payload: Mapping[str, Any]) -> str:
        """``Metadata.key_url`` when it is on the connection's site and for its company; else a 401."""
        metadata = payload.get("Metadata")
        key_url = metadata.get("key_url") if isinstance(metadata, Mapping) else None
        if not isinstance(key_url, str) or not key_url:
            raise WebhookRejected("unverifiable", "The delivery names no Metadata.key_url to verify it with.")
        try:
            origin = origin_of(key_url)
        except ValueError:
            origin = ""
        path = re.sub("/+", "/", urlsplit(key_url).path).lower()
        if origin not in site_origins(self.source.config["site"]) or not path.endswith(KEY_PATH):
            raise WebhookRejected("foreign-key-url", "The delivery's key_url is not this connection's key URL.")
        company = self.source.config["company_id"].casefold()
        named = dict(parse_qsl(urlsplit(key_url).query)).get("companyName", "")
        if named.casefold() != company or str(payload.get("CompanyId") or "").casefold() != company:
            raise WebhookRejected("wrong-company", "The delivery is for another ConnectWise company.")
        return key_url

    def signed(self, connection: Connection, key_url: str, body: bytes, given: str) -> bool:
        """Whether ``given`` signs ``body`` with the key at ``key_url`` (cached, refreshed once if stale)."""
        cache_key = (config_fingerprint(connection), key_url)
        cached = _keys.get(cache_key)
        if cached is not None:
            if _same(signature(cached.value, body), given):
                return True
            if time.monotonic() - cached.fetched_at < KEY_REFRESH_SECONDS:
                return False
        fresh = SigningKey(self.fetch_key(key_url), time.monotonic())
        _keys.put(cache_key, fresh)
        return _same(signature(fresh.value, body), given)

    def fetch_key(self, key_url: str) -> str:
        """``{"signing_key": …}`` from the site; an unknown key is a 401, an unreachable site a ConnectorError."""
        config = self.source.config
        client = RestClient(
            origin_of(key_url),
            label=self.source.context.label,
            headers={"clientId": config["client_id"], "Accept": "application/json"},
            timeout=KEY_TIMEOUT_SECONDS,
            retry=RetryPolicy(max_attempts=1),
            redactor=self.source.context.redactor,
            allow_http=config["allow_http"],
        )
        with client:
            try:
                answer = client.get_json(key_url)
            except FatalError as exc:
                if exc.status in (401, 403, 404):
                    raise WebhookRejected("unknown-key", "ConnectWise does not know the delivery's signing key.") \
                        from None
                raise
        key = answer.get("signing_key") if isinstance(answer, Mapping) else None
        if not isinstance(key, str) or not key:
            raise WebhookRejected("key-unavailable", "ConnectWise's key_url answered without a signing_key.",
                                  status=503)
        return key


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise WebhookRejected("unverifiable", "The delivery is not a ConnectWise callback (a JSON object).")
    return payload


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace"))
