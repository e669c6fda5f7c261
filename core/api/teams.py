"""``/api/v1/teams``: Podium's teams and their effective-dated memberships.

Admins and auditors see every team; managers and technicians see the teams their person
currently belongs to. A team's member list shows only the members the caller may see
(:func:`podium.api.people.visible`), so a technician sees their own membership and no
peer's. Only admins create or change teams and memberships.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import abort
from sqlalchemy import ColumnElement, Select, or_, select, true

from podium.api import ApiView, Blueprint, SelectPage, dump, get_or_404, tenant_today
from podium.api.people import my_teams, visible
from podium.audit import record
from podium.auth import current_user, require_role, tenant_session
from podium.models import Person, Team, TeamMembership
from podium.schemas.api import MembershipQuerySchema, MembershipSchema, TeamSchema

blp = Blueprint("teams", __name__, url_prefix="/api/v1", description="Teams and who is in them when.")


def _visible_team() -> ColumnElement[bool]:
    user = current_user()
    if user.role in ("admin", "auditor"):
        return true()
    return Team.id.in_(my_teams(user, tenant_today()))


def _visible_team_or_403(team_id: int) -> Team:
    team = get_or_404(Team, team_id)
    if tenant_session().scalar(select(Team.id).where(Team.id == team.id, _visible_team())) is None:
        abort(403, message=f"You may not see team {team_id}.")
    return team


def _unique_name(name: str, team_id: int | None = None) -> None:
    clash = select(Team.id).where(Team.name == name)
    if team_id is not None:
        clash = clash.where(Team.id != team_id)
    if tenant_session().scalar(clash) is not None:
        abort(409, message="Team names are unique.", errors={"name": [f"A team named {name!r} already exists."]})


@blp.route("/teams")
class Teams(ApiView):
    @blp.response(200, TeamSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self) -> Select[tuple[Team]]:
        """List the teams the caller may see, by name."""
        return select(Team).where(_visible_team()).order_by(Team.name, Team.id)

    @require_role("admin")
    @blp.arguments(TeamSchema)
    @blp.response(201, TeamSchema)
    def post(self, data: dict[str, Any]) -> Team:
        """Add a team."""
        _unique_name(data["name"])
        team = Team(**data)
        session = tenant_session()
        session.add(team)
        session.flush()
        record(session, current_user(), "team.create", team, after=dump(TeamSchema, team))
        return team


@blp.route("/teams/<int:team_id>")
class TeamItem(ApiView):
    @blp.response(200, TeamSchema)
    def get(self, team_id: int) -> Team:
        """One team."""
        return _visible_team_or_403(team_id)

    @require_role("admin")
    @blp.arguments(TeamSchema(partial=True))
    @blp.response(200, TeamSchema)
    def patch(self, changes: dict[str, Any], team_id: int) -> Team:
        """Rename a team or change its description."""
        team = get_or_404(Team, team_id)
        if "name" in changes:
            _unique_name(changes["name"], team.id)
        before = dump(TeamSchema, team)
        for name, value in changes.items():
            setattr(team, name, value)
        record(tenant_session(), current_user(), "team.update", team, before, dump(TeamSchema, team))
        return team


@blp.route("/teams/<int:team_id>/members")
class Members(ApiView):
    @blp.arguments(MembershipQuerySchema, location="query")
    @blp.response(200, MembershipSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, query: dict[str, Any], team_id: int) -> Select[tuple[TeamMembership]]:
        """Memberships of the team (only those of people the caller may see)."""
        team = _visible_team_or_403(team_id)
        statement = select(TeamMembership).where(
            TeamMembership.team_id == team.id,
            visible(TeamMembership.person_id, current_user(), tenant_today()),
        )
        if "on" in query:
            day = query["on"]
            statement = statement.where(
                TeamMembership.valid_from <= day,
                or_(TeamMembership.valid_to.is_(None), TeamMembership.valid_to > day),
            )
        return statement.order_by(TeamMembership.valid_from, TeamMembership.id)

    @require_role("admin")
    @blp.arguments(MembershipSchema)
    @blp.response(201, MembershipSchema)
    def post(self, data: dict[str, Any], team_id: int) -> TeamMembership:
        """Add a person to the team from ``valid_from`` (default today) to ``valid_to``."""
        team = get_or_404(Team, team_id)
        session = tenant_session()
        if session.scalar(select(Person.id).where(Person.id == data["person_id"])) is None:
            abort(422, message="Unknown person.", errors={"person_id": [f"No person with id {data['person_id']}."]})
        start = data["valid_from"] or tenant_today()
        end = data.get("valid_to")
        if end is not None and end <= start:
            abort(422, message="Invalid membership dates.", errors={"valid_to": ["Must be after valid_from."]})
        overlap = select(TeamMembership.id).where(
            TeamMembership.team_id == team.id,
            TeamMembership.person_id == data["person_id"],
            or_(TeamMembership.valid_to.is_(None), TeamMembership.valid_to > start),
            true() if end is None else TeamMembership.valid_from < end,
        )
        if session.scalar(overlap) is not None:
            abort(409, message="The person is already a member of this team for part of that time.")
        membership = TeamMembership(
            team_id=team.id, person_id=data["person_id"], valid_from=start, valid_to=end, share=data["share"]
        )
        session.add(membership)
        session.flush()
        record(session, current_user(), "team.member_add", team, after=dump(MembershipSchema, membership))
        return membership
