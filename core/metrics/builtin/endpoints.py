"""Managed-endpoint health: patch compliance, backup success, antivirus coverage, and
endpoint integrity (all three pooled), for the clients a person or team answers for.

Each endpoint's daily status counts one check per known result: a day with patching OK,
backup failed and antivirus unknown contributes 1 of 2 to integrity. Unknown (null) is
"not managed / not reported", never a failure. Rows belong to the endpoint's client —
through a client link when the RMM organisation is linked to a PSA company (the link's
``client_id`` is the company responsibilities are recorded on) — and reach people and
teams through their client responsibilities, weighted by share (``attribution = "client"``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import case, func, select

from podium.metrics.base import Metric, row
from podium.metrics.tables import Tables


class EndpointChecks(Metric):
    """Base of the endpoint metrics: the share of known ``checks`` that were OK."""

    checks: ClassVar[tuple[str, ...]]
    unit = "percent"
    better = "higher"
    attribution = "client"
    anchor = "endpoint_statuses.day"

    def select(self, tables: Tables) -> Any:
        s, e, d, links = tables.endpoint_statuses, tables.endpoints, tables.days, tables.client_links
        company = (
            select(links.c.client_id).where(links.c.linked_client_id == e.c.client_id)
            .order_by(links.c.client_id).limit(1).scalar_subquery()
        )
        ok = sum((case((s.c[check].is_(True), 1), else_=0) for check in self.checks), start=0)
        known = sum((case((s.c[check].is_not(None), 1), else_=0) for check in self.checks), start=0)
        return (
            select(*row(person_id=None, client_id=func.coalesce(company, e.c.client_id), anchored_at=d.c.starts_at,
                        numerator=ok, denominator=known, record_type="endpoint_status", record_id=s.c.id))
            .select_from(s.join(e, e.c.id == s.c.endpoint_id).join(d, d.c.day == s.c.day))
            .where(known > 0)
        )


def _requires(*checks: str) -> dict[str, frozenset[str]]:
    return {"endpoint": frozenset({"client_external_id"}),
            "endpoint_status": frozenset({"day", *checks})}


class PatchCompliance(EndpointChecks):
    key = "patch_compliance_pct"
    label = "Patch compliance"
    checks = ("patch_ok",)
    requires = _requires(*checks)


class BackupSuccess(EndpointChecks):
    key = "backup_success_pct"
    label = "Backup success"
    checks = ("backup_ok",)
    requires = _requires(*checks)


class AvCoverage(EndpointChecks):
    key = "av_coverage_pct"
    label = "Antivirus coverage"
    checks = ("av_ok",)
    requires = _requires(*checks)


class EndpointIntegrity(EndpointChecks):
    key = "endpoint_integrity_pct"
    label = "Endpoint integrity"
    checks = ("patch_ok", "backup_ok", "av_ok")
    requires = _requires(*checks)
