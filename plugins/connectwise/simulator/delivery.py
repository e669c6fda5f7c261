"""Callback delivery as ConnectWise does it: the payload, the signature, the signing key, retries.

When a record changes, ConnectWise POSTs to every active callback entry that covers it
(facts §1.11):

* **Payload** — ``MessageId``, ``FromUrl`` (the site's host), ``CompanyId``, ``MemberId``
  (who made the change), ``Action`` (``added``/``updated``/``deleted``), ``Type`` (the
  entry's type), ``ID``, ``ProductInstanceId``, ``PartnerId``, ``Entity`` — the record as a
  JSON **string**, null on a delete — ``Metadata.key_url`` and ``CallbackObjectRecId`` (the
  entry's id): the shape of amp-labs/connectors' sandbox capture.
* **Where** — the entry's ``url`` with the record id appended (the Developer Guide
  recommends URLs ending in ``recordId=``).
* **Signature** — ``x-content-signature: base64(HMAC-SHA256(key=SHA256(signing_key),
  msg=body))`` over the exact bytes sent. Written here independently of Podium's verifier
  (:mod:`podium_connectwise.webhooks`): the simulator is ConnectWise's side, and a shared
  function would hide a mistake both sides made; a known-answer test pins both.
* **Signing key** — one per callback entry, served at ``key_url``
  (``/{codebase}/system/callbackkey/index.rails?companyName=…&id=<connectWiseID>`` →
  ``{"signing_key": …}``; the double slash after the codebase is in the real capture).
  Keys live in the store's meta table, made when first asked for, so the served app and a
  ``--live`` ticker share them; an id that is no callback entry's gets a 404.
* **Retries** — on 404, 409, 419 and 429 only, twice: 2 s, then 4 s later; each attempt
  times out after 5 s; any 2xx is success. (ConnectWise also disables an entry after three
  days of failures; the simulator does not run that long.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from flask import Blueprint, Response, current_app, request

from .errors import not_found
from .params import ListQuery
from .resources import RESOURCES
from .store import WorldStore

SIGNING_KEY_META = "callback_signing_key:{guid}"
"""The store meta key holding a callback entry's signing key (by its ``connectWiseID``)."""
RETRY_STATUSES = frozenset({404, 409, 419, 429})
RETRY_WAITS = (2.0, 4.0)
TIMEOUT_SECONDS = 5.0
ACTIONS = ("added", "updated", "deleted")
_GUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def sign(signing_key: str, body: bytes) -> str:
    """ConnectWise's ``x-content-signature`` of ``body``."""
    key = hashlib.sha256(signing_key.encode("utf-8")).digest()
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode("ascii")


def signing_key(store: WorldStore, guid: str) -> str:
    """The signing key of the callback entry ``guid``, made on first use."""
    meta_key = SIGNING_KEY_META.format(guid=guid)
    key = store.meta(meta_key)
    if key is None:
        key = secrets.token_urlsafe(32)
        store.set_meta({meta_key: key})
    return key


keys = Blueprint("connectwise_callback_keys", __name__)


@keys.get("/<codebase>/system/callbackkey/index.rails")
def callback_key(codebase: str) -> Response:
    """``key_url``: the signing key of one callback entry of this company."""
    simulator = current_app.extensions["connectwise_simulator"]
    guid = request.args.get("id", "")
    known = _GUID.fullmatch(guid) is not None and simulator.store.count(
        RESOURCES["callbacks"], f'connectWiseID = "{guid}"') > 0
    if (not known or f"{codebase}/".lower() != simulator.codebase.lower()
            or request.args.get("companyName", "").lower() != simulator.credentials.company_id.lower()):
        error = not_found("No callback signing key was found")
        return Response(json.dumps(error.body()), error.status, content_type="application/json; charset=utf-8")
    body = json.dumps({"signing_key": signing_key(simulator.store, guid)})
    return Response(body, 200, content_type="application/json; charset=utf-8")


@dataclass(frozen=True)
class Delivery:
    """One callback POST and what the receiver answered to each attempt (a status, or the
    transport error's name)."""

    callback_id: int
    url: str
    message_id: str
    attempts: tuple[int | str, ...]


@dataclass
class CallbackPoster:
    """Sends a world's callbacks for changes, as ConnectWise would.

    ``site`` is the simulator's public base URL (``key_url`` and ``FromUrl`` point there).
    ``retry_waits`` and ``sleep`` exist so tests need not wait the real 2 + 4 seconds.
    """

    store: WorldStore
    site: str
    company_id: str
    codebase: str
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=TIMEOUT_SECONDS))
    retry_waits: Sequence[float] = RETRY_WAITS
    sleep: Callable[[float], None] = time.sleep

    def entries_for(self, kind: str, record: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        """Active callback entries of type ``kind`` whose level covers ``record``."""
        rows = self.store.page(RESOURCES["callbacks"], ListQuery(page_size=10**6))
        matching = []
        for entry in (json.loads(text) for _, text in rows):
            if entry.get("inactiveFlag") or str(entry.get("type", "")).lower() != kind.lower():
                continue
            level = str(entry.get("level", "")).lower()
            reference = {"board": "board", "status": "status", "type": "type"}.get(level)
            if reference is None or (record is not None
                                     and (record.get(reference) or {}).get("id") == entry.get("objectId")):
                matching.append(entry)
        return matching

    def payload(self, entry: Mapping[str, Any], action: str, record_id: int, record: Mapping[str, Any] | None,
                member: str) -> dict[str, Any]:
        """The body ConnectWise posts to ``entry`` for one change (``record`` None on a delete)."""
        host = urlsplit(self.site).netloc
        company = quote(self.company_id, safe="")
        return {
            "Action": action,
            "CallbackObjectRecId": entry["id"],
            "CompanyId": self.company_id,
            "Entity": None if record is None else json.dumps(record, separators=(",", ":")),
            "FromUrl": host,
            "ID": record_id,
            "MemberId": member,
            "MessageId": str(uuid.uuid4()),
            "Metadata": {"key_url": f"{self.site.rstrip('/')}/{self.codebase}/system/callbackkey/index.rails"
                                    f"?companyName={company}&id={entry['connectWiseID']}"},
            "PartnerId": hashlib.sha1(f"partner:{self.company_id}".encode()).hexdigest()[:24],
            "ProductInstanceId": hashlib.sha1(f"instance:{self.company_id}".encode()).hexdigest()[:24],
            "Type": entry["type"],
        }

    def announce(self, kind: str, action: str, record_id: int, record: Mapping[str, Any] | None,
                 member: str) -> list[Delivery]:
        """Deliver one change to every entry that covers it."""
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
        return [self.deliver(entry, self.payload(entry, action, record_id, record, member), record_id)
                for entry in self.entries_for(kind, record)]

    def deliver(self, entry: Mapping[str, Any], payload: Mapping[str, Any], record_id: int) -> Delivery:
        """POST ``payload`` signed with the entry's key, retrying as ConnectWise does."""
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json",
                   "x-content-signature": sign(signing_key(self.store, entry["connectWiseID"]), body)}
        url = f"{entry['url']}{record_id}"
        attempts: list[int | str] = []
        for wait in (*self.retry_waits, None):
            try:
                status: int | str = self.http.post(url, content=body, headers=headers).status_code
            except httpx.TransportError as exc:
                status = type(exc).__name__
            attempts.append(status)
            if status not in RETRY_STATUSES or wait is None:
                break
            self.sleep(wait)
        return Delivery(entry["id"], url, str(payload["MessageId"]), tuple(attempts))
