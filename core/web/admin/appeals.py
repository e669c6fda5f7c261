"""Appeals: the disputes of the people the viewer may see, newest first, and a form to
decide an open one (accept or partly accept — paid as an adjustment — or reject, always
with a note). The decision is :func:`podium.payouts.appeals.decide`, with the API's
rules: managers and admins decide, only for people they may see, never their own appeal.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from flask_smorest import abort
from marshmallow import ValidationError
from podium.api import get_or_404, tenant_today
from podium.api.payouts import DecisionSchema, guarded
from podium.api.people import require_visible, visible
from podium.api.plans import engine
from podium.auth import current_user, tenant_session
from podium.models import Appeal, PayoutPeriod, Person, Plan
from podium.payouts import appeals as appeal_service
from podium.web.admin.guard import STAFF, admin_page, bp, errors_of, page
from sqlalchemy import select

SHOWN = 200


@bp.get("/appeals")
@admin_page(*STAFF)
def appeals() -> Any:
    session = tenant_session()
    rows = list(session.scalars(select(Appeal).where(visible(Appeal.person_id, current_user(), tenant_today()))
                                .order_by(Appeal.opened_at.desc(), Appeal.id.desc()).limit(SHOWN)))
    names = dict(session.execute(select(Person.id, Person.display_name)
                                 .where(Person.id.in_({a.person_id for a in rows}))).all())
    periods = {row.id: row for row in session.scalars(select(PayoutPeriod)
                                                      .where(PayoutPeriod.id.in_({a.period_id for a in rows})))}
    plans = dict(session.execute(select(Plan.id, Plan.key)).all())
    return page("admin/appeals.html", appeals=rows, names=names, periods=periods, plans=plans,
                overdue=appeal_service.overdue, decisions=list(appeal_service.DECISIONS),
                can_decide=current_user().role in ("admin", "manager"))


@bp.post("/appeals/<int:appeal_id>/decision")
@admin_page("manager", "admin")
def decide(appeal_id: int) -> Any:
    """Decide an open appeal; an accepted amount is paid as an adjustment in an open period."""
    appeal = get_or_404(Appeal, appeal_id)
    require_visible(appeal.person_id)
    user = current_user()
    if user.person_id is not None and appeal.person_id == user.person_id:
        abort(403, message="Nobody decides their own appeal.")
    sent = {key: value for key, value in request.form.items() if key in ("decision", "note", "amount_minor") and value}
    try:
        data = DecisionSchema().load(sent)
    except ValidationError as exc:
        abort(422, message="The decision is incomplete.", errors=errors_of(exc.messages))
    row = tenant_session().get(PayoutPeriod, appeal.period_id)
    plan = tenant_session().get(Plan, row.plan_id)
    guarded(lambda: appeal_service.decide(tenant_session(), engine(), plan, appeal, data["decision"], data["note"],
                                          user, amount_minor=data.get("amount_minor")))
    return redirect(url_for("admin.appeals"))
