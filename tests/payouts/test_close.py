"""Approval and close, the immutable snapshot, statements, payroll export, adjustments,
appeals, plan versions and restatements."""

from __future__ import annotations

import datetime as dt

import pytest
from podium.models import (
    Adjustment,
    AuditEvent,
    ClosedPeriodImmutable,
    MetricValue,
    PayoutPeriod,
    PayoutSnapshot,
    SnapshotLine,
)
from podium.payouts import appeals, close, export, statements
from podium.payouts.engine import PayoutError
from sqlalchemy import select, update

from tests.payouts.conftest import PLANS, D, World

ACK = dt.datetime(2024, 12, 15, tzinfo=dt.UTC)


def scorecard_world(world: World) -> tuple[int, int, int]:
    """Ana and Bo on the engineer plan in FY2025-Q1 (see test_example_plans for the math):
    Ana earns 1,526.56 and loses 25.00 to one reopen: 1,501.56."""
    version = world.apply("engineer_quarterly_scorecard.yaml", effective_from=D(2025, 1, 1))
    ana, bo = world.person("Ana", role="Engineer L1"), world.person("Bo", role="Engineer L2")
    for person in (ana, bo):
        world.acknowledge(person, version, ACK)
    q1 = world.period("FY2025-Q1", "quarterly")
    world.value("productive_utilization_pct", ana, q1, 148, 200)
    world.value("time_entry_timeliness_pct", ana, q1, 90, 100, params={"within_minutes": 60})
    world.value("csat_positive_pct", ana, q1, 39, 40)
    world.value("endpoint_integrity_pct", ana, q1, 970, 1000)
    world.value("reopened_tickets", ana, q1, 1, 1, params={"within_days": 14})
    world.value("productive_utilization_pct", bo, q1, 180, 200)
    return version, ana, bo


def close_q1(world: World) -> None:
    with world.session() as session:
        plan = world.plan(session, "engineer-quarterly")
        q1 = world.period("FY2025-Q1", "quarterly")
        with pytest.raises(PayoutError, match="can be approved from 2025-04-15"):
            close.approve(session, world.engine, plan, q1, "manager@acme.example", today=D(2025, 4, 14))
        with pytest.raises(PayoutError, match="a manager approves it before an admin closes it"):
            close.close(session, world.engine, plan, q1, "admin@acme.example")
    with world.session() as session:
        plan = world.plan(session, "engineer-quarterly")
        close.approve(session, world.engine, plan, q1, "manager@acme.example", today=D(2025, 4, 15))
        close.close(session, world.engine, plan, q1, "admin@acme.example")


def rendered(world: World, person_id: int) -> tuple[str, str, str]:
    with world.session() as session:
        plan = world.plan(session, "engineer-quarterly")
        q1 = world.period("FY2025-Q1", "quarterly")
        statement = statements.build(session, world.engine, plan, q1, person_id)
        return statements.render_html(statement), statements.render_csv(statement), export.payroll_csv(session, plan, q1)


def test_a_closed_period_is_byte_identical_after_new_data_arrives(world: World) -> None:
    _version, ana, _bo = scorecard_world(world)
    close_q1(world)
    html, csv_text, payroll = rendered(world, ana)

    assert "Closed: these figures never change" in html
    assert "1,501.56 USD" in html and "CSAT positive: 97.5% = 100 × 39 / 40" in html
    assert csv_text.splitlines()[-1].split(",")[9] == "1501.56"
    rows = payroll.splitlines()
    assert rows[0].startswith("plan,period,person_id,name,email,external_ids,earning,gate,eligibility,proration,clawback")
    assert rows[1].endswith(",1526.56,0.00,0.00,0.00,-25.00,0.00,0.00,0.00,0.00,1501.56,USD")

    # New data: the metric values of the quarter are rewritten (as a late recompute would), a
    # plan version for the next quarter is applied, and the next quarter gets values of its own.
    with world.session() as session:
        for value in session.scalars(select(MetricValue)):
            value.numerator = value.numerator / 2
    world.apply("engineer_quarterly_scorecard.yaml", effective_from=D(2025, 4, 1),
                text=world_plan("target_amount: 1500", "target_amount: 3000"))
    world.value("csat_positive_pct", ana, world.period("FY2025-Q2", "quarterly"), 1, 40)

    assert rendered(world, ana) == (html, csv_text, payroll)


def world_plan(old: str, new: str) -> str:
    """The engineer plan file with one change (a new version's text)."""
    return (PLANS / "engineer_quarterly_scorecard.yaml").read_text().replace(old, new)


