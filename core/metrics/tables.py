"""The tenant-bound tables a metric's ``select`` is built from.

Every table a metric sees is a subquery already limited to one tenant, so a metric —
built-in or third-party — cannot read another tenant's rows by forgetting a filter. The
engine builds one :class:`Tables` per computation:

* ``tables.tickets`` — the tenant's tickets **in scope**: the tenant's scope filters
  (:mod:`podium.metrics.scope`) are applied here, once, for every ticket metric;
  ``tables.table("tickets")`` is the unfiltered set (e.g. to find a time entry's client);
* ``tables.<name>`` for every other table in :data:`TABLES`, unfiltered but tenant-bound;
* ``tables.days`` — the tenant's local days (:mod:`podium.metrics.timegrid`);
* ``tables.now`` — the engine's clock as a bound SQL value, and ``tables.currency`` —
  the tenant's currency (a Python string);
* helpers: :meth:`Tables.person_of` (the attributable person of an identity),
  :meth:`Tables.mapped` (a confirmed vendor-value mapping), :meth:`Tables.local_day` and
  :meth:`Tables.business_seconds`, which with :mod:`podium.metrics.sql` (``epoch``,
  ``utc_day``, ``day_diff``, ``least``, ``greatest``) keep time arithmetic identical on
  SQLite and PostgreSQL.

Each attribute is one subquery object (referring to it twice is the same FROM); call
:meth:`Tables.table` for a second, independent alias (self-joins).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Subquery, bindparam, case, exists, false, func, or_, select
from sqlalchemy.orm import DeclarativeBase

from podium.metrics.scope import ScopeSettings
from podium.metrics.sql import epoch
from podium.models import (
    Agreement,
    Availability,
    Budget,
    Client,
    ClientLink,
    ClientResponsibility,
    Endpoint,
    EndpointStatus,
    Identity,
    Invoice,
    Mapping,
    MetricBusinessSpan,
    MetricDay,
    Payment,
    Person,
    PersonFact,
    Project,
    Survey,
    Team,
    TeamMembership,
    Ticket,
    TicketEvent,
    TicketSlaClock,
    TimeEntry,
)
from podium.models.base import UTCDateTime

TABLES: dict[str, type[DeclarativeBase]] = {
    "tickets": Ticket,
    "ticket_events": TicketEvent,
    "ticket_sla_clocks": TicketSlaClock,
    "time_entries": TimeEntry,
    "surveys": Survey,
    "projects": Project,
    "agreements": Agreement,
    "invoices": Invoice,
    "payments": Payment,
    "budgets": Budget,
    "endpoints": Endpoint,
    "endpoint_statuses": EndpointStatus,
    "clients": Client,
    "client_links": ClientLink,
    "client_responsibilities": ClientResponsibility,
    "identities": Identity,
    "people": Person,
    "person_facts": PersonFact,
    "teams": Team,
    "team_memberships": TeamMembership,
    "availability": Availability,
    "mappings": Mapping,
    "days": MetricDay,
    "business_spans": MetricBusinessSpan,
}
"""Names a metric can ask ``tables`` for, and the model behind each."""


class Tables:
    """Tenant-bound subqueries and time helpers for one computation."""

    def __init__(self, tenant_id: int, *, currency: str, scope: ScopeSettings) -> None:
        self.tenant_id = tenant_id
        self.currency = currency
        """The tenant's currency: money metrics sum only amounts in it."""
        self.scope = scope
        self._cache: dict[str, Subquery] = {}

    @property
    def now(self) -> ColumnElement[dt.datetime]:
        """The engine's clock as a SQL value (an SLA due time before it and not met is a
        breach). A bound parameter, so a metric's statement does not change with time."""
        return bindparam("now", type_=UTCDateTime())

    def table(self, name: str, alias: str | None = None) -> Subquery:
        """A new tenant-bound subquery of table ``name`` (unfiltered, even for tickets)."""
        try:
            model = TABLES[name]
        except KeyError:
            raise AttributeError(f"no table {name!r} for metrics; one of {', '.join(sorted(TABLES))}") from None
        table = model.__table__
        return select(table).where(table.c.tenant_id == self.tenant_id).subquery(alias or name)

    def __getattr__(self, name: str) -> Subquery:
        if name.startswith("_") or name not in TABLES:
            raise AttributeError(name)
        if name not in self._cache:
            self._cache[name] = self.scoped_tickets() if name == "tickets" else self.table(name)
        return self._cache[name]

    # -- scope -----------------------------------------------------------------------------

    def scoped_tickets(self, alias: str = "tickets") -> Subquery:
        """The tenant's tickets minus those the scope filters leave out."""
        t = Ticket.__table__
        conditions: list[ColumnElement[bool]] = [t.c.tenant_id == self.tenant_id]
        scope = self.scope
        if scope.exclude_merged:
            conditions.append(t.c.merged.is_(False))
        if scope.exclude_child:
            conditions.append(t.c.parent_external_id.is_(None))
        if scope.exclude_internal_clients:
            c = Client.__table__
            internal = exists().where(c.c.id == t.c.client_id, c.c.is_internal.is_(True))
            conditions.append(~internal)
        if scope.excluded_boards:
            conditions.append(or_(t.c.board.is_(None), t.c.board.not_in(list(scope.excluded_boards))))
        if scope.excluded_board_kinds:
            m = Mapping.__table__
            excluded_kind = exists().where(
                m.c.tenant_id == self.tenant_id,
                m.c.kind == "board",
                m.c.confirmed.is_(True),
                m.c.vendor_value == t.c.board,
                m.c.podium_value.in_(list(scope.excluded_board_kinds)),
                or_(m.c.connection_id.is_(None), m.c.connection_id == t.c.connection_id),
            )
            conditions.append(~excluded_kind)
        return select(t).where(*conditions).subquery(alias)

    # -- helpers ---------------------------------------------------------------------------

    def person_of(self, identity_id: ColumnElement[Any]) -> ColumnElement[int]:
        """The person an identity's work is attributed to, or NULL (unlinked identities
        and API/workflow accounts are never attributed; see ``podium.org.identities``)."""
        i = Identity.__table__
        return (
            select(i.c.person_id)
            .where(i.c.id == identity_id, i.c.tenant_id == self.tenant_id, i.c.is_person.is_(True))
            .scalar_subquery()
        )

    def mapped(self, kind: str, value: ColumnElement[Any], connection_id: ColumnElement[Any],
               podium_values: list[str]) -> ColumnElement[bool]:
        """True when a confirmed ``kind`` mapping turns ``value`` into one of ``podium_values``
        (a mapping of the record's connection, or a tenant-wide one)."""
        if not podium_values:
            return false()
        m = Mapping.__table__
        return exists().where(
            m.c.tenant_id == self.tenant_id,
            m.c.kind == kind,
            m.c.confirmed.is_(True),
            m.c.vendor_value == value,
            m.c.podium_value.in_(podium_values),
            or_(m.c.connection_id.is_(None), m.c.connection_id == connection_id),
        )

    def local_day(self, instant: ColumnElement[Any]) -> ColumnElement[dt.date]:
        """The tenant-local date ``instant`` falls on (a look-up in the time grid)."""
        d = MetricDay.__table__
        return (
            select(d.c.day)
            .where(d.c.tenant_id == self.tenant_id, d.c.starts_at <= instant)
            .order_by(d.c.starts_at.desc())
            .limit(1)
            .scalar_subquery()
        )

    def _cumulative(self, instant: ColumnElement[Any]) -> ColumnElement[int]:
        s = MetricBusinessSpan.__table__
        into = epoch(instant) - s.c.start_epoch
        return (
            select(s.c.cumulative + case((into > s.c.seconds, s.c.seconds), else_=into))
            .where(s.c.tenant_id == self.tenant_id, s.c.starts_at <= instant)
            .order_by(s.c.starts_at.desc())
            .limit(1)
            .scalar_subquery()
        )

    def business_seconds(self, start: ColumnElement[Any], end: ColumnElement[Any]) -> ColumnElement[int]:
        """Business seconds of the tenant's calendar in ``[start, end)`` (0 if end ≤ start)."""
        difference = func.coalesce(self._cumulative(end), 0) - func.coalesce(self._cumulative(start), 0)
        return case((end <= start, 0), else_=difference)
