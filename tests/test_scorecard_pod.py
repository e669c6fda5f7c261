"""The "My scorecard" pod, server side: the right person's numbers, the same as the API's;
access; the drill-down; the refresh after a recompute. On SQLite and PostgreSQL.

The org and its quarter are :mod:`tests.scorecard_support`'s: the engineer plan of the
seeds, Ada at CSAT 19 of 20 (95%) and timely entries 5 of 6 (83.33%), Bob at 3 of 4 (75%).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from podium import live
from podium.auth import create_token
from podium.metrics.changes import records_changed
from podium.models import PlanVersion, User
from podium.payouts.money import format_money, format_number
from podium.runtime import Podium
from sqlalchemy import update

from tests.pods_support import Org, pod_headers, seed_org, user_token, web_app
from tests.scorecard_support import (
    PLAN_KEY,
    Scored,
    add_history,
    add_surveys,
    identity_id,
    scorecard_runtime,
    seed_scorecard,
)

PSA = "https://psa.example"
COMPONENTS = ("productive_utilization_pct", "time_entry_timeliness_pct", "csat_positive_pct",
              "endpoint_integrity_pct")


@dataclass
class Stage:
    podium: Podium
    scored: Scored
    client: FlaskClient

    @property
    def org(self) -> Org:
        return self.scored.org

    def body(self, user_id: int, query: str = "") -> Any:
        token = user_token(self.podium, self.org.tenant_id, user_id)
        return self.client.get(f"/pods/scorecard/body{query}", headers=pod_headers(token))

    def api(self, user_id: int, path: str) -> Any:
        with self.podium.db.session(self.org.tenant_id) as session:
            raw = create_token(session, session.get(User, user_id), "scorecard test")
        answer = self.client.get(path, headers={"Authorization": f"Bearer {raw}"})
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()


@pytest.fixture
def stage(database_url: str, tmp_path: Path) -> Iterator[Stage]:
    podium = scorecard_runtime(database_url, tmp_path)
    scored = seed_scorecard(podium, seed_org(podium, PSA))
    yield Stage(podium, scored, web_app(podium).test_client())
    podium.db.dispose()


def field(page: str, name: str, metric: str | None = None) -> str:
    """The text of ``data-field=name`` (inside the row of ``metric`` when given)."""
    scope = page
    if metric is not None:
        scope = re.search(rf'<tr data-metric="{metric}".*?</tr>', page, re.S).group(0)
    return html.unescape(re.search(rf'data-field="{name}">([^<]*)<', scope).group(1)).strip()


def pooled(page: str, metric: str) -> str:
    row = re.search(rf'<tr data-metric="{metric}".*?</tr>', page, re.S).group(0)
    found = re.search(r'class="sc-pooled">\(([^)]*)\)', row)
    return found.group(1) if found else ""


def figure_index(page: str, metric: str) -> int:
    return int(re.search(rf'<tr data-metric="{metric}" data-figure="(\d+)"', page).group(1))


def records(page: str) -> set[str]:
    return set(re.findall(r'<tr data-record="([^"]+)"', page))


def test_the_scorecard_shows_the_persons_numbers_as_the_api_has_them(stage: Stage) -> None:
    org, period = stage.org, stage.scored.period
    answer = stage.body(org.ada_user)
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert 'data-person-id="%d"' % org.ada in page and "Ada Lovelace" in page
    assert f'data-plan="{PLAN_KEY}"' in page and period.label in page

    preview = stage.api(org.ada_user, f"/api/v1/payouts/{PLAN_KEY}/{period.label}/preview")
    [me] = preview["people"]
    assert me["person_id"] == org.ada
    currency = preview["currency"]
    assert field(page, "earned") == format_money(me["earned_minor"], currency)
    assert field(page, "on-the-table") == format_money(me["on_the_table_minor"], currency)
    assert field(page, "projected") == format_money(me["projected_minor"], currency)
    assert me["hints"], "Ada is short of a target, so the engine has a next step for her"
    for hint in me["hints"]:
        assert f"<li>{html.escape(hint)}</li>" in page

    shown = {}
    for metric in COMPONENTS:
        figures = stage.api(org.ada_user, f"/api/v1/metrics/{metric}?period=quarter:{period.start}"
                                          + ('&params={"within_minutes":60}' if "timeliness" in metric else ""))
        values = figures["values"]
        value = values[0]["value"] if values else None
        assert field(page, "value", metric) == ("no data" if value is None else f"{format_number(value)}%"), metric
        shown[metric] = (field(page, "value", metric), pooled(page, metric), field(page, "goal", metric))
    # ... and by hand: the figures the support module wrote.
    assert shown["csat_positive_pct"] == ("95%", "19 of 20", "98%")
    assert shown["time_entry_timeliness_pct"] == ("83.33%", "5 of 6", "95%")
    assert shown["endpoint_integrity_pct"] == ("no data", "", "95%")
    assert "CSAT needs 98% (now 95%): 30 more that count and none that do not" in html.unescape(page)


def test_bob_sees_his_own_numbers_not_adas(stage: Stage) -> None:
    page = stage.body(stage.org.bob_user).get_data(as_text=True)
    assert 'data-person-id="%d"' % stage.org.bob in page
    assert (field(page, "value", "csat_positive_pct"), pooled(page, "csat_positive_pct")) == ("75%", "3 of 4")
    assert "Ada Lovelace" not in page


def test_each_figure_has_a_trend_line_screen_readers_can_read(stage: Stage) -> None:
    page = stage.body(stage.org.ada_user).get_data(as_text=True)
    row = re.search(r'<tr data-metric="csat_positive_pct".*?</tr>', page, re.S).group(0)
    assert re.search(r'<svg [^>]*role="img" aria-labelledby="sc-t-[^"]+"', row)
    title = html.unescape(re.search(r"<title [^>]*>([^<]*)</title>", row).group(1))
    label = stage.scored.period.label
    assert title.startswith("CSAT over the last 6 periods: ") and f"{label} 95%" in title and "goal 98%" in title
    assert title.count("no data") == 5, "no surveys before this quarter"
    assert "<polyline" in row and 'r="3.2"' in row, "the current period is drawn"
    assert '<th scope="col">Trend</th>' in page and '<th scope="row">' in row


def test_the_trend_reads_the_same_metric_for_earlier_quarters(stage: Stage) -> None:
    add_history(stage.podium, stage.org, "m-ada", [(4, 1), (0, 0), (1, 1)])
    page = stage.body(stage.org.ada_user).get_data(as_text=True)
    row = re.search(r'<tr data-metric="csat_positive_pct".*?</tr>', page, re.S).group(0)
    title = html.unescape(re.search(r"<title [^>]*>([^<]*)</title>", row).group(1))
    quarters = [item.rsplit(" ", 1)[1] for item in title.split(": ", 1)[1].split("; ")[0].split(", ")]
    assert quarters[-4:] == ["50%", "data", "80%", "95%"], title
    assert row.count("<polyline") == 2, "a quarter without data breaks the line"


def test_freshness_says_how_old_the_data_is(stage: Stage) -> None:
    page = stage.body(stage.org.ada_user).get_data(as_text=True)
    assert re.search(r'<p class="meta" id="sc-freshness"><time datetime="[^"]+"[^>]*>data (less than a minute|\d+ min) '
                     r"old</time>", page)


def test_a_technician_naming_another_person_is_refused(stage: Stage) -> None:
    org = stage.org
    for query in (f"?person={org.ada}", f"?person={org.ada}&plan={PLAN_KEY}&figure=2"):
        answer = stage.body(org.bob_user, query)
        assert answer.status_code == 403, query
        assert answer.get_json()["errors"]["session"] == ["forbidden"]
        assert "Ada" not in answer.get_data(as_text=True)


def test_a_manager_sees_their_reports_scorecard_and_links_keep_the_person(stage: Stage) -> None:
    org = stage.org
    page = stage.body(org.mia_user, f"?person={org.ada}").get_data(as_text=True)
    assert 'data-person-id="%d"' % org.ada in page and "Viewed by Mia Hamm (manager)." in page
    assert pooled(page, "csat_positive_pct") == "19 of 20"
    index = figure_index(page, "csat_positive_pct")
    assert f'href="/pods/scorecard/body?plan={PLAN_KEY}&amp;figure={index}&amp;person={org.ada}" data-pod-nav' in page
    assert stage.body(org.mia_user, f"?person={org.bob}").status_code == 403, "Bob is not Mia's report"


def test_someone_in_no_plan_is_told_so(stage: Stage) -> None:
    page = stage.body(stage.org.mia_user).get_data(as_text=True)
    assert 'id="sc-no-plans"' in page and "<table" not in page


def test_the_drill_down_lists_exactly_the_records_behind_a_figure(stage: Stage) -> None:
    org, period = stage.org, stage.scored.period
    page = stage.body(org.ada_user).get_data(as_text=True)
    for metric, record_type, count in (("csat_positive_pct", "survey", 20),
                                       ("time_entry_timeliness_pct", "time_entry", 6)):
        index = figure_index(page, metric)
        assert f'href="/pods/scorecard/body?plan={PLAN_KEY}&amp;figure={index}" data-pod-nav' in page
        drill = stage.body(org.ada_user, f"?plan={PLAN_KEY}&figure={index}").get_data(as_text=True)
        params = '&params={"within_minutes":60}' if "timeliness" in metric else ""
        explained = stage.api(org.ada_user, f"/api/v1/metrics/{metric}?period=quarter:{period.start}"
                                            f"&subject={org.ada}&explain=1{params}")
        expected = {f"{r['record_type']}:{r['record_id']}" for r in explained["records"]}
        assert len(expected) == count and {e.split(":")[0] for e in expected} == {record_type}
        assert records(drill) == expected, metric
        assert f"{count} records behind this figure" in drill
        assert 'id="sc-drill-title"' in drill and 'data-pod-nav>← Back to the scorecard</a>' in drill
    csat = stage.body(org.ada_user, f"?plan={PLAN_KEY}&figure={figure_index(page, 'csat_positive_pct')}")
    text = csat.get_data(as_text=True)
    assert text.count("score 5 of 5") == 19 and text.count("score 2 of 5") == 1


def test_a_drill_down_names_its_figure_by_number(stage: Stage) -> None:
    bad = stage.body(stage.org.ada_user, f"?plan={PLAN_KEY}&figure=first")
    assert bad.status_code == 422 and bad.get_json()["errors"] == {"figure": ["Must be a figure's number."]}
    for query in (f"?plan={PLAN_KEY}&figure=99", "?plan=nope&figure=0"):
        gone = stage.body(stage.org.ada_user, query).get_data(as_text=True)
        assert "Figure not found" in gone and "data-record" not in gone


def test_a_recompute_changes_the_body_and_is_announced(stage: Stage) -> None:
    org = stage.org
    first = stage.body(org.ada_user)
    subscription = live.broker(stage.podium).subscribe(live.viewer_channels(org.tenant_id, org.ada, "technician"))
    try:
        added = add_surveys(stage.podium, org.tenant_id, org.tab_connection_id,
                            identity_id(stage.podium, org, "m-ada"), 5, 0, tag="later")
        records_changed(stage.podium, org.tenant_id, org.tab_connection_id, "survey", added)
        event = subscription.get(timeout=5)
    finally:
        subscription.close()
    assert event is not None and (event.kind, event.person_id) == ("metrics", org.ada)
    token = user_token(stage.podium, org.tenant_id, org.ada_user)
    again = stage.client.get("/pods/scorecard/body", headers={**pod_headers(token), "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200, "the body changed"
    page = again.get_data(as_text=True)
    assert (field(page, "value", "csat_positive_pct"), pooled(page, "csat_positive_pct")) == ("96%", "24 of 25")


def test_the_body_is_small_and_has_no_script_or_inline_style(stage: Stage) -> None:
    page = stage.body(stage.org.ada_user).get_data(as_text=True)
    assert len(page.encode()) < 16_000, len(page.encode())
    assert "<script" not in page and "style=" not in page, "the pod's CSP allows neither"


def test_a_plan_that_no_longer_validates_is_named_not_shown(stage: Stage) -> None:
    """As when a plugin whose rule type a plan uses is uninstalled: the plan's other cards
    still render, and the technician is not shown the validation error."""
    with stage.podium.db.session(stage.org.tenant_id) as session:
        session.execute(update(PlanVersion).where(PlanVersion.id == stage.scored.version_id)
                        .values(source_text="plan: engineer-quarterly\nrules: [{type: uninstalled_rule}]\n"))
    answer = stage.body(stage.org.ada_user)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert f'data-plan="{PLAN_KEY}"' in page and "This plan cannot be shown right now" in page
    assert "uninstalled_rule" not in page and "<table" not in page
