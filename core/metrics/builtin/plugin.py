"""The built-in metrics as a plugin, registered exactly as a third party's would be.

Installed through the entry point ``podium_metrics = podium.metrics.builtin.plugin`` in
the group ``podium``. Besides registering the catalogue it listens to
``podium_records_changed`` and queues an incremental recompute
(:func:`podium.metrics.changes.records_changed`) — queued, not run inline, so a sync batch
or a webhook fetch is not held up by metrics, and bursts of changes to the same entity
merge into one job. Changed tickets and ticket events first get their SLA clocks
(:mod:`podium.metrics.sla_clock`) updated, tracked metrics or not, since live figures read
them too.

``refresh_metrics`` recomputes a whole tenant; the scheduler queues it every
``metrics_refresh_minutes`` and an org change queues it (:mod:`podium.org.changes`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select

from podium import hookimpl, jobs
from podium.metrics import sla_clock
from podium.metrics.builtin.after_hours import AfterHoursHours
from podium.metrics.builtin.billing import DaysSalesOutstanding, EffectiveHourlyRate, RevenueToPay
from podium.metrics.builtin.csat import CsatPositive, NetCsat, NetPromoterScore
from podium.metrics.builtin.documentation import RcaDocumented
from podium.metrics.builtin.endpoints import AvCoverage, BackupSuccess, EndpointIntegrity, PatchCompliance
from podium.metrics.builtin.flow import EscalationRate, ReassignmentsPer100, RepeatTicketRate, SameDayClose
from podium.metrics.builtin.money import GrossMargin, GrossMarginAttainment, GrossProfit
from podium.metrics.builtin.projects import ProjectBillablesAttainment, ProjectsOnTime
from podium.metrics.builtin.resolution import FirstContactResolution, MeanTimeToResolve, ReopenRate
from podium.metrics.builtin.revenue import CollectedRevenue, RecurringRevenue
from podium.metrics.builtin.sla import SlaResolutionMet, SlaResponseMet
from podium.metrics.builtin.time import BillableUtilization, ProductiveUtilization, TimeEntryLag, TimeEntryTimeliness
from podium.metrics.builtin.volume import TicketsClosedPerDayWorked, WeightedTicketVolume
from podium.metrics.builtin.workload import HoursWorked, ReopenedTickets
from podium.metrics.changes import records_changed, refresh_tenant
from podium.models import MetricTracked
from podium.runtime import Podium

METRICS = (
    FirstContactResolution,
    MeanTimeToResolve,
    ReopenRate,
    SlaResponseMet,
    SlaResolutionMet,
    CsatPositive,
    ProductiveUtilization,
    TimeEntryTimeliness,
    EndpointIntegrity,
    PatchCompliance,
    BackupSuccess,
    AvCoverage,
    GrossMargin,
    GrossMarginAttainment,
    ProjectBillablesAttainment,
    ProjectsOnTime,
    RecurringRevenue,
    CollectedRevenue,
    HoursWorked,
    ReopenedTickets,
    EscalationRate,
    ReassignmentsPer100,
    RepeatTicketRate,
    TicketsClosedPerDayWorked,
    SameDayClose,
    WeightedTicketVolume,
    BillableUtilization,
    TimeEntryLag,
    NetCsat,
    NetPromoterScore,
    EffectiveHourlyRate,
    RevenueToPay,
    DaysSalesOutstanding,
    GrossProfit,
    AfterHoursHours,
    RcaDocumented,
)


def recompute_metrics(
    podium: Podium, *, tenant_id: int, connection_id: int, entity: str, external_ids: list[str]
) -> None:
    """Job: update the SLA clocks of changed tickets (in their own transaction, so the
    recompute's spans see the new due times), then recompute the tracked values the
    change can move."""
    if entity in sla_clock.ENTITIES:
        with podium.db.session(tenant_id) as session:
            tickets = sla_clock.ticket_ids_of(session, connection_id, entity, external_ids)
            sla_clock.update_clocks(session, tenant_id, tickets)
    records_changed(podium, tenant_id, connection_id, entity, external_ids)


def refresh_metrics(podium: Podium, *, tenant_id: int, trigger: str = "api") -> None:
    """Job: recompute every SLA clock and every open tracked value of a tenant (after org
    data changed, and periodically, since time alone turns an overdue SLA into a breach).
    ``trigger`` (``scheduler``, ``org``, ``api``) only tells operators why it was queued."""
    refresh_tenant(podium, tenant_id)


jobs.register_job_type(jobs.JobType(
    name="recompute_metrics", func=recompute_metrics, timeout=900, max_attempts=3, backoff=(10, 60),
    queue="metrics", merge="external_ids",
    key=lambda a: f"metrics-{a['tenant_id']}-{a['connection_id']}-{a['entity']}",
))
jobs.register_job_type(jobs.JobType(
    name="refresh_metrics", func=refresh_metrics, timeout=3600, max_attempts=2, backoff=(60,),
    queue="metrics", key=lambda a: f"metrics-refresh-{a['tenant_id']}", release_key_on_start=True,
))


@hookimpl
def podium_register_metrics(registry: Any) -> None:
    for metric in METRICS:
        registry.add(metric)


@hookimpl
def podium_records_changed(
    podium: Podium, tenant_id: int, connection_id: int, entity: str, external_ids: list[str]
) -> None:
    with podium.db.session(tenant_id) as session:
        wanted = session.scalar(select(exists().where(MetricTracked.tenant_id == tenant_id))) or (
            entity in sla_clock.ENTITIES and sla_clock.has_targets(session, tenant_id))
    if not wanted:
        return
    jobs.enqueue(podium, "recompute_metrics", tenant_id=tenant_id, connection_id=connection_id, entity=entity,
                 external_ids=list(external_ids))
