"""Who is calling: ConnectWise's API-key and member-hash authentication, and the clientId.

Two credentials open the API (facts §1.2, §1.12):

* an API member's keys, ``Authorization: Basic base64("{companyId}+{publicKey}:{privateKey}")``;
* a signed-in member's Hosted API hash, either as Basic
  ``base64("{companyId}+{memberIdentifier}:{memberHash}")`` or as the cookies
  ``companyName``, ``memberId``, ``memberHash`` (and ``memberContext``) — what a pod's
  server sends to ``system/myMembers/info`` to learn who is really signed in.

Every call also needs the integration's ``clientId`` header. Failures are 401 with
ConnectWise's body: ``{"code": "ConnectWiseApi", "message": "UserNotAuthenticated"}``
for credentials (the answer christaylorcodes/ConnectWiseManageAPI issue #18 quotes), and
``Unauthorized`` naming the ``clientId`` header when it is missing or unknown. Secrets are
compared in constant time and never echoed.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .errors import ApiError
from .store import WorldStore


@dataclass(frozen=True)
class Credentials:
    """The API member keys and integration id the simulator accepts (set on the command line)."""

    company_id: str
    public_key: str
    private_key: str
    client_id: str

    def __repr__(self) -> str:
        return f"Credentials(company_id={self.company_id!r}, public_key={self.public_key!r}, private_key=***)"


@dataclass(frozen=True)
class Principal:
    """The caller: the API member of the keys, or a member signed in with a hash."""

    kind: Literal["api", "member"]
    identifier: str


NOT_AUTHENTICATED = ApiError(401, "ConnectWiseApi", "UserNotAuthenticated")


def authenticate(
    headers: Mapping[str, str], cookies: Mapping[str, str], credentials: Credentials, store: WorldStore,
) -> Principal:
    """The principal of a request, or a 401 ``ApiError``."""
    client_id = headers.get("clientId", "")
    if not client_id:
        raise ApiError(401, "Unauthorized", "The clientId header is required (register one at developer.connectwise.com)")
    if not _same(client_id, credentials.client_id):
        raise ApiError(401, "Unauthorized", "The clientId header does not identify a registered integration")
    authorization = headers.get("Authorization", "")
    if authorization:
        return _basic(authorization, credentials, store)
    if cookies.get("memberHash"):
        return _member(cookies.get("companyName", ""), cookies.get("memberId", ""), cookies["memberHash"],
                       credentials, store)
    raise NOT_AUTHENTICATED


def _basic(authorization: str, credentials: Credentials, store: WorldStore) -> Principal:
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise NOT_AUTHENTICATED
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise NOT_AUTHENTICATED from None
    user, _, password = decoded.partition(":")
    company, _, key = user.partition("+")
    if key == credentials.public_key:
        if company == credentials.company_id and _same(password, credentials.private_key):
            return Principal("api", key)
        raise NOT_AUTHENTICATED
    return _member(company, key, password, credentials, store)


def _member(company: str, identifier: str, member_hash: str, credentials: Credentials, store: WorldStore) -> Principal:
    if company != credentials.company_id or not identifier:
        raise NOT_AUTHENTICATED
    expected = store.member_hash(identifier)
    if expected is None or not _same(member_hash, expected):
        raise NOT_AUTHENTICATED
    return Principal("member", identifier)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
