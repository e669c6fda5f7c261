"""Customer satisfaction: the share of survey responses that are positive.

Vendors use different scales (3-point smileys, 1–5 stars, 0–10), so each response is
normalised: ``(score − scale_min) / (scale_max − scale_min)``. A response is positive
when its vendor says so (``positive`` flag), else when its normalised score is at least
``positive_threshold`` [0.75: 4 of 1–5, the top smiley of three, 8 of 0–10].

A response counts for the person the vendor attributes it to; a response attributed to
no one counts for the resolver of its ticket (``fallback_to_resolver``), and one with
neither counts only for its client and the company. Responses on tickets the scope
filters leave out do not count.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import case, literal, or_, select

from podium.metrics.base import Metric, row
from podium.metrics.builtin.tickets import resolver
from podium.metrics.sql import as_float
from podium.metrics.tables import Tables


class CsatParams(Schema):
    positive_threshold = fields.Float(load_default=0.75, validate=validate.Range(min=0, max=1))
    fallback_to_resolver = fields.Boolean(load_default=True)


class CsatPositive(Metric):
    key = "csat_positive_pct"
    label = "CSAT positive"
    unit = "percent"
    better = "higher"
    requires = {
        "survey": frozenset({"score", "scale_min", "scale_max", "positive", "submitted_at", "identity_external_id",
                             "ticket_external_id"}),
        "ticket": frozenset({"resolved_by_external_id", "owner_external_id", "client_external_id", "board"}),
    }
    anchor = "surveys.submitted_at"
    params_schema = CsatParams

    def select(self, tables: Tables) -> Any:
        s, t = tables.surveys, tables.tickets
        normalised = as_float(s.c.score - s.c.scale_min) / as_float(s.c.scale_max - s.c.scale_min)
        positive = case((s.c.positive.is_(True), 1.0), (s.c.positive.is_(False), 0.0),
                        (normalised >= self.params["positive_threshold"], 1.0), else_=0.0)
        fallback = resolver(tables, t) if self.params["fallback_to_resolver"] else literal(None)
        person = case((s.c.identity_id.is_(None), fallback), else_=tables.person_of(s.c.identity_id))
        return (
            select(*row(person_id=person, client_id=t.c.client_id, anchored_at=s.c.submitted_at,
                        numerator=positive, denominator=1.0, record_type="survey", record_id=s.c.id))
            .select_from(s.outerjoin(t, t.c.id == s.c.ticket_id))
            .where(or_(s.c.ticket_id.is_(None), t.c.id.is_not(None)))
        )
