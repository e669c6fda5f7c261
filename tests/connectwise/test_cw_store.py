"""The world store: what it refuses to hold, and how an edit moves ``lastUpdated``."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, text

from podium_connectwise.simulator.resources import RESOURCES
from podium_connectwise.simulator.store import InvalidRecord, WorldStore
from tests.connectwise.live import new_store, serve_live

INFO = {"lastUpdated": "2024-05-01T08:00:00Z", "updatedBy": "admin"}
BOARD = {"id": 1, "name": "Service Desk", "_info": INFO}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[WorldStore]:
    store = WorldStore(f"sqlite:///{tmp_path / 'cw.db'}")
    yield store
    store.close()


@pytest.mark.parametrize(("name", "parent", "record", "problem"), [
    ("boards", None, {**BOARD, "id": "1"}, "id: '1' is not an integer"),
    ("boards", None, {**BOARD, "colour": "red"}, "colour: not a field"),
    ("boards", None, {**BOARD, "inactiveFlag": None}, "inactiveFlag: null (ConnectWise omits empty fields)"),
    ("boards", None, {**BOARD, "inactiveFlag": 0}, "inactiveFlag: 0 is not a boolean"),
    ("boards", None, {**BOARD, "_info": {"lastUpdated": "2024-05-01 08:00:00"}}, "_info: "),
    ("boards", None, {**BOARD, "location": {"id": 1, "city": "Austin"}}, "location/city: not a field"),
    ("service_tickets", None, {"id": 1, "summary": "x", "closedDate": "2024-05-01T08:00:00+00:00"},
     "closedDate: '2024-05-01T08:00:00+00:00' is not an ISO-8601 UTC timestamp ending in Z"),
    ("service_tickets", None, {"id": 1, "summary": "x", "actualHours": True}, "actualHours: True is not a decimal"),
    ("holidays", 1, {"id": 1, "name": "x", "date": "2024-12-25T00:00:00Z"}, "is not a YYYY-MM-DD date"),
    ("board_statuses", None, {"id": 1, "name": "New"}, "board_statuses records need parent id"),
    ("boards", 3, BOARD, "boards records have no parent id"),
])
def test_records_that_do_not_match_their_resource_are_refused(store: WorldStore, name: str, parent: int | None,
                                                             record: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidRecord, match=re.escape(problem)):
        store.load([(name, parent, record)])


def test_update_moves_last_updated_and_drops_emptied_fields(request: pytest.FixtureRequest, backend: str,
                                                            tmp_path: Path) -> None:
    with new_store(request, backend, tmp_path) as store:
        store.load([("boards", None, BOARD), ("boards", None, {**BOARD, "id": 2, "name": "Tier 2",
                                                               "inactiveFlag": False})])
        at = dt.datetime(2024, 6, 1, 12, 30, 15, 500, tzinfo=dt.UTC)
        changed = store.update("boards", 2, {"inactiveFlag": None, "name": "Escalations"}, at=at, updated_by="jdoe")
        assert changed == {"id": 2, "name": "Escalations",
                           "_info": {"lastUpdated": "2024-06-01T12:30:15Z", "updatedBy": "jdoe"}}
        assert store.get(RESOURCES["boards"], 2) == changed
        assert store.count(RESOURCES["boards"], "lastUpdated > [2024-05-01T08:00:00Z]") == 1
        store.update("boards", 1, lambda record: record.update(inactiveFlag=True))
        assert store.count(RESOURCES["boards"], "inactiveFlag = true and lastUpdated > [2024-06-01T12:30:15Z]") == 1
        with pytest.raises(InvalidRecord):
            store.update("boards", 1, {"name": 5})
        with pytest.raises(KeyError):
            store.update("boards", 99, {"name": "nobody"})


def test_a_record_the_simulator_cannot_read_answers_500_in_connectwise_shape(store: WorldStore) -> None:
    store.load([("boards", None, BOARD)])
    with store.engine.begin() as conn:  # a row written behind the store's back, as a broken tool might
        conn.execute(insert(store.tables["boards"]).values(parent_id=0, id=2, last_updated=None, record={}))
        conn.execute(text("UPDATE cw_boards SET record = 'not json' WHERE id = 2"))
    with serve_live(store) as live:
        assert live.get("service/boards/1").status_code == 200
        broken = live.get("service/boards/2")
    assert broken.status_code == 500
    assert broken.json() == {"code": "InternalServerError", "message": "An unexpected error occurred", "errors": None}
