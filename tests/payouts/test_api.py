"""The payouts REST API, role by role: technicians see only their own lines, auditors only read."""

from __future__ import annotations

import pytest
from flask import Flask
from podium.app import create_app
from podium.jobs import pending_jobs
from podium.runtime import Podium

from tests.payouts.conftest import PLANS, World
from tests.payouts.test_close import ACK
from tests.test_auth import Caller, add_token, assert_envelope

PERIOD = "/engineer-quarterly/FY2025-Q1"


@pytest.fixture
def app(runtime: Podium) -> Flask:
    return create_app(runtime, run_jobs=False)


def callers(app: Flask, world: World, people: dict[str, int]) -> dict[str, Caller]:
    def token(role: str, person: str | None = None) -> Caller:
        raw = add_token(world.podium, world.tenant_id, role, person_id=people[person] if person else None)
        return Caller(app.test_client(), raw)

    return {"admin": token("admin"), "manager": token("manager", "Max"), "ana": token("technician", "Ana"),
            "auditor": token("auditor")}


def test_plans_periods_payouts_statements_appeals_and_audit_by_role(app: Flask, world: World) -> None:
    people = {name: world.person(name, role=role) for name, role in
              (("Ana", "Engineer L1"), ("Bo", "Engineer L2"), ("Max", "Manager"))}
    for person in people.values():
        world.member(person, "Engineers")
    api = callers(app, world, people)
    source = (PLANS / "engineer_quarterly_scorecard.yaml").read_text()

    invalid = assert_envelope(api["admin"].post("/api/v1/plans", json={
        "source": source.replace("target: 98", "target: high"), "name": "eng.yaml"}), 422)
    assert invalid["errors"]["rules[0].components[2].target"][0].startswith("line 31: Give a number")
    assert_envelope(api["manager"].post("/api/v1/plans", json={"source": source}), 403)
    created = api["admin"].post("/api/v1/plans", json={"source": source, "name": "eng.yaml",
                                                       "effective_from": "2025-01-01"})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["version"] == 1
    assert [job["type"] for job in pending_jobs(world.podium)] == ["track_plan_metrics"]
    assert api["ana"].get("/api/v1/plans").get_json()[0]["key"] == "engineer-quarterly"
    acknowledged = api["manager"].post("/api/v1/plans/engineer-quarterly/acknowledgments", json={})
    assert acknowledged.status_code == 201 and acknowledged.get_json()["person_id"] == people["Max"]
    assert_envelope(api["ana"].post("/api/v1/plans/engineer-quarterly/acknowledgments",
                                    json={"person_id": people["Bo"]}), 403)

    q1 = world.period("FY2025-Q1", "quarterly")
    with world.session() as session:
        version_id = world.engine.version_for(session, world.plan(session, "engineer-quarterly"), q1.start).id
    for name in ("Ana", "Bo"):
        world.acknowledge(people[name], version_id, ACK)
        world.value("csat_positive_pct", people[name], q1, 39, 40)

    mine = api["ana"].get("/api/v1/payouts" + PERIOD).get_json()
    assert {line["person_id"] for line in mine["lines"]} == {people["Ana"]}
    assert mine["totals"] == {str(people["Ana"]): 35156}
    everyone = api["manager"].get("/api/v1/payouts" + PERIOD).get_json()
    assert set(everyone["totals"]) == {str(people["Ana"]), str(people["Bo"])}
    preview = api["ana"].get("/api/v1/payouts" + PERIOD + "/preview").get_json()
    assert [p["person_id"] for p in preview["people"]] == [people["Ana"]]
    what_if = api["ana"].post("/api/v1/payouts" + PERIOD + "/what-if",
                              json={"metric_values": {"csat_positive_pct": 98}}).get_json()
    assert [(c["person_id"], c["change_minor"]) for c in what_if["changes"]] == [(people["Ana"], 2344)]

    assert_envelope(api["ana"].get(f"/api/v1/statements{PERIOD}/{people['Bo']}"), 403)
    html = api["ana"].get(f"/api/v1/statements{PERIOD}/{people['Ana']}?format=html")
    assert html.status_code == 200 and html.mimetype == "text/html"
    assert "Provisional" in html.get_data(as_text=True)

    assert_envelope(api["ana"].post("/api/v1/periods" + PERIOD + "/approve"), 403)
    assert_envelope(api["auditor"].post("/api/v1/periods" + PERIOD + "/approve"), 403)
    approved = api["manager"].post("/api/v1/periods" + PERIOD + "/approve")
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    assert_envelope(api["manager"].post("/api/v1/periods" + PERIOD + "/close"), 403)
    closed = api["admin"].post("/api/v1/periods" + PERIOD + "/close")
    assert closed.get_json()["status"] == "closed"
    again = assert_envelope(api["admin"].post("/api/v1/periods" + PERIOD + "/close"), 409)
    assert again["message"] == "period: FY2025-Q1 is closed; a manager approves it before an admin closes it"
    refused = assert_envelope(api["manager"].post("/api/v1/periods" + PERIOD + "/adjustments", json={
        "person_id": people["Ana"], "amount_minor": 100, "reason": "late survey"}), 409)
    assert refused["errors"] == {"period": ["FY2025-Q1 is closed; put the adjustment in an open period and link it"]}

    appeal = api["ana"].post("/api/v1/appeals", json={"plan": "engineer-quarterly", "period": "FY2025-Q1",
                                                     "rule": "scorecard", "reason": "One survey was for Bo."})
    assert appeal.status_code == 201, appeal.get_json()
    appeal_id = appeal.get_json()["id"]
    assert_envelope(api["ana"].post("/api/v1/appeals", json={
        "plan": "engineer-quarterly", "period": "FY2025-Q1", "rule": "scorecard", "reason": "x",
        "person_id": people["Bo"]}), 403)
    assert_envelope(api["ana"].post(f"/api/v1/appeals/{appeal_id}/decision", json={
        "decision": "accept", "note": "yes", "amount_minor": 2344}), 403)
    decided = api["manager"].post(f"/api/v1/appeals/{appeal_id}/decision", json={
        "decision": "partly_accept", "note": "Half of the difference.", "amount_minor": 1172})
    assert decided.get_json()["status"] == "partly_accepted"
    assert [a["id"] for a in api["ana"].get("/api/v1/appeals").get_json()] == [appeal_id]

    assert_envelope(api["ana"].get("/api/v1/audit"), 403)
    actions = [event["action"] for event in api["auditor"].get("/api/v1/audit?page_size=50").get_json()]
    assert actions == ["appeal.partly_accept", "adjustment.create", "appeal.open", "period.close",
                       "period.approve", "plan.acknowledge", "plan.apply"]
    statement = api["auditor"].get(f"/api/v1/statements{PERIOD}/{people['Bo']}").get_json()
    assert (statement["status"], statement["total_minor"]) == ("closed", 35156)
