"""``/api/v1/periods``, ``/payouts``, ``/statements``, ``/appeals``, ``/audit``.

Who may do what (design §7):

* **technician** — their own lines, preview, what-if, statements and appeals only; a
  peer's id is a 403;
* **manager** — the people they may see (:func:`podium.api.people.visible`); approves
  periods, adds adjustments, decides appeals;
* **admin** — everything in the tenant, and closes periods;
* **auditor** — reads everything, including the audit trail; writes nothing (the token
  guard refuses every non-read request).

Periods are addressed by plan key and label (``/periods/engineer-quarterly/FY2025-Q1``).
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import abort
from marshmallow import Schema, fields, validate
from podium.api import ApiView, Blueprint, SelectPage, get_or_404, tenant_today
from podium.api.people import require_visible, visible
from podium.api.plans import engine, payout_error, plan_or_404
from podium.auth import current_user, require_role, tenant_session
from podium.models import Appeal, AuditEvent, PayoutPeriod, PayoutSnapshot, Person, Plan
from podium.payouts import appeals, close, statements
from podium.payouts.engine import PayoutError
from podium.payouts.periods import PayPeriod, PeriodError
from podium.payouts.plan import PlanError
from sqlalchemy import Select, select

blp = Blueprint("payouts", __name__, url_prefix="/api/v1",
                description="Pay periods, payout lines, previews, statements, appeals and the audit trail.")


# -- schemas ----------------------------------------------------------------------------------------


class PeriodSchema(Schema):
    plan = fields.String()
    label = fields.String()
    kind = fields.String()
    start = fields.Date()
    end = fields.Date(metadata={"description": "Exclusive."})
    status = fields.String(metadata={"description": "open, approved or closed."})
    approved_by = fields.String(allow_none=True)
    closed_by = fields.String(allow_none=True)
    approvable_from = fields.Date(metadata={"description": "Period end plus the plan's settling days."})


class LineSchema(Schema):
    seq = fields.Integer()
    person_id = fields.Integer()
    rule = fields.String()
    kind = fields.String()
    amount_minor = fields.Integer()
    currency = fields.String()
    explanation = fields.String()
    inputs = fields.Dict()
    readings = fields.List(fields.String())
    potential_minor = fields.Integer(allow_none=True)
    hint = fields.String(allow_none=True)


class LinesSchema(Schema):
    period = fields.String()
    status = fields.String()
    currency = fields.String()
    lines = fields.List(fields.Nested(LineSchema))
    totals = fields.Dict(keys=fields.String(), values=fields.Integer())
    errors = fields.List(fields.String())


class PersonPreviewSchema(Schema):
    person_id = fields.Integer()
    name = fields.String()
    earned_minor = fields.Integer()
    on_the_table_minor = fields.Integer()
    projected_minor = fields.Integer()
    hints = fields.List(fields.String())
    lines = fields.List(fields.Nested(LineSchema))


class PreviewSchema(Schema):
    period = fields.String()
    as_of = fields.Date()
    currency = fields.String()
    people = fields.List(fields.Nested(PersonPreviewSchema))
    errors = fields.List(fields.String())


class WhatIfInputSchema(Schema):
    metric_values = fields.Dict(keys=fields.String(), values=fields.Float(), load_default=dict, metadata={
        "description": "METRIC (every subject) or METRIC@grain:subject → the value to pretend."})
    plan_changes = fields.Dict(keys=fields.String(), values=fields.Raw(), load_default=dict, metadata={
        "description": "Plan file field (e.g. rules[0].rate) → the value to pretend."})


class ChangeSchema(Schema):
    person_id = fields.Integer()
    rule = fields.String()
    kind = fields.String()
    before_minor = fields.Integer()
    after_minor = fields.Integer()
    change_minor = fields.Integer()
    explanation = fields.String()


class WhatIfSchema(Schema):
    period = fields.String()
    changes = fields.List(fields.Nested(ChangeSchema))


class AdjustmentInputSchema(Schema):
    person_id = fields.Integer(required=True)
    amount_minor = fields.Integer(required=True, validate=validate.NoneOf((0,), error="An adjustment of 0 changes nothing."))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    link = fields.String(validate=validate.Length(max=500))


class AdjustmentSchema(Schema):
    id = fields.Integer()
    period = fields.String()
    person_id = fields.Integer()
    amount_minor = fields.Integer()
    currency = fields.String()
    reason = fields.String()
    link = fields.String(allow_none=True)
    author_label = fields.String()


class StatementQuerySchema(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "html", "csv")))


class AppealInputSchema(Schema):
    plan = fields.String(required=True)
    period = fields.String(required=True)
    rule = fields.String(required=True, metadata={"description": "The disputed line's rule name."})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    person_id = fields.Integer(metadata={"description": "Whose line (default: the caller's person)."})


class DecisionSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(tuple(appeals.DECISIONS)))
    note = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    amount_minor = fields.Integer(metadata={"description": "The correction paid, for accept and partly_accept."})


class AppealSchema(Schema):
    id = fields.Integer()
    period_id = fields.Integer()
    person_id = fields.Integer()
    rule = fields.String()
    reason = fields.String()
    status = fields.String()
    opened_by = fields.String()
    opened_at = fields.DateTime()
    due_at = fields.DateTime()
    overdue = fields.Method("_overdue")
    decided_at = fields.DateTime(allow_none=True)
    decided_by = fields.String(allow_none=True)
    decision_note = fields.String(allow_none=True)
    accepted_minor = fields.Integer(allow_none=True)
    adjustment_id = fields.Integer(allow_none=True)

    def _overdue(self, appeal: Appeal) -> bool:
        return appeals.overdue(appeal)


class AuditQuerySchema(Schema):
    action = fields.String()
    target_type = fields.String()


class AuditSchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor_label = fields.String()
    action = fields.String()
    target_type = fields.String()
    target_id = fields.String()
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)
    reason = fields.String(allow_none=True)


# -- helpers ----------------------------------------------------------------------------------------


def plan_period(key: str, label: str) -> tuple[Plan, PayPeriod]:
    plan = plan_or_404(key)
    try:
        return plan, engine().pay_period(tenant_session(), plan, label)
    except (PeriodError, PayoutError) as exc:
        abort(404, message=str(exc))
        raise AssertionError("abort raises") from None


def stored_period(plan: Plan, period: PayPeriod) -> PayoutPeriod | None:
    return tenant_session().scalars(select(PayoutPeriod).where(PayoutPeriod.plan_id == plan.id,
                                                               PayoutPeriod.starts_on == period.start)).one_or_none()


def period_view(plan: Plan, period: PayPeriod) -> dict[str, Any]:
    row = stored_period(plan, period)
    try:
        approvable = close.approvable_from(engine(), tenant_session(), plan, period)
    except PayoutError as exc:
        payout_error(exc, 404)
    return {"plan": plan.key, "label": period.label, "kind": period.kind, "start": period.start, "end": period.end,
            "status": row.status if row else "open", "approved_by": row.approved_by if row else None,
            "closed_by": row.closed_by if row else None, "approvable_from": approvable}


def visible_people(person_ids: list[int]) -> set[int]:
    if not person_ids:
        return set()
    return set(tenant_session().scalars(select(Person.id).where(
        Person.id.in_(person_ids), visible(Person.id, current_user(), tenant_today()))))


def own_person() -> int:
    person_id = current_user().person_id
    if person_id is None:
        abort(403, message="Your user is linked to no person.")
    return person_id


def guarded(work: Any) -> Any:
    try:
        return work()
    except PlanError as exc:
        abort(409, message=f"The plan in force is invalid: {exc}")
    except PayoutError as exc:
        payout_error(exc, 409)


# -- periods ----------------------------------------------------------------------------------------


@blp.route("/periods/<plan_key>")
class Periods(ApiView):
    @blp.response(200, PeriodSchema(many=True))
    def get(self, plan_key: str) -> list[dict[str, Any]]:
        """The plan's stored periods (open, approved, closed), newest first."""
        plan = plan_or_404(plan_key)
        rows = tenant_session().scalars(select(PayoutPeriod).where(PayoutPeriod.plan_id == plan.id)
                                        .order_by(PayoutPeriod.starts_on.desc()))
        return [period_view(plan, PayPeriod(r.starts_on, r.ends_on, r.kind, r.label)) for r in rows]


