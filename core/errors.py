"""Errors a connector raises, classified the way the sync engine must treat them.

The split follows what a vendor API means by its status codes: a 429, a 5xx or a
timeout says "try again later" (``RetriableError``, with the server's ``Retry-After``
when it gave one); a 400, 401 or 403 says "this will never work as configured"
(``FatalError``), so the sync of that entity stops and tells the admin why, naming the
connection, instead of hammering the vendor.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of everything a connector raises on purpose."""


class RetriableError(ConnectorError):
    """A transient failure: back off and try again."""

    def __init__(self, message: str, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class FatalError(ConnectorError):
    """A failure retrying cannot fix (bad credentials, forbidden, a malformed request)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ConnectionTestError(ConnectorError):
    """``test_connection()`` failed; the message tells the admin exactly what to fix."""
