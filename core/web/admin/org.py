"""Org data: people, teams and roles as they stand today, CSV import and export of every
kind (:mod:`podium.org.csvio`, the same all-or-nothing import the CLI and API use, its
line and column errors listed on the page), and the unlinked vendor identities with a
form to link one to a person (:func:`podium.org.identities.link`, audited).

Org data carries compensation and e-mails: admins and auditors read it, admins change it.
"""

from __future__ import annotations

import io
from collections import defaultdict
from typing import Any

from flask import Response, redirect, request, url_for
from flask_smorest import abort
from podium.api import get_or_404, tenant_today
from podium.auth import current_user, tenant_session
from podium.models import Connection, Identity, Person, PersonFact, Team, TeamMembership
from podium.org import csvio, identities
from podium.org.effective import valid_on
from podium.web.admin.guard import admin_page, bp, page
from sqlalchemy import select

ROLE_FACTS = ("role", "level")
"""The facts the people table shows as a person's role."""


def _org_tables() -> dict[str, Any]:
    """People with today's role, level and teams; teams with today's members."""
    session, today = tenant_session(), tenant_today()
    people = list(session.scalars(select(Person).order_by(Person.display_name, Person.id)))
    teams = list(session.scalars(select(Team).order_by(Team.name, Team.id)))
    facts: dict[int, dict[str, str]] = defaultdict(dict)
    for fact in session.scalars(select(PersonFact).where(PersonFact.kind.in_(ROLE_FACTS), valid_on(PersonFact, today))):
        facts[fact.person_id][fact.kind] = fact.value_text or ""
    team_names = {team.id: team.name for team in teams}
    teams_of: dict[int, list[str]] = defaultdict(list)
    members: dict[int, list[str]] = defaultdict(list)
    names = {person.id: person.display_name for person in people}
    for membership in session.scalars(select(TeamMembership).where(valid_on(TeamMembership, today))):
        teams_of[membership.person_id].append(team_names.get(membership.team_id, "?"))
        members[membership.team_id].append(names.get(membership.person_id, "?"))
    return {"people": people, "teams": teams, "facts": facts, "teams_of": teams_of, "members": members,
            "today": today}


@bp.get("/org")
@admin_page("admin", "auditor")
def org() -> Any:
    return page("admin/org.html", kinds=list(csvio.KINDS), **_org_tables())


def _kind_or_404(kind: str) -> str:
    if kind not in csvio.KINDS:
        abort(404, message=f"There is no org data kind {kind!r}; the kinds are {', '.join(csvio.KINDS)}.")
    return kind


@bp.get("/org/csv/<kind>")
@admin_page("admin", "auditor")
def export_org(kind: str) -> Response:
    """One kind of org data as CSV, in the shape the import takes back."""
    buffer = io.StringIO()
    csvio.export_csv(tenant_session(), _kind_or_404(kind), buffer, suggested=request.args.get("suggested") == "1")
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'})


@bp.post("/org/csv")
@admin_page("admin")
def import_org() -> Any:
    """Import one CSV file; nothing is stored unless every row is good."""
    kind = _kind_or_404(request.form.get("kind", ""))
    upload = request.files.get("file")
    raw = upload.read() if upload is not None else b""
    problems: list[csvio.RowError] = []
    result = None
    if not raw:
        problems = [csvio.RowError(1, None, "Choose a CSV file to import.")]
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            problems = [csvio.RowError(1, None, "The file is not UTF-8 text.")]
        else:
            try:
                result = csvio.import_csv(tenant_session(), kind, text, actor=current_user(),
                                          source=upload.filename if upload else None)
            except csvio.CsvImportError as exc:
                problems = exc.errors
    status = 422 if problems else 200
    return page("admin/org.html", status, kinds=list(csvio.KINDS), imported=result, import_kind=kind,
                import_errors=problems, **_org_tables())


@bp.get("/identities", endpoint="identities")
@admin_page("admin", "auditor")
def identities_page() -> Any:
    """Unlinked person accounts (never attributed or paid until linked) and the people to link them to."""
    session = tenant_session()
    connections = {c.id: c.name for c in session.scalars(select(Connection))}
    people = list(session.scalars(select(Person).where(Person.active.is_(True)).order_by(Person.display_name)))
    linked = session.scalar(select(Identity.id).where(Identity.person_id.is_not(None)).limit(1)) is not None
    return page("admin/identities.html", unlinked=identities.unlinked(session), people=people,
                connections=connections, any_linked=linked, linked_now=request.args.get("linked", type=int))


@bp.post("/identities/<int:identity_id>/link")
@admin_page("admin")
def link_identity(identity_id: int) -> Any:
    """Confirm by hand which person a vendor account is (audited)."""
    get_or_404(Identity, identity_id)
    person_id = request.form.get("person_id", type=int)
    if person_id is None:
        abort(422, message="Choose the person this account belongs to.", errors={"person_id": ["Required."]})
    get_or_404(Person, person_id)
    try:
        identities.link(tenant_session(), identity_id, person_id, current_user(), request.form.get("reason") or None)
    except identities.IdentityError as exc:
        abort(422, message=str(exc), errors={"person_id": [str(exc)]})
    return redirect(url_for("admin.identities", linked=identity_id))
