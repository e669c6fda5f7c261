"""Periods: every plan's pay periods with their status; approve (managers and admins),
close (admins), the payroll CSV of a closed period, and each person's statement.

The work is :mod:`podium.payouts.close` (approve, close), :mod:`podium.payouts.export`
(payroll CSV) and :mod:`podium.payouts.statements`, through the API's helpers for
addressing a period and deciding who may see whom, so the rules (settling days, closed
periods immutable, a manager sees only their teams) are the API's own.
"""

from __future__ import annotations

from typing import Any

from flask import Response, redirect, url_for
from podium.api.payouts import guarded, period_view, plan_period, stored_period, visible_people
from podium.api.people import require_visible
from podium.api.plans import engine
from podium.auth import current_user, tenant_session
from podium.models import PayoutPeriod, PayoutSnapshot, Plan
from podium.payouts import close, export, statements
from podium.payouts.engine import PayoutError
from podium.payouts.periods import PayPeriod
from podium.web.admin.guard import STAFF, admin_page, bp, page
from sqlalchemy import select


def _plan_periods(plan: Plan) -> list[dict[str, Any]]:
    """The plan's stored periods, newest first, and the current one if nothing is stored for it yet."""
    session = tenant_session()
    rows = session.scalars(select(PayoutPeriod).where(PayoutPeriod.plan_id == plan.id)
                           .order_by(PayoutPeriod.starts_on.desc()))
    periods = [PayPeriod(r.starts_on, r.ends_on, r.kind, r.label) for r in rows]
    try:
        current = engine().pay_period(session, plan, None)
    except PayoutError:
        current = None
    if current is not None and all(p.start != current.start for p in periods):
        periods.insert(0, current)
    return [period_view(plan, period) for period in periods]


@bp.get("/periods")
@admin_page(*STAFF)
def periods() -> Any:
    plans = tenant_session().scalars(select(Plan).order_by(Plan.key))
    return page("admin/periods.html", plans=[(plan, _plan_periods(plan)) for plan in plans])


def _people_totals(plan: Plan, period: PayPeriod) -> tuple[str, list[dict[str, Any]], list[str]]:
    """(currency, [{person_id, name, total_minor}], errors): the snapshot's once closed, else live."""
    row = stored_period(plan, period)
    if row is not None and row.status == "closed":
        content = tenant_session().scalars(select(PayoutSnapshot).where(PayoutSnapshot.period_id == row.id)).one().content
        currency, errors = content["currency"], []
        people = [(p["person_id"], p["name"]) for p in content["participants"]]
        totals = {int(k): v for k, v in content["totals"].items()}
    else:
        evaluation = guarded(lambda: engine().evaluate(tenant_session(), plan, period))
        currency, errors = evaluation.plan.currency, evaluation.errors
        people = [(p.person_id, p.name) for p in evaluation.participants]
        totals = evaluation.totals()
    allowed = visible_people([person_id for person_id, _ in people])
    return currency, [{"person_id": pid, "name": name, "total_minor": totals.get(pid, 0)}
                      for pid, name in people if pid in allowed], errors


@bp.get("/periods/<plan_key>/<label>")
@admin_page(*STAFF)
def period(plan_key: str, label: str) -> Any:
    plan, found = plan_period(plan_key, label)
    currency, people, errors = _people_totals(plan, found)
    return page("admin/period.html", plan=plan, period=period_view(plan, found), currency=currency, people=people,
                errors=errors, role=current_user().role)


@bp.post("/periods/<plan_key>/<label>/approve")
@admin_page("manager", "admin")
def approve(plan_key: str, label: str) -> Any:
    """Approve a finished period after the plan's settling days."""
    plan, found = plan_period(plan_key, label)
    guarded(lambda: close.approve(tenant_session(), engine(), plan, found, current_user()))
    return redirect(url_for("admin.period", plan_key=plan.key, label=found.label))


@bp.post("/periods/<plan_key>/<label>/close")
@admin_page("admin")
def close_period(plan_key: str, label: str) -> Any:
    """Close an approved period: freeze it and write its immutable snapshot."""
    plan, found = plan_period(plan_key, label)
    guarded(lambda: close.close(tenant_session(), engine(), plan, found, current_user()))
    return redirect(url_for("admin.period", plan_key=plan.key, label=found.label))


@bp.get("/periods/<plan_key>/<label>/payroll.csv")
@admin_page("admin", "auditor")
def payroll(plan_key: str, label: str) -> Response:
    """The payroll CSV of a closed period (409 while it is open)."""
    plan, found = plan_period(plan_key, label)
    body = guarded(lambda: export.payroll_csv(tenant_session(), plan, found))
    name = f"payroll-{plan.key}-{found.label}.csv"
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/periods/<plan_key>/<label>/statements/<int:person_id>")
@admin_page(*STAFF)
def statement(plan_key: str, label: str, person_id: int) -> Response:
    """One person's statement (every line's math, with links to the records)."""
    require_visible(person_id)
    plan, found = plan_period(plan_key, label)
    built = guarded(lambda: statements.build(tenant_session(), engine(), plan, found, person_id))
    return Response(statements.render_html(built), mimetype="text/html")
