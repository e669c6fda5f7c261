"""``/api/v1/plans``: payout plan files, their versions, validation and acknowledgments.

Everyone signed in may read plans (a technician needs to know how they are paid).
Admins validate and apply plan files; an invalid file is a 422 whose ``errors`` name each
field with its line. Technicians acknowledge the version in force for themselves; admins
and managers may record an acknowledgment for a person they can see.
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask_smorest import abort
from marshmallow import Schema, fields, validate
from podium import jobs
from podium.api import ApiView, Blueprint, commit_so_far, get_or_404, tenant_today
from podium.api.people import require_visible
from podium.auth import current_podium, current_user, require_role, tenant_session
from podium.models import Person, Plan, PlanVersion
from podium.payouts.engine import PayoutEngine, PayoutError
from podium.payouts.plan import PlanDefinition, PlanError
from podium.payouts.versions import acknowledge, apply_plan
from sqlalchemy import select

blp = Blueprint("plans", __name__, url_prefix="/api/v1", description="Payout plans and their versions.")


class VersionSchema(Schema):
    version = fields.Integer()
    effective_from = fields.Date()
    title = fields.String()
    currency = fields.String()
    period_kind = fields.String()
    source_name = fields.String()
    content_hash = fields.String()
    applied_at = fields.DateTime()
    applied_by = fields.String()


class VersionSourceSchema(VersionSchema):
    source_text = fields.String(metadata={"description": "The plan file exactly as applied."})


class PlanSchema(Schema):
    key = fields.String()
    title = fields.String()
    versions = fields.List(fields.Nested(VersionSchema))


class PlanFileSchema(Schema):
    source = fields.String(required=True, validate=validate.Length(min=1, max=200_000),
                           metadata={"description": "The plan file's YAML text."})
    name = fields.String(load_default="plan.yaml", metadata={"description": "File name errors are reported with."})
    effective_from = fields.Date(metadata={"description": "First day the version pays (apply only)."})


class ValidatedSchema(Schema):
    plan = fields.String()
    title = fields.String()
    currency = fields.String()
    period = fields.String()
    rules = fields.List(fields.String())


class AcknowledgeSchema(Schema):
    person_id = fields.Integer(metadata={"description": "Whose acknowledgment (default: the caller's person)."})


class AcknowledgmentSchema(Schema):
    plan = fields.String()
    version = fields.Integer()
    person_id = fields.Integer()
    acknowledged_at = fields.DateTime()


def engine() -> PayoutEngine:
    return PayoutEngine(current_podium())


def plan_errors(exc: PlanError) -> NoReturn:
    """422 naming each field (with its line) of an invalid plan file."""
    errors: dict[str, list[str]] = {}
    for problem in exc.problems:
        errors.setdefault(problem.field or "source", []).append(f"line {problem.line}: {problem.message}")
    abort(422, message=f"The plan file is invalid: {exc.problems[0]}", errors=errors)
    raise AssertionError("abort raises")


def payout_error(exc: PayoutError, code: int = 422) -> NoReturn:
    """``"field: reason"`` errors of the payout services as the API's envelope."""
    field, sep, reason = str(exc).partition(": ")
    abort(code, message=str(exc), errors={field: [reason]} if sep and " " not in field else {})
    raise AssertionError("abort raises")


def load(data: dict[str, Any]) -> PlanDefinition:
    try:
        return engine().load(data["source"], data["name"])
    except PlanError as exc:
        plan_errors(exc)


def plan_or_404(key: str) -> Plan:
    plan = tenant_session().scalars(select(Plan).where(Plan.key == key)).one_or_none()
    if plan is None:
        abort(404, message=f"Plan {key!r} not found.")
    return plan


def describe(plan: Plan) -> dict[str, Any]:
    versions = tenant_session().scalars(select(PlanVersion).where(PlanVersion.plan_id == plan.id)
                                        .order_by(PlanVersion.version))
    return {"key": plan.key, "title": plan.title, "versions": list(versions)}


@blp.route("/plans")
class Plans(ApiView):
    @blp.response(200, PlanSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Every plan with its versions."""
        return [describe(plan) for plan in tenant_session().scalars(select(Plan).order_by(Plan.key))]

    @require_role("admin")
    @blp.arguments(PlanFileSchema)
    @blp.response(201, VersionSchema)
    def post(self, data: dict[str, Any]) -> PlanVersion:
        """Apply a plan file as the plan's next version (never inside a closed period)."""
        definition = load(data)
        user = current_user()
        try:
            version, created = apply_plan(tenant_session(), engine(), user.tenant_id, definition, user,
                                          source_name=data["name"], effective_from=data.get("effective_from"))
        except PayoutError as exc:
            payout_error(exc, 409)
        if created:
            commit_so_far()
            jobs.enqueue(current_podium(), "track_plan_metrics", tenant_id=user.tenant_id, plan_version_id=version.id)
        return version


@blp.route("/plans/validate")
class ValidatePlan(ApiView):
    @require_role("admin", "manager")
    @blp.arguments(PlanFileSchema)
    @blp.response(200, ValidatedSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Check a plan file without applying it (422 names each problem's field and line)."""
        definition = load(data)
        return {"plan": definition.key, "title": definition.title, "currency": definition.currency,
                "period": definition.period, "rules": [rule.name for rule in definition.rules]}


@blp.route("/plans/<key>")
class PlanItem(ApiView):
    @blp.response(200, PlanSchema)
    def get(self, key: str) -> dict[str, Any]:
        """One plan with its versions."""
        return describe(plan_or_404(key))


@blp.route("/plans/<key>/versions/<int:number>")
class PlanVersionItem(ApiView):
    @blp.response(200, VersionSourceSchema)
    def get(self, key: str, number: int) -> PlanVersion:
        """One version, with the file as applied."""
        plan = plan_or_404(key)
        version = tenant_session().scalars(select(PlanVersion).where(PlanVersion.plan_id == plan.id,
                                                                     PlanVersion.version == number)).one_or_none()
        if version is None:
            abort(404, message=f"Plan {key!r} has no version {number}.")
        return version


@blp.route("/plans/<key>/acknowledgments")
class Acknowledgments(ApiView):
    @blp.arguments(AcknowledgeSchema)
    @blp.response(201, AcknowledgmentSchema)
    def post(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        """Acknowledge the plan's version in force today (technicians: for themselves)."""
        user = current_user()
        person_id = data.get("person_id", user.person_id)
        if person_id is None:
            abort(422, message="Your user is linked to no person.", errors={"person_id": ["Give a person."]})
        if user.role == "technician" and person_id != user.person_id:
            abort(403, message="Technicians acknowledge plans for themselves only.")
        get_or_404(Person, person_id)
        require_visible(person_id)
        plan = plan_or_404(key)
        try:
            version = engine().version_for(tenant_session(), plan, tenant_today())
        except PayoutError as exc:
            payout_error(exc, 409)
        found = acknowledge(tenant_session(), version, person_id, user)
        return {"plan": plan.key, "version": version.version, "person_id": person_id,
                "acknowledged_at": found.acknowledged_at}
