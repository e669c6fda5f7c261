"""The engine: grains, periods, tenant isolation, scope, overrides, windows, versions,
materialisation, closing, drill-down and freshness — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update

from podium.db import Database
from podium.metrics import periods
from podium.metrics.base import MetricParamsError
from podium.metrics.engine import MetricEngine, MetricError
from podium.metrics.overrides import OverrideError, create_exclusion_window, create_override, revoke
from podium.metrics.periods import CalendarSettings, Period
from podium.metrics.scope import update_scope
from podium.models import AuditEvent, MetricDefinition, MetricValue, Tenant, Ticket, TimeEntry
from tests.metrics.world import NOW, World, build, ny, ticket

MARCH = Period("month", dt.date(2024, 3, 1), dt.date(2024, 4, 1))


def pairs(engine: MetricEngine, db: Database, world: World, key: str, grain: str, period: Period = MARCH,
          **params: object) -> dict[str, tuple[float, float]]:
    with db.session(world.tenant_id) as session:
        values = engine.values(session, world.tenant_id, key, grain, period, params or None)
    return {v.subject: (v.numerator, v.denominator) for v in values}


# -- periods ----------------------------------------------------------------------------------


def test_period_text_forms() -> None:
    settings = CalendarSettings("America/New_York", week_start=6, fiscal_year_start_month=4)
    today = dt.date(2024, 3, 13)
    assert periods.parse("month", settings, today) == MARCH
    assert periods.parse("month:2024-02", settings, today) == Period("month", dt.date(2024, 2, 1), dt.date(2024, 3, 1))
    # Weeks start on Sunday here; quarters and years are fiscal (from April).
    assert periods.parse("week:2024-03-13", settings, today).start == dt.date(2024, 3, 10)
    assert periods.parse("quarter:2024-03-13", settings, today) == Period(
        "quarter", dt.date(2024, 1, 1), dt.date(2024, 4, 1))
    assert periods.parse("fiscal_year:2024-05-01", settings, today) == Period(
        "fiscal_year", dt.date(2024, 4, 1), dt.date(2025, 4, 1))
    assert str(periods.parse("custom:2024-03-01..2024-03-15", settings, today)) == "custom:2024-03-01..2024-03-15"
    for bad, reason in (("fortnight", "unknown period kind"), ("month:March", "not a date"),
                        ("custom:2024-03-01", "custom:START..END"), ("custom:2024-03-05..2024-03-01", "not after")):
        with pytest.raises(periods.PeriodError, match=reason):
            periods.parse(bad, settings, today)


def test_day_week_quarter_and_custom_periods(engine: MetricEngine, db: Database, world: World) -> None:
    with db.session(world.tenant_id) as session:
        week = engine.period(session, world.tenant_id, "week:2024-03-17")
        day = engine.period(session, world.tenant_id, "day:2024-03-11")
    # Weeks start on Monday: the week of Sunday 03-17 is 03-11 … 03-17 (T1, T2, T3: 16 h / 3).
    assert week == Period("week", dt.date(2024, 3, 11), dt.date(2024, 3, 18))
    assert pairs(engine, db, world, "mttr_business_hours", "company", week) == {"": (16 * 3600, 3)}
    assert pairs(engine, db, world, "mttr_business_hours", "person", day) == {"1": (2 * 3600, 1)}
    q1 = Period("quarter", dt.date(2024, 1, 1), dt.date(2024, 4, 1))
    assert pairs(engine, db, world, "fcr_pct", "person", q1) == pairs(engine, db, world, "fcr_pct", "person")
    # A period with no records has no figures: "no data", never a zero.
    assert pairs(engine, db, world, "fcr_pct", "person", Period("custom", dt.date(2023, 1, 1),
                                                                dt.date(2023, 2, 1))) == {}


def test_tenant_settings_change_the_periods(engine: MetricEngine, db: Database, world: World) -> None:
    with db.session() as session:
        session.execute(update(Tenant).where(Tenant.id == world.tenant_id).values(week_start=6))
    with db.session(world.tenant_id) as session:
        week = engine.period(session, world.tenant_id, "week:2024-03-17")
    # Sunday weeks: 03-17 … 03-23 has T4 (2 h, first resolved 03-18) and T5 (1 h).
    assert week.start == dt.date(2024, 3, 17)
    assert pairs(engine, db, world, "mttr_business_hours", "company", week) == {"": (3 * 3600, 2)}


def test_grains(engine: MetricEngine, db: Database, world: World) -> None:
    assert pairs(engine, db, world, "fcr_pct", "role") == {"Engineer L1": (1, 3), "Engineer L2": (1, 3)}
    assert pairs(engine, db, world, "fcr_pct", "client") == {"1": (1, 3), "3": (1, 4)}
    with pytest.raises(MetricError, match="grain"):
        pairs(engine, db, world, "fcr_pct", "division")
    with pytest.raises(MetricError, match="no metric 'fcr'"):
        pairs(engine, db, world, "fcr", "person")
    with pytest.raises(MetricParamsError, match="reopen_window_days"):
        pairs(engine, db, world, "fcr_pct", "person", reopen_window_days=-1)


def test_tenants_are_isolated(engine: MetricEngine, db: Database, world: World) -> None:
    before = {key: pairs(engine, db, world, key, "company")
              for key in ("fcr_pct", "mttr_business_hours", "csat_positive_pct", "gross_margin_pct")}
    with db.session() as session:
        other = build(session, "other")
        ticket(session, other, "X1", created_at=ny(3, 5, 9), resolved_at=ny(3, 5, 17))
    for key, figures in before.items():
        assert pairs(engine, db, world, key, "company") == figures, key
    # The other tenant sees its own copy of the world plus its extra ticket.
    assert pairs(engine, db, other, "mttr_business_hours", "company") == {"": ((21.5 + 8) * 3600, 8)}


# -- scope, overrides, exclusion windows -----------------------------------------------------


def test_scope_filters(engine: MetricEngine, db: Database, world: World) -> None:
    with db.session(world.tenant_id) as session:
        update_scope(session, world.tenant_id, "admin@acme.test", reason="count alerts too",
                     excluded_board_kinds=[], exclude_internal_clients=False)
    # T6 (alert board, 5 min) and T7 (internal, 1 h) now count for Ana.
    assert pairs(engine, db, world, "mttr_business_hours", "person")["1"] == (7 * 3600 + 300 + 3600, 5)
    with db.session(world.tenant_id) as session:
        update_scope(session, world.tenant_id, "admin@acme.test", excluded_boards=["Service Desk"])
        assert session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "metrics.scope.update")) == 2
        with pytest.raises(ValueError, match="unknown scope field"):
            update_scope(session, world.tenant_id, "admin@acme.test", exclude_bots=True)
    # Now only T6, on the alert board, is outside the Service Desk board.
    assert pairs(engine, db, world, "mttr_business_hours", "person") == {"1": (300, 1)}


def test_overrides_exclude_and_reattribute(engine: MetricEngine, db: Database, world: World) -> None:
    with db.session(world.tenant_id) as session:
        excluded = create_override(session, world.tenant_id, "manager@acme.test", record_type="ticket",
                                   record_id=world["T2"], action="exclude", reason="duplicate of T1")
        create_override(session, world.tenant_id, "manager@acme.test", record_type="ticket", record_id=world["T4"],
                        action="reattribute", person_id=world["ana"], reason="Ana did the work",
                        metric_key="fcr_pct")
    # FCR: Ana loses T2 (0) and gains T4 (1) → 2/3; Ben keeps T3, T8 → 0/2.
    assert pairs(engine, db, world, "fcr_pct", "person") == {"1": (2, 3), "2": (0, 2)}
    # The reattribution was for FCR only; the exclusion is for every metric.
    assert pairs(engine, db, world, "reopen_rate_pct", "person") == {"1": (1, 2), "2": (0, 3)}
    with db.session(world.tenant_id) as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions == ["metrics.override.exclude", "metrics.override.reattribute"]
        row = session.get(type(excluded), excluded.id)
        revoke(session, world.tenant_id, "manager@acme.test", row, "not a duplicate after all")
        with pytest.raises(OverrideError, match="reason"):
            create_override(session, world.tenant_id, "x", record_type="ticket", record_id=world["T1"],
                            action="exclude", reason=" ")
        with pytest.raises(OverrideError, match="record_id"):
            create_override(session, world.tenant_id, "x", record_type="ticket", record_id=10**9,
                            action="exclude", reason="r")
        with pytest.raises(OverrideError, match="person_id"):
            create_override(session, world.tenant_id, "x", record_type="survey", record_id=world["S1"],
                            action="reattribute", reason="r")
    assert pairs(engine, db, world, "reopen_rate_pct", "person") == {"1": (1, 3), "2": (0, 3)}


def test_exclusion_windows_remove_tickets_from_sla_and_mttr(engine: MetricEngine, db: Database, world: World) -> None:
    with db.session(world.tenant_id) as session:
        create_exclusion_window(session, world.tenant_id, "manager@acme.test", starts_at=ny(3, 13, 0),
                                ends_at=ny(3, 14, 0), reason="Exchange outage", client_id=world["beta"])
        with pytest.raises(OverrideError, match="ends_at"):
            create_exclusion_window(session, world.tenant_id, "x", starts_at=ny(3, 14), ends_at=ny(3, 13),
                                    reason="backwards")
    # T3 (Beta, created 03-13) leaves MTTR and SLA; FCR does not use exclusion windows.
    assert pairs(engine, db, world, "mttr_business_hours", "person")["2"] == (2.5 * 3600, 2)
    assert pairs(engine, db, world, "sla_response_met_pct", "person")["2"] == (1, 1)
    assert pairs(engine, db, world, "fcr_pct", "person")["2"] == (1, 3)


# -- materialisation, versions, closing ----------------------------------------------------------


def track(engine: MetricEngine, db: Database, world: World, key: str, grain: str = "person",
          **params: object) -> None:
    with db.session(world.tenant_id) as session:
        engine.track(session, world.tenant_id, key, grain, "month", "plan:test", dt.date(2024, 3, 1),
                     params or None)


def test_tracked_values_are_materialised_with_their_version(engine: MetricEngine, db: Database,
                                                            world: World) -> None:
    track(engine, db, world, "fcr_pct")
    track(engine, db, world, "fcr_pct", reopen_window_days=20)
    with db.session(world.tenant_id) as session:
        stored = session.execute(select(MetricValue.version, MetricValue.period_start, MetricValue.subject,
                                        MetricValue.numerator, MetricValue.denominator)
                                 .order_by(MetricValue.version, MetricValue.period_start, MetricValue.subject)).all()
        versions = session.scalars(select(MetricDefinition.params).order_by(MetricDefinition.version)).all()
    assert versions == [{"reopen_window_days": 7}, {"reopen_window_days": 20}]
    # Both versions for March and April (the clock says 2024-04-10); Ben's T4 counts against him in v2.
    assert stored == [
        (1, dt.date(2024, 3, 1), "1", 1, 3), (1, dt.date(2024, 3, 1), "2", 1, 3),
        (2, dt.date(2024, 3, 1), "1", 1, 3), (2, dt.date(2024, 3, 1), "2", 0, 3),
    ]
    # Reading a tracked period reads the stored figures (a live change is not seen until a refresh).
    with db.session(world.tenant_id) as session:
        session.execute(update(Ticket).where(Ticket.id == world["T2"]).values(merged=True))
    assert pairs(engine, db, world, "fcr_pct", "person")["1"] == (1, 3)
    with db.session(world.tenant_id) as session:
        changed = engine.refresh(session, world.tenant_id)
    assert {(v.version, v.subject, v.numerator, v.denominator) for v in changed} == {(1, "1", 1, 2), (2, "1", 1, 2)}
    assert pairs(engine, db, world, "fcr_pct", "person")["1"] == (1, 2)


def test_closed_periods_are_frozen(engine: MetricEngine, db: Database, world: World) -> None:
    track(engine, db, world, "time_entry_timeliness_pct", within_minutes=60)
    with db.session(world.tenant_id) as session:
        closed = engine.close_period(session, world.tenant_id, MARCH)
        assert closed == 2 and engine.close_period(session, world.tenant_id, MARCH) == 0
    # The plan changes its parameter and the data changes: March keeps its version and figures.
    with db.session(world.tenant_id) as session:
        session.execute(update(TimeEntry).where(TimeEntry.id == world["e6"]).values(entered_at=ny(3, 20, 11)))
    track(engine, db, world, "time_entry_timeliness_pct", within_minutes=5)
    with db.session(world.tenant_id) as session:
        engine.refresh(session, world.tenant_id)
        march = engine.values(session, world.tenant_id, "time_entry_timeliness_pct", "person", MARCH,
                              {"within_minutes": 5})
        explanation = engine.explain(session, world.tenant_id, "time_entry_timeliness_pct", "person", MARCH, "1",
                                     {"within_minutes": 5})
    assert [(v.subject, v.numerator, v.denominator, v.version, v.closed) for v in march] == [
        ("1", 5, 7, 1, True), ("2", 3, 3, 1, True)]
    assert explanation.frozen and explanation.params == {"within_minutes": 60}
    assert sorted(r.record_id for r in explanation.records) == sorted(
        world[name] for name in ("e1", "e2", "e3", "e4", "e6", "e7", "e9"))
    assert sum(r.numerator for r in explanation.records) == 5


def test_explain_lists_exactly_the_records_of_a_figure(engine: MetricEngine, db: Database, world: World) -> None:
    with db.session(world.tenant_id) as session:
        team = engine.explain(session, world.tenant_id, "sla_response_met_pct", "team", MARCH, "1")
        shared = engine.explain(session, world.tenant_id, "mttr_business_hours", "person", MARCH, "1",
                                {"credit": "shared"})
    assert not team.frozen and team.value is not None
    assert [(r.record_type, r.record_id) for r in team.records] == [
        ("ticket", world[name]) for name in ("T1", "T2", "T5", "T8", "T9")]
    assert (sum(r.numerator for r in team.records), sum(r.denominator for r in team.records)) == (
        team.value.numerator, team.value.denominator)
    # A shared ticket appears with Ana's share of it.
    t3 = next(r for r in shared.records if r.record_id == world["T3"])
    assert (t3.numerator, t3.denominator) == (5 * 3600, 0.5)


def test_freshness_is_the_newest_input_sync(engine: MetricEngine, db: Database, world: World) -> None:
    synced = dt.datetime(2024, 4, 10, 15, 57, tzinfo=dt.timezone.utc)
    with db.session(world.tenant_id) as session:
        session.execute(update(Ticket).values(synced_at=synced - dt.timedelta(hours=1)))
        session.execute(update(TimeEntry).values(synced_at=synced - dt.timedelta(hours=2)))
        session.execute(update(TimeEntry).where(TimeEntry.id == world["e1"]).values(synced_at=synced))
        [value] = engine.compute(session, world.tenant_id, "fcr_pct", "company", MARCH)
        [csat] = engine.compute(session, world.tenant_id, "reopen_rate_pct", "company", MARCH)
    assert value.computed_at == NOW and value.data_synced_at == synced
    assert value.as_dict()["data_age_seconds"] == 180
    # The reopen rate does not read time entries: its data is as old as the newest ticket's sync.
    assert csat.data_synced_at == synced - dt.timedelta(hours=1)


def test_series_reads_each_period_as_values_does(engine: MetricEngine, db: Database, world: World) -> None:
    """A trend's periods in one call: March closed (frozen, then the data changes), April
    materialised (stale until a refresh), January and February live, a custom range and a
    quarter of another kind — each exactly what :meth:`MetricEngine.values` answers."""
    key, params = "time_entry_timeliness_pct", {"within_minutes": 60}
    track(engine, db, world, key, **params)
    with db.session(world.tenant_id) as session:
        engine.close_period(session, world.tenant_id, MARCH)
        session.execute(update(TimeEntry).where(TimeEntry.id == world["e6"]).values(entered_at=ny(3, 20, 11)))
    months = [Period("month", dt.date(2024, m, 1), dt.date(2024, m + 1, 1)) for m in (1, 2, 3, 4)]
    wanted = [*months, Period("custom", dt.date(2024, 3, 5), dt.date(2024, 3, 25)),
              Period("quarter", dt.date(2024, 1, 1), dt.date(2024, 4, 1))]
    with db.session(world.tenant_id) as session:
        for subjects in (None, ["1"], ["2", "9"]):
            series = engine.series(session, world.tenant_id, key, "person", wanted, params, subjects)
            each = {p: engine.values(session, world.tenant_id, key, "person", p, params, subjects) for p in wanted}
            assert list(series) == wanted
            assert {p: [v.as_dict() for v in values] for p, values in series.items()} == \
                   {p: [v.as_dict() for v in values] for p, values in each.items()}
        live = engine.series(session, world.tenant_id, key, "person", months[:2], params)
        assert live == {p: engine.compute(session, world.tenant_id, key, "person", p, params) for p in months[:2]}
        assert all(v.closed for v in series[months[2]]) and series[months[2]]
