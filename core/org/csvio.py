"""Import and export org data as CSV: all or nothing per file, errors by line and column.

Org data mostly lives in spreadsheets before it lives in Podium, so every kind of org
fact has a CSV form (``podium org import people people.csv``, the REST equivalent in
:mod:`podium.api.org`). A file is checked completely before anything is written:
a bad cell, an unknown reference, a duplicate key or an overlapping validity range is
reported as ``line 7, column 'valid_from': …`` and *nothing* from that file is stored.
Rows are matched to what is stored by a natural key (a person's e-mail, a team's name,
(person, team, valid_from) …), so importing the same file twice changes nothing, and an
export can be edited and imported back. Only the columns a file has are written: a
people file without ``time_zone`` leaves everyone's time zone alone.

Vendors only *suggest* org data: :func:`suggestions` lists the people behind unlinked
vendor identities and the vendor values (statuses, boards, work types, agreement types)
no mapping covers yet, with a guessed Podium value, as rows of the same CSV shape marked
``confirmed=false``; an admin corrects them and imports the file back.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, TextIO

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from podium import audit
from podium.models import (
    Agreement,
    Availability,
    Calendar,
    Client,
    ClientResponsibility,
    Connection,
    Holiday,
    Identity,
    Mapping,
    Person,
    PersonFact,
    Team,
    TeamMembership,
    Tenant,
    Ticket,
    TimeEntry,
    User,
)
from podium.models.org import AVAILABILITY_KINDS, CALENDAR_KINDS, MAPPING_KINDS, PERSON_FACT_KINDS
from podium.models.work import STATUS_CATEGORIES
from podium.org import calendars
from podium.org.effective import FACT_COLUMN

MAPPING_VALUES: dict[str, tuple[str, ...]] = {
    "work_type": ("billable", "productive", "internal", "pto"),
    "status": STATUS_CATEGORIES,
    "board": ("service", "alert", "project", "internal"),
}
"""Podium's vocabulary per mapping kind; ``agreement_type`` maps to a revenue-category slug."""
CATEGORY_SLUG = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

CURRENCY_EXPONENTS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip
"""ISO 4217 minor-unit exponents that are not 2."""

DAYS = calendars.WEEKDAYS


# -- money -----------------------------------------------------------------------------


def to_minor(amount: str, currency: str) -> int:
    """``"85000.50"`` USD → ``8500050``; refuses more decimals than the currency has."""
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
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
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    return f"{Decimal(minor).scaleb(-exponent):.{exponent}f}"


# -- errors and results ----------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One problem in a file: the 1-based line (the header is line 1) and column."""

    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column!r}" if self.column else "")
        return f"{where}: {self.message}"


class CsvImportError(ValueError):
    """A file was refused; ``errors`` lists every problem found. Nothing was stored."""

    def __init__(self, kind: str, errors: Sequence[RowError]) -> None:
        self.kind = kind
        self.errors = list(errors)
        shown = "\n".join(f"  {error}" for error in self.errors[:50])
        more = f"\n  … and {len(self.errors) - 50} more" if len(self.errors) > 50 else ""
        super().__init__(f"{kind}: {len(self.errors)} error(s), nothing imported:\n{shown}{more}")


