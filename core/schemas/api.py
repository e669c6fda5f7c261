"""marshmallow schemas of the REST API (``/api/v1``): what goes in, what comes out.

They are the single source of the OpenAPI document (flask-smorest generates it from
them), so a field documented there is a field validated here. Input schemas refuse what
they do not know (marshmallow's default ``RAISE``), so a misspelt field is a 422 naming
it rather than a silently ignored change.
"""

from __future__ import annotations

import functools
import zoneinfo

from marshmallow import Schema, ValidationError, fields, validate


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    """An IANA zone name the server's tz database knows (``Europe/London``, ``UTC``)."""
    if value not in _time_zones():
        raise ValidationError(f"Unknown time zone {value!r}; use an IANA name such as 'Europe/London'.")


class ErrorSchema(Schema):
    """The one error envelope every failing request gets (401, 403, 404, 422, 500 …)."""

    code = fields.Raw(
        required=True, metadata={"description": "HTTP status code (int) or a stable string code."}
    )
    message = fields.String(required=True, metadata={"description": "What went wrong, for people."})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Field name (dotted for nested fields) → reasons."},
    )


# -- tenants ---------------------------------------------------------------------------


class TenantSchema(Schema):
    id = fields.Integer(dump_only=True)
    slug = fields.String(dump_only=True)
    name = fields.String()
    time_zone = fields.String()
    fiscal_year_start_month = fields.Integer()
    week_start = fields.Integer(metadata={"description": "0 = Monday … 6 = Sunday."})
    currency = fields.String()


class TenantSettingsSchema(Schema):
    """PATCH body for the current tenant; every field optional."""

    name = fields.String(validate=validate.Length(min=1, max=200))
    time_zone = fields.String(validate=validate_time_zone)
    fiscal_year_start_month = fields.Integer(validate=validate.Range(min=1, max=12))
    week_start = fields.Integer(validate=validate.Range(min=0, max=6))
    currency = fields.String(
        validate=validate.Regexp(r"^[A-Z]{3}\Z", error="Must be a 3-letter ISO 4217 code in capitals, e.g. USD.")
    )


# -- people ----------------------------------------------------------------------------


class PersonSchema(Schema):
    id = fields.Integer(dump_only=True)
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(allow_none=True, validate=validate.Length(max=320))
    time_zone = fields.String(
        allow_none=True, validate=validate_time_zone, metadata={"description": "Null means the tenant's."}
    )
    employed_from = fields.Date(allow_none=True)
    employed_to = fields.Date(allow_none=True)
    active = fields.Boolean()


class PersonQuerySchema(Schema):
    active = fields.Boolean(metadata={"description": "Only active (true) or inactive (false) people."})


# -- teams -----------------------------------------------------------------------------


class TeamSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(allow_none=True)


class MembershipSchema(Schema):
    """A person's membership of a team from ``valid_from`` up to (not including) ``valid_to``."""

    id = fields.Integer(dump_only=True)
    team_id = fields.Integer(dump_only=True)
    person_id = fields.Integer(required=True)
    valid_from = fields.Date(
        load_default=None, metadata={"description": "Default: today in the tenant's time zone."}
    )
    valid_to = fields.Date(allow_none=True, metadata={"description": "Exclusive end; null = still a member."})
    share = fields.Float(
        load_default=1.0,
        validate=validate.Range(min=0, max=1, min_inclusive=False),
        metadata={"description": "Fraction of the person's work counted for this team."},
    )


class MembershipQuerySchema(Schema):
    on = fields.Date(metadata={"description": "Only memberships valid on this day."})


# -- connections -----------------------------------------------------------------------


class ConnectionSchema(Schema):
    """A connection as shown: every secret config value masked, no webhook token."""

    id = fields.Integer()
    vendor = fields.String()
    name = fields.String()
    status = fields.String()
    config = fields.Dict(keys=fields.String(), metadata={"description": "Secret fields are masked."})
    last_test_at = fields.DateTime(allow_none=True)
    last_test_message = fields.String(allow_none=True)


class ConnectionCreateSchema(Schema):
    vendor = fields.String(required=True, metadata={"description": "A registered data source, e.g. connectwise."})
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    config = fields.Dict(
        keys=fields.String(), required=True, metadata={"description": "Validated by the connector's schema."}
    )


class ConnectionPatchSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    config = fields.Dict(
        keys=fields.String(),
        metadata={"description": "Fields to change; a secret left out or sent back masked keeps its value."},
    )


class ConnectionTestSchema(Schema):
    ok = fields.Boolean()
    message = fields.String()
    connection = fields.Nested(ConnectionSchema)


class SyncRequestSchema(Schema):
    entities = fields.List(
        fields.String(), metadata={"description": "Entities to sync; default: every entity the connector has."}
    )


class QueuedJobSchema(Schema):
    entity = fields.String()
    job_id = fields.String(allow_none=True)


class SyncQueuedSchema(Schema):
    connection_id = fields.Integer()
    queued = fields.List(fields.Nested(QueuedJobSchema))


# -- quarantine ------------------------------------------------------------------------


class QuarantinedRecordSchema(Schema):
    id = fields.Integer()
    connection_id = fields.Integer()
    entity = fields.String()
    external_id = fields.String(allow_none=True)
    payload = fields.Raw(metadata={"description": "The record as the connector produced it."})
    errors = fields.Raw(metadata={"description": "Field → reasons the canonical schema gave."})
    first_seen_at = fields.DateTime()
    last_seen_at = fields.DateTime()
    attempts = fields.Integer()
    resolved_at = fields.DateTime(allow_none=True)


class QuarantineQuerySchema(Schema):
    connection_id = fields.Integer()
    entity = fields.String()
    resolved = fields.Boolean(load_default=False, metadata={"description": "Default: only open records."})


class QuarantineActionSchema(Schema):
    reason = fields.String(validate=validate.Length(max=2000), metadata={"description": "Kept in the audit trail."})


class QuarantineResolveSchema(Schema):
    record = fields.Nested(QuarantinedRecordSchema)
    job_id = fields.String(metadata={"description": "The queued fetch of the record."})
