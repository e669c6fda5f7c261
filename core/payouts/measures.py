"""Reading a rule's metric for a participant, and saying what it read in words.

Rules name a metric, its parameters and a grain (:class:`podium.payouts.fields.MetricUse`);
this module turns that into the right subject — the person, their team, their role or the
company — reads it through the context, and describes the figure the way statements
show it ("CSAT 97.5% (39 of 40)").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from podium.payouts.base import Participant, RuleContext
from podium.payouts.money import exact, format_number
from podium.payouts.readings import MetricReading

UNIT_SUFFIX = {"percent": "%", "hours": " h", "days": " days", "ratio": "", "count": "", "money": ""}


class MeasureError(LookupError):
    """A rule cannot find the subject it needs (a team that does not exist, no team at all)."""


def main_team(context: RuleContext, participant: Participant) -> int:
    """The team ``participant`` spent most of the period on (the first, on a tie)."""
    if not participant.teams:
        raise MeasureError(f"{participant.name} is on no team during {context.period.label}")
    return max(participant.teams, key=lambda span: span.days).team_id


def subject_of(context: Any, use: Mapping[str, Any], participant: Participant | None) -> str:
    """The subject a metric use reads for ``participant`` at its grain."""
    grain = use["grain"]
    if grain == "company":
        return ""
    if grain == "team":
        name = use.get("team") or (context.plan_teams[0] if len(context.plan_teams) == 1 else None)
        if name is not None:
            team_id = context.team_named(name)
            if team_id is None:
                raise MeasureError(f"there is no team named {name!r}")
            return str(team_id)
        if participant is None:
            raise MeasureError("a team measure needs a team: name it with team:")
        return str(main_team(context, participant))
    if participant is None:
        raise MeasureError(f"a {grain} measure needs a participant")
    if grain == "role":
        if participant.role is None:
            raise MeasureError(f"{participant.name} has no role during {context.period.label}")
        return participant.role
    return str(participant.person_id)


def read(
    context: Any,
    use: Mapping[str, Any],
    participant: Participant | None,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    period: Any = None,
) -> MetricReading:
    """Read ``use`` for ``participant`` over the period (or ``[start, end)``, or another
    pay ``period`` such as a phase-in's baseline)."""
    if period is not None:
        start, end = period.start, period.end
    return context.metric(
        use["metric"], grain=use["grain"], subject=subject_of(context, use, participant),
        params=use.get("params") or {}, start=start, end=end,
    )


def label_of(use: Mapping[str, Any], reading: MetricReading) -> str:
    return use.get("label") or reading.label or reading.metric_key


def figure(value: Fraction | None, unit: str) -> str:
    """``97.5%``, ``4.25 h``, ``12``; "no data" when there is none."""
    if value is None:
        return "no data"
    return f"{format_number(value)}{UNIT_SUFFIX.get(unit, '')}"


def describe(use: Mapping[str, Any], reading: MetricReading) -> str:
    """``CSAT 97.5% (39 of 40)`` — the value and, for rates, what it was pooled from."""
    text = f"{label_of(use, reading)} {figure(reading.value, reading.unit)}"
    if reading.value is not None and reading.unit in ("percent", "ratio"):
        text += f" ({format_number(exact(reading.numerator))} of {format_number(exact(reading.denominator))})"
    elif reading.value is None:
        text += " (no records in the period)"
    if reading.note:
        text += f" [{reading.note}]"
    return text
