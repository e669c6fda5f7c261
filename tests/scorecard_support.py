"""A scorecard worth looking at: the engineer plan of the seeds applied to the pod tests' org,
with this quarter's surveys and time entries written as canonical records.

Used by ``tests/test_scorecard_pod.py`` and by ``scripts/screenshots.py`` (demo-like data
for the screenshot of the pod). On top of :func:`tests.pods_support.seed_org`:

* Ada and Bob are Engineer L1 and acknowledged the plan before the quarter began;
* Ada: 19 positive surveys of 20 (CSAT 95%), 6 time entries entered with their times, 5 of
  them within the hour (timeliness 83.33%); Bob: 3 positive of 4 (75%), 1 entry on time;
* the plan's metrics are tracked (materialised), so a change is recomputed and announced
  to open pods like in production.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podium.models import Acknowledgment, Identity, PersonFact, PlanVersion, Survey, Tenant, TimeEntry
from podium.payouts.engine import PayoutEngine
from podium.payouts.periods import PayPeriod, containing, preceding
from podium.payouts.versions import apply_plan, track
from podium.runtime import Podium
from sqlalchemy import select

from tests.payouts.conftest import PLANS
from tests.pods_support import Org, in_this_month, pod_runtime

PLAN_FILE = PLANS / "engineer_quarterly_scorecard.yaml"
PLAN_KEY = "engineer-quarterly"
PLUGINS = ("whoami", "scorecard", "podium_metrics", "payout_rules", "live", "embed_vendors")


def scorecard_runtime(database_url: str, tmp_path: Path, **overrides: Any) -> Podium:
    """The pod tests' runtime with the scorecard, the metric catalogue and the payout rules."""
    return pod_runtime(database_url, tmp_path, **{"load_plugins": PLUGINS, **overrides})


@dataclass(frozen=True)
class Scored:
    org: Org
    version_id: int
    period: PayPeriod
    """The plan's current quarter."""


def identity_id(podium: Podium, org: Org, member: str) -> int:
    """The id of ``member``'s identity on the tab connection (where the org's work is)."""
    with podium.db.session(org.tenant_id) as session:
        return session.scalars(select(Identity.id).where(Identity.connection_id == org.tab_connection_id,
                                                         Identity.external_id == member)).one()


def add_surveys(podium: Podium, tenant_id: int, connection_id: int, identity: int, positive: int, negative: int,
                tag: str, when: dt.datetime | None = None) -> list[str]:
    """Surveys attributed to ``identity`` (5 of 5 positive, 2 of 5 negative), a minute apart
    before ``when`` (default: in this month); their external ids."""
    when, keys = when or in_this_month(), [f"{tag}-{n}" for n in range(positive + negative)]
    with podium.db.session(tenant_id) as session:
        session.add_all(Survey(connection_id=connection_id, external_id=key, identity_id=identity,
                               score=5.0 if n < positive else 2.0, scale_min=1.0, scale_max=5.0,
                               submitted_at=when - dt.timedelta(minutes=n)) for n, key in enumerate(keys))
    return keys


def add_entries(podium: Podium, org: Org, member: str, on_time: int, late: int) -> None:
    """Time entries of ``member`` this month, entered 10 minutes (on time) or 2 hours (late) after their end."""
    who, when = identity_id(podium, org, member), in_this_month()
    with podium.db.session(org.tenant_id) as session:
        for n in range(on_time + late):
            end = when - dt.timedelta(minutes=30 + 5 * n)
            lag = dt.timedelta(minutes=10) if n < on_time else dt.timedelta(hours=2)
            session.add(TimeEntry(connection_id=org.tab_connection_id, external_id=f"{member}-x{n}",
                                  identity_id=who, start_at=end - dt.timedelta(minutes=30), end_at=end, hours=0.5,
                                  entered_at=end + lag, work_type="Remote support"))


def assign_plan(podium: Podium, tenant_id: int, people: list[int]) -> tuple[int, PayPeriod]:
    """Apply the engineer plan from this quarter on, with ``people`` as Engineer L1 who
    acknowledged it before the quarter began; returns the version id and the quarter."""
    engine = PayoutEngine(podium)
    with podium.db.session(tenant_id) as session:
        tenant = session.get(Tenant, tenant_id)
        today = dt.datetime.now(dt.UTC).astimezone(zoneinfo.ZoneInfo(tenant.time_zone)).date()
        period = containing("quarterly", today, tenant.fiscal_year_start_month)
        for person in people:
            session.add(PersonFact(person_id=person, kind="role", value_text="Engineer L1",
                                   valid_from=today - dt.timedelta(days=800)))
        definition = engine.load(PLAN_FILE.read_text(), PLAN_FILE.name)
        version, _ = apply_plan(session, engine, tenant_id, definition, "test", source_name=PLAN_FILE.name,
                                effective_from=period.start)
        before = dt.datetime.combine(period.start, dt.time(), dt.UTC) - dt.timedelta(days=2)
        for person in people:
            session.add(Acknowledgment(plan_version_id=version.id, person_id=person, acknowledged_at=before,
                                       recorded_by="test"))
        return version.id, period


def track_plan(podium: Podium, tenant_id: int, version_id: int) -> None:
    """Materialise the plan's metrics, so a change is recomputed and announced as in production."""
    with podium.db.session(tenant_id) as session:
        track(session, PayoutEngine(podium), session.get(PlanVersion, version_id))


def add_history(podium: Podium, org: Org, member: str, quarters: list[tuple[int, int]]) -> None:
    """``(positive, negative)`` surveys of ``member`` in each quarter before this one, the
    latest first, so a trend has a past."""
    with podium.db.session(org.tenant_id) as session:
        tenant = session.get(Tenant, org.tenant_id)
        fiscal, zone = tenant.fiscal_year_start_month, zoneinfo.ZoneInfo(tenant.time_zone)
    period = containing("quarterly", dt.datetime.now(zone).date(), fiscal)
    for n, (positive, negative) in enumerate(quarters):
        period = preceding(period, fiscal)
        middle = dt.datetime.combine(period.start + dt.timedelta(days=40), dt.time(12), zone)
        add_surveys(podium, org.tenant_id, org.tab_connection_id, identity_id(podium, org, member), positive,
                    negative, tag=f"{member}-q{n}", when=middle)


def seed_scorecard(podium: Podium, org: Org) -> Scored:
    version_id, period = assign_plan(podium, org.tenant_id, [org.ada, org.bob])
    for member, positive, negative in (("m-ada", 19, 1), ("m-bob", 3, 1)):
        add_surveys(podium, org.tenant_id, org.tab_connection_id, identity_id(podium, org, member), positive,
                    negative, tag=member)
    add_entries(podium, org, "m-ada", 5, 1)
    add_entries(podium, org, "m-bob", 1, 0)
    track_plan(podium, org.tenant_id, version_id)
    return Scored(org=org, version_id=version_id, period=period)
