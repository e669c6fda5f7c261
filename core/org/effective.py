"""Effective-dated org facts: "as of date X" queries and edits that keep the history.

Every fact about the org (team membership, manager, role, level, weekly capacity,
compensation, client responsibility) is a row valid from ``valid_from`` up to, not
including, ``valid_to`` (null = still true). A closed period is therefore always computed
with the org *as it was*: moving a technician to another team today must not move last
quarter's tickets with them.

Reads are single SELECTs on the ``(person_id, valid_from)`` / ``(team_id, valid_from)`` /
``(client_id, valid_from)`` indexes, and each query also exists as a ``Select`` so the
metric engine can embed it in its own SQL instead of looping in Python.

Edits (:func:`set_fact`, :func:`move_to_team`) split the timeline at the change date
instead of overwriting, so history survives every change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import Session

from podium.models import ClientResponsibility, PersonFact, TeamMembership
from podium.models.org import PERSON_FACT_KINDS

EffectiveModel = type[TeamMembership] | type[PersonFact] | type[ClientResponsibility]

FACT_COLUMN = {
    "manager": "value_int",
    "role": "value_text",
    "level": "value_text",
    "capacity_hours_week": "value_num",
    "compensation": "value_int",
}
"""Which column holds each fact kind's value (see :class:`podium.models.PersonFact`)."""


@dataclass(frozen=True)
class Money:
    """An amount in integer minor units and its currency (compensation facts)."""

    minor: int
    currency: str


FactValue = str | int | float | Money


def valid_on(model: EffectiveModel, day: dt.date) -> ColumnElement[bool]:
    """SQL condition: the row of ``model`` is in force on ``day``."""
    return and_(model.valid_from <= day, or_(model.valid_to.is_(None), model.valid_to > day))


def overlapping(model: EffectiveModel, start: dt.date, end: dt.date) -> ColumnElement[bool]:
    """SQL condition: the row is in force on at least one day of ``[start, end)``."""
    return and_(model.valid_from < end, or_(model.valid_to.is_(None), model.valid_to > start))


def overlap_days(valid_from: dt.date, valid_to: dt.date | None, start: dt.date, end: dt.date) -> int:
    """How many days of ``[start, end)`` a row valid ``[valid_from, valid_to)`` covers
    (for prorating a participant who joined or left mid-period)."""
    last = end if valid_to is None else min(end, valid_to)
    return max(0, (last - max(start, valid_from)).days)


# -- team membership -------------------------------------------------------------------


def memberships_on(
    day: dt.date, *, team_id: int | None = None, person_id: int | None = None
) -> Select[tuple[TeamMembership]]:
    """Memberships in force on ``day``, optionally of one team or one person."""
    statement = select(TeamMembership).where(valid_on(TeamMembership, day))
    if team_id is not None:
        statement = statement.where(TeamMembership.team_id == team_id)
    if person_id is not None:
        statement = statement.where(TeamMembership.person_id == person_id)
    return statement.order_by(TeamMembership.team_id, TeamMembership.person_id)


def team_members(session: Session, team_id: int, day: dt.date) -> list[int]:
    """Ids of the people in ``team_id`` on ``day``."""
    return [m.person_id for m in session.scalars(memberships_on(day, team_id=team_id))]


def teams_of(session: Session, person_id: int, day: dt.date) -> list[TeamMembership]:
    """The memberships ``person_id`` holds on ``day`` (several when work is shared)."""
    return list(session.scalars(memberships_on(day, person_id=person_id)))


def memberships_during(
    session: Session, start: dt.date, end: dt.date, *, team_id: int | None = None
) -> list[TeamMembership]:
    """Memberships in force on any day of ``[start, end)`` — a period's participants,
    including those who joined or left during it (see :func:`overlap_days`)."""
    statement = select(TeamMembership).where(overlapping(TeamMembership, start, end))
    if team_id is not None:
        statement = statement.where(TeamMembership.team_id == team_id)
    return list(session.scalars(statement.order_by(TeamMembership.person_id, TeamMembership.valid_from)))


def move_to_team(session: Session, person_id: int, team_id: int, day: dt.date, *, share: float = 1.0) -> TeamMembership:
    """From ``day`` on, ``person_id`` is in ``team_id`` only: memberships open on ``day``
    end there (one that would start that very day is replaced), a new one begins."""
    for membership in session.scalars(memberships_on(day, person_id=person_id)):
        if membership.valid_from == day:
            session.delete(membership)
        else:
            membership.valid_to = day
    membership = TeamMembership(person_id=person_id, team_id=team_id, valid_from=day, share=share)
    session.add(membership)
    session.flush()
    return membership


# -- person facts ----------------------------------------------------------------------


def fact_value(fact: PersonFact) -> FactValue:
    """The typed value of a fact row: text, a person id, hours, or :class:`Money`."""
    if fact.kind == "compensation":
        return Money(int(fact.value_int or 0), fact.currency or "")
    return getattr(fact, FACT_COLUMN[fact.kind])


