"""Projects: delivered on time, and project billables against budget.

A project counts when it is completed (``actual_end`` set), in the period of its actual
end, for its manager (through the identity resolver) and its client.

* ``projects_on_time_pct`` — completed with ``actual_end ≤ estimated_end``; projects
  without an estimated end cannot be judged and do not count.
* ``project_billables_attainment_pct`` — the billable value of projects completed in the
  period (``billable_minor``, recognised at completion) ÷ the ``project_billables``
  budget for the same days. Recognising at completion is the simple, auditable choice; a
  project spanning quarters lands entirely in the one it finishes in.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import case, or_, select, union_all

from podium.metrics.base import Metric, row
from podium.metrics.builtin.budgets import budget_rows
from podium.metrics.sql import as_float
from podium.metrics.tables import Tables

PROJECT_FIELDS = frozenset({"actual_end", "estimated_end", "manager_external_id", "client_external_id"})


def _completed(tables: Tables) -> Any:
    p, d = tables.projects, tables.days
    return (
        select(p, tables.person_of(p.c.manager_identity_id).label("person_id"), d.c.starts_at.label("ended_at"))
        .select_from(p.join(d, d.c.day == p.c.actual_end))
        .subquery("completed")
    )


class ProjectsOnTime(Metric):
    key = "projects_on_time_pct"
    label = "Projects completed on time"
    unit = "percent"
    better = "higher"
    requires = {"project": PROJECT_FIELDS}
    anchor = "projects.actual_end"

    def select(self, tables: Tables) -> Any:
        c = _completed(tables)
        return select(*row(
            person_id=c.c.person_id, client_id=c.c.client_id, anchored_at=c.c.ended_at,
            numerator=case((c.c.actual_end <= c.c.estimated_end, 1.0), else_=0.0), denominator=1.0,
            record_type="project", record_id=c.c.id,
        )).where(c.c.estimated_end.is_not(None))


class BillablesParams(Schema):
    budget_line = fields.String(load_default="project_billables")


class ProjectBillablesAttainment(Metric):
    key = "project_billables_attainment_pct"
    label = "Project billables attainment"
    unit = "percent"
    better = "higher"
    requires = {"project": PROJECT_FIELDS | {"billable_minor", "currency"}}
    anchor = "projects.actual_end; each day of a budget"
    params_schema = BillablesParams

    def select(self, tables: Tables) -> Any:
        c = _completed(tables)
        billed = select(*row(
            person_id=c.c.person_id, client_id=c.c.client_id, anchored_at=c.c.ended_at,
            numerator=as_float(c.c.billable_minor), denominator=0.0, record_type="project", record_id=c.c.id,
        )).where(c.c.billable_minor.is_not(None), or_(c.c.currency.is_(None), c.c.currency == tables.currency))
        return union_all(billed, budget_rows(tables, self.params["budget_line"]))
