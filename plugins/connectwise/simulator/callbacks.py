"""``system/callbacks``: the callback entries a connector registers, validated like ConnectWise.

A callback entry is ``{url, objectId, type, level, description, inactiveFlag,
payloadVersion, isSelfSuppressedFlag}`` on the way in; ConnectWise adds ``id``,
``memberId``, ``isSoapCallbackFlag``, ``connectWiseID`` (a GUID) and ``_info`` (facts
§1.11, amp-labs/connectors' captured create request and response). ``url``,
``objectId``, ``type`` and ``level`` are required (pyconnectwise's ``CallbackEntry``:
"Required Reference"); ``level`` is owner, board, status or type. PATCH takes
ConnectWise's operation list ``[{"op": "replace", "path": "inactiveFlag", "value": true}]``.
Errors use the ``InvalidObject`` body with one item per bad field.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from .errors import ApiError
from .store import utc_stamp

RESOURCE = "callbackEntry"
LEVELS = ("owner", "board", "status", "type")
WRITABLE: dict[str, type | tuple[type, ...]] = {
    "url": str, "objectId": int, "type": str, "level": str, "description": str,
    "inactiveFlag": bool, "payloadVersion": str, "isSelfSuppressedFlag": bool, "isSoapCallbackFlag": bool,
}
READ_ONLY = ("id", "memberId", "connectWiseID", "_info")
REQUIRED = ("url", "objectId", "type", "level")
PATCH_OPS = ("add", "replace", "remove")


def invalid(code: str, message: str, field: str | None) -> ApiError:
    return ApiError(400, "InvalidObject", f"{RESOURCE} object is invalid",
                    [{"code": code, "message": message, "resource": RESOURCE, "field": field}])


def new_entry(body: Any, *, member_id: int | None, by: str, existing: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The record a POST creates (without ``id``: the store assigns it)."""
    fields = _validated(body)
    _refuse_duplicate(fields, existing)
    record: dict[str, Any] = {
        "description": "", "inactiveFlag": False, "payloadVersion": "3.0.0",
        "isSoapCallbackFlag": False, "isSelfSuppressedFlag": False, **fields,
        "connectWiseID": str(uuid.uuid4()),
        "_info": {"lastUpdated": utc_stamp(), "updatedBy": by},
    }
    if member_id is not None:
        record["memberId"] = member_id
    return record


def replaced(current: Mapping[str, Any], body: Any, *, by: str, existing: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The record after a PUT: every writable field from the body, identity kept."""
    fields = _validated(body)
    _refuse_duplicate(fields, [e for e in existing if e["id"] != current["id"]])
    record = {"id": current["id"], "description": "", "inactiveFlag": False, "payloadVersion": "3.0.0",
              "isSoapCallbackFlag": False, "isSelfSuppressedFlag": False, **fields}
    record.update({key: current[key] for key in READ_ONLY if key in current})
    record["_info"] = {**current.get("_info", {}), "lastUpdated": utc_stamp(), "updatedBy": by}
    return record


def patched(current: Mapping[str, Any], operations: Any, *, by: str, existing: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The record after a PATCH operation list."""
    if not isinstance(operations, list) or not operations:
        raise invalid("InvalidPatch", "PATCH takes a list of operations: [{\"op\":\"replace\",\"path\":...,\"value\":...}]",
                      None)
    body = {key: value for key, value in current.items() if key in WRITABLE}
    for operation in operations:
        if not isinstance(operation, Mapping) or operation.get("op") not in PATCH_OPS:
            raise invalid("InvalidPatch", f"each operation needs op {'/'.join(PATCH_OPS)}", None)
        path = str(operation.get("path", "")).strip("/")
        name = next((key for key in WRITABLE if key.lower() == path.lower()), None)
        if name is None:
            raise invalid("InvalidField", f"{path or 'path'} is not a writable field of {RESOURCE}", path or None)
        if operation["op"] == "remove":
            body.pop(name, None)
        else:
            body[name] = operation.get("value")
    return replaced(current, body, by=by, existing=existing)


def _validated(body: Any) -> dict[str, Any]:
    if not isinstance(body, Mapping):
        raise invalid("InvalidObject", "the body must be a JSON object", None)
    fields: dict[str, Any] = {}
    for key, value in body.items():
        if key in READ_ONLY:
            continue
        expected = WRITABLE.get(key)
        if expected is None:
            raise invalid("InvalidField", f"{key} is not a field of {RESOURCE}", key)
        if value is None:
            continue
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise invalid("InvalidField", f"{key} has the wrong type", key)
        fields[key] = value
    for key in REQUIRED:
        if fields.get(key) in (None, ""):
            raise invalid("MissingRequiredField", f"The {key} field is required.", key)
    if fields["level"].lower() not in LEVELS:
        raise invalid("InvalidField", f"level must be one of {', '.join(LEVELS)}", "level")
    if len(fields.get("description", "")) > 100:
        raise invalid("InvalidField", "description is longer than 100 characters", "description")
    return fields


def _refuse_duplicate(fields: Mapping[str, Any], existing: list[Mapping[str, Any]]) -> None:
    key = (fields["url"], fields["type"].lower(), fields["level"].lower(), fields["objectId"])
    for entry in existing:
        if (entry.get("url"), str(entry.get("type", "")).lower(), str(entry.get("level", "")).lower(),
                entry.get("objectId")) == key:
            raise invalid("ObjectExists", "The object already exists.", "url")
