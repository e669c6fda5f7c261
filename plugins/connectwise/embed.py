"""ConnectWise Manage's Hosted API handshake: who is looking at a pod, confirmed by ConnectWise.

A pod registered in Manage ("Manage Hosted API", type Pod) runs in an iframe of the
Manage web client. Its script (``hosted_api.js``, served through
:meth:`ManageHostedApi.client_script`) speaks the Hosted API's ``postMessage`` protocol
(facts §1.12): it posts ``{"message":"ready"}`` as a JSON string, receives its
``MessageFrameID``, asks ``getMemberAuthentication`` and gets the signed-in member —
``site``, ``companyid``, ``memberid``, ``memberHash``, ``memberEmail``,
``memberContext`` — which it hands to Podium.

None of that is believed as sent. :meth:`ManageHostedApi.verify` asks the connection's own
site who the hash belongs to: ``GET system/myMembers/info`` with Basic
``base64("<companyId>+<memberid>:<memberHash>")`` and the integration's ``clientId``. The
company id is the connection's, never the browser's; ConnectWise answers 401 for a wrong
or expired hash, and the ``identifier`` it returns must be the ``memberid`` claimed. The
member hash is a live login: it is only ever sent to that site (the HTTP client masks it
in every message), never stored or logged. A confirmation is remembered for
:data:`VERIFIED_TTL_SECONDS`, keyed by a SHA-256 of (connection and its config, member, hash), so
reopening a pod does not cost two requests each time; a hash ConnectWise revokes keeps
working here for at most that long.

Podium core then maps the member to a Person through the connection's Identity (by
ConnectWise member id, else identifier) and issues the pod token (:mod:`podium.embed`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from importlib.resources import files
from typing import Any

from podium.embed import EmbedHandshake, EmbedRefused, VerifiedMember
from podium.errors import FatalError
from podium.models import Connection

from .expiring import ExpiringCache, config_fingerprint
from .sites import site_origins

VERIFIED_TTL_SECONDS = 300.0
"""How long ConnectWise's confirmation of a member hash is reused (facts §1.12: about 5 min)."""
MAX_CLAIM_LENGTH = 4096
"""Longest member id or hash accepted: a longer one is not ConnectWise's."""

_verified: ExpiringCache[str, VerifiedMember] = ExpiringCache(VERIFIED_TTL_SECONDS, size=10_000)


def _claim(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_CLAIM_LENGTH:
        raise EmbedRefused(
            "incomplete", "ConnectWise did not tell the pod who you are; open it from a ConnectWise Manage screen."
        )
    return value.strip()


class ManageHostedApi(EmbedHandshake):
    """The pod handshake of ConnectWise Manage (``ConnectWiseManage.embed``)."""

    signs_identity = True

    def parent_origins(self, connection: Connection) -> list[str]:
        """The connection's site: its API host and, for a cloud ``api-`` host, the web UI host."""
        return list(site_origins(self.source.config["site"]))

    def verify(self, connection: Connection, claims: Mapping[str, Any]) -> VerifiedMember:
        member_id = _claim(claims, "memberid")
        member_hash = _claim(claims, "memberHash")
        company = self.source.config["company_id"]
        claimed_company = claims.get("companyid")
        if isinstance(claimed_company, str) and claimed_company.strip().casefold() != company.casefold():
            raise EmbedRefused("wrong-company", "This pod belongs to another ConnectWise company's Podium connection.")
        cache_key = hashlib.sha256(
            f"{config_fingerprint(connection)}\0{member_id.casefold()}\0{member_hash}".encode()
        ).hexdigest()
        known = _verified.get(cache_key)
        if known is not None:
            return known
        member = self._ask_connectwise(company, member_id, member_hash)
        _verified.put(cache_key, member)
        return member

    def _ask_connectwise(self, company: str, member_id: str, member_hash: str) -> VerifiedMember:
        """``system/myMembers/info`` as the member; refusals say what ConnectWise said, not the hash."""
        config = self.source.config
        client = self.source.context.rest_client(
            config["site"],
            auth=(f"{company}+{member_id}", member_hash),
            headers={"clientId": config["client_id"], "Accept": "application/json"},
            allow_http=config["allow_http"],
        )
        try:
            info = client.get_json(self.source.api.url("system/myMembers/info"))
        except FatalError as exc:
            if exc.status == 401:
                raise EmbedRefused(
                    "tampered", "ConnectWise did not confirm your sign-in (it refused the member hash); "
                    "reload the ConnectWise screen."
                ) from None
            raise
        identifier = info.get("identifier") if isinstance(info, Mapping) else None
        if not isinstance(identifier, str) or identifier.casefold() != member_id.casefold():
            raise EmbedRefused("tampered", "ConnectWise says this sign-in belongs to another member.")
        return VerifiedMember(
            external_id=str(info["id"]) if info.get("id") is not None else None,
            vendor_key=identifier,
            email=info.get("defaultEmail"),
            display_name=info.get("fullName"),
        )

    @classmethod
    def client_script(cls) -> str:
        return (files("podium_connectwise") / "hosted_api.js").read_text(encoding="utf-8")
