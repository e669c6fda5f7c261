"""The built-in "My scorecard" pod: how a technician is tracking, while they work.

For the current period of each plan the person takes part in it shows every figure the
plan pays on — value, goal, standing and a trend over the last pay periods — what is
earned so far, what is still on the table, the projection to the period's end, and the
next step in plain words; a figure's drill-down lists the records behind it, linked to
the PSA. Where each number comes from is in :mod:`podium.web.scorecard_figures`; the
pod only lays it out (server-rendered, inline SVG, no script of its own).

Access is the pod machinery's (:mod:`podium.web.pods`): the figures are the subject's,
who is the viewer unless a manager or admin names someone they may see with
``?person=``. The pod refreshes itself when the metric engine announces changed figures
(``metrics`` events through :mod:`podium.live`), like every pod. It is registered
through the pods hook from this module (entry point ``scorecard`` in the ``podium``
group), exactly as a third-party pod is.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from flask import render_template, url_for
from podium import hookimpl
from podium.payouts.money import format_money
from podium.pods import Pod
from podium.podsession import refuse
from podium.registry import Registry
from podium.web.drilldown import record_rows
from podium.web.scorecard_figures import Scorecard, age_text

DRILL_LIMIT = 300
"""Most records a drill-down lists (the rest are counted), so a pod's payload stays small."""


class Links:
    """URLs within the pod's own body route; ``pod.js`` follows them without leaving the pod.

    A manager's ``?person=`` is carried along, so a drill-down stays on the same person
    (and is checked again, like every body request)."""

    def __init__(self, key: str, person_id: int | None) -> None:
        self.key = key
        self.person = {"person": person_id} if person_id is not None else {}

    def card(self) -> str:
        return url_for("pods.body", key=self.key, **self.person)

    def figure(self, plan: str, index: int) -> str:
        return url_for("pods.body", key=self.key, plan=plan, figure=index, **self.person)


class MyScorecard(Pod):
    key = "scorecard"
    title = "My scorecard"
    audience = "technician"
    context = "member"

    def render(self, view: Any) -> str:
        viewer, subject = view.viewer, view.subject
        if subject is None:
            return render_template("pods/scorecard.html", viewer=viewer, subject=None, cards=[])
        tenant = viewer.tenant
        zone = zoneinfo.ZoneInfo(tenant.time_zone)
        scorecard = Scorecard(view.podium, view.session, tenant, subject, viewer.today())
        links = Links(self.key, subject.id if subject.id != viewer.person_id else None)
        common = {"viewer": viewer, "subject": subject, "links": links, "money": format_money, "day": short_date,
                  "local": lambda moment: moment.astimezone(zone)}
        if "plan" in view.args or "figure" in view.args:
            return self._drill(view, scorecard, common)
        cards = scorecard.cards()
        synced = scorecard.data_as_of(cards)
        return render_template("pods/scorecard.html", cards=cards, synced=synced, age=age_text(synced), **common)

    @staticmethod
    def _drill(view: Any, scorecard: Scorecard, common: dict[str, Any]) -> str:
        """The records behind one figure (``?plan=<key>&figure=<n>``)."""
        try:
            index = int(view.args.get("figure", ""))
        except ValueError:
            refuse(422, "invalid-input", "Invalid input.", errors={"figure": ["Must be a figure's number."]})
        found = scorecard.figure(view.args.get("plan", ""), index)
        if found is None:
            return render_template("pods/scorecard_drill.html", card=None, item=None, rows=[], **common)
        card, item = found
        rows, more, explained = [], 0, None
        if item.drillable:
            reading = item.reading
            period = scorecard.payouts.reader(view.session, scorecard.tenant.id).period(reading.start, reading.end)
            explained = scorecard.metrics.explain(view.session, scorecard.tenant.id, reading.metric_key,
                                                  reading.grain, period, reading.subject, dict(reading.params))
            rows = record_rows(view.podium, view.session, explained.records[:DRILL_LIMIT])
            more = max(0, len(explained.records) - DRILL_LIMIT)
        return render_template("pods/scorecard_drill.html", card=card, item=item, rows=rows, more=more,
                               frozen=bool(explained and explained.frozen), **common)


def short_date(day: dt.date) -> str:
    """``3 Nov`` — short enough for a 300 px pod."""
    return f"{day.day} {day:%b}"


@hookimpl
def podium_register_pods(registry: Registry[Pod]) -> None:
    registry.add(MyScorecard)