@blp.route("/periods/<plan_key>/<label>")
class PeriodItem(ApiView):
    @blp.response(200, PeriodSchema)
    def get(self, plan_key: str, label: str) -> dict[str, Any]:
        """One period's status and when it can be approved."""
        return period_view(*plan_period(plan_key, label))


@blp.route("/periods/<plan_key>/<label>/approve")
class ApprovePeriod(ApiView):
    @require_role("manager", "admin")
    @blp.response(200, PeriodSchema)
    def post(self, plan_key: str, label: str) -> dict[str, Any]:
        """Approve a finished period after the plan's settling days."""
        plan, period = plan_period(plan_key, label)
        guarded(lambda: close.approve(tenant_session(), engine(), plan, period, current_user()))
        return period_view(plan, period)


@blp.route("/periods/<plan_key>/<label>/close")
class ClosePeriod(ApiView):
    @require_role("admin")
    @blp.response(200, PeriodSchema)
    def post(self, plan_key: str, label: str) -> dict[str, Any]:
        """Close an approved period: freeze it and write its immutable snapshot."""
        plan, period = plan_period(plan_key, label)
        guarded(lambda: close.close(tenant_session(), engine(), plan, period, current_user()))
        return period_view(plan, period)


@blp.route("/periods/<plan_key>/<label>/restatement")
class Restatement(ApiView):
    @require_role("admin", "manager", "auditor")
    @blp.response(200)
    def get(self, plan_key: str, label: str) -> dict[str, Any]:
        """What later data would change in a closed period (nothing is changed)."""
        plan, period = plan_period(plan_key, label)
        report = guarded(lambda: close.restatement(tenant_session(), engine(), plan, period))
        allowed = visible_people([c.person_id for c in report.changes] + [int(k) for k in report.totals_then])
        data = report.as_dict()
        data["changes"] = [c for c in data["changes"] if c["person_id"] in allowed]
        for key in ("totals_then", "totals_now"):
            data[key] = {k: v for k, v in data[key].items() if int(k) in allowed}
        return data


