"""The "client" pod: on a PSA company screen, how that client is served.

Registered on ConnectWise's Company screen as ``/pods/client?c=<ref>&id=[cw_id]``; the
id is the company's, looked up among the clients synced from the pod's connection
(unknown or another tenant's → the same "not found").

Every figure is the metric engine's at the ``client`` grain
(:meth:`podium.metrics.engine.MetricEngine.values`, the same call as
``GET /api/v1/metrics/<key>?grain=client&subject=<id>``), for the tenant's months:

* **CSAT trend** — ``csat_positive_pct`` for each of the last :data:`TREND_MONTHS` months,
  drawn as an inline SVG line with the figures beside it;
* **SLA met** — ``sla_response_met_pct`` and ``sla_resolution_met_pct``;
* **Endpoint integrity** — ``endpoint_integrity_pct`` (through client links, so an RMM
  organisation linked to this company counts);
* **Repeat tickets** — ``repeat_ticket_rate_pct``, shown only when a plugin registers it.

Each of the last three shows this month and the pooled figure over the trend's months
(a custom period), with numerator and denominator. A metric that is not registered is
left out, and the pod says so.

Access: client figures pool several people's work, so the pod is for managers, admins
and auditors. A manager sees a client that one of their current teams, or a person they
may see, is currently responsible for (``ClientResponsibility``); any other is a 403.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import render_template
from podium import hookimpl
from podium.api.people import my_teams, visible
from podium.metrics.engine import MetricEngine, Value
from podium.metrics.periods import Period, containing
from podium.metrics.timegrid import settings_of
from podium.models import Client, ClientResponsibility
from podium.org.effective import valid_on
from podium.payouts.money import format_number
from podium.pods import Pod
from podium.podsession import refuse
from podium.registry import Registry
from podium.web.charts import Trend, bar_fill, trend
from podium.web.pod_context import context_record
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

TREND_MONTHS = 6
CSAT = "csat_positive_pct"
FIGURES = (
    ("sla_response_met_pct", "SLA response met"),
    ("sla_resolution_met_pct", "SLA resolution met"),
    ("endpoint_integrity_pct", "Endpoint integrity"),
    ("repeat_ticket_rate_pct", "Repeat tickets"),
)
"""The figures shown under the trend, in order (left out when not registered)."""


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    value: float | None
    numerator: float
    denominator: float

    @property
    def text(self) -> str:
        if self.value is None:
            return "no data"
        return f"{format_number(self.value, 1)}% ({format_number(self.numerator, 2)} of {format_number(self.denominator, 2)})"

    @property
    def fill(self) -> float:
        return bar_fill(self.value)


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    month: Figure
    window: Figure


def figure(values: list[Value], key: str, label: str) -> Figure:
    if not values:
        return Figure(key, label, None, 0.0, 0.0)
    value = values[0]
    return Figure(key, label, value.value, value.numerator, value.denominator)


def may_see_client(session: Session, viewer: Any, client_id: int, today: dt.date) -> bool:
    """Admins and auditors: every client; managers: clients their teams or people serve now."""
    if viewer.role in ("admin", "auditor"):
        return True
    if viewer.role != "manager" or viewer.person_id is None:
        return False
    r = ClientResponsibility
    mine = or_(r.team_id.in_(my_teams(viewer, today)),
               and_(r.person_id.is_not(None), visible(r.person_id, viewer, today)))
    return session.scalar(select(r.id).where(r.client_id == client_id, valid_on(r, today), mine).limit(1)) is not None


class ClientPod(Pod):
    key = "client"
    title = "Client"
    audience = "manager"
    context = "company"

    def render(self, view: Any) -> str:
        viewer, session = view.viewer, view.session
        client = context_record(view, Client, "company")
        today = viewer.today()
        if not may_see_client(session, viewer, client.id, today):
            refuse(403, "forbidden", "You may see clients your teams are responsible for only.")
        engine = MetricEngine(view.podium)
        registered = view.podium.plugins.metrics
        settings = settings_of(viewer.tenant)
        months = [containing("month", today, settings)]
        while len(months) < TREND_MONTHS:
            months.insert(0, containing("month", months[0].start - dt.timedelta(days=1), settings))
        window = Period("custom", months[0].start, months[-1].end)
        subject = [str(client.id)]

        def read(key: str, label: str, period: Period) -> Figure:
            return figure(engine.values(session, viewer.tenant_id, key, "client", period, subjects=subject), key, label)

        csat = [read(CSAT, period.start.strftime("%b %Y"), period) for period in months] if CSAT in registered else []
        chart: Trend | None = trend([(f.label, f.value) for f in csat]) if csat else None
        described = "CSAT positive by month: " + ", ".join(
            f"{f.label} {'no data' if f.value is None else format_number(f.value, 1) + '%'}" for f in csat)
        rows = [Row(key, label, read(key, label, months[-1]), read(key, label, window))
                for key, label in FIGURES if key in registered]
        missing = [label for key, label in ((CSAT, "CSAT"), *FIGURES) if key not in registered]
        return render_template(
            "pods/client.html", viewer=viewer, client=client, csat=csat, chart=chart, described=described,
            rows=rows, missing=missing, months=TREND_MONTHS,
            month=months[-1], window=window, csat_window=read(CSAT, "CSAT", window) if csat else None,
        )


@hookimpl
def podium_register_pods(registry: Registry[Pod]) -> None:
    registry.add(ClientPod)
