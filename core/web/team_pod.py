"""The "team" pod: a manager's teams side by side — who is on track, who is at risk,
and the state of the team pools and gates they are paid through.

Numbers come from the payout engine's live preview (:meth:`PayoutEngine.preview`) of
every plan in force today, for the plan's current pay period — the same call the REST
API's ``/payouts/<plan>/<period>/preview`` makes — so the pod and the API cannot
disagree. For each member:

* **earned so far**, **projected** to the period's end, and **attainment**: earned ÷
  (earned + still on the table), the share of what the period can pay them that is
  already theirs (a bar);
* **at risk** when a component is worse than its threshold (pays nothing), a component
  is under its target (the projection keeps rates as they are, so a rate under target
  now is projected under target at the period's end), or a gate fails for them.

Team pools and gates are read from the same preview's lines: a pool line names its
team and the pool it split; a gate line says whether it held for that member.

Access: managers see the teams they currently belong to, admins and auditors every
team; technicians are refused by the pod's audience. ``?team=<id>`` narrows the pod to
one team; a team the viewer may not see is a 403. Each member links to the
``scorecard`` pod for that person (by key: whichever plugin serves it).

The team **leaderboard** (members ranked by attainment) is off by default. An instance
turns it on for some tenants with the ``team_leaderboard`` setting: a list of tenant
slugs (``PODIUM_TEAM_LEADERBOARD=acme,beta``), or ``*`` for every tenant.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import render_template
from podium import hookimpl
from podium.api.people import my_teams
from podium.models import Person, Plan, Team, TeamMembership
from podium.org.effective import valid_on
from podium.payouts.base import PayoutLine
from podium.payouts.engine import PayoutEngine, PayoutError
from podium.payouts.money import format_money, format_number
from podium.payouts.plan import PlanError
from podium.pods import Pod
from podium.podsession import refuse
from podium.registry import Registry
from podium.web.charts import bar_fill
from podium.web.pod_context import pod_link
from sqlalchemy import select
from sqlalchemy.orm import Session

LEADERBOARD_SETTING = "team_leaderboard"
SCORECARD_POD = "scorecard"


def leaderboard_enabled(extra: Mapping[str, Any], tenant_slug: str) -> bool:
    """Whether the tenant opted in to the team leaderboard (off unless named)."""
    setting = extra.get(LEADERBOARD_SETTING)
    if setting is None or setting is False:
        return False
    if setting is True:
        return True
    names = [part.strip() for part in setting.split(",")] if isinstance(setting, str) else [str(s) for s in setting]
    return "*" in names or tenant_slug in names


@dataclass
class Money:
    """Amounts by currency (plans each have one; a tenant may run plans in several)."""

    by_currency: dict[str, int] = field(default_factory=dict)

    def add(self, currency: str, minor: int) -> None:
        self.by_currency[currency] = self.by_currency.get(currency, 0) + minor

    def __str__(self) -> str:
        if not self.by_currency:
            return "—"
        return " + ".join(format_money(minor, currency) for currency, minor in sorted(self.by_currency.items()))


@dataclass
class Risk:
    kind: str
    """``threshold`` (worse than the threshold), ``target`` (under target) or ``gate`` (a gate fails)."""
    text: str


@dataclass
class MemberView:
    person_id: int
    name: str
    earned: Money = field(default_factory=Money)
    possible: Money = field(default_factory=Money)
    """Earned + still on the table, per currency."""
    projected: Money = field(default_factory=Money)
    risks: list[Risk] = field(default_factory=list)
    link: str = ""

    @property
    def attainment_pct(self) -> float | None:
        """Earned ÷ (earned + on the table), pooled over plans and currencies' minor units."""
        possible = sum(self.possible.by_currency.values())
        if possible <= 0:
            return None
        return max(0.0, sum(self.earned.by_currency.values()) / possible * 100)

    @property
    def fill(self) -> float:
        return bar_fill(self.attainment_pct)

    @property
    def attainment_text(self) -> str:
        value = self.attainment_pct
        return "no plan pays yet" if value is None else f"{format_number(value, 1)}%"


