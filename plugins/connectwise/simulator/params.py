"""The query parameters of a ConnectWise list endpoint, checked the way the API checks them.

``page``/``pageSize`` (default 25; the Developer Guide's "hard limit of 1,000 records",
and a larger ``pageSize`` is served as 1,000 — the documented cap, facts §1.4 and
ConnectWise's "PSA Pagination" best-practice page), ``pageId`` with the
``pagination-type: forward-only`` header (``orderBy`` refused, ``page`` ignored),
``orderBy`` (``field asc|desc``, comma-separated) and ``fields`` (comma-separated,
nested with ``/``). Parameter names are matched without regard to case, as ASP.NET
does for ConnectWise (``pagesize`` and ``pageSize`` both appear in working clients).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import bad_request
from .resources import Field, Resource

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000
UNSUPPORTED = ("childconditions", "customfieldconditions", "columns")
"""Real ConnectWise parameters the simulator does not implement: a 400, never ignored."""


@dataclass(frozen=True)
class OrderKey:
    field: Field
    descending: bool


@dataclass(frozen=True)
class ListQuery:
    """What one list request asks for, validated against its resource."""

    conditions: str | None = None
    order_by: tuple[OrderKey, ...] = ()
    fields: tuple[str, ...] | None = None
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    forward_only: bool = False
    page_id: int | None = None

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def lower_keys(args: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in args.items()}


def list_query(resource: Resource, args: Mapping[str, str], *, forward_only: bool) -> ListQuery:
    """Parse a list request's parameters (keys already lower-cased)."""
    for name in UNSUPPORTED:
        if args.get(name):
            raise bad_request(f"{name} is not supported by the simulator", resource=name, code="NotSupported")
    forward_only = forward_only and resource.forward_only
    order_by = _order_by(resource, args.get("orderby", ""))
    if forward_only and order_by:
        raise bad_request("orderBy cannot be used with forward-only pagination (rows come ordered by id)",
                          resource="orderBy")
    page_id = _integer(args, "pageid", minimum=0)
    if page_id is not None and not forward_only:
        raise bad_request("pageId needs the header 'pagination-type: forward-only'", resource="pageId")
    page_size = _integer(args, "pagesize", minimum=1)
    conditions = args.get("conditions", "").strip() or None
    return ListQuery(
        conditions=conditions,
        order_by=order_by,
        fields=_fields(resource, args.get("fields", "")),
        page=1 if forward_only else (_integer(args, "page", minimum=1) or 1),
        page_size=min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
        forward_only=forward_only,
        page_id=page_id,
    )


PARAMETER_NAMES = {"page": "page", "pagesize": "pageSize", "pageid": "pageId"}


def _integer(args: Mapping[str, str], key: str, *, minimum: int) -> int | None:
    name = PARAMETER_NAMES[key]
    raw = args.get(key)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer, not {raw!r}", resource=name) from None
    if value < minimum:
        raise bad_request(f"{name} must be at least {minimum}", resource=name)
    return value


def _order_by(resource: Resource, text: str) -> tuple[OrderKey, ...]:
    keys: list[OrderKey] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        words = part.split()
        direction = words[1].lower() if len(words) == 2 else "asc"
        if len(words) > 2 or direction not in ("asc", "desc"):
            raise bad_request(f"orderBy entries are 'field asc' or 'field desc', not {part!r}", resource="orderBy")
        field = resource.field(words[0])
        if field is None:
            raise bad_request(f"{words[0]} is not a field of {resource.label}", resource="orderBy", field_name=words[0])
        if not field.scalar:
            raise bad_request(f"{field.name} is not a sortable value", resource="orderBy", field_name=field.name)
        keys.append(OrderKey(field, direction == "desc"))
    return tuple(keys)


def _fields(resource: Resource, text: str) -> tuple[str, ...] | None:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        return None
    paths = []
    for name in names:
        field = resource.field(name)
        if field is None and name.lower().startswith("_info/") and resource.field("_info"):
            paths.append("_info/" + name.split("/", 1)[1])
            continue
        if field is None:
            raise bad_request(f"{name} is not a field of {resource.label}", resource="fields", field_name=name)
        paths.append("/".join(field.path))
    return tuple(paths)


def project(record: Mapping[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    """The parts of ``record`` named by ``paths``, keeping its nesting (``status/id``)."""
    out: dict[str, Any] = {}
    for path in paths:
        keys = path.split("/")
        value: Any = record
        for key in keys:
            value = value.get(key) if isinstance(value, Mapping) else None
            if value is None:
                break
        if value is None:
            continue
        target = out
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
    return out


def require_parameter(args: Mapping[str, str], name: str) -> str:
    value = args.get(name.lower(), "").strip()
    if not value:
        raise bad_request(f"{name} is required", resource=name, code="MissingRequiredField")
    return value

