"""ConnectWise simulator fixtures: every store-backed test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param