@dataclass
class PoolView:
    plan: str
    rule: str
    pool: Money = field(default_factory=Money)
    shares: int = 0

    @property
    def state(self) -> str:
        return "not funded yet" if sum(self.pool.by_currency.values()) <= 0 else f"split between {self.shares}"


@dataclass
class GateView:
    plan: str
    rule: str
    held: int = 0
    failed: list[str] = field(default_factory=list)
    """The explanation of each member's failed gate line."""

    @property
    def state(self) -> str:
        total = self.held + len(self.failed)
        return "holds" if not self.failed else f"fails for {len(self.failed)} of {total}"


@dataclass
class TeamView:
    team_id: int
    name: str
    members: list[MemberView]
    pools: list[PoolView]
    gates: list[GateView]

    @property
    def at_risk(self) -> list[MemberView]:
        return [m for m in self.members if m.risks]

    @property
    def earned(self) -> Money:
        return _sum(m.earned for m in self.members)

    @property
    def projected(self) -> Money:
        return _sum(m.projected for m in self.members)

    @property
    def attainment_pct(self) -> float | None:
        possible = sum(sum(m.possible.by_currency.values()) for m in self.members)
        if possible <= 0:
            return None
        return max(0.0, sum(sum(m.earned.by_currency.values()) for m in self.members) / possible * 100)

    @property
    def fill(self) -> float:
        return bar_fill(self.attainment_pct)

    @property
    def attainment_text(self) -> str:
        value = self.attainment_pct
        return "no plan pays yet" if value is None else f"{format_number(value, 1)}%"

    @property
    def ranked(self) -> list[MemberView]:
        """Members by attainment, best first (the leaderboard); those without a figure last."""
        return sorted(self.members, key=lambda m: (m.attainment_pct is None, -(m.attainment_pct or 0), m.name))


def _sum(parts: Iterable[Money]) -> Money:
    total = Money()
    for part in parts:
        for currency, minor in part.by_currency.items():
            total.add(currency, minor)
    return total


def line_risk(line: PayoutLine) -> Risk | None:
    """What a preview line says about risk: a failed gate, a component paying nothing
    (worse than its threshold) or less than 100% (under its target)."""
    inputs = line.inputs
    what = str(inputs.get("component") or line.rule)
    if line.kind == "gate" and inputs.get("passed") is False:
        return Risk("gate", f"{line.rule}: gate not met")
    percent = inputs.get("payout_pct")
    if line.kind != "earning" or percent is None:
        return None
    if percent <= 0:
        return Risk("threshold", f"{what}: below threshold")
    if percent < 100:
        return Risk("target", f"{what}: under target ({format_number(percent, 1)}% of it)")
    return None


# -- who and which teams ------------------------------------------------------------------


def visible_teams(session: Session, viewer: Any, today: dt.date, requested: str | None) -> list[Team]:
    """The teams the viewer may see (``requested``: just that one); 403 for any other."""
    statement = select(Team).where(Team.tenant_id == viewer.tenant_id)
    if viewer.role == "manager":
        statement = statement.where(Team.id.in_(my_teams(viewer, today)))
    elif viewer.role not in ("admin", "auditor"):
        refuse(403, "forbidden", "The Team pod is for managers.")
    if requested:
        try:
            team_id = int(requested)
        except ValueError:
            refuse(422, "invalid-input", "`team` must be a team id.", errors={"team": ["Must be a team id."]})
        team = session.scalar(statement.where(Team.id == team_id))
        if team is None:
            refuse(403, "forbidden", f"You may not see team {team_id}: managers see only their own teams.")
        return [team]
    return list(session.scalars(statement.order_by(Team.name, Team.id)))


def _members(session: Session, team_ids: list[int], today: dt.date) -> dict[int, list[Person]]:
    rows = session.execute(
        select(TeamMembership.team_id, Person).join(Person, Person.id == TeamMembership.person_id)
        .where(TeamMembership.team_id.in_(team_ids), valid_on(TeamMembership, today), Person.active.is_(True))
        .order_by(Person.display_name, Person.id)
    )
    members: dict[int, list[Person]] = {team_id: [] for team_id in team_ids}
    for team_id, person in rows:
        members[team_id].append(person)
    return members


