"""Plans: upload a plan file, validate it (each problem with its file, line and field),
apply it, preview a period's payouts and ask what-if.

Validation is the payout engine's own (:meth:`podium.payouts.engine.PayoutEngine.load`,
what ``POST /api/v1/plans/validate`` runs); applying is :func:`podium.payouts.versions.apply_plan`;
the preview and the what-if are :meth:`~podium.payouts.engine.PayoutEngine.preview` and
:meth:`~podium.payouts.engine.PayoutEngine.what_if` for the people the viewer may see,
so the page shows the API's figures. A what-if saves nothing, so it is a GET form and an
auditor may ask one too.

Who: admins, managers and auditors read plans and previews; admins and managers
validate; only admins apply.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import redirect, request, url_for
from flask_smorest import abort
from podium import jobs
from podium.api import commit_so_far
from podium.api.payouts import guarded, plan_period, visible_people
from podium.api.plans import describe, engine, payout_error, plan_or_404
from podium.auth import current_podium, current_user, tenant_session
from podium.models import Plan
from podium.payouts.engine import PayoutError
from podium.payouts.plan import PlanDefinition, PlanError
from podium.payouts.versions import apply_plan
from podium.web.admin.guard import STAFF, admin_page, bp, page
from sqlalchemy import select

MAX_PLAN_BYTES = 200_000
"""The API's limit on a plan file's size."""


@bp.get("/plans")
@admin_page(*STAFF)
def plans() -> Any:
    rows = tenant_session().scalars(select(Plan).order_by(Plan.key))
    return page("admin/plans.html", plans=[describe(plan) for plan in rows])


def _uploaded_plan() -> tuple[str, str]:
    """The plan file's text and name, from the file input or (after a validation) the form."""
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        raw = upload.read(MAX_PLAN_BYTES + 1)
        name = upload.filename
    else:
        raw = request.form.get("source", "").encode()
        name = request.form.get("name") or "plan.yaml"
    if not raw.strip():
        abort(422, message="Choose a plan file (YAML) to upload.", errors={"file": ["Required."]})
    if len(raw) > MAX_PLAN_BYTES:
        abort(422, message=f"A plan file has at most {MAX_PLAN_BYTES} bytes.", errors={"file": ["Too large."]})
    try:
        return raw.decode("utf-8-sig"), name
    except UnicodeDecodeError:
        abort(422, message="The plan file is not UTF-8 text.", errors={"file": ["Not UTF-8 text."]})
        raise AssertionError("abort raises") from None


@bp.post("/plans/upload")
@admin_page("admin", "manager")
def upload_plan() -> Any:
    """Validate an uploaded plan file; with ``apply`` (admins) store it as the plan's next version."""
    source, name = _uploaded_plan()
    try:
        definition = engine().load(source, name)
    except PlanError as exc:
        return page("admin/plan_upload.html", 422, source=source, name=name, problems=exc.problems, definition=None)
    if request.form.get("action") != "apply":
        return page("admin/plan_upload.html", source=source, name=name, problems=[], definition=definition)
    if current_user().role != "admin":
        abort(403, message="Only admins apply plan files.")
    return _apply(definition, name)


def _apply(definition: PlanDefinition, name: str) -> Any:
    raw_date = request.form.get("effective_from") or ""
    try:
        effective_from = dt.date.fromisoformat(raw_date) if raw_date else None
    except ValueError:
        abort(422, message="The first day must be a date (YYYY-MM-DD).",
              errors={"effective_from": [f"{raw_date!r} is not a date."]})
    user = current_user()
    try:
        version, created = apply_plan(tenant_session(), engine(), user.tenant_id, definition, user,
                                      source_name=name, effective_from=effective_from)
    except PayoutError as exc:
        payout_error(exc, 409)
    if created:
        commit_so_far()
        jobs.enqueue(current_podium(), "track_plan_metrics", tenant_id=user.tenant_id, plan_version_id=version.id)
    return redirect(url_for("admin.preview", key=definition.key, applied=version.version))


def _what_if(plan: Plan, period: Any) -> dict[str, Any] | None:
    """The what-if the form asks for (one metric set to one value), or None."""
    metric = (request.args.get("metric") or "").strip()
    if not metric:
        return None
    raw = request.args.get("value", "")
    try:
        value = float(raw)
    except ValueError:
        abort(422, message="The what-if value must be a number.", errors={"value": [f"{raw!r} is not a number."]})
    before, after, changes = guarded(lambda: engine().what_if(tenant_session(), plan, period,
                                                              metric_values={metric: value}))
    allowed = visible_people(sorted({c.person_id for c in changes}))
    names = {p.person_id: p.name for p in before.participants}
    return {"metric": metric, "value": value, "currency": before.plan.currency,
            "changes": [c for c in changes if c.person_id in allowed], "names": names}


@bp.get("/plans/<key>/preview", endpoint="preview")
@admin_page(*STAFF)
def preview_page(key: str) -> Any:
    """Earned so far, still on the table and projected, per person; and the what-if form."""
    label = request.args.get("period") or ""
    if label:
        plan, period = plan_period(key, label)
    else:
        plan = plan_or_404(key)
        period = guarded(lambda: engine().pay_period(tenant_session(), plan, None))
    evaluation, people = guarded(lambda: engine().preview(tenant_session(), plan, period))
    allowed = visible_people([p.person_id for p in people])
    metrics = sorted(m.key for m in current_podium().plugins.metrics)
    return page("admin/preview.html", plan=describe(plan), period=period, evaluation=evaluation,
                currency=evaluation.plan.currency, people=[p for p in people if p.person_id in allowed],
                what_if=_what_if(plan, period), metrics=metrics, applied=request.args.get("applied", type=int))
