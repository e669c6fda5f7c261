"""The configuration of a ConnectWise Manage connection, validated before it is stored.

What an admin copies from ConnectWise (facts §1.1–§1.2): the site, the company id they log
in with, an API member's public/private key pair, and the integration's ``clientId``.
The codebase is discovered from ``/login/companyinfo/{companyId}`` unless given.

Secrets: only ``private_key`` is marked secret. The public key is the user-name half of
the pair — ConnectWise lists it openly on the API member's key screen, it grants nothing
without the private key, and an admin needs to see it to know which key pair a
connection uses (and which one to revoke). The client id is an integration identifier
sent in a plain header, not a credential. The HTTP client still masks the whole Basic
``Authorization`` value in every message, so the public key never leaks joined to the
private one.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlsplit

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates,
    validates_schema,
)

CLOUD_API_HOSTS: dict[str, str] = {
    "na.myconnectwise.net": "api-na.myconnectwise.net",
    "eu.myconnectwise.net": "api-eu.myconnectwise.net",
    "au.myconnectwise.net": "api-au.myconnectwise.net",
    "aus.myconnectwise.net": "api-aus.myconnectwise.net",
    "za.myconnectwise.net": "api-za.myconnectwise.net",
    "staging.connectwisedev.com": "api-staging.connectwisedev.com",
}
"""Cloud UI hosts and the ``api-`` host their API must be called on (facts §1.1: without
the prefix the API answers "SSL is required"; django-connectwise ``CW_CLOUD_URLS``)."""

SURVEY_ATTRIBUTIONS = ("resolver", "closed_by", "owner")
"""Whom a survey response is credited to: who set the resolved status (default; when the
audit trail cannot say, the ticket's ``closedBy`` if that member is a technician), the
``closedBy`` member (only a technician), or the ticket's owner."""

_CODEBASE = re.compile(r"^[A-Za-z0-9_.]+/$")
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$")


def site_url(site: str) -> str:
    """``scheme://host[:port]`` for what an admin typed: a bare host, a URL, or a UI host.

    A bare host means https; a cloud UI host (``na.myconnectwise.net``) becomes its
    ``api-`` host. Raises ValueError with the reason when it is not a site at all.
    """
    text = site.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"use an https:// address, not {parts.scheme}://")
    if not parts.hostname or not _HOST.match(parts.netloc):
        raise ValueError("give the ConnectWise host, e.g. api-na.myconnectwise.net or https://cw.example.com")
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ValueError(
            "give only the host: the codebase and /apis/3.0 are found from the company id "
            f"(got the path {parts.path!r})"
        )
    host = CLOUD_API_HOSTS.get(parts.hostname.lower(), parts.hostname.lower())
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


class ConnectWiseConfigSchema(Schema):
    """A ConnectWise Manage connection's config; unknown keys are refused (likely typos)."""

    site = fields.String(
        required=True,
        validate=validate.Length(min=1, max=255),
        metadata={"description": "ConnectWise host or URL, e.g. na.myconnectwise.net or https://cw.example.com"},
    )
    company_id = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^[A-Za-z0-9_.-]{1,64}$", error="the company id you log in with has no spaces or slashes"
        ),
        metadata={"description": "The company id entered on ConnectWise's login screen"},
    )
    public_key = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "API member public key (an identifier, shown openly)"},
    )
    private_key = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "API member private key", "secret": True},
    )
    client_id = fields.String(
        required=True,
        metadata={"description": "The integration's clientId GUID from developer.connectwise.com"},
    )
    codebase = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "e.g. v4_6_release/ — discovered from the company id when left empty"},
    )
    allow_http = fields.Boolean(
        load_default=False,
        metadata={"description": "Allow a plain http:// site (local simulators only: keys would travel unencrypted)"},
    )
    currency = fields.String(
        load_default="USD",
        validate=validate.Regexp(r"^[A-Z]{3}$", error="a three-letter upper-case ISO 4217 code, e.g. USD"),
        metadata={"description": "Currency of amounts that carry none of their own"},
    )
    tier_teams = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=200)),
        values=fields.Integer(strict=True, validate=validate.Range(min=1)),
        load_default=dict,
        metadata={
            "description": (
                "Service-ticket team name (shell-style pattern, e.g. 'Escalations*') -> support tier (1 = first "
                "line). A move to a higher tier is an escalation."
            )
        },
    )
    tier_boards = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=200)),
        values=fields.Integer(strict=True, validate=validate.Range(min=1)),
        load_default=dict,
        metadata={
            "description": (
                "Board name (pattern) -> support tier, for tickets whose team has no configured tier. "
                "ConnectWise's escalationLevel is an SLA stage, not a tier, and is never used."
            )
        },
    )
    survey_attribution = fields.String(
        load_default="resolver",
        validate=validate.OneOf(SURVEY_ATTRIBUTIONS),
        metadata={"description": "Who a survey response counts for: resolver, closed_by or owner"},
    )
    survey_positive_share = fields.Float(
        load_default=0.75,
        validate=validate.Range(min=0, max=1),
        metadata={
            "description": (
                "A response is positive when its score is at least this share of the way from the survey's "
                "lowest to its highest possible score (0.75 on a 1-5 survey: 4 and 5)"
            )
        },
    )
    audit_requests_per_sync = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(min=0),
        metadata={
            "description": (
                "At most this many audit-trail requests (one per ticket) in one entity sync; empty = no cap, "
                "0 = never. Tickets beyond it get history from snapshot differences where Podium offers them"
            )
        },
    )

    @validates("site")
    def _site(self, value: str, **_kwargs: Any) -> None:
        try:
            site_url(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    @validates("client_id")
    def _client_id(self, value: str, **_kwargs: Any) -> None:
        try:
            uuid.UUID(value.strip())
        except ValueError:
            raise ValidationError(
                "not a clientId GUID (e.g. 3f2504e0-4f89-11d3-9a0c-0305e82c3301); register the integration at "
                "developer.connectwise.com to get one"
            ) from None

    @validates("codebase")
    def _codebase(self, value: str | None, **_kwargs: Any) -> None:
        if value and not _CODEBASE.match(value.strip().strip("/") + "/"):
            raise ValidationError("a codebase looks like v4_6_release/ or v2025_1/")

    @validates_schema
    def _plain_http(self, data: dict[str, Any], **_kwargs: Any) -> None:
        site = data.get("site")
        if site and not data.get("allow_http") and site_url(site).startswith("http://"):
            raise ValidationError(
                "plain http would send the API keys unencrypted; use https://, or set allow_http for a "
                "local simulator",
                "site",
            )

    @post_load
    def _normalise(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        data["site"] = site_url(data["site"])
        data["client_id"] = data["client_id"].strip()
        if data.get("codebase"):
            data["codebase"] = data["codebase"].strip().strip("/") + "/"
        else:
            data["codebase"] = None
        return data