# -- the previews ---------------------------------------------------------------------------


@dataclass
class PlanPreview:
    plan: Plan
    lines: dict[int, list[PayoutLine]]
    earned: dict[int, int]
    possible: dict[int, int]
    projected: dict[int, int]
    currency: str


def plan_previews(view: Any, person_ids: list[int]) -> tuple[list[PlanPreview], list[str]]:
    """The live preview of every plan in force today, for ``person_ids`` who take part, and
    what kept a plan from being evaluated (a plan file that no longer validates)."""
    engine = PayoutEngine(view.podium)
    session = view.session
    today = view.viewer.today()
    previews, problems = [], []
    for plan in session.scalars(select(Plan).where(Plan.tenant_id == view.viewer.tenant_id).order_by(Plan.key)):
        try:
            period = engine.pay_period(session, plan, None, today)
            evaluation, people = engine.preview(session, plan, period, person_ids=person_ids)
        except PayoutError:
            continue  # no version in force today
        except PlanError as exc:
            problems.append(f"{plan.title}: {exc}")
            continue
        previews.append(PlanPreview(
            plan=plan,
            lines={p.person_id: p.lines for p in people},
            earned={p.person_id: p.earned_minor for p in people},
            possible={p.person_id: p.earned_minor + p.on_the_table_minor for p in people},
            projected={p.person_id: p.projected_minor for p in people},
            currency=evaluation.plan.currency,
        ))
        problems += [f"{plan.title}: {error}" for error in evaluation.errors]
    return previews, problems


def team_view(view: Any, team: Team, people: list[Person], previews: list[PlanPreview]) -> TeamView:
    members = {p.id: MemberView(p.id, p.display_name, link=pod_link(view, SCORECARD_POD, person=p.id))
               for p in people}
    pools: dict[tuple[str, str], PoolView] = {}
    gates: dict[tuple[str, str], GateView] = {}
    for preview in previews:
        for person_id, member in members.items():
            if person_id not in preview.lines:
                continue
            member.earned.add(preview.currency, preview.earned[person_id])
            member.possible.add(preview.currency, preview.possible[person_id])
            member.projected.add(preview.currency, preview.projected[person_id])
            for line in preview.lines[person_id]:
                risk = line_risk(line)
                if risk is not None:
                    member.risks.append(risk)
                if "pool_minor" in line.inputs and line.inputs.get("team") == team.name:
                    pool = pools.setdefault((preview.plan.title, line.rule), PoolView(preview.plan.title, line.rule))
                    pool.pool.by_currency[line.currency] = int(line.inputs["pool_minor"])
                    pool.shares += 1
                elif line.kind == "gate":
                    gate = gates.setdefault((preview.plan.title, line.rule), GateView(preview.plan.title, line.rule))
                    if line.inputs.get("passed") is False:
                        gate.failed.append(f"{member.name}: {line.explanation}")
                    else:
                        gate.held += 1
    return TeamView(team.id, team.name, list(members.values()), list(pools.values()), list(gates.values()))


class TeamPod(Pod):
    key = "team"
    title = "Team"
    audience = "manager"
    context = "member"

    def render(self, view: Any) -> str:
        viewer, session = view.viewer, view.session
        today = viewer.today()
        teams = visible_teams(session, viewer, today, view.args.get("team"))
        members = _members(session, [t.id for t in teams], today)
        everyone = sorted({p.id for people in members.values() for p in people})
        previews, problems = plan_previews(view, everyone) if everyone else ([], [])
        return render_template(
            "pods/team.html",
            viewer=viewer,
            teams=[team_view(view, team, members[team.id], previews) for team in teams],
            plans=previews,
            problems=problems,
            leaderboard=leaderboard_enabled(view.podium.config.extra, viewer.tenant.slug),
            today=today,
        )


@hookimpl
def podium_register_pods(registry: Registry[Pod]) -> None:
    registry.add(TeamPod)
