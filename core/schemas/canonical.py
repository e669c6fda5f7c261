"""Canonical record schemas: the contract between connectors and the store.

A connector yields plain dicts; each is loaded through the schema of its entity before
anything is written. A record that fails is quarantined with marshmallow's field errors
(``{"hours": ["Must be greater than or equal to 0."]}``); one that passes comes out with
every field present (optional ones defaulted), so a batch upserts with one column list.

Fields are named like the model columns, except that references to other synced records
use the vendor's EXTERNAL id (``ticket_external_id``), because a connector does not know
Podium's row ids. :data:`REFERENCES` says which field resolves to which model column;
the sync engine resolves them and parks a record whose reference has not arrived yet in
``pending_records`` instead of dropping it.

Times must carry a time zone (a naive vendor time would silently shift every SLA clock);
money is an integer count of minor units next to a three-letter currency.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, pre_load, validate, validates_schema

from podium.models.base import Base
from podium.models.endpoints import Endpoint, EndpointStatus
from podium.models.money import Agreement, Invoice, Payment
from podium.models.org import Client, Identity
from podium.models.work import (
    SLA_SOURCES,
    STATUS_CATEGORIES,
    TICKET_EVENT_KINDS,
    TICKET_EVENT_SOURCES,
    Project,
    Survey,
    Ticket,
    TicketEvent,
    TimeEntry,
)

# --- fields ---------------------------------------------------------------------------


class ExternalId(fields.Field):
    """A vendor's id: a non-empty string (integers are accepted and turned into one)."""

    default_error_messages = {
        "invalid": "Not a valid external id: give a string or an integer.",
        "empty": "External id must not be empty.",
        "too_long": "External id is longer than {max} characters.",
    }

    def __init__(self, *, max_length: int = 64, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.make_error("invalid")
        text = str(value).strip()
        if not text:
            raise self.make_error("empty")
        if len(text) > self.max_length:
            raise self.make_error("too_long", max=self.max_length)
        return text


class UtcDateTime(fields.AwareDateTime):
    """An ISO 8601 time (or aware ``datetime``) with an offset; returned in UTC."""

    default_error_messages = {
        "invalid_awareness": (
            "Naive datetime (no time zone): Podium needs an offset or 'Z', e.g. 2024-05-01T09:30:00Z."
        ),
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        return super()._deserialize(value, attr, data, **kwargs).astimezone(dt.timezone.utc)


class Day(fields.Date):
    """A calendar date. A datetime is refused: which day it falls on depends on a time zone."""

    default_error_messages = {
        "invalid": "Not a valid date: expected YYYY-MM-DD.",
        "datetime": "Expected a date (YYYY-MM-DD), got a datetime.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:
        if isinstance(value, dt.datetime):
            raise self.make_error("datetime")
        if isinstance(value, str) and len(value.strip()) != 10:
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Minor(fields.Integer):
    """Money as an integer number of minor units (cents): 1250 means 12.50."""

    default_error_messages = {
        "invalid": "Money must be an integer number of minor units (e.g. 1250 for 12.50), not a decimal or text.",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class Currency(fields.String):
    """An ISO 4217 code: three upper-case letters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            validate=validate.Regexp(
                r"^[A-Z]{3}\Z", error="Currency must be a three-letter upper-case ISO 4217 code, e.g. USD."
            ),
            **kwargs,
        )


def _optional(field: type[fields.Field], *args: Any, **kwargs: Any) -> fields.Field:
    kwargs.setdefault("load_default", None)
    return field(*args, allow_none=True, **kwargs)


def _text(max_length: int, *, required: bool = False, **kwargs: Any) -> fields.Field:
    if required:
        return fields.String(required=True, validate=validate.Length(min=1, max=max_length), **kwargs)
    return _optional(fields.String, validate=validate.Length(max=max_length), **kwargs)


def _one_of(values: tuple[str, ...], *, required: bool = True, **kwargs: Any) -> fields.Field:
    if required:
        return fields.String(required=True, validate=validate.OneOf(values), **kwargs)
    return _optional(fields.String, validate=validate.OneOf(values), **kwargs)


def _ref(**kwargs: Any) -> fields.Field:
    """An optional reference to another synced record, by its external id."""
    return _optional(ExternalId, **kwargs)


def _non_negative(field: type[fields.Field] = fields.Float, *, required: bool = False) -> fields.Field:
    if required:
        return field(required=True, validate=validate.Range(min=0))
    return _optional(field, validate=validate.Range(min=0))


def _after(data: dict[str, Any], later: str, earlier: str, *, strict: bool = False) -> None:
    """Raise a field error on ``later`` if it comes before ``earlier``."""
    a, b = data.get(later), data.get(earlier)
    if a is None or b is None:
        return
    if a < b or (strict and a == b):
        relation = "after" if strict else "on or after"
        raise ValidationError(f"Must be {relation} {earlier} ({b.isoformat()}).", later)


# --- schemas --------------------------------------------------------------------------


class CanonicalSchema(Schema):
    """Base of every canonical schema; unknown keys are errors (they are usually typos)."""


class ExternalRecordSchema(CanonicalSchema):
    external_id = ExternalId(required=True)


class IdentitySchema(ExternalRecordSchema):
    vendor_key = _text(200)
    email = _optional(fields.Email, validate=validate.Length(max=320))
    display_name = _text(200, required=True)
    is_person = fields.Boolean(load_default=True)
    raw = _optional(fields.Dict)

    @pre_load
    def _tidy_email(self, data: Any, **kwargs: Any) -> Any:
        # Vendors pad emails and leave them blank; neither should quarantine a member.
        if isinstance(data, dict) and isinstance(data.get("email"), str):
            data = {**data, "email": data["email"].strip().lower() or None}
        return data


class ClientSchema(ExternalRecordSchema):
    name = _text(200, required=True)
    is_internal = fields.Boolean(load_default=False)
    active = fields.Boolean(load_default=True)


class TicketSchema(ExternalRecordSchema):
    number = ExternalId(required=True)
    """What people call the ticket; an integer is accepted and stored as text."""
    summary = fields.String(required=True)
    client_external_id = _ref()
    contact_external_id = _ref()
    board = _text(200)
    type = _text(200)
    subtype = _text(200)
    item = _text(200)
    priority = _text(100)
    impact = _non_negative(fields.Integer)
    weight = _non_negative(fields.Integer)
    source = _text(100)
    status = _text(100, required=True)
    status_category = _one_of(STATUS_CATEGORIES)
    closed = fields.Boolean(load_default=False)
    created_at = UtcDateTime(required=True)
    first_response_at = _optional(UtcDateTime)
    resolved_at = _optional(UtcDateTime)
    closed_at = _optional(UtcDateTime)
    sla_response_due_at = _optional(UtcDateTime)
    sla_resolution_due_at = _optional(UtcDateTime)
    sla_response_met = _optional(fields.Boolean)
    sla_resolution_met = _optional(fields.Boolean)
    sla_source = _one_of(SLA_SOURCES, required=False)
    owner_external_id = _ref()
    resolved_by_external_id = _ref()
    tier = _optional(fields.Integer, validate=validate.Range(min=1))
    parent_external_id = _ref()
    merged = fields.Boolean(load_default=False)
    is_project = fields.Boolean(load_default=False)
    configuration_external_id = _ref()
    root_cause_documented_at = _optional(UtcDateTime)
    vendor_updated_at = _optional(UtcDateTime)

    @validates_schema
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("closed") and data.get("status_category") == "open":
            raise ValidationError("A closed ticket cannot have status_category 'open'.", "status_category")

    @post_load
    def _sla_source(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        # A connector only ever reports the vendor's own SLA verdicts.
        flags = (data.get("sla_response_met"), data.get("sla_resolution_met"))
        if data.get("sla_source") is None and any(flag is not None for flag in flags):
            data["sla_source"] = "vendor"
        return data


class TicketEventSchema(CanonicalSchema):
    ticket_external_id = ExternalId(required=True)
    kind = _one_of(TICKET_EVENT_KINDS)
    at = UtcDateTime(required=True)
    actor_external_id = _ref()
    from_value = _text(200)
    to_value = fields.String(load_default="", allow_none=True, validate=validate.Length(max=200))
    source = _one_of(TICKET_EVENT_SOURCES)

    @post_load
    def _no_null_to_value(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        # NULL would defeat the (ticket, kind, at, to_value) unique key.
        if data.get("to_value") is None:
            data["to_value"] = ""
        return data


class TimeEntrySchema(ExternalRecordSchema):
    identity_external_id = _ref()
    ticket_external_id = _ref()
    project_external_id = _ref()
    work_type = _text(200)
    start_at = UtcDateTime(required=True)
    end_at = _optional(UtcDateTime)
    hours = _non_negative(required=True)
    billable = fields.Boolean(load_default=False)
    billed_hours = _non_negative()
    entered_at = _optional(UtcDateTime)
    rejected = fields.Boolean(load_default=False)
    notes = _optional(fields.String)
    vendor_updated_at = _optional(UtcDateTime)

    @validates_schema
    def _range(self, data: dict[str, Any], **kwargs: Any) -> None:
        _after(data, "end_at", "start_at")


class SurveySchema(ExternalRecordSchema):
    ticket_external_id = _ref()
    identity_external_id = _ref()
    score = fields.Float(required=True)
    scale_min = fields.Float(required=True)
    scale_max = fields.Float(required=True)
    positive = _optional(fields.Boolean)
    submitted_at = UtcDateTime(required=True)
    vendor_updated_at = _optional(UtcDateTime)

    @validates_schema
    def _in_scale(self, data: dict[str, Any], **kwargs: Any) -> None:
        low, high, score = data["scale_min"], data["scale_max"], data["score"]
        if high <= low:
            raise ValidationError(f"Must be greater than scale_min ({low}).", "scale_max")
        if not low <= score <= high:
            raise ValidationError(f"Score must be between scale_min ({low}) and scale_max ({high}).", "score")


class ProjectSchema(ExternalRecordSchema):
    name = _text(200, required=True)
    client_external_id = _ref()
    manager_external_id = _ref()
    status = _text(100)
    estimated_end = _optional(Day)
    actual_end = _optional(Day)
    budget_hours = _non_negative()
    actual_hours = _non_negative()
    billable_minor = _optional(Minor)
    currency = _optional(Currency)
    vendor_updated_at = _optional(UtcDateTime)

    @validates_schema
    def _money_has_currency(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("billable_minor") is not None and not data.get("currency"):
            raise ValidationError("Required when billable_minor is given.", "currency")


class AgreementSchema(ExternalRecordSchema):
    client_external_id = ExternalId(required=True)
    name = _text(200, required=True)
    agreement_type = _text(200, required=True)
    category = _text(64)
    monthly_price_minor = Minor(required=True)
    monthly_cost_minor = Minor(load_default=0)
    currency = Currency(required=True)
    effective_from = Day(required=True)
    effective_to = _optional(Day)
    cancelled_at = _optional(Day)
    vendor_updated_at = _optional(UtcDateTime)

    @validates_schema
    def _dates(self, data: dict[str, Any], **kwargs: Any) -> None:
        _after(data, "effective_to", "effective_from")


class InvoiceSchema(ExternalRecordSchema):
    client_external_id = ExternalId(required=True)
    number = _text(64, required=True)
    invoice_date = Day(required=True)
    due_date = _optional(Day)
    total_minor = Minor(required=True)
    balance_minor = Minor(required=True)
    currency = Currency(required=True)
    paid_at = _optional(UtcDateTime)
    vendor_updated_at = _optional(UtcDateTime)

    @validates_schema
    def _dates(self, data: dict[str, Any], **kwargs: Any) -> None:
        _after(data, "due_date", "invoice_date")


class PaymentSchema(ExternalRecordSchema):
    invoice_external_id = ExternalId(required=True)
    paid_at = UtcDateTime(required=True)
    amount_minor = Minor(required=True)
    currency = Currency(required=True)


class EndpointSchema(ExternalRecordSchema):
    client_external_id = _ref()
    name = _text(200, required=True)
    device_class = _text(64, required=True)
    last_contact_at = _optional(UtcDateTime)
    active = fields.Boolean(load_default=True)


class EndpointStatusSchema(CanonicalSchema):
    endpoint_external_id = ExternalId(required=True)
    day = Day(required=True)
    patch_ok = _optional(fields.Boolean)
    av_ok = _optional(fields.Boolean)
    backup_ok = _optional(fields.Boolean)
    health_ok = _optional(fields.Boolean)


# --- registries -----------------------------------------------------------------------

CANONICAL_SCHEMAS: dict[str, type[Schema]] = {
    "identity": IdentitySchema,
    "client": ClientSchema,
    "ticket": TicketSchema,
    "ticket_event": TicketEventSchema,
    "time_entry": TimeEntrySchema,
    "survey": SurveySchema,
    "project": ProjectSchema,
    "agreement": AgreementSchema,
    "invoice": InvoiceSchema,
    "payment": PaymentSchema,
    "endpoint": EndpointSchema,
    "endpoint_status": EndpointStatusSchema,
}
"""Entity name -> the schema a connector's records are loaded with."""

ENTITY_MODELS: dict[str, type[Base]] = {
    "identity": Identity,
    "client": Client,
    "ticket": Ticket,
    "ticket_event": TicketEvent,
    "time_entry": TimeEntry,
    "survey": Survey,
    "project": Project,
    "agreement": Agreement,
    "invoice": Invoice,
    "payment": Payment,
    "endpoint": Endpoint,
    "endpoint_status": EndpointStatus,
}
"""Entity name -> the table its records are stored in."""

REFERENCES: dict[str, dict[str, tuple[str, str]]] = {
    "identity": {},
    "client": {},
    "ticket": {
        "client_external_id": ("client", "client_id"),
        "owner_external_id": ("identity", "owner_identity_id"),
        "resolved_by_external_id": ("identity", "resolved_by_identity_id"),
    },
    "ticket_event": {
        "ticket_external_id": ("ticket", "ticket_id"),
        "actor_external_id": ("identity", "actor_identity_id"),
    },
    "time_entry": {
        "identity_external_id": ("identity", "identity_id"),
        "ticket_external_id": ("ticket", "ticket_id"),
        "project_external_id": ("project", "project_id"),
    },
    "survey": {
        "ticket_external_id": ("ticket", "ticket_id"),
        "identity_external_id": ("identity", "identity_id"),
    },
    "project": {
        "client_external_id": ("client", "client_id"),
        "manager_external_id": ("identity", "manager_identity_id"),
    },
    "agreement": {"client_external_id": ("client", "client_id")},
    "invoice": {"client_external_id": ("client", "client_id")},
    "payment": {"invoice_external_id": ("invoice", "invoice_id")},
    "endpoint": {"client_external_id": ("client", "client_id")},
    "endpoint_status": {"endpoint_external_id": ("endpoint", "endpoint_id")},
}
"""Entity -> {schema field: (referenced entity, model FK column)}.

The referenced record is looked up in the same connection by its external id. A null
reference stays null; a given one that is not stored yet makes the record wait.
Fields ending in ``_external_id`` that are not listed here (``contact_external_id``,
``parent_external_id``, ``configuration_external_id``) are stored as they are.
"""

UPSERT_KEYS: dict[str, tuple[str, ...]] = {
    entity: ("connection_id", "external_id") for entity in CANONICAL_SCHEMAS
} | {
    "ticket_event": ("ticket_id", "kind", "at", "to_value"),
    "endpoint_status": ("endpoint_id", "day"),
}
"""Entity -> the unique columns an idempotent upsert conflicts on (after references resolve)."""


def load(entity: str, record: dict[str, Any]) -> dict[str, Any]:
    """Validate one connector record; raises :class:`marshmallow.ValidationError`."""
    return CANONICAL_SCHEMAS[entity]().load(record)
