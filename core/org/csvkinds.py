"""The kinds of org rows a CSV file can hold, and how each is read, keyed and stored.

Each :class:`Kind` pairs a marshmallow schema for the cells (types, required columns,
vocabularies) with how a parsed row becomes model attributes (references by e-mail or
name resolved through :class:`Lookups`), the natural key that makes imports idempotent,
and the row an export writes. :mod:`podium.org.csvio` drives them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.models import (
    Availability,
    Calendar,
    Client,
    ClientResponsibility,
    Connection,
    Holiday,
    Person,
    PersonFact,
    SlaTarget,
    Team,
    TeamMembership,
)
from podium.models import Mapping as VendorMapping
from podium.models.org import AVAILABILITY_KINDS, CALENDAR_KINDS, MAPPING_KINDS, PERSON_FACT_KINDS
from podium.models.work import STATUS_CATEGORIES
from podium.org import calendars
from podium.org.effective import FACT_COLUMN
from podium.vendor_mapping import MINOR_EXPONENTS

MAPPING_VALUES: dict[str, tuple[str, ...]] = {
    "work_type": ("billable", "productive", "internal", "pto"),
    "status": (*STATUS_CATEGORIES, "waiting"),
    "board": ("service", "alert", "project", "internal"),
}
"""Podium's vocabulary per mapping kind; ``agreement_type`` maps to a revenue-category slug.
A ``waiting`` status (on hold, waiting on the customer) is open and stops the SLA clock."""
CATEGORY_SLUG = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

DAYS = calendars.WEEKDAYS


# -- money -----------------------------------------------------------------------------


def to_minor(amount: str, currency: str) -> int:
    """``"85000.50"`` USD → ``8500050``; refuses more decimals than the currency has."""
    exponent = MINOR_EXPONENTS.get(currency, 2)
    try:
        value = Decimal(amount.replace(",", "").strip())
    except InvalidOperation:
        raise ValueError(f"{amount!r} is not an amount (e.g. 85000.00)") from None
    if not value.is_finite():
        raise ValueError(f"{amount!r} is not an amount")
    scaled = value.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{currency} has {exponent} decimal places; {amount!r} has more")
    return int(scaled)


def format_minor(minor: int, currency: str) -> str:
    """``8500050`` USD → ``"85000.50"`` (the inverse of :func:`to_minor`)."""
    exponent = MINOR_EXPONENTS.get(currency, 2)
    return f"{Decimal(minor).scaleb(-exponent):.{exponent}f}"


# -- cell parsing ----------------------------------------------------------------------


class HoursCell(fields.Field):
    """``"08:00-12:00 13:00-17:00"`` → ``[["08:00", "12:00"], ["13:00", "17:00"]]``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[list[str]]:
        spans = []
        for part in str(value).split():
            start, sep, end = part.partition("-")
            if not sep:
                raise ValidationError(f"{part!r} is not a span like 08:00-17:00")
            spans.append([start, end])
        return spans


