"""Podium tables: one module per area of the canonical store (design §4).

Importing this package registers every table on ``Base.metadata``, which is what
Alembic's autogenerate and :func:`podium.migrate.check` compare against.
"""

from podium.models.audit import AuditEvent, AuditEventImmutable
from podium.models.base import Base, ExternalRecord, TenantScoped, UTCDateTime, utcnow
from podium.models.connections import (
    Connection,
    PendingRecord,
    QuarantinedRecord,
    RequestBudget,
    SyncLock,
    SyncRun,
    SyncState,
)
from podium.models.endpoints import Endpoint, EndpointStatus
from podium.models.jobs import DbJob
from podium.models.metrics import (
    MetricBusinessSpan,
    MetricDay,
    MetricDefinition,
    MetricExclusionWindow,
    MetricOverride,
    MetricRecordSpan,
    MetricScope,
    MetricTimeGrid,
    MetricTracked,
    MetricValue,
    MetricValueRecord,
)
from podium.models.money import Agreement, Budget, Invoice, Payment
from podium.models.onetime import OneUseTicket
from podium.models.org import (
    Availability,
    Calendar,
    Client,
    ClientLink,
    ClientResponsibility,
    Holiday,
    Identity,
    Mapping,
    Person,
    PersonFact,
    Team,
    TeamMembership,
)
from podium.models.payouts import (
    Acknowledgment,
    Adjustment,
    Appeal,
    ClosedPeriodImmutable,
    PayoutPeriod,
    PayoutSnapshot,
    Plan,
    PlanVersion,
    SnapshotLine,
)
from podium.models.sla import SlaTarget, TicketSlaClock
from podium.models.tenancy import ApiToken, Tenant, User
from podium.models.work import Project, Survey, Ticket, TicketEvent, TimeEntry

__all__ = [
    "Acknowledgment",
    "Adjustment",
    "Agreement",
    "ApiToken",
    "Appeal",
    "AuditEvent",
    "AuditEventImmutable",
    "Availability",
    "Base",
    "Budget",
    "Calendar",
    "Client",
    "ClientLink",
    "ClientResponsibility",
    "ClosedPeriodImmutable",
    "Connection",
    "DbJob",
    "Endpoint",
    "EndpointStatus",
    "ExternalRecord",
    "Holiday",
    "Identity",
    "Invoice",
    "Mapping",
    "MetricBusinessSpan",
    "MetricDay",
    "MetricDefinition",
    "MetricExclusionWindow",
    "MetricOverride",
    "MetricRecordSpan",
    "MetricScope",
    "MetricTimeGrid",
    "MetricTracked",
    "MetricValue",
    "MetricValueRecord",
    "OneUseTicket",
    "Payment",
    "PayoutPeriod",
    "PayoutSnapshot",
    "PendingRecord",
    "Person",
    "PersonFact",
    "Plan",
    "PlanVersion",
    "Project",
    "QuarantinedRecord",
    "RequestBudget",
    "SlaTarget",
    "SnapshotLine",
    "Survey",
    "SyncLock",
    "SyncRun",
    "SyncState",
    "Team",
    "TeamMembership",
    "Tenant",
    "TenantScoped",
    "Ticket",
    "TicketEvent",
    "TicketSlaClock",
    "TimeEntry",
    "UTCDateTime",
    "User",
    "utcnow",
]
