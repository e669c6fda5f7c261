"""Versioned metric definitions: a metric key, its parameters and its code revision.

Vendors change definitions silently (market research §3); Podium does not. The first
time a tenant uses a metric with given parameters, a definition version is recorded;
using other parameters (a plan changes ``within_minutes``) or a new revision of the
metric class records the next version. Values store the version they were computed
with, and a closed period keeps its values — and so its version — for good.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from podium.metrics.base import Metric
from podium.models import MetricDefinition


def fingerprint(metric: Metric) -> str:
    """What identifies a definition: key, revision and the canonical JSON of the parameters."""
    text = json.dumps([metric.key, metric.revision, metric.dumped_params()], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def find_definition(session: Session, tenant_id: int, metric: Metric) -> MetricDefinition | None:
    """The tenant's definition version for ``metric`` as parameterised, if it was ever used."""
    return session.scalars(
        select(MetricDefinition).where(
            MetricDefinition.tenant_id == tenant_id,
            MetricDefinition.metric_key == metric.key,
            MetricDefinition.fingerprint == fingerprint(metric),
        )
    ).one_or_none()


def definition_for(session: Session, tenant_id: int, metric: Metric) -> MetricDefinition:
    """The definition version for ``metric`` as parameterised, recorded on first use."""
    found = find_definition(session, tenant_id, metric)
    if found is not None:
        return found
    latest = session.scalar(
        select(func.max(MetricDefinition.version)).where(
            MetricDefinition.tenant_id == tenant_id, MetricDefinition.metric_key == metric.key
        )
    )
    definition = MetricDefinition(
        tenant_id=tenant_id,
        metric_key=metric.key,
        version=(latest or 0) + 1,
        revision=metric.revision,
        params=metric.dumped_params(),
        fingerprint=fingerprint(metric),
    )
    session.add(definition)
    session.flush()
    return definition
