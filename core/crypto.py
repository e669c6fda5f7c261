"""Encryption of vendor secrets at rest.

Connection configs (API keys, OAuth client secrets, webhook signing keys) are stored as a
Fernet token (AES-128-CBC + HMAC-SHA256) whose key is derived from ``PODIUM_SECRET_KEY``
with HKDF, so the database alone never reveals a credential and the one key to guard is
in configuration, not in the data.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MASK = "••••••••"
"""What a secret looks like anywhere it is shown."""


class SecretBox:
    """Encrypts and decrypts JSON-serialisable configs with a key from configuration."""

    def __init__(self, secret_key: str) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"podium-secrets-v1", info=b"connection-config"
        ).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, value: Mapping[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(dict(value), sort_keys=True).encode()).decode()

    def decrypt(self, token: str) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise ValueError(
                "stored secrets cannot be decrypted: PODIUM_SECRET_KEY is not the key they were written with"
            ) from None


def mask(config: Mapping[str, Any], secret_fields: Iterable[str]) -> dict[str, Any]:
    """A copy of ``config`` safe to print, log or return: secrets replaced by a mask."""
    hidden = set(secret_fields)
    return {key: (MASK if key in hidden and value not in (None, "") else value) for key, value in config.items()}