@blp.route("/periods/<plan_key>/<label>/adjustments")
class Adjustments(ApiView):
    @require_role("manager", "admin")
    @blp.arguments(AdjustmentInputSchema)
    @blp.response(201, AdjustmentSchema)
    def post(self, data: dict[str, Any], plan_key: str, label: str) -> dict[str, Any]:
        """Add an adjustment (a correction with a reason and a link) to an open period."""
        plan, period = plan_period(plan_key, label)
        require_visible(data["person_id"])
        session = tenant_session()
        row = engine().period_row(session, plan, period)
        currency = guarded(lambda: engine().version_for(session, plan, period.start).currency)
        adjustment = guarded(lambda: close.add_adjustment(session, plan, row, data["person_id"], data["amount_minor"],
                                                          data["reason"], current_user(), link=data.get("link"),
                                                          currency=currency))
        return {"id": adjustment.id, "period": row.label, "person_id": adjustment.person_id,
                "amount_minor": adjustment.amount_minor, "currency": adjustment.currency,
                "reason": adjustment.reason, "link": adjustment.link, "author_label": adjustment.author_label}


# -- payouts ----------------------------------------------------------------------------------------


@blp.route("/payouts/<plan_key>/<label>")
class Payouts(ApiView):
    @blp.response(200, LinesSchema)
    def get(self, plan_key: str, label: str) -> dict[str, Any]:
        """The period's lines: the snapshot's once closed, else live (technicians: their own)."""
        plan, period = plan_period(plan_key, label)
        session = tenant_session()
        row = stored_period(plan, period)
        if row is not None and row.status == "closed":
            snapshot = session.scalars(select(PayoutSnapshot).where(PayoutSnapshot.period_id == row.id)).one()
            content = snapshot.content
            lines, currency, errors = content["lines"], content["currency"], []
        else:
            evaluation = guarded(lambda: engine().evaluate(session, plan, period))
            lines = [{"seq": seq, **line.as_dict()} for seq, line in enumerate(evaluation.lines)]
            currency, errors = evaluation.plan.currency, evaluation.errors
        allowed = visible_people(sorted({line["person_id"] for line in lines}))
        lines = [line for line in lines if line["person_id"] in allowed]
        totals: dict[str, int] = {}
        for line in lines:
            totals[str(line["person_id"])] = totals.get(str(line["person_id"]), 0) + line["amount_minor"]
        return {"period": period.label, "status": row.status if row else "open", "currency": currency,
                "lines": lines, "totals": totals, "errors": errors if current_user().role != "technician" else []}


@blp.route("/payouts/<plan_key>/<label>/preview")
class Preview(ApiView):
    @blp.response(200, PreviewSchema)
    def get(self, plan_key: str, label: str) -> dict[str, Any]:
        """Earned so far, still on the table, projected to period end, next-tier hints."""
        plan, period = plan_period(plan_key, label)
        evaluation, people = guarded(lambda: engine().preview(tenant_session(), plan, period))
        allowed = visible_people([p.person_id for p in people])
        return {"period": period.label, "as_of": evaluation.as_of, "currency": evaluation.plan.currency,
                "people": [p.as_dict() for p in people if p.person_id in allowed],
                "errors": evaluation.errors if current_user().role != "technician" else []}