@dataclass(frozen=True)
class ImportResult:
    kind: str
    created: int
    updated: int
    unchanged: int


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
        found = self._get(
            "connections", lambda: _group(self.session.execute(select(Connection.name, Connection.id)))
        )
        ids = found.get(name, [])
        if len(ids) != 1:
            problem = "no connection" if not ids else f"{len(ids)} connections"
            raise RowProblem("connection", f"{problem} named {name!r}")
        return ids[0]

    def client(self, name: str, connection: str | None) -> int:
        clients = self._get(
            "clients",
            lambda: _group(
                ((n, (i, c)) for n, i, c in self.session.execute(
                    select(Client.name, Client.id, Connection.name).join(Connection, Client.connection_id == Connection.id)
                ))
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
            "person": lookups.person_email(obj.person_id), "team": team,
            "valid_from": obj.valid_from, "valid_to": obj.valid_to, "share": obj.share,
        }


class FactsKind(Kind):
    name, model, schema = "facts", PersonFact, FactRow
    columns = ("person", "kind", "value", "currency", "valid_from", "valid_to")
    key_attributes = ("person_id", "kind", "valid_from")
    overlap_group = ("person_id", "kind")

    def resolve(self, lookups: Lookups, row: dict[str, Any], present: set[str]) -> dict[str, Any]:
        kind, text, currency = row["kind"], row["value"], row.get("currency")
        values: dict[str, Any] = {
            "person_id": lookups.person(row["person"]), "kind": kind, "valid_from": row["valid_from"],
            "value_text": None, "value_int": None, "value_num": None, "currency": None,
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
            "person": lookups.person_email(obj.person_id), "kind": obj.kind, "value": value,
            "currency": obj.currency, "valid_from": obj.valid_from, "valid_to": obj.valid_to,
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
            "client": client.name, "connection": connection.name,
            "person": lookups.person_email(obj.person_id) if obj.person_id else None,
            "team": lookups.session.get(Team, obj.team_id).name if obj.team_id else None,
            "share": obj.share, "valid_from": obj.valid_from, "valid_to": obj.valid_to,
        }


class AvailabilityKind(Kind):
    name, model, schema = "availability", Availability, AvailabilityRow
    columns = ("person", "day", "kind", "hours")
    key_attributes = ("person_id", "day", "kind")
    defaults = {"source": "csv"}

    def resolve(self, lookups: Lookups, row: dict[str, Any], present: set[str]) -> dict[str, Any]:
        return {"person_id": lookups.person(row["person"]), "day": row["day"], "kind": row["kind"], "hours": row["hours"]}

    def key(self, values: Mapping[str, Any]) -> Key:
        return (values["person_id"], values["day"], values["kind"])

    def export(self, lookups: Lookups, obj: Any) -> dict[str, Any]:
        return {"person": lookups.person_email(obj.person_id), "day": obj.day, "kind": obj.kind, "hours": obj.hours}


class MappingsKind(Kind):
    name, model, schema = "mappings", Mapping, MappingRow
    columns = ("connection", "kind", "vendor_value", "podium_value", "confirmed")
    key_attributes = ("connection_id", "kind", "vendor_value")
    defaults = {"confirmed": True}

    def resolve(self, lookups: Lookups, row: dict[str, Any], present: set[str]) -> dict[str, Any]:
        values = {
            "connection_id": lookups.connection(row.get("connection")),
            "kind": row["kind"], "vendor_value": row["vendor_value"], "podium_value": row["podium_value"],
        }
        if "confirmed" in present:
            values["confirmed"] = row["confirmed"]
        return values

    def key(self, values: Mapping[str, Any]) -> Key:
        return (values["connection_id"], values["kind"], values["vendor_value"])

    def export(self, lookups: Lookups, obj: Any) -> dict[str, Any]:
        connection = lookups.session.get(Connection, obj.connection_id) if obj.connection_id else None
        return {
            "connection": connection.name if connection else None, "kind": obj.kind,
            "vendor_value": obj.vendor_value, "podium_value": obj.podium_value, "confirmed": obj.confirmed,
        }


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        PeopleKind(), TeamsKind(), CalendarsKind(), HolidaysKind(), MembershipsKind(), FactsKind(),
        ResponsibilitiesKind(), AvailabilityKind(), MappingsKind(),
    )
}
"""Every importable kind, in an order that satisfies references (people before facts …)."""


def kind_of(name: str) -> Kind:
    if name not in KINDS:
        raise KeyError(f"unknown kind {name!r}; one of {', '.join(KINDS)}")
    return KINDS[name]


# -- reading ---------------------------------------------------------------------------


def read_rows(stream: TextIO | str, kind: str = "csv") -> Iterator[tuple[int, list[str]]]:
    """(line number where the row starts, cells) of each non-blank CSV row."""
    reader = csv.reader(io.StringIO(stream) if isinstance(stream, str) else stream)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CsvImportError(kind, [RowError(start, None, f"not valid CSV: {exc}")]) from None
        if any(cell.strip() for cell in cells):
            yield start, cells


def import_csv(
    session: Session, kind: str, stream: TextIO | str, *, actor: User | str = "cli", source: str | None = None
) -> ImportResult:
    """Check a whole CSV file of ``kind`` and, only if every row is good, store it.

    Raises :class:`CsvImportError` listing every problem (line, column, reason);
    records an ``org.import`` audit event when anything changed.
    """
    spec = kind_of(kind)
    rows = read_rows(stream, kind)
    first = next(rows, None)
    if first is None:
        raise CsvImportError(kind, [RowError(1, None, "the file is empty; the first line must name the columns")])
    header_line, header = first
    header = [cell.strip().lstrip("\ufeff").lower() for cell in header]
    errors = _check_header(spec, header_line, header)
    if errors:
        raise CsvImportError(kind, errors)
    records = []
    for line, cells in rows:
        if len(cells) > len(header):
            errors.append(RowError(line, None, f"{len(cells)} cells but the header names {len(header)} columns"))
            continue
        records.append((line, {name: cell.strip() for name, cell in zip(header, cells, strict=False)}))
    if errors:
        raise CsvImportError(kind, errors)
    return _store(session, spec, records, set(header), actor, source)