def test_closed_periods_are_refused_at_the_orm_level(world: World) -> None:
    _version, ana, _bo = scorecard_world(world)
    close_q1(world)
    with pytest.raises(ClosedPeriodImmutable), world.session() as session:
        line = session.scalars(select(SnapshotLine)).first()
        line.amount_minor += 100
    with pytest.raises(ClosedPeriodImmutable), world.session() as session:
        session.delete(session.scalars(select(PayoutSnapshot)).one())
    with pytest.raises(ClosedPeriodImmutable), world.session() as session:
        session.scalars(select(PayoutPeriod)).one().status = "open"
    with pytest.raises(ClosedPeriodImmutable), world.session() as session:
        session.execute(update(SnapshotLine).values(amount_minor=0))
    with pytest.raises(ClosedPeriodImmutable), world.session() as session:
        row = session.scalars(select(PayoutPeriod)).one()
        session.add(Adjustment(tenant_id=world.tenant_id, period_id=row.id, person_id=ana, amount_minor=1,
                               currency="USD", reason="sneaky", author_label="x"))
        session.flush()
    with pytest.raises(PayoutError, match="falls in a closed period"):
        world.apply("engineer_quarterly_scorecard.yaml", effective_from=D(2025, 1, 1),
                    text=world_plan("per_ticket: 25", "per_ticket: 30"))
    with world.session() as session:
        assert session.scalars(select(SnapshotLine.amount_minor).where(SnapshotLine.person_id == ana)).all() == [
            50625, 20000, 35156, 46875, -2500]


def test_adjustments_and_appeals_go_into_an_open_period_and_are_audited(world: World) -> None:
    _version, ana, _bo = scorecard_world(world)
    close_q1(world)
    with world.session() as session:
        plan = world.plan(session, "engineer-quarterly")
        q1_row = session.scalars(select(PayoutPeriod)).one()
        appeal = appeals.open_appeal(session, world.engine, plan, q1_row, ana, "clawback",
                                     "Ticket 4411 was reopened by the client for a new issue.", "ana@acme.example")
        assert appeal.due_at - appeal.opened_at == dt.timedelta(days=10)
        assert not appeals.overdue(appeal)
        assert appeals.overdue(appeal, appeal.due_at + dt.timedelta(seconds=1))
        with pytest.raises(PayoutError, match="amount_minor"):
            appeals.decide(session, world.engine, plan, appeal, "accept", "ok", "manager@acme.example")
        appeals.decide(session, world.engine, plan, appeal, "accept", "A new issue, not a reopen.",
                       "manager@acme.example", amount_minor=2500)
        adjustment = session.get(Adjustment, appeal.adjustment_id)
        target = session.get(PayoutPeriod, adjustment.period_id)
        assert target.status == "open" and target.starts_on > q1_row.starts_on
        assert adjustment.link == f"appeal:{appeal.id} (FY2025-Q1, clawback)"
        with pytest.raises(PayoutError, match="already accepted"):
            appeals.decide(session, world.engine, plan, appeal, "reject", "no", "manager@acme.example")
        rejected = appeals.open_appeal(session, world.engine, plan, q1_row, ana, "scorecard", "CSAT was unfair",
                                       "ana@acme.example")
        appeals.decide(session, world.engine, plan, rejected, "reject", "The surveys are attributed correctly.",
                       "manager@acme.example")
        label = target.label
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["plan.apply", "period.approve", "period.close", "appeal.open", "adjustment.create",
                       "appeal.accept", "appeal.open", "appeal.reject"]
    later = world.evaluate("engineer-quarterly", label, "quarterly")
    [line] = [line for line in later.lines_of(ana) if line.kind == "adjustment"]
    assert line.amount_minor == 2500
    assert "A new issue, not a reopen." in line.explanation and "appeal:" in line.explanation


def test_restatement_lists_what_later_data_would_change(world: World) -> None:
    """The stored values are gone from the records as they are now (no canonical data in this
    test), so recomputing Q1 today would pay Ana nothing for her scorecard: the report lists
    each of her lines that would change, and the closed period itself stays as it was."""
    _version, ana, _bo = scorecard_world(world)
    close_q1(world)
    with world.session() as session:
        plan = world.plan(session, "engineer-quarterly")
        report = close.restatement(session, world.engine, plan, world.period("FY2025-Q1", "quarterly"))
    assert report.totals_then[ana] == 150156
    changed = {(c.person_id, c.rule, c.before_minor, c.after_minor) for c in report.changes}
    assert (ana, "scorecard", 50625, 0) in changed and (ana, "clawback", -2500, 0) in changed
    html, _csv, _payroll = rendered(world, ana)
    assert "1,501.56 USD" in html
