"""The world in ConnectWise's terms: tiers as teams, SLA stages, the audit trail, time entries."""

from __future__ import annotations

import dataclasses
import re

import pytest

from podium.simulate import World
from podium.simulate.catalog import BOARDS, WORK_TYPES
from podium_connectwise.simulator.render import Renderer
from tests.connectwise.live import SMALL_WORLD

TEAM_OF_TIER = {1: "Help Desk", 2: "Escalations", 3: "Projects"}
FROM_TO = re.compile(r'^(?P<what>[A-Za-z ]+) changed from "(?P<before>[^"]*)" to "(?P<after>[^"]*)"$')


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(World(SMALL_WORLD))


def test_a_tickets_tier_is_its_team_and_escalation_level_is_its_sla_stage(renderer: Renderer) -> None:
    tiers = set()
    for story in renderer.world.stories():
        data = story.ticket.data
        ticket = renderer.ticket(story.ticket, story.events)
        tiers.add(data["tier"])
        assert ticket["team"]["name"].startswith(TEAM_OF_TIER[data["tier"]])
        assert ticket["board"]["name"] == data["board"]
        stage = 15 if data["resolved_at"] else 10 if data["first_response_at"] else 0
        assert ticket["escalationLevel"] == stage
        status = next(s for s in BOARDS[data["board"]].statuses if s.name == data["status"])
        assert ticket["status"]["id"] == BOARDS[data["board"]].id * 10 + status.sort
        assert ticket["closedFlag"] is status.closed
    assert {1, 2} <= tiers, "the world escalates some tickets"


def test_the_audit_trail_replays_to_the_tickets_current_state(renderer: Renderer) -> None:
    replayed = 0
    for story in renderer.world.stories():
        ticket = renderer.ticket(story.ticket, story.events)
        last: dict[str, str] = {}
        for entry in renderer.audit_trail(story.ticket, story.events):
            match = FROM_TO.match(entry["text"])
            assert match, entry["text"]
            assert entry["auditType"] == "Ticket" and entry["enteredDate"] >= ticket["_info"]["dateEntered"]
            before = last.get(entry["auditSubType"])
            assert before is None or before == match["before"], "each change starts where the previous ended"
            last[entry["auditSubType"]] = match["after"]
        assert last.get("Status", "New") == ticket["status"]["name"]
        if "owner" in ticket:
            assert last["Owner"] == ticket["owner"]["identifier"]
        if "Team" in last:
            assert last["Team"] == ticket["team"]["name"]
            replayed += 1
    assert replayed > 0


def test_time_entries_charge_to_tickets_or_to_charge_codes_named_after_their_work_type(renderer: Renderer) -> None:
    codes = {code_id: name for name, code_id in renderer.charge_codes.items()}
    for record in renderer.world.time_entries():
        name, parent, entry = renderer.time_entry(record)
        assert (name, parent) == ("time_entries", None)
        assert entry["timeEnd"] > entry["timeStart"]
        if entry["workType"]["name"] != "PTO":  # PTO is requested ahead; all else is logged after the work
            assert entry["dateEntered"] >= entry["timeEnd"]
        if entry["chargeToType"] == "ChargeCode":
            assert codes[entry["chargeToId"]] == entry["workType"]["name"]
            assert WORK_TYPES[entry["workType"]["name"]].mapping != "billable"
        else:
            assert entry["chargeToId"] == entry["ticket"]["id"]
        assert entry["status"] != "Rejected"
    rejected = dataclasses.replace(record, data={**record.data, "rejected": True})
    assert renderer.time_entry(rejected)[2]["status"] == "Rejected"
