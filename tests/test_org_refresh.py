"""Org edits queue ``refresh_metrics``, whichever path makes them, and the refresh moves team figures.

The world is the hand-made MSP of ``tests/metrics/world.py``: Ben is in Projects until
03-16 and in Help Desk from then on. The edit below moves him back to Projects from 03-20,
which carries his 6 h of 03-27 from Help Desk to Projects:

==========  =====================  =========================
team        March hours before     after the move
==========  =====================  =========================
Help Desk   Ana 13.5 + Ben 7 = 20.5  Ana 13.5 + Ben 1 = 14.5
Projects    Ben 1                  Ben 1 + 6 = 7
==========  =====================  =========================
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from rq import Queue
from sqlalchemy import select

from podium import jobs
from podium.api import register_api
from podium.db import Database
from podium.dbqueue import DbQueueWorker
from podium.metrics.engine import MetricEngine
from podium.metrics.periods import Period
from podium.models import Identity
from podium.runtime import Podium
from tests.metrics.world import NOW, World, build
from tests.test_auth import Caller, add_token, invoke
from tests.test_jobs import rq_burst

MARCH = Period("month", dt.date(2024, 3, 1), dt.date(2024, 4, 1))
MOVE = (
    "person,team,valid_from,valid_to,share\n"
    "ben@acme.test,Help Desk,2024-03-16,2024-03-20,1\n"
    "ben@acme.test,Projects,2024-03-20,,1\n"
)
CSV = {"Content-Type": "text/csv"}


def tracked_world(podium: Podium) -> World:
    """The world, with March team hours tracked (as a team pod would)."""
    with podium.db.session() as session:
        world = build(session)
    with podium.db.session(world.tenant_id) as session:
        MetricEngine(podium, clock=lambda: NOW).track(session, world.tenant_id, "hours_worked", "team", "month",
                                                      "pod:teams", dt.date(2024, 3, 1))
    return world


def team_hours(podium: Podium, world: World) -> dict[int, float]:
    """The stored March figures (what pods and plans read), by team id."""
    with podium.db.session(world.tenant_id) as session:
        values = MetricEngine(podium).values(session, world.tenant_id, "hours_worked", "team", MARCH)
    return {int(v.subject): v.numerator for v in values}


def refresh_jobs(podium: Podium) -> list[tuple[int | None, dict[str, object]]]:
    return [(row["tenant_id"], row["args"]) for row in jobs.pending_jobs(podium) if row["type"] == "refresh_metrics"]


@pytest.fixture
def world(podium: Podium) -> World:
    return tracked_world(podium)


@pytest.fixture
def admin(podium: Podium, world: World) -> Caller:
    app = Flask("podium-org-refresh-test")
    app.extensions["podium"] = podium
    register_api(app)
    return Caller(app.test_client(), add_token(podium, world.tenant_id, "admin"))


def test_a_membership_edit_through_the_api_queues_a_refresh_that_moves_the_team_figures(
    podium: Podium, world: World, admin: Caller
) -> None:
    assert team_hours(podium, world) == {world["helpdesk"]: 20.5, world["projects"]: 1.0}
    assert refresh_jobs(podium) == []
    moved = admin.post("/api/v1/org/csv/memberships", data=MOVE, headers=CSV)
    assert moved.status_code == 200, moved.json
    assert refresh_jobs(podium) == [(world.tenant_id, {"trigger": "org"})]
    assert team_hours(podium, world) == {world["helpdesk"]: 20.5, world["projects"]: 1.0}  # not yet refreshed
    DbQueueWorker(podium, ["metrics"], schedule=False).work(burst=True)
    assert refresh_jobs(podium) == []
    assert team_hours(podium, world) == {world["helpdesk"]: 14.5, world["projects"]: 7.0}


def test_edits_coalesce_and_a_refused_edit_queues_nothing(podium: Podium, world: World, admin: Caller) -> None:
    refused = admin.post("/api/v1/org/csv/memberships", data="person,team,valid_from\nben@acme.test,Nope,2024-03-20\n",
                         headers=CSV)
    assert refused.status_code == 422
    assert refresh_jobs(podium) == []
    assert admin.post("/api/v1/org/csv/memberships", data=MOVE, headers=CSV).status_code == 200
    unlinked = admin.post(f"/api/v1/org/identities/{world['ben_id']}/unlink", json={"reason": "left"})
    assert unlinked.status_code == 200, unlinked.json
    holiday = admin.post("/api/v1/org/csv/holidays", data="calendar,day,name\nOffice,2024-03-18,Storm\n",
                         headers=CSV)
    assert holiday.status_code == 200, holiday.json
    assert refresh_jobs(podium) == [(world.tenant_id, {"trigger": "org"})]  # one job for three edits


def test_a_membership_edit_through_the_cli_queues_a_refresh(
    podium: Podium, world: World, tmp_path: Path
) -> None:
    path = tmp_path / "memberships.csv"
    path.write_text(MOVE)
    done = invoke(podium, ["org", "import", "memberships", str(path), "--tenant", "acme"])
    assert done.exit_code == 0, done.output
    assert refresh_jobs(podium) == [(world.tenant_id, {"trigger": "org"})]


def test_an_edit_in_a_tenant_without_metrics_queues_nothing(podium: Podium, db: Database, tenant_id: int,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "teams.csv"
    path.write_text("name\nNight Shift\n")
    assert invoke(podium, ["org", "import", "teams", str(path)]).exit_code == 0
    assert jobs.pending_jobs(podium) == []


def test_an_identity_link_changed_in_code_queues_a_refresh(podium: Podium, world: World) -> None:
    """Not only the API and CLI: any ORM write of org data (here the resolver's model) counts."""
    with podium.db.session(world.tenant_id) as session:
        identity = session.scalars(select(Identity).where(Identity.id == world["ghost_id"])).one()
        identity.person_id = world["ben"]
    assert refresh_jobs(podium) == [(world.tenant_id, {"trigger": "org"})]


def test_on_rq_a_membership_edit_queues_one_refresh_that_moves_the_team_figures(
    podium: Podium, redis_url: str
) -> None:
    runtime = Podium(replace(podium.config, redis_url=redis_url))
    jobs.use_runtime(runtime)
    try:
        world = tracked_world(runtime)
        app = Flask("podium-org-refresh-rq-test")
        app.extensions["podium"] = runtime
        register_api(app)
        admin = Caller(app.test_client(), add_token(runtime, world.tenant_id, "admin"))
        assert admin.post("/api/v1/org/csv/memberships", data=MOVE, headers=CSV).status_code == 200
        assert admin.post(f"/api/v1/org/identities/{world['ghost_id']}/unlink", json={}).status_code == 200
        queue = Queue("metrics", connection=jobs.redis_client(redis_url))
        [job_id] = queue.get_job_ids()
        assert job_id.startswith(f"metrics-refresh-{world.tenant_id}-")
        rq_burst(runtime)
        assert team_hours(runtime, world) == {world["helpdesk"]: 14.5, world["projects"]: 7.0}
    finally:
        jobs.use_runtime(None)
        runtime.db.dispose()
