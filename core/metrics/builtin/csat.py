"""Customer satisfaction: the share of positive responses, net CSAT and NPS.

Vendors use different scales (3-point smileys, 1–5 stars, 0–10), so each response is
normalised: ``(score − scale_min) / (scale_max − scale_min)``, 0 at the bottom of its
scale and 1 at the top. The three metrics read that one number:

* ``csat_positive_pct`` — positive responses ÷ responses. Positive when the vendor says
  so (``positive`` flag), else when the normalised score is at least
  ``positive_threshold`` [0.75: 4 of 1–5, the top smiley of three, 8 of 0–10].
* ``net_csat`` — % positive − % negative (SmileBack's "Net CSAT"), −100 … 100. Positive
  exactly as above (so its positives are ``csat_positive_pct``'s); of the others, negative
  when the normalised score is at most ``negative_threshold`` [0.25: 1–2 of 1–5, the
  bottom smiley, 0–2 of 0–10], else neutral. The vendor's flag only ever says "positive
  or not", so it cannot make a response negative.
* ``nps`` — % promoters − % detractors on a 0–10 scale, −100 … 100: the normalised score
  × 10 is the 0–10 score; promoters score at least ``promoter_min`` [9], detractors at
  most ``detractor_max`` [6], passives between. Other scales are stretched onto 0–10
  first (5 of 1–5 → 10, 4 → 7.5, 3 → 5), which is a choice: a survey that was not asked
  as "how likely are you to recommend" is read as if it had been.

A response counts for the person the vendor attributes it to; a response attributed to
no one counts for the resolver of its ticket (``fallback_to_resolver``), and one with
neither counts only for its client and the company. Responses on tickets the scope
filters leave out do not count.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import ColumnElement, and_, case, literal, or_, select

from podium.metrics.base import Metric, row
from podium.metrics.builtin.tickets import resolver
from podium.metrics.sql import as_float
from podium.metrics.tables import Tables

EPSILON = 1e-9
"""Slack for comparing a stretched score with a threshold: 4 of 1–5 is 7.5 exactly, but
2 of 0–3 stretched to 0–10 is 6.666…, and 6 of 0–10 must compare as 6 on both backends."""


class SurveyParams(Schema):
    fallback_to_resolver = fields.Boolean(load_default=True)


class CsatParams(SurveyParams):
    positive_threshold = fields.Float(load_default=0.75, validate=validate.Range(min=0, max=1))


class NetCsatParams(CsatParams):
    negative_threshold = fields.Float(load_default=0.25, validate=validate.Range(min=0, max=1))


class NpsParams(SurveyParams):
    promoter_min = fields.Float(load_default=9.0, validate=validate.Range(min=0, max=10))
    detractor_max = fields.Float(load_default=6.0, validate=validate.Range(min=0, max=10))


class SurveyMetric(Metric):
    """One row per survey response in scope, credited as the module docstring says;
    subclasses give each response its numerator (:meth:`score`)."""

    requires = {
        "survey": frozenset({"score", "scale_min", "scale_max", "positive", "submitted_at", "identity_external_id",
                             "ticket_external_id"}),
        "ticket": frozenset({"resolved_by_external_id", "owner_external_id", "client_external_id", "board"}),
    }
    anchor = "surveys.submitted_at"
    better = "higher"

    def score(self, survey: Any, normalised: ColumnElement[float]) -> ColumnElement[float]:
        raise NotImplementedError

    def positive(self, survey: Any, normalised: ColumnElement[float]) -> ColumnElement[bool]:
        """The vendor's verdict where it gives one, else the normalised score against the threshold."""
        return or_(survey.c.positive.is_(True),
                   and_(survey.c.positive.is_(None), normalised >= self.params["positive_threshold"]))

    def select(self, tables: Tables) -> Any:
        s, t = tables.surveys, tables.tickets
        normalised = as_float(s.c.score - s.c.scale_min) / as_float(s.c.scale_max - s.c.scale_min)
        fallback = resolver(tables, t) if self.params["fallback_to_resolver"] else literal(None)
        person = case((s.c.identity_id.is_(None), fallback), else_=tables.person_of(s.c.identity_id))
        return (
            select(*row(person_id=person, client_id=t.c.client_id, anchored_at=s.c.submitted_at,
                        numerator=self.score(s, normalised), denominator=1.0, record_type="survey",
                        record_id=s.c.id))
            .select_from(s.outerjoin(t, t.c.id == s.c.ticket_id))
            .where(or_(s.c.ticket_id.is_(None), t.c.id.is_not(None)))
        )


class CsatPositive(SurveyMetric):
    key = "csat_positive_pct"
    label = "CSAT positive"
    unit = "percent"
    params_schema = CsatParams

    def score(self, survey: Any, normalised: ColumnElement[float]) -> ColumnElement[float]:
        return case((self.positive(survey, normalised), 1.0), else_=0.0)


class NetCsat(SurveyMetric):
    """% positive − % negative: each response +1, 0 or −1, averaged, × 100."""

    key = "net_csat"
    label = "Net CSAT"
    unit = "ratio"
    scale = 100.0
    params_schema = NetCsatParams

    def score(self, survey: Any, normalised: ColumnElement[float]) -> ColumnElement[float]:
        return case((self.positive(survey, normalised), 1.0),
                    (normalised <= self.params["negative_threshold"], -1.0), else_=0.0)


class NetPromoterScore(SurveyMetric):
    """% promoters − % detractors on the 0–10 scale: each response +1, 0 or −1, averaged, × 100."""

    key = "nps"
    label = "Net Promoter Score"
    unit = "ratio"
    scale = 100.0
    params_schema = NpsParams

    def score(self, survey: Any, normalised: ColumnElement[float]) -> ColumnElement[float]:
        out_of_ten = normalised * 10.0
        return case((out_of_ten >= self.params["promoter_min"] - EPSILON, 1.0),
                    (out_of_ten <= self.params["detractor_max"] + EPSILON, -1.0), else_=0.0)