@blp.route("/payouts/<plan_key>/<label>/what-if")
class WhatIf(ApiView):
    @blp.arguments(WhatIfInputSchema)
    @blp.response(200, WhatIfSchema)
    def post(self, data: dict[str, Any], plan_key: str, label: str) -> dict[str, Any]:
        """Every payout change if metrics or plan parameters were different; nothing is saved."""
        plan, period = plan_period(plan_key, label)
        _before, _after, changes = guarded(lambda: engine().what_if(
            tenant_session(), plan, period, metric_values=data["metric_values"], plan_changes=data["plan_changes"]))
        allowed = visible_people(sorted({c.person_id for c in changes}))
        return {"period": period.label, "changes": [c.as_dict() for c in changes if c.person_id in allowed]}


# -- statements -------------------------------------------------------------------------------------


@blp.route("/statements/<plan_key>/<label>/<int:person_id>")
class StatementItem(ApiView):
    @blp.arguments(StatementQuerySchema, location="query")
    def get(self, query: dict[str, Any], plan_key: str, label: str, person_id: int) -> Any:
        """A person's statement as JSON, HTML or CSV (technicians: their own)."""
        require_visible(person_id)
        plan, period = plan_period(plan_key, label)
        built = guarded(lambda: statements.build(tenant_session(), engine(), plan, period, person_id))
        if query["format"] == "html":
            return Response(statements.render_html(built), mimetype="text/html")
        if query["format"] == "csv":
            name = f"statement-{plan.key}-{period.label}-{person_id}.csv"
            return Response(statements.render_csv(built), mimetype="text/csv",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})
        return {"plan": built.plan_key, "plan_version": built.plan_version, "period": built.period,
                "status": built.status, "person_id": built.person_id, "person": built.person_name,
                "currency": built.currency, "total_minor": built.total_minor,
                "lines": [{"seq": line.seq, "rule": line.rule, "kind": line.kind, "amount_minor": line.amount_minor,
                           "explanation": line.explanation,
                           "figures": [{"label": f.label, "text": f.text, "version": f.version,
                                        "records": [{"record": name, "url": url} for name, url in f.records]}
                                       for f in line.figures]} for line in built.lines]}


# -- appeals ----------------------------------------------------------------------------------------


@blp.route("/appeals")
class Appeals(ApiView):
    @blp.response(200, AppealSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self) -> Select[tuple[Appeal]]:
        """Appeals of the people the caller may see, newest first."""
        return (select(Appeal).where(visible(Appeal.person_id, current_user(), tenant_today()))
                .order_by(Appeal.opened_at.desc(), Appeal.id.desc()))

    @blp.arguments(AppealInputSchema)
    @blp.response(201, AppealSchema)
    def post(self, data: dict[str, Any]) -> Appeal:
        """Dispute a line (technicians: their own) with a reason."""
        user = current_user()
        person_id = data.get("person_id") or own_person()
        if user.role == "technician" and person_id != user.person_id:
            abort(403, message="Technicians appeal their own lines only.")
        require_visible(person_id)
        plan, period = plan_period(data["plan"], data["period"])
        session = tenant_session()
        row = engine().period_row(session, plan, period)
        return guarded(lambda: appeals.open_appeal(session, engine(), plan, row, person_id, data["rule"],
                                                   data["reason"], user))


@blp.route("/appeals/<int:appeal_id>")
class AppealItem(ApiView):
    @blp.response(200, AppealSchema)
    def get(self, appeal_id: int) -> Appeal:
        """One appeal."""
        appeal = get_or_404(Appeal, appeal_id)
        require_visible(appeal.person_id)
        return appeal


@blp.route("/appeals/<int:appeal_id>/decision")
class AppealDecision(ApiView):
    @require_role("manager", "admin")
    @blp.arguments(DecisionSchema)
    @blp.response(200, AppealSchema)
    def post(self, data: dict[str, Any], appeal_id: int) -> Appeal:
        """Accept, partly accept (paid as an adjustment in an open period) or reject."""
        appeal = get_or_404(Appeal, appeal_id)
        require_visible(appeal.person_id)
        if current_user().person_id is not None and appeal.person_id == current_user().person_id:
            abort(403, message="Nobody decides their own appeal.")
        row = tenant_session().get(PayoutPeriod, appeal.period_id)
        plan = tenant_session().get(Plan, row.plan_id)
        return guarded(lambda: appeals.decide(tenant_session(), engine(), plan, appeal, data["decision"], data["note"],
                                              current_user(), amount_minor=data.get("amount_minor")))


# -- audit ------------------------------------------------------------------------------------------


@blp.route("/audit")
class Audit(ApiView):
    @require_role("admin", "auditor")
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, query: dict[str, Any]) -> Select[tuple[AuditEvent]]:
        """Every audited action (who, when, before and after, why), newest first."""
        statement = select(AuditEvent)
        if "action" in query:
            statement = statement.where(AuditEvent.action == query["action"])
        if "target_type" in query:
            statement = statement.where(AuditEvent.target_type == query["target_type"])
        return statement.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())

