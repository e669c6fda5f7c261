"""ConnectWise's error envelope, and the one exception the simulator raises to produce it.

Every failure leaves the simulator the way ConnectWise answers it: a status code and
``{"code": ..., "message": ..., "errors": [...] | null}`` (facts §1.5; the field-level
``errors`` items carry ``code``, ``message``, ``resource`` and ``field`` as in a real
``InvalidObject`` answer quoted in christaylorcodes/ConnectWiseManageAPI issue #30). A
client written for ConnectWise reads these bodies, so a bad filter must never come back
as an empty page or a Python traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class ApiError(Exception):
    """An answer other than success, with ConnectWise's body."""

    status: int
    code: str
    message: str
    errors: list[dict[str, Any]] | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "errors": self.errors}


def bad_request(message: str, *, resource: str, field_name: str | None = None, code: str = "InvalidParameter") -> ApiError:
    """A 400 naming the offending query parameter (``resource``) and field, and why."""
    return ApiError(
        400, "InvalidObject", f"{resource} is invalid",
        [{"code": code, "message": message, "resource": resource, "field": field_name}],
    )


def not_found(message: str) -> ApiError:
    return ApiError(404, "NotFound", message)
