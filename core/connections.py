"""Connections: a tenant's configured link to one vendor, with its secrets sealed.

The service functions here are what the CLI, the REST API and the sync engine share:
validate a config against the connector's schema, encrypt it, test it, open the
connector, and show a connection without ever revealing a secret.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from marshmallow import ValidationError
from sqlalchemy.orm import Session

from podium.crypto import MASK, mask
from podium.datasource import DataSource
from podium.errors import ConnectionTestError, ConnectorError
from podium.models import Connection
from podium.runtime import Podium


def source_class(podium: Podium, vendor: str) -> type[DataSource]:
    """The connector registered under ``vendor``; KeyError names the registered ones."""
    return podium.plugins.data_sources.get(vendor)


def validate_config(podium: Podium, vendor: str, config: dict[str, Any]) -> dict[str, Any]:
    """Validate ``config`` with the connector's schema; raises marshmallow's ValidationError."""
    return source_class(podium, vendor).config_schema().load(config)


def create_connection(
    podium: Podium, session: Session, tenant_id: int, vendor: str, name: str, config: dict[str, Any]
) -> Connection:
    """Store a new connection; the config is validated, then encrypted before it is written."""
    clean = validate_config(podium, vendor, config)
    connection = Connection(
        tenant_id=tenant_id,
        vendor=vendor,
        name=name,
        config_encrypted=podium.secrets.encrypt(clean),
        status="new",
    )
    issue_webhook_token(podium, connection)
    session.add(connection)
    session.flush()
    return connection


def webhook_token_digest(token: str) -> str:
    """What the store keeps to find a connection by its webhook token (SHA-256, hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_webhook_token(podium: Podium, connection: Connection) -> str:
    """Give the connection a new unguessable ``/hooks/<token>`` segment (the old one stops
    working); only its digest and its ciphertext are stored."""
    token = secrets.token_urlsafe(32)
    connection.webhook_token_hash = webhook_token_digest(token)
    connection.webhook_token_encrypted = podium.secrets.encrypt({"token": token})
    return token


def webhook_token(podium: Podium, connection: Connection) -> str:
    """The connection's webhook token, decrypted (to build the URL registered with the vendor)."""
    if connection.webhook_token_encrypted is None:
        raise ValueError(f"connection {connection.id} has no webhook token: it was not created by create_connection")
    return str(podium.secrets.decrypt(connection.webhook_token_encrypted)["token"])


def update_config(podium: Podium, connection: Connection, changes: dict[str, Any]) -> None:
    """Change config fields; a secret left out (or sent back masked) keeps its stored value."""
    current = podium.secrets.decrypt(connection.config_encrypted)
    cls = source_class(podium, connection.vendor)
    merged = dict(current)
    for key, value in changes.items():
        if key in cls.secret_fields() and value in (None, "", MASK):
            continue
        merged[key] = value
    connection.config_encrypted = podium.secrets.encrypt(validate_config(podium, connection.vendor, merged))


def open_source(podium: Podium, connection: Connection, context: Any = None) -> DataSource:
    """Instantiate the connection's connector with its decrypted config."""
    cls = source_class(podium, connection.vendor)
    return cls(podium.secrets.decrypt(connection.config_encrypted), context=context)


def run_test(podium: Podium, connection: Connection, context: Any = None) -> tuple[bool, str]:
    """Run the connector's ``test_connection`` and record the outcome on the connection.

    Vendors echo requests in error bodies, so the message is scrubbed of the connection's
    secret values (``context.redactor``) before it is stored or returned.
    """
    try:
        message = open_source(podium, connection, context).test_connection()
        ok = True
    except (ConnectionTestError, ConnectorError, ValidationError) as exc:
        message, ok = str(exc), False
    redactor = getattr(context, "redactor", None)
    if redactor is not None:
        message = redactor(message)
    connection.last_test_at = dt.datetime.now(dt.timezone.utc)
    connection.last_test_message = message
    connection.status = "ok" if ok else "failing"
    return ok, message


def describe(podium: Podium, connection: Connection) -> dict[str, Any]:
    """A connection as the API and CLI show it: secrets masked, webhook token omitted."""
    try:
        secret_fields = source_class(podium, connection.vendor).secret_fields()
    except KeyError:
        secret_fields = frozenset()
    config = podium.secrets.decrypt(connection.config_encrypted)
    hidden = mask(config, secret_fields) if secret_fields else {k: MASK for k in config}
    return {
        "id": connection.id,
        "vendor": connection.vendor,
        "name": connection.name,
        "status": connection.status,
        "config": hidden,
        "last_test_at": connection.last_test_at,
        "last_test_message": connection.last_test_message,
    }