def _text(max_length: int, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


def _time_zone(value: str) -> None:
    try:
        calendars.zone(value)
    except calendars.CalendarError as exc:
        raise ValidationError(str(exc)) from None


class _Validity(Schema):
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(load_default=None)

    @validates_schema
    def _range(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("valid_to") and data["valid_to"] <= data["valid_from"]:
            raise ValidationError("Must be after valid_from (the end is exclusive).", "valid_to")


class PeopleRow(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=320))
    display_name = _text(200, required=True)
    time_zone = fields.String(load_default=None, validate=_time_zone)
    employed_from = fields.Date(load_default=None)
    employed_to = fields.Date(load_default=None)
    active = fields.Boolean(load_default=True)

    @validates_schema
    def _employment(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("employed_from"), data.get("employed_to")
        if start and end and end < start:
            raise ValidationError("Must not be before employed_from.", "employed_to")


class TeamRow(Schema):
    name = _text(200, required=True)
    description = fields.String(load_default=None)


class CalendarRow(Schema):
    name = _text(200, required=True)
    kind = fields.String(load_default="tenant", validate=validate.OneOf(CALENDAR_KINDS))
    time_zone = fields.String(required=True, validate=_time_zone)
    person = fields.Email(load_default=None)
    mon = HoursCell(load_default=None)
    tue = HoursCell(load_default=None)
    wed = HoursCell(load_default=None)
    thu = HoursCell(load_default=None)
    fri = HoursCell(load_default=None)
    sat = HoursCell(load_default=None)
    sun = HoursCell(load_default=None)

    @validates_schema
    def _person(self, data: dict[str, Any], **kwargs: Any) -> None:
        if (data.get("kind") == "person") != bool(data.get("person")):
            raise ValidationError("Give a person exactly when kind is 'person'.", "person")


class HolidayRow(Schema):
    calendar = _text(200, required=True)
    day = fields.Date(required=True)
    name = _text(200, required=True)


class MembershipRow(_Validity):
    person = fields.Email(required=True)
    team = _text(200, required=True)
    share = fields.Float(load_default=1.0, validate=validate.Range(min=0, max=1, min_inclusive=False))


class FactRow(_Validity):
    person = fields.Email(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(PERSON_FACT_KINDS))
    value = _text(200, required=True)
    currency = fields.String(
        load_default=None, validate=validate.Regexp(r"^[A-Z]{3}\Z", error="Must be a code like USD.")
    )


class ResponsibilityRow(_Validity):
    client = _text(200, required=True)
    connection = _text(200, load_default=None)
    person = fields.Email(load_default=None)
    team = _text(200, load_default=None)
    share = fields.Float(load_default=1.0, validate=validate.Range(min=0, max=1, min_inclusive=False))

    @validates_schema
    def _owner(self, data: dict[str, Any], **kwargs: Any) -> None:
        if bool(data.get("person")) == bool(data.get("team")):
            raise ValidationError("Give exactly one of person or team.", "person")


class AvailabilityRow(Schema):
    person = fields.Email(required=True)
    day = fields.Date(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(AVAILABILITY_KINDS))
    hours = fields.Float(required=True, validate=validate.Range(min=0, max=24))


class MappingRow(Schema):
    connection = _text(200, load_default=None)
    kind = fields.String(required=True, validate=validate.OneOf(MAPPING_KINDS))
    vendor_value = _text(200, required=True)
    podium_value = _text(64, required=True)
    confirmed = fields.Boolean(load_default=True)

    @validates_schema
    def _vocabulary(self, data: dict[str, Any], **kwargs: Any) -> None:
        allowed = MAPPING_VALUES.get(data["kind"])
        if allowed is not None and data["podium_value"] not in allowed:
            raise ValidationError(f"For {data['kind']} use one of: {', '.join(allowed)}.", "podium_value")
        if allowed is None and not CATEGORY_SLUG.match(data["podium_value"]):
            raise ValidationError("Use a lower-case category slug such as managed_services.", "podium_value")


class SlaTargetRow(Schema):
    sla = _text(200, required=True)
    board = _text(200, load_default=None)
    priority = _text(100, load_default=None)
    response_hours = fields.Float(load_default=None, validate=validate.Range(min=0))
    resolution_hours = fields.Float(load_default=None, validate=validate.Range(min=0))

    @validates_schema
    def _some_target(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("response_hours") is None and data.get("resolution_hours") is None:
            raise ValidationError("Give response_hours, resolution_hours or both.", "response_hours")


# -- references ------------------------------------------------------------------------


class RowProblem(Exception):
    """A reference or value problem in one cell, raised while resolving a row."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


class Lookups:
    """Name → id maps of what a file may refer to, read once per import."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._cache: dict[str, Any] = {}

    def _get(self, name: str, build: Callable[[], Any]) -> Any:
        if name not in self._cache:
            self._cache[name] = build()
        return self._cache[name]

    def person(self, email: str, column: str = "person") -> int:
        people = self._get(
            "people",
            lambda: {e.lower(): i for i, e in self.session.execute(select(Person.id, Person.email)) if e},
        )
        if email.lower() not in people:
            raise RowProblem(column, f"no person with e-mail {email!r} (import people first)")
        return people[email.lower()]

    def person_email(self, person_id: int | None) -> str:
        emails = self._get("emails", lambda: dict(self.session.execute(select(Person.id, Person.email)).all()))
        return emails.get(person_id) or ""

    def team(self, name: str) -> int:
        teams = self._get("teams", lambda: {n: i for i, n in self.session.execute(select(Team.id, Team.name))})
        if name not in teams:
            raise RowProblem("team", f"no team named {name!r} (import teams first)")
        return teams[name]

    def connection(self, name: str | None) -> int | None:
        if name is None:
            return None
        found = self._get("connections", lambda: _group(self.session.execute(select(Connection.name, Connection.id))))
        ids = found.get(name, [])
        if len(ids) != 1:
            problem = "no connection" if not ids else f"{len(ids)} connections"
            raise RowProblem("connection", f"{problem} named {name!r}")
        return ids[0]

    def client(self, name: str, connection: str | None) -> int:
        clients = self._get(
            "clients",
            lambda: _group(
                (
                    (n, (i, c))
                    for n, i, c in self.session.execute(
                        select(Client.name, Client.id, Connection.name).join(
                            Connection, Client.connection_id == Connection.id
                        )
                    )
                )
            ),
        )
        matches = [cid for cid, conn in clients.get(name, []) if connection is None or conn == connection]
        if not matches:
            raise RowProblem("client", f"no client named {name!r}" + (f" in {connection!r}" if connection else ""))
        if len(matches) > 1:
            raise RowProblem("client", f"{len(matches)} clients are named {name!r}; add a connection column")
        return matches[0]

    def calendar(self, name: str) -> int:
        found = self._get("calendars", lambda: _group(self.session.execute(select(Calendar.name, Calendar.id))))
        ids = found.get(name, [])
        if len(ids) != 1:
            problem = "no calendar" if not ids else f"{len(ids)} calendars"
            raise RowProblem("calendar", f"{problem} named {name!r} (import calendars first)")
        return ids[0]


def _group(pairs: Iterable[tuple[Any, Any]]) -> dict[Any, list[Any]]:
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for key, value in pairs:
        grouped[key].append(value)
    return dict(grouped)


# -- kinds -----------------------------------------------------------------------------


Key = tuple[Any, ...]


class Kind:
    """How one kind of org row is read, keyed, stored and written back."""

    name: ClassVar[str]
    model: ClassVar[type]
    schema: ClassVar[type[Schema]]
    columns: ClassVar[tuple[str, ...]]
    defaults: ClassVar[dict[str, Any]] = {}
    """Attribute values a *new* row gets when the file has no column for them."""
    key_attributes: ClassVar[tuple[str, ...]]
    """Model attributes that identify a stored row (what :meth:`key` is computed from)."""
    overlap_group: ClassVar[tuple[str, ...] | None] = None
    """Attributes whose rows must not overlap in validity (None: no check)."""

    def resolve(self, lookups: Lookups, row: dict[str, Any], present: set[str]) -> dict[str, Any]:
        """Parsed cells → model attributes (only for the columns the file has, plus the key)."""
        return {column: row[column] for column in self.columns if column in present}

    def key(self, values: Mapping[str, Any]) -> Key:
        raise NotImplementedError

    def stored(self, session: Session) -> Iterable[Any]:
        return session.scalars(select(self.model))

    def key_of(self, obj: Any) -> Key:
        return self.key({column: getattr(obj, column) for column in self.key_attributes})

    def export(self, lookups: Lookups, obj: Any) -> dict[str, Any]:
        return {column: getattr(obj, column) for column in self.columns}

    def order(self, row: dict[str, str]) -> tuple[str, ...]:
        return tuple(row[column] for column in self.columns)


class PeopleKind(Kind):
    name, model, schema = "people", Person, PeopleRow
    columns = ("email", "display_name", "time_zone", "employed_from", "employed_to", "active")
    key_attributes = ("email",)

    def resolve(self, lookups: Lookups, row: dict[str, Any], present: set[str]) -> dict[str, Any]:
        return {**super().resolve(lookups, row, present), "email": row["email"].lower()}

    def key(self, values: Mapping[str, Any]) -> Key:
        return ((values["email"] or "").lower(),)


class TeamsKind(Kind):
    name, model, schema = "teams", Team, TeamRow
    columns = ("name", "description")
    key_attributes = ("name",)

    def key(self, values: Mapping[str, Any]) -> Key:
        return (values["name"],)


class CalendarsKind(Kind):
    name, model, schema = "calendars", Calendar, CalendarRow
    columns = ("name", "kind", "time_zone", "person", *DAYS)
    key_attributes = ("name",)
    defaults = {"business_hours": calendars.OFFICE_HOURS, "kind": "tenant"}

    def resolve(self, lookups: Lookups, row: dict[str, Any], present: set[str]) -> dict[str, Any]:
        values = {c: row[c] for c in ("name", "kind", "time_zone") if c in present}
        if "person" in present:
            values["person_id"] = lookups.person(row["person"]) if row["person"] else None
        if present & set(DAYS):
            spec = {day: row[day] or [] for day in DAYS}
            for day in DAYS:
                try:
                    calendars.parse_hours({day: spec[day]})
                except calendars.CalendarError as exc:
                    raise RowProblem(day, str(exc)) from None
            if not any(spec.values()):
                raise RowProblem("mon", "a calendar needs opening hours on at least one day")
            values["business_hours"] = spec
        return values

    def key(self, values: Mapping[str, Any]) -> Key:
        return (values["name"],)

    def export(self, lookups: Lookups, obj: Any) -> dict[str, Any]:
        hours = obj.business_hours or {}
        row = {"name": obj.name, "kind": obj.kind, "time_zone": obj.time_zone}
        row["person"] = lookups.person_email(obj.person_id) if obj.person_id else None
        row.update({day: " ".join(f"{a}-{b}" for a, b in hours.get(day) or []) for day in DAYS})
        return row


class HolidaysKind(Kind):
    name, model, schema = "holidays", Holiday, HolidayRow
    columns = ("calendar", "day", "name")
    key_attributes = ("calendar_id", "day")

    def resolve(self, lookups: Lookups, row: dict[str, Any], present: set[str]) -> dict[str, Any]:
        return {"calendar_id": lookups.calendar(row["calendar"]), "day": row["day"], "name": row["name"]}

    def key(self, values: Mapping[str, Any]) -> Key:
        return (values["calendar_id"], values["day"])

    def export(self, lookups: Lookups, obj: Any) -> dict[str, Any]:
        name = lookups.session.get(Calendar, obj.calendar_id).name
        return {"calendar": name, "day": obj.day, "name": obj.name}


class MembershipsKind(Kind):
    name, model, schema = "memberships", TeamMembership, MembershipRow
    columns = ("person", "team", "valid_from", "valid_to", "share")
    key_attributes = ("person_id", "team_id", "valid_from")
    overlap_group = ("person_id", "team_id")

    def resolve(self, lookups: Lookups, row: dict[str, Any], present: set[str]) -> dict[str, Any]:
        values = {"person_id": lookups.person(row["person"]), "team_id": lookups.team(row["team"])}
        values.update({c: row[c] for c in ("valid_from", "valid_to", "share") if c in present})
        return values

    def key(self, values: Mapping[str, Any]) -> Key:
        return (values["person_id"], values["team_id"], values["valid_from"])

    def export(self, lookups: Lookups, obj: Any) -> dict[str, Any]:
        team = lookups.session.get(Team, obj.team_id).name
        return {
            "person": lookups.person_email(obj.person_id),
            "team": team,
            "valid_from": obj.valid_from,
            "valid_to": obj.valid_to,
            "share": obj.share,
        }


class FactsKind(Kind):
    name, model, schema = "facts", PersonFact, FactRow
    columns = ("person", "kind", "value", "currency", "valid_from", "valid_to")
    key_attributes = ("person_id", "kind", "valid_from")
    overlap_group = ("person_id", "kind")

    def resolve(self, lookups: Lookups, row: dict[str, Any], present: set[str]) -> dict[str, Any]:
        kind, text, currency = row["kind"], row["value"], row.get("currency")
        values: dict[str, Any] = {
            "person_id": lookups.person(row["person"]),
            "kind": kind,
            "valid_from": row["valid_from"],
            "value_text": None,
            "value_int": None,
            "value_num": None,
            "currency": None,
        }
        if "valid_to" in present:
            values["valid_to"] = row["valid_to"]
        if kind == "manager":
            values["value_int"] = lookups.person(text, "value")
        elif kind == "compensation":
            if not currency:
                raise RowProblem("currency", "compensation needs a currency (e.g. USD)")
            try:
                values["value_int"], values["currency"] = to_minor(text, currency), currency
            except ValueError as exc:
                raise RowProblem("value", str(exc)) from None
        elif kind == "capacity_hours_week":
            try:
                hours = float(text)
            except ValueError:
                raise RowProblem("value", f"{text!r} is not a number of hours") from None
            if not 0 < hours <= 168:
                raise RowProblem("value", "weekly capacity must be more than 0 and at most 168 hours")
            values["value_num"] = hours
        else:
            values["value_text"] = text
        if currency and kind != "compensation":
            raise RowProblem("currency", f"only compensation facts have a currency, not {kind}")
        return values

    def key(self, values: Mapping[str, Any]) -> Key:
        return (values["person_id"], values["kind"], values["valid_from"])

    def export(self, lookups: Lookups, obj: Any) -> dict[str, Any]:
        if obj.kind == "manager":
            value: Any = lookups.person_email(obj.value_int)
        elif obj.kind == "compensation":
            value = format_minor(obj.value_int, obj.currency)
        else:
            value = getattr(obj, FACT_COLUMN[obj.kind])
        return {
            "person": lookups.person_email(obj.person_id),
            "kind": obj.kind,
            "value": value,
            "currency": obj.currency,
            "valid_from": obj.valid_from,
            "valid_to": obj.valid_to,
        }


class ResponsibilitiesKind(Kind):
    name, model, schema = "responsibilities", ClientResponsibility, ResponsibilityRow
    columns = ("client", "connection", "person", "team", "share", "valid_from", "valid_to")
    key_attributes = ("client_id", "person_id", "team_id", "valid_from")
    overlap_group = ("client_id", "person_id", "team_id")

    def resolve(self, lookups: Lookups, row: dict[str, Any], present: set[str]) -> dict[str, Any]:
        values = {
            "client_id": lookups.client(row["client"], row.get("connection")),
            "person_id": lookups.person(row["person"]) if row.get("person") else None,
            "team_id": lookups.team(row["team"]) if row.get("team") else None,
            "valid_from": row["valid_from"],
        }
        values.update({c: row[c] for c in ("valid_to", "share") if c in present})
        return values

    def key(self, values: Mapping[str, Any]) -> Key:
        return (values["client_id"], values["person_id"], values["team_id"], values["valid_from"])

    def export(self, lookups: Lookups, obj: Any) -> dict[str, Any]:
        client = lookups.session.get(Client, obj.client_id)
        connection = lookups.session.get(Connection, client.connection_id)
        return {
            "client": client.name,
            "connection": connection.name,
            "person": lookups.person_email(obj.person_id) if obj.person_id else None,
            "team": lookups.session.get(Team, obj.team_id).name if obj.team_id else None,
            "share": obj.share,
            "valid_from": obj.valid_from,
            "valid_to": obj.valid_to,
        }


class AvailabilityKind(Kind):
    name, model, schema = "availability", Availability, AvailabilityRow
    columns = ("person", "day", "kind", "hours")
    key_attributes = ("person_id", "day", "kind")
    defaults = {"source": "csv"}

    def resolve(self, lookups: Lookups, row: dict[str, Any], present: set[str]) -> dict[str, Any]:
        return {
            "person_id": lookups.person(row["person"]),
            "day": row["day"],
            "kind": row["kind"],
            "hours": row["hours"],
        }

    def key(self, values: Mapping[str, Any]) -> Key:
        return (values["person_id"], values["day"], values["kind"])

    def export(self, lookups: Lookups, obj: Any) -> dict[str, Any]:
        return {"person": lookups.person_email(obj.person_id), "day": obj.day, "kind": obj.kind, "hours": obj.hours}


class MappingsKind(Kind):
    name, model, schema = "mappings", VendorMapping, MappingRow
    columns = ("connection", "kind", "vendor_value", "podium_value", "confirmed")
    key_attributes = ("connection_id", "kind", "vendor_value")
    defaults = {"confirmed": True}

    def resolve(self, lookups: Lookups, row: dict[str, Any], present: set[str]) -> dict[str, Any]:
        values = {
            "connection_id": lookups.connection(row.get("connection")),
            "kind": row["kind"],
            "vendor_value": row["vendor_value"],
            "podium_value": row["podium_value"],
        }
        if "confirmed" in present:
            values["confirmed"] = row["confirmed"]
        return values

    def key(self, values: Mapping[str, Any]) -> Key:
        return (values["connection_id"], values["kind"], values["vendor_value"])

    def export(self, lookups: Lookups, obj: Any) -> dict[str, Any]:
        connection = lookups.session.get(Connection, obj.connection_id) if obj.connection_id else None
        return {
            "connection": connection.name if connection else None,
            "kind": obj.kind,
            "vendor_value": obj.vendor_value,
            "podium_value": obj.podium_value,
            "confirmed": obj.confirmed,
        }


class SlaTargetsKind(Kind):
    """SLA targets in business hours; blank board or priority means any (see podium.metrics.sla_clock)."""

    name, model, schema = "sla_targets", SlaTarget, SlaTargetRow
    columns = ("sla", "board", "priority", "response_hours", "resolution_hours")
    key_attributes = ("sla", "board", "priority")

    def resolve(self, lookups: Lookups, row: dict[str, Any], present: set[str]) -> dict[str, Any]:
        values = {c: row.get(c) for c in ("sla", "board", "priority")}
        values.update({c: row[c] for c in ("response_hours", "resolution_hours") if c in present})
        return values

    def key(self, values: Mapping[str, Any]) -> Key:
        return (values["sla"], values["board"], values["priority"])


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        PeopleKind(),
        TeamsKind(),
        CalendarsKind(),
        HolidaysKind(),
        MembershipsKind(),
        FactsKind(),
        ResponsibilitiesKind(),
        AvailabilityKind(),
        MappingsKind(),
        SlaTargetsKind(),
    )
}
"""Every importable kind, in an order that satisfies references (people before facts …)."""


def kind_of(name: str) -> Kind:
    if name not in KINDS:
        raise KeyError(f"unknown kind {name!r}; one of {', '.join(KINDS)}")
    return KINDS[name]