def import_rows(
    session: Session,
    kind: str,
    rows: Iterable[Mapping[str, Any]],
    *,
    actor: User | str = "system",
    source: str | None = None,
) -> ImportResult:
    """Import rows that are already dicts of text cells (the simulator's org data)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=kind_of(kind).columns)
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return import_csv(session, kind, buffer.getvalue(), actor=actor, source=source)


def _check_header(spec: Kind, line: int, header: list[str]) -> list[RowError]:
    errors = []
    for name in sorted({n for n in header if header.count(n) > 1}):
        errors.append(RowError(line, name, "column appears more than once"))
    for name in header:
        if name not in spec.columns:
            errors.append(RowError(line, name or "(blank)", f"unknown column; expected {', '.join(spec.columns)}"))
    for name, fld in spec.schema().fields.items():
        if fld.required and name not in header:
            errors.append(RowError(line, name, "required column is missing"))
    return errors


def _store(
    session: Session,
    spec: Kind,
    records: list[tuple[int, dict[str, str]]],
    present: set[str],
    actor: User | str,
    source: str | None,
) -> ImportResult:
    errors: list[RowError] = []
    lookups = Lookups(session)
    schema = spec.schema()
    resolved: list[tuple[int, Key, dict[str, Any]]] = []
    seen: dict[Key, int] = {}
    for line, cells in records:
        try:
            row = schema.load({k: v for k, v in cells.items() if v != ""})
        except ValidationError as exc:
            errors.extend(_field_errors(line, exc.messages))
            continue
        try:
            values = spec.resolve(lookups, row, present)
        except RowProblem as problem:
            errors.append(RowError(line, problem.column, str(problem)))
            continue
        key = spec.key(values)
        if key in seen:
            errors.append(RowError(line, spec.columns[0], f"same row as line {seen[key]}"))
            continue
        seen[key] = line
        resolved.append((line, key, values))
    existing = {spec.key_of(obj): obj for obj in spec.stored(session)}
    if not errors and spec.overlap_group:
        errors.extend(_overlaps(spec, resolved, existing))
    if errors:
        raise CsvImportError(spec.name, sorted(errors, key=lambda e: (e.line, e.column or "")))
    created = updated = 0
    for _line, key, values in resolved:
        obj = existing.get(key)
        if obj is None:
            session.add(spec.model(**{**spec.defaults, **values}))
            created += 1
        elif any(getattr(obj, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(obj, name, value)
            updated += 1
    session.flush()
    result = ImportResult(spec.name, created, updated, len(resolved) - created - updated)
    if created or updated:
        tenant = session.get(Tenant, session.info["tenant_id"])
        after = {"kind": spec.name, "created": created, "updated": updated, "source": source}
        audit.record(session, actor, "org.import", tenant, None, after)
    return result


def _field_errors(line: int, messages: Any) -> list[RowError]:
    errors = []
    for column, reasons in (messages.items() if isinstance(messages, dict) else [(None, messages)]):
        for reason in reasons if isinstance(reasons, list) else [reasons]:
            errors.append(RowError(line, None if column == "_schema" else column, str(reason)))
    return errors


def _overlaps(
    spec: Kind, resolved: list[tuple[int, Key, dict[str, Any]]], existing: dict[Key, Any]
) -> list[RowError]:
    """Rows of one group (a person's role, a person's membership of a team) must not overlap."""
    assert spec.overlap_group is not None
    spans: dict[Key, dict[Key, tuple[dt.date, dt.date | None, int | None]]] = defaultdict(dict)
    for key, obj in existing.items():
        group = tuple(getattr(obj, name) for name in spec.overlap_group)
        spans[group][key] = (obj.valid_from, obj.valid_to, None)
    for line, key, values in resolved:
        group = tuple(values.get(name) for name in spec.overlap_group)
        old = existing.get(key)
        valid_to = values["valid_to"] if "valid_to" in values else (old.valid_to if old is not None else None)
        spans[group][key] = (values["valid_from"], valid_to, line)
    errors = []
    for group_spans in spans.values():
        ordered = sorted(group_spans.values(), key=lambda span: span[0])
        for earlier, later in zip(ordered, ordered[1:], strict=False):
            if earlier[1] is None or earlier[1] > later[0]:
                line = later[2] if later[2] is not None else earlier[2]
                if line is None:
                    continue
                other = earlier if line == later[2] else later
                where = f"line {other[2]}" if other[2] is not None else "a stored row"
                errors.append(RowError(line, "valid_from", f"overlaps the row valid from {other[0]} ({where})"))
    return errors


# -- writing ---------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, "g") if value != int(value) else str(int(value))
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def export_rows(session: Session, kind: str) -> list[dict[str, str]]:
    """Every stored row of ``kind`` in its CSV shape, sorted (what :func:`export_csv` writes)."""
    spec = kind_of(kind)
    lookups = Lookups(session)
    rows = [{k: _cell(v) for k, v in spec.export(lookups, obj).items()} for obj in spec.stored(session)]
    return sorted(rows, key=spec.order)


def write_csv(kind: str, rows: Iterable[Mapping[str, str]], stream: TextIO) -> int:
    writer = csv.DictWriter(stream, fieldnames=kind_of(kind).columns, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def export_csv(session: Session, kind: str, stream: TextIO, *, suggested: bool = False) -> int:
    """Write ``kind`` as CSV (or, with ``suggested``, the vendor suggestions); returns rows written."""
    rows = suggestions(session, kind) if suggested else export_rows(session, kind)
    return write_csv(kind, rows, stream)


# -- vendor suggestions ----------------------------------------------------------------

_KEYWORDS: dict[str, list[tuple[tuple[str, ...], str]]] = {
    "work_type": [
        (("pto", "vacation", "holiday", "sick", "leave", "time off"), "pto"),
        (("internal", "admin", "meeting", "training"), "internal"),
        (("proactive", "maintenance", "documentation"), "productive"),
    ],
    "board": [
        (("project", "professional"), "project"),
        (("alert", "monitor", "rmm", "noc"), "alert"),
        (("internal",), "internal"),
    ],
}


def _guess(kind: str, value: str, fallback: str) -> str:
    lowered = value.lower()
    for words, podium_value in _KEYWORDS.get(kind, []):
        if any(word in lowered for word in words):
            return podium_value
    return fallback


def slug(text: str) -> str:
    """``"Managed Services"`` → ``"managed_services"`` (a revenue-category guess)."""
    cleaned = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "other"
    return cleaned if cleaned[0].isalpha() else f"c_{cleaned}"[:64]


def suggestions(session: Session, kind: str) -> list[dict[str, str]]:
    """Rows of ``kind`` the vendors suggest and nobody confirmed yet (people, mappings)."""
    if kind == "people":
        return _people_suggestions(session)
    if kind == "mappings":
        return _mapping_suggestions(session)
    kind_of(kind)
    return []


def _people_suggestions(session: Session) -> list[dict[str, str]]:
    known = {e.lower() for e in session.scalars(select(Person.email).where(Person.email.is_not(None)))}
    rows: dict[str, dict[str, str]] = {}
    candidates = session.scalars(
        select(Identity)
        .where(Identity.person_id.is_(None), Identity.is_person.is_(True), Identity.email.is_not(None))
        .order_by(Identity.id)
    )
    for identity in candidates:
        email = (identity.email or "").lower()
        if email and email not in known and email not in rows:
            rows[email] = {"email": email, "display_name": identity.display_name, "active": "true"}
    return [{c: row.get(c, "") for c in PeopleKind.columns} for _, row in sorted(rows.items())]


def _mapping_suggestions(session: Session) -> list[dict[str, str]]:
    mapped = {(m.connection_id, m.kind, m.vendor_value) for m in session.scalars(select(Mapping))}
    names = dict(session.execute(select(Connection.id, Connection.name)).all())
    found: dict[tuple[int, str, str], str] = {}

    def offer(connection_id: int, kind: str, value: str | None, podium_value: str) -> None:
        if not value or (connection_id, kind, value) in mapped or (None, kind, value) in mapped:
            return
        found.setdefault((connection_id, kind, value), podium_value)

    for cid, status, category in session.execute(
        select(Ticket.connection_id, Ticket.status, func.max(Ticket.status_category)).group_by(
            Ticket.connection_id, Ticket.status
        )
    ):
        offer(cid, "status", status, category)
    for cid, board, projects in session.execute(
        select(Ticket.connection_id, Ticket.board, func.max(cast(Ticket.is_project, Integer))).group_by(
            Ticket.connection_id, Ticket.board
        )
    ):
        offer(cid, "board", board, "project" if projects else _guess("board", board or "", "service"))
    for cid, work_type, billable in session.execute(
        select(TimeEntry.connection_id, TimeEntry.work_type, func.avg(cast(TimeEntry.billable, Integer))).group_by(
            TimeEntry.connection_id, TimeEntry.work_type
        )
    ):
        fallback = "billable" if billable and float(billable) >= 0.5 else "productive"
        offer(cid, "work_type", work_type, _guess("work_type", work_type or "", fallback))
    for cid, agreement_type, category in session.execute(
        select(Agreement.connection_id, Agreement.agreement_type, func.max(Agreement.category)).group_by(
            Agreement.connection_id, Agreement.agreement_type
        )
    ):
        offer(cid, "agreement_type", agreement_type, category or slug(agreement_type))
    rows = [
        {"connection": names.get(cid, ""), "kind": kind, "vendor_value": value, "podium_value": podium_value,
         "confirmed": "false"}
        for (cid, kind, value), podium_value in found.items()
    ]
    return sorted(rows, key=lambda r: (r["connection"], r["kind"], r["vendor_value"]))


