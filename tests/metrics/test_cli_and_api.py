"""``podium metrics`` and ``/api/v1/metrics``: the same figures, and who may see which."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from podium.api.metrics import blp
from podium.app import create_app
from podium.runtime import Podium
from tests.metrics.world import World
from tests.test_auth import Caller, add_token, assert_envelope, invoke


def test_cli_list_show_and_explain(runtime: Podium, world: World) -> None:
    listed = invoke(runtime, ["metrics", "list"])
    assert listed.exit_code == 0, listed.output
    assert "fcr_pct  First-contact resolution  [percent, higher is better]  (podium_metrics)" in listed.output
    assert "    reopen_window_days = 7" in listed.output
    catalogue = json.loads(invoke(runtime, ["metrics", "list", "--json"]).output)
    assert {m["key"] for m in catalogue} >= {"fcr_pct", "mttr_business_hours", "gross_margin_attainment_pct"}

    shown = invoke(runtime, ["metrics", "show", "mttr_business_hours", "--period", "month:2024-03"])
    assert shown.exit_code == 0, shown.output
    assert "  1: 2.33 h  (25200 / 3, 3 records; as of" in shown.output
    assert "  2: 4.17 h  (45000 / 3, 3 records;" in shown.output

    explained = invoke(runtime, ["metrics", "show", "fcr_pct", "--period", "month:2024-03", "--subject", "1",
                                 "--explain", "--param", "reopen_window_days=2", "--json"])
    assert explained.exit_code == 0, explained.output
    body = json.loads(explained.output)
    # With a 2-day window T5's reopen (3 days later) no longer counts against it.
    assert [v["numerator"] for v in body["values"]] == [2.0]
    assert [(r["record_id"], r["numerator"]) for r in body["records"]] == [
        (world["T1"], 1.0), (world["T2"], 0.0), (world["T5"], 1.0)]

    for args, message in (
        (["--period", "fortnight"], "unknown period kind"),
        (["--param", "reopen_window_days=-3"], "reopen_window_days"),
        (["--explain"], "--explain needs --subject"),
    ):
        failed = invoke(runtime, ["metrics", "show", "fcr_pct", *args])
        assert failed.exit_code == 2 and message in failed.output, failed.output
    assert "no metric 'nope'" in invoke(runtime, ["metrics", "show", "nope"]).output


@pytest.fixture
def app(runtime: Podium) -> Flask:
    app = create_app(runtime, run_jobs=False)
    if "metrics" not in app.blueprints:  # until core/api/__init__.py lists it in RESOURCES
        app.extensions["flask-smorest"]["apis"][""]["ext_obj"].register_blueprint(blp)
    return app


def caller(app: Flask, runtime: Podium, world: World, role: str, person: str | None = None) -> Caller:
    token = add_token(runtime, world.tenant_id, role, person_id=world[person] if person else None)
    return Caller(app.test_client(), token)


def figures(response: Any) -> list[tuple[str, float, float]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [(v["subject"], v["numerator"], v["denominator"]) for v in response.get_json()["values"]]


def test_api_catalogue_and_figures(app: Flask, runtime: Podium, world: World) -> None:
    admin = caller(app, runtime, world, "admin")
    catalogue = admin.get("/api/v1/metrics").get_json()
    fcr = next(m for m in catalogue if m["key"] == "fcr_pct")
    assert fcr["params"]["reopen_window_days"]["default"] == 7 and fcr["unit"] == "percent"
    url = "/api/v1/metrics/sla_response_met_pct?period=month:2024-03"
    assert figures(admin.get(url)) == [("1", 3, 4), ("2", 1, 2)]
    assert figures(admin.get(url + "&grain=company")) == [("", 4, 6)]
    body = admin.get("/api/v1/metrics/fcr_pct?period=month:2024-03&subject=2&explain=1").get_json()
    assert [r["record_id"] for r in body["records"]] == [world["T3"], world["T4"], world["T8"]]
    assert body["values"][0]["value"] == pytest.approx(100 / 3)
    assert "/api/v1/metrics/{key}" in app.test_client().get("/api/v1/openapi.json").get_json()["paths"]

    bad = assert_envelope(admin.get('/api/v1/metrics/fcr_pct?params={"reopen_window_days": -1}'), 422)
    assert set(bad["errors"]) == {"params.reopen_window_days"}
    assert set(assert_envelope(admin.get("/api/v1/metrics/fcr_pct?period=month:May"), 422)["errors"]) == {"period"}
    assert set(assert_envelope(admin.get("/api/v1/metrics/fcr_pct?grain=galaxy"), 422)["errors"]) == {"grain"}
    assert set(assert_envelope(admin.get("/api/v1/metrics/fcr_pct?params=[1]"), 422)["errors"]) == {"params"}
    assert_envelope(admin.get("/api/v1/metrics/nope"), 404)
    assert_envelope(app.test_client().get("/api/v1/metrics"), 401)


def test_api_roles(app: Flask, runtime: Podium, world: World) -> None:
    url = "/api/v1/metrics/csat_positive_pct?period=month:2024-03"
    ana = caller(app, runtime, world, "technician", "ana")
    assert figures(ana.get(url)) == [("1", 3, 3)], "a technician sees only themselves"
    explained = ana.get(url + "&explain=1").get_json()
    assert [r["record_id"] for r in explained["records"]] == [world["S1"], world["S2"], world["S7"]]
    assert_envelope(ana.get(url + "&subject=2"), 403)
    for grain in ("team", "role", "client", "company"):
        assert_envelope(ana.get(f"{url}&grain={grain}"), 403)

    manager = caller(app, runtime, world, "manager", "ana")
    assert figures(manager.get(url)) == [("1", 3, 3), ("2", 0, 2)], "Ben is in the manager's team"
    assert figures(manager.get(url + "&grain=team")) == [(str(world["helpdesk"]), 3, 4)]
    assert_envelope(manager.get(f"{url}&grain=team&subject={world['projects']}"), 403)
    assert_envelope(manager.get(url + "&grain=company"), 403)

    assert_envelope(caller(app, runtime, world, "technician").get(url), 403)
    auditor = caller(app, runtime, world, "auditor")
    assert figures(auditor.get(url + "&grain=company")) == [("", 4, 6)]
