"""``/api/v1/people``: the people whose work Podium measures, and who may see whom.

Visibility (design §7), decided in SQL so lists, counts and single reads agree:

* ``admin`` and ``auditor`` see everyone in their tenant;
* ``technician`` sees only their own person (the one their user is linked to); asking
  for anyone else's id in the tenant is a 403;
* ``manager`` sees their own person, everyone with a *current* membership of a team
  they currently belong to, and everyone whose current ``manager`` fact
  (``PersonFact(kind="manager")``) names them. "Current" means valid today in the
  tenant's time zone. A manager or technician whose user is linked to no person sees
  no one.

Only admins create or change people.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_smorest import abort
from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true

from podium.api import ApiView, Blueprint, SelectPage, dump, get_or_404, tenant_today
from podium.audit import record
from podium.auth import current_user, require_role, tenant_session
from podium.models import Person, PersonFact, TeamMembership, User
from podium.schemas.api import PersonQuerySchema, PersonSchema

blp = Blueprint("people", __name__, url_prefix="/api/v1", description="People, scoped to what the caller may see.")


def _current(model: type[TeamMembership] | type[PersonFact], today: dt.date) -> ColumnElement[bool]:
    return and_(model.valid_from <= today, or_(model.valid_to.is_(None), model.valid_to > today))


def my_teams(user: User, today: dt.date) -> Select[tuple[int]]:
    """Ids of the teams the user's person currently belongs to."""
    return select(TeamMembership.team_id).where(
        TeamMembership.person_id == user.person_id, _current(TeamMembership, today)
    )


def visible(person_id: ColumnElement[int] | Any, user: User, today: dt.date) -> ColumnElement[bool]:
    """A condition on a person-id column: true for the people ``user`` may see."""
    if user.role in ("admin", "auditor"):
        return true()
    if user.person_id is None:
        return false()
    if user.role == "technician":
        return person_id == user.person_id
    team_members = select(TeamMembership.person_id).where(
        TeamMembership.team_id.in_(my_teams(user, today)), _current(TeamMembership, today)
    )
    reports = select(PersonFact.person_id).where(
        PersonFact.kind == "manager", PersonFact.value_int == user.person_id, _current(PersonFact, today)
    )
    return or_(person_id == user.person_id, person_id.in_(team_members), person_id.in_(reports))


def require_visible(person_id: int) -> None:
    """403 unless the caller may see this (existing, same-tenant) person."""
    user = current_user()
    seen = tenant_session().scalar(
        select(Person.id).where(Person.id == person_id, visible(Person.id, user, tenant_today()))
    )
    if seen is None:
        abort(403, message=f"You may not see person {person_id}.")


def check_employment(start: dt.date | None, end: dt.date | None) -> None:
    """Checked on the merged record, so a PATCH of one date is checked against the other."""
    if start and end and end < start:
        abort(422, message="Invalid employment dates.", errors={"employed_to": ["Must not be before employed_from."]})


@blp.route("/people")
class People(ApiView):
    @blp.arguments(PersonQuerySchema, location="query")
    @blp.response(200, PersonSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, query: dict[str, Any]) -> Select[tuple[Person]]:
        """List the people the caller may see, by name."""
        statement = select(Person).where(visible(Person.id, current_user(), tenant_today()))
        if "active" in query:
            statement = statement.where(Person.active.is_(query["active"]))
        return statement.order_by(Person.display_name, Person.id)

    @require_role("admin")
    @blp.arguments(PersonSchema)
    @blp.response(201, PersonSchema)
    def post(self, data: dict[str, Any]) -> Person:
        """Add a person."""
        check_employment(data.get("employed_from"), data.get("employed_to"))
        person = Person(**data)
        session = tenant_session()
        session.add(person)
        session.flush()
        record(session, current_user(), "person.create", person, after=dump(PersonSchema, person))
        return person


@blp.route("/people/<int:person_id>")
class PersonItem(ApiView):
    @blp.response(200, PersonSchema)
    def get(self, person_id: int) -> Person:
        """One person (technicians: only themselves)."""
        person = get_or_404(Person, person_id)
        require_visible(person.id)
        return person

    @require_role("admin")
    @blp.arguments(PersonSchema(partial=True))
    @blp.response(200, PersonSchema)
    def patch(self, changes: dict[str, Any], person_id: int) -> Person:
        """Change a person's fields."""
        person = get_or_404(Person, person_id)
        check_employment(
            changes.get("employed_from", person.employed_from), changes.get("employed_to", person.employed_to)
        )
        before = dump(PersonSchema, person)
        for name, value in changes.items():
            setattr(person, name, value)
        record(tenant_session(), current_user(), "person.update", person, before, dump(PersonSchema, person))
        return person