def _check_kind(kind: str) -> None:
    if kind not in PERSON_FACT_KINDS:
        raise ValueError(f"unknown fact kind {kind!r}; one of {', '.join(PERSON_FACT_KINDS)}")


def facts_on(session: Session, person_id: int, day: dt.date) -> dict[str, FactValue]:
    """Every fact about ``person_id`` in force on ``day``, by kind (one indexed query)."""
    rows = session.scalars(select(PersonFact).where(PersonFact.person_id == person_id, valid_on(PersonFact, day)))
    return {fact.kind: fact_value(fact) for fact in rows}


def fact_on(session: Session, person_id: int, kind: str, day: dt.date) -> FactValue | None:
    """One fact (``"role"``, ``"compensation"`` …) of ``person_id`` on ``day``, or None."""
    _check_kind(kind)
    fact = session.scalars(
        select(PersonFact).where(PersonFact.person_id == person_id, PersonFact.kind == kind, valid_on(PersonFact, day))
    ).first()
    return None if fact is None else fact_value(fact)


def people_with_fact_statement(kind: str, values: Iterable[Any], day: dt.date) -> Select[tuple[int]]:
    """``SELECT person_id`` of people whose ``kind`` is one of ``values`` on ``day``
    (plan participants such as ``role: [Engineer L1, Engineer L2]``)."""
    _check_kind(kind)
    column = getattr(PersonFact, FACT_COLUMN[kind])
    return (
        select(PersonFact.person_id)
        .where(PersonFact.kind == kind, column.in_(list(values)), valid_on(PersonFact, day))
        .distinct()
    )


def people_with_fact(session: Session, kind: str, values: Iterable[Any], day: dt.date) -> list[int]:
    """Ids of the people whose ``kind`` is one of ``values`` on ``day``, sorted."""
    return sorted(session.scalars(people_with_fact_statement(kind, values, day)))


def set_fact(
    session: Session,
    person_id: int,
    kind: str,
    value: FactValue,
    valid_from: dt.date,
) -> PersonFact:
    """Record that from ``valid_from`` on ``kind`` is ``value``, keeping the history.

    The fact in force that day is cut there (or changed in place when it starts that
    very day); a later, already recorded change still takes over at its own date.
    """
    _check_kind(kind)
    current = session.scalars(
        select(PersonFact).where(
            PersonFact.person_id == person_id, PersonFact.kind == kind, valid_on(PersonFact, valid_from)
        )
    ).first()
    if current is not None and current.valid_from == valid_from:
        _assign(current, value)
        session.flush()
        return current
    if current is not None:
        valid_to, current.valid_to = current.valid_to, valid_from
    else:
        valid_to = session.scalars(
            select(PersonFact.valid_from)
            .where(PersonFact.person_id == person_id, PersonFact.kind == kind, PersonFact.valid_from > valid_from)
            .order_by(PersonFact.valid_from)
        ).first()
    fact = PersonFact(person_id=person_id, kind=kind, valid_from=valid_from, valid_to=valid_to)
    _assign(fact, value)
    session.add(fact)
    session.flush()
    return fact


def _assign(fact: PersonFact, value: FactValue) -> None:
    fact.value_text = fact.value_int = fact.value_num = fact.currency = None
    if isinstance(value, Money):
        fact.value_int, fact.currency = value.minor, value.currency
    else:
        setattr(fact, FACT_COLUMN[fact.kind], value)


# -- client responsibility -------------------------------------------------------------


def responsibilities_on(
    day: dt.date,
    *,
    client_id: int | None = None,
    person_id: int | None = None,
    team_id: int | None = None,
) -> Select[tuple[ClientResponsibility]]:
    """Responsibilities in force on ``day``: a client's owners, or a person's or team's
    clients (each row carries its ``share`` when ownership is split)."""
    statement = select(ClientResponsibility).where(valid_on(ClientResponsibility, day))
    if client_id is not None:
        statement = statement.where(ClientResponsibility.client_id == client_id)
    if person_id is not None:
        statement = statement.where(ClientResponsibility.person_id == person_id)
    if team_id is not None:
        statement = statement.where(ClientResponsibility.team_id == team_id)
    return statement.order_by(ClientResponsibility.client_id, ClientResponsibility.id)


def client_shares(
    session: Session, day: dt.date, *, person_id: int | None = None, team_id: int | None = None
) -> dict[int, float]:
    """Client id → share the person (or team) answers for on ``day``."""
    if (person_id is None) == (team_id is None):
        raise ValueError("give exactly one of person_id or team_id")
    rows = session.scalars(responsibilities_on(day, person_id=person_id, team_id=team_id))
    shares: dict[int, float] = {}
    for row in rows:
        shares[row.client_id] = shares.get(row.client_id, 0.0) + row.share
    return shares
