"""``/api/v1/metrics``: the metric catalogue, figures and their drill-down.

Who sees which figures (design §7), checked before anything is computed:

* ``admin`` and ``auditor`` — every grain and subject of their tenant;
* ``manager`` — the people they may see (:func:`podium.api.people.visible`) at the
  person grain, and the teams they currently belong to at the team grain;
* ``technician`` — only their own person (asking without ``subject`` means themselves);
  asking for a peer, or for a team, role, client or the company, is a 403.

Figures are what :meth:`podium.metrics.engine.MetricEngine.values` returns — frozen for
closed periods, materialised for tracked ones, live otherwise — each with its freshness.
``explain=1`` adds the records behind one subject's figure.
"""

from __future__ import annotations

import json
from typing import Any

from flask_smorest import abort
from marshmallow import Schema, ValidationError, fields, validate, validates
from sqlalchemy import select

from podium.api import ApiView, Blueprint, tenant_today
from podium.api.people import my_teams, visible
from podium.auth import current_podium, current_user, tenant_session
from podium.metrics.base import MetricParamsError
from podium.metrics.engine import MetricEngine, MetricError
from podium.models import Person
from podium.models.metrics import GRAINS

blp = Blueprint("metrics", __name__, url_prefix="/api/v1", description="Metric definitions and figures.")


class MetricParamSchema(Schema):
    type = fields.String()
    default = fields.Raw(allow_none=True)
    description = fields.String(allow_none=True)


class MetricSchema(Schema):
    key = fields.String()
    label = fields.String()
    description = fields.String(allow_none=True)
    unit = fields.String(metadata={"description": "percent, hours, count, money, ratio or days."})
    better = fields.String(metadata={"description": "higher or lower."})
    anchor = fields.String(metadata={"description": "What places a record in a period."})
    attribution = fields.String(metadata={"description": "person, or client (through client responsibilities)."})
    revision = fields.Integer()
    requires = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    params = fields.Dict(keys=fields.String(), values=fields.Nested(MetricParamSchema))
    plugin = fields.String(metadata={"description": "The plugin that registered it."})


class FigureQuerySchema(Schema):
    grain = fields.String(load_default="person", validate=validate.OneOf(GRAINS))
    period = fields.String(load_default="month", metadata={
        "description": "month (current), month:2024-03, week:2024-03-05, quarter:2024-02-01, "
                       "fiscal_year:2024-01-01, day:2024-03-05 or custom:2024-03-01..2024-04-01 (end exclusive)."})
    subject = fields.String(metadata={"description": "A person, team or client id, or a role name."})
    explain = fields.Boolean(load_default=False, metadata={"description": "Add the records behind the figure."})
    params = fields.String(metadata={"description": 'The metric\'s parameters as a JSON object, e.g. {"within_minutes": 30}.'})

    @validates("params")
    def _json_object(self, value: str, **_kwargs: Any) -> None:
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            raise ValidationError("Not valid JSON.") from None
        if not isinstance(parsed, dict):
            raise ValidationError("Must be a JSON object.")


class FigureSchema(Schema):
    metric = fields.String()
    version = fields.Integer(allow_none=True, metadata={"description": "Definition version computed with."})
    grain = fields.String()
    subject = fields.String()
    period = fields.String()
    period_start = fields.String(metadata={"description": "YYYY-MM-DD."})
    period_end = fields.String(metadata={"description": "YYYY-MM-DD, exclusive."})
    numerator = fields.Float()
    denominator = fields.Float()
    value = fields.Float(allow_none=True, metadata={"description": "Null: no data (zero denominator)."})
    records = fields.Integer()
    as_of = fields.String(metadata={"description": "When the figure was computed."})
    data_synced_at = fields.String(allow_none=True, metadata={"description": "Newest input record's sync time."})
    data_age_seconds = fields.Integer(allow_none=True)
    closed = fields.Boolean()


class RecordSchema(Schema):
    record_type = fields.String()
    record_id = fields.Integer()
    anchored_at = fields.String()
    numerator = fields.Float()
    denominator = fields.Float()


class FiguresSchema(Schema):
    metric = fields.String()
    grain = fields.String()
    period = fields.String()
    params = fields.Dict()
    values = fields.List(fields.Nested(FigureSchema))
    records = fields.List(fields.Nested(RecordSchema))
    frozen = fields.Boolean(metadata={"description": "Records come from the drill-down frozen at the close."})


def allowed_subjects(grain: str, subject: str | None) -> list[str] | None:
    """The subjects the caller may see at ``grain`` (None: all); 403 for anything else."""
    user = current_user()
    if user.role in ("admin", "auditor"):
        return None if subject is None else [subject]
    if user.person_id is None:
        abort(403, message="Your user is linked to no person, so there are no figures for you.")
    today = tenant_today()
    if grain == "person":
        ids = select(Person.id).where(visible(Person.id, user, today))
        seen = [str(pid) for pid in tenant_session().scalars(ids)]
    elif grain == "team" and user.role == "manager":
        seen = [str(tid) for tid in tenant_session().scalars(my_teams(user, today))]
    else:
        abort(403, message=f"Your role ({user.role}) may not see figures by {grain}.")
    if user.role == "technician" and subject is None:
        return seen
    if subject is not None and subject not in seen:
        abort(403, message=f"You may not see the figures of {grain} {subject}.")
    return seen if subject is None else [subject]


@blp.route("/metrics")
class Metrics(ApiView):
    @blp.response(200, MetricSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The metric catalogue: every registered metric, its unit, anchor and parameters."""
        return MetricEngine(current_podium()).catalogue()


@blp.route("/metrics/<key>")
class Figures(ApiView):
    @blp.arguments(FigureQuerySchema, location="query")
    @blp.response(200, FiguresSchema)
    def get(self, query: dict[str, Any], key: str) -> dict[str, Any]:
        """Figures of one metric for a grain and period (``explain=1``: with the records behind one)."""
        engine = MetricEngine(current_podium())
        session, tenant_id = tenant_session(), current_user().tenant_id
        params = json.loads(query["params"]) if "params" in query else {}
        grain, subject = query["grain"], query.get("subject")
        try:
            engine.metric(key, params)
        except MetricError as exc:
            abort(404, message=str(exc))
        except MetricParamsError as exc:
            abort(422, message=str(exc), errors={f"params.{name}": reasons if isinstance(reasons, list) else
                                                 [str(reasons)] for name, reasons in exc.errors.items()})
        subjects = allowed_subjects(grain, subject)
        if query["explain"] and subject is None:
            if subjects is None or len(subjects) != 1:
                abort(422, message="Invalid input.", errors={"subject": ["explain needs the subject to explain."]})
            subject = subjects[0]
        try:
            period = engine.period(session, tenant_id, query["period"])
            body: dict[str, Any] = {"metric": key, "grain": grain, "period": str(period), "params": params}
            if query["explain"]:
                assert subject is not None
                explanation = engine.explain(session, tenant_id, key, grain, period, subject, params)
                body["values"] = [explanation.value.as_dict()] if explanation.value else []
                body["records"] = [r.as_dict() for r in explanation.records]
                body["frozen"] = explanation.frozen
            else:
                body["values"] = [v.as_dict() for v in engine.values(session, tenant_id, key, grain, period, params,
                                                                     subjects)]
        except MetricError as exc:
            abort(422, message="Invalid input.", errors={exc.field: [str(exc).split(": ", 1)[-1]]})
        return body
