"""Time, money and survey metrics against figures computed by hand.

The world is ``world.py``'s (March 2024, New York, business hours Monday–Friday
09:00–17:00, US daylight saving from Sunday 03-10, Good Friday 03-29 a holiday); each
test's fixture adds the few rows it needs, written out below. Person 1 is Ana (Help Desk
all month, $104,000 a year), person 2 Ben (employed from 03-04; Projects until 03-15, Help
Desk from 03-16); team 1 is Help Desk, team 2 Projects; client 1 is Acme, 2 its RMM twin,
3 Beta, 4 the MSP itself. Ana answers for Acme and half of Beta, Ben for the other half,
Help Desk (as a team) for Beta. Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from podium.db import Database
from podium.metrics.base import MetricParamsError
from podium.metrics.builtin.csat import NetPromoterScore
from podium.metrics.builtin.time import BillableUtilization
from podium.metrics.engine import MetricEngine
from podium.metrics.periods import Period
from podium.models import Invoice, Payment, PersonFact, Survey, Ticket, TimeEntry
from tests.metrics.test_builtin import APRIL, approx, figures
from tests.metrics.test_plan_metrics import close
from tests.metrics.world import World, add, entry, ny

D = dt.date
HOUR = 3600


# -- billable utilisation ----------------------------------------------------------------


@pytest.fixture
def billable(db: Database, world: World) -> World:
    """The vendor's per-entry billable flag and billed hours on a few of the world's entries:
    e1 (1.5 h, billed 2), e2 (1 h, no billed hours), e4 (2 h, billed 1), e8 (rejected) and
    Ben's b3 (6 h, billed 5)."""
    with db.session(world.tenant_id) as session:
        for name, billed in (("e1", 2.0), ("e2", None), ("e4", 1.0), ("e8", 3.0), ("b3", 5.0)):
            row = session.get(TimeEntry, world[name])
            row.billable, row.billed_hours = True, billed
    return world


def test_billable_utilization_pct(engine: MetricEngine, db: Database, billable: World) -> None:
    # Available hours as for productive utilisation: Ana 150 h (20 business days × 8 h − 8 h
    # PTO − 2 h internal duty), Ben 121.6 h (19 days × 6.4 h).
    # Billable by the entry's flag, actual hours: Ana e1 1.5 + e2 1 + e4 2 = 4.5 (e8 is
    # rejected); Ben b3 6.
    person = figures(engine, db, billable, "billable_utilization_pct", "person")
    assert person == {"1": (4.5, 150, 3.0), "2": (6, approx(121.6), approx(600 / 121.6))}
    # Billed basis: billed hours where given, else actual: Ana 2 + 1 + 1 = 4; Ben 5.
    billed = figures(engine, db, billable, "billable_utilization_pct", "person", hours_basis="billed")
    assert {k: v[0] for k, v in billed.items()} == {"1": 4, "2": 5}
    # By the work-type mapping instead: every confirmed "Remote Support" entry — Ana e1, e2,
    # e3, e4, e5 = 6 h (e9's "Mystery" mapping is unconfirmed); Ben b1, b2, b3 = 8 h.
    by_type = figures(engine, db, billable, "billable_utilization_pct", "person", billable_by="work_type")
    assert by_type == {"1": (6, 150, 4.0), "2": (8, approx(121.6), approx(800 / 121.6))}
    # Help Desk: Ana + Ben from 03-16 (b3 on 03-27; 57.6 h of his capacity) → 10.5 of 207.6 h.
    team = figures(engine, db, billable, "billable_utilization_pct", "team")
    assert team["1"] == (10.5, approx(207.6), approx(1050 / 207.6))
    # Clients have billable hours but no capacity: no data, not 0 %.
    assert figures(engine, db, billable, "billable_utilization_pct", "client") == {"1": (2.5, 0, None),
                                                                                   "3": (2, 0, None)}


def test_billable_utilization_parameters_are_checked() -> None:
    with pytest.raises(MetricParamsError, match="billable_by"):
        BillableUtilization({"billable_by": "guess"})


# -- time-entry lag ----------------------------------------------------------------------


def test_time_entry_lag_hours(engine: MetricEngine, db: Database, world: World) -> None:
    # Ana's entries, lag = entered − end: e1 ends 10:00 (after the DST change), logged 10:30
    # → 1,800 s; e2 ends 10:00, logged 12:00 → 7,200 s; e3 ends 12:30 but was logged at
    # 12:00 → −1,800 s, clamped to 0; e4 ends 11:00, logged 12:00 → 3,600 s; e6 ends 03-20
    # 11:00, logged 03-21 09:00 → 79,200 s; e7 and e9 logged at their end → 0. e5 has no
    # entry time and e8 is rejected: not counted. 91,800 s over 7 entries = 3.642857 h
    # (unclamped it would have been 90,000 s).
    person = figures(engine, db, world, "time_entry_lag_hours", "person")
    assert person == {"1": (91_800, 7, approx(91_800 / 7 / HOUR)), "2": (0, 3, 0.0)}
    # The company also has the unlinked identity's entry (lag 0): 91,800 s over 11.
    assert figures(engine, db, world, "time_entry_lag_hours", "company") == {
        "": (91_800, 11, approx(91_800 / 11 / HOUR))}
    # April has no entries: no figures at all.
    assert figures(engine, db, world, "time_entry_lag_hours", "person", APRIL) == {}


# -- net CSAT and NPS --------------------------------------------------------------------


def test_net_csat(engine: MetricEngine, db: Database, world: World) -> None:
    # +1 positive, −1 negative, 0 neutral. Ana: S1 (3 of 1–3) +1, S2 (4 of 1–5 = 0.75,
    # unattributed → T2's resolver Ana) +1, S7 (3 of 1–3, 23:30 on 03-31 New York) +1 → 3/3.
    # Ben: S3 (2 of 1–5 = 0.25) −1; S6 (5 of 5, flagged not positive by the vendor) is not
    # positive and its score is not low → neutral 0 → −1/2 = −50.
    person = figures(engine, db, world, "net_csat", "person")
    assert person == {"1": (3, 3, 100.0), "2": (-1, 2, -50.0)}
    # Company: + S4 (10 of 0–10, no one's) → 3/6 = 50. S5 is on an out-of-scope ticket.
    assert figures(engine, db, world, "net_csat", "company") == {"": (3, 6, 50.0)}
    # April: S8 (1 of 1–3, Ana) → −100.
    assert figures(engine, db, world, "net_csat", "person", APRIL) == {"1": (-1, 1, -100.0)}
    # No negatives at all with a threshold of 0 (S3 is 0.25): Ben 0/2.
    assert figures(engine, db, world, "net_csat", "person", negative_threshold=0)["2"] == (0, 2, 0.0)


@pytest.fixture
def nps_surveys(db: Database, world: World) -> World:
    """Three 0–10 responses for Ben on the NPS boundaries: 9 (promoter), 7 (passive), 6 (detractor)."""
    with db.session(world.tenant_id) as session:
        for name, score, day in (("N9", 9, 5), ("N7", 7, 6), ("N6", 6, 7)):
            add(session, world, name, Survey(submitted_at=ny(3, day, 12), score=score, scale_min=0, scale_max=10,
                                             identity_id=world["ben_id"]))
    return world


def test_nps(engine: MetricEngine, db: Database, nps_surveys: World) -> None:
    # Scores stretched to 0–10: S1 3 of 1–3 → 10 (+1); S2 4 of 1–5 → 7.5 (passive, 0); S7
    # → 10 (+1). Ana: 2/3 → 66.67. Ben: S3 2 of 1–5 → 2.5 (−1), S6 5 of 5 → 10 (+1: NPS
    # reads the score, not the vendor's CSAT flag), N9 +1, N7 0, N6 −1 → 0/5.
    person = figures(engine, db, nps_surveys, "nps", "person")
    assert person == {"1": (2, 3, approx(200 / 3)), "2": (0, 5, 0.0)}
    # Company: + S4 (10 of 0–10) → 3/9.
    assert figures(engine, db, nps_surveys, "nps", "company") == {"": (3, 9, approx(100 / 3))}
    # Promoters from 7.5: S2 (exactly 7.5) becomes one; Ben's N7 stays passive.
    assert figures(engine, db, nps_surveys, "nps", "person", promoter_min=7.5)["1"] == (3, 3, 100.0)
    assert figures(engine, db, nps_surveys, "nps", "person", promoter_min=7.5)["2"] == (0, 5, 0.0)


def test_nps_parameters_are_checked() -> None:
    with pytest.raises(MetricParamsError, match="promoter_min"):
        NetPromoterScore({"promoter_min": 11})


# -- effective hourly rate ---------------------------------------------------------------


@pytest.fixture
def rate(db: Database, world: World) -> World:
    """An invoice for Acme's RMM twin (no time logged on it) and 3 h of Ana's on T7, the MSP's own ticket."""
    with db.session(world.tenant_id) as session:
        add(session, world, "I5", Invoice(client_id=world["acme_rmm"], number="I5", invoice_date=D(2024, 3, 5),
                                          total_minor=10_000, balance_minor=0, currency="USD"))
        entry(session, world, "e10", "ana_id", ny(3, 20, 10), 3.0, ticket_id=world["T7"])
    return world


def test_effective_hourly_rate(engine: MetricEngine, db: Database, rate: World) -> None:
    # Acme: invoiced 1,000,000; hours on its tickets e1 1.5 + e2 1 + e3 0.5 + e5 1 = 4 →
    # 250,000 minor units (2,500.00) an hour. Beta: 500,000 − 50,000 (credit note) = 450,000
    # over e4 2 + b1 1 + b2 1 + g1 2 = 6 h → 75,000. The EUR invoice is left out. Acme RMM:
    # an invoice but no hours → no data.
    client = figures(engine, db, rate, "effective_hourly_rate", "client")
    assert client == {"1": (1_000_000, 4, 250_000), "2": (10_000, 0, None), "3": (450_000, 6, 75_000)}
    # Ana answers for Acme and half of Beta: (1,000,000 + 225,000) / (4 + 3) = 175,000.
    person = figures(engine, db, rate, "effective_hourly_rate", "person")
    assert person == {"1": (1_225_000, 7, 175_000), "2": (225_000, 3, 75_000)}
    # Company: every invoice over every hour on a client — not e10 (the MSP's own ticket),
    # nor internal time without a client: 1,460,000 / 10 h.
    assert figures(engine, db, rate, "effective_hourly_rate", "company") == {"": (1_460_000, 10, 146_000)}


# -- revenue to pay ----------------------------------------------------------------------


@pytest.fixture
def pay(db: Database, world: World) -> World:
    """Ana's raise to $124,000 from 03-16 (her $104,000 fact ends then) and Ben's $60,000."""
    with db.session(world.tenant_id) as session:
        old = session.scalars(select(PersonFact).where(PersonFact.person_id == world["ana"],
                                                       PersonFact.kind == "compensation")).one()
        old.valid_to = D(2024, 3, 16)
        for person, annual, since in (("ana", 12_400_000, D(2024, 3, 16)), ("ben", 6_000_000, D(2024, 1, 1))):
            add(session, world, None, PersonFact(person_id=world[person], kind="compensation", value_int=annual,
                                                 currency="USD", valid_from=since))
    return world


def test_revenue_to_pay_ratio(engine: MetricEngine, db: Database, pay: World) -> None:
    # Pay, a twelfth of the annual figure per month spread over its 31 days: Ana 15 days at
    # 10,400,000 and 16 at 12,400,000 → 354,400,000 / 372; Ben from his start on 03-04, 28
    # days at 6,000,000 → 28 × 500,000 / 31.
    ana_pay, ben_pay = 354_400_000 / 372, 28 * 500_000 / 31
    # Revenue through personal responsibilities: Ana all of Acme's 1,000,000 and half of
    # Beta's 500,000 − 50,000 → 1,225,000; Ben the other half of Beta → 225,000.
    person = figures(engine, db, pay, "revenue_to_pay_ratio", "person")
    assert person == {"1": (1_225_000, approx(ana_pay), approx(1_225_000 / ana_pay)),
                      "2": (225_000, approx(ben_pay), approx(225_000 / ben_pay))}
    # Help Desk pools Ana and Ben's days on it (from 03-16): Ben's half of I2 (03-15) is
    # Projects', his half of the credit note (03-20, −25,000) Help Desk's.
    helpdesk_pay = ana_pay + 16 * 500_000 / 31
    team = figures(engine, db, pay, "revenue_to_pay_ratio", "team")
    assert team == {"1": (1_200_000, approx(helpdesk_pay), approx(1_200_000 / helpdesk_pay)),
                    "2": (250_000, approx(12 * 500_000 / 31), approx(250_000 / (12 * 500_000 / 31)))}
    # Clients have revenue but nobody's pay: no data.
    assert figures(engine, db, pay, "revenue_to_pay_ratio", "client") == {"1": (1_000_000, 0, None),
                                                                          "3": (450_000, 0, None)}
    # The company: all revenue (Beta's shares add up to the whole) over all pay.
    company = figures(engine, db, pay, "revenue_to_pay_ratio", "company")
    assert company == {"": (1_450_000, approx(ana_pay + ben_pay), approx(1_450_000 / (ana_pay + ben_pay)))}


def test_revenue_nobody_answers_for_stays_with_the_company(engine: MetricEngine, db: Database,
                                                           pay: World) -> None:
    # An invoice of Acme RMM's (no one responsible) counts for its client and the company only.
    with db.session(pay.tenant_id) as session:
        add(session, pay, "I5", Invoice(client_id=pay["acme_rmm"], number="I5", invoice_date=D(2024, 3, 5),
                                        total_minor=10_000, balance_minor=0, currency="USD"))
    assert figures(engine, db, pay, "revenue_to_pay_ratio", "client")["2"] == (10_000, 0, None)
    assert figures(engine, db, pay, "revenue_to_pay_ratio", "company")[""][0] == 1_460_000
    assert figures(engine, db, pay, "revenue_to_pay_ratio", "person")["1"][0] == 1_225_000


# -- days sales outstanding --------------------------------------------------------------


@pytest.fixture
def receivables(db: Database, world: World) -> World:
    """I1 (Acme, 1,000,000, 03-01) paid 600,000 on 03-10 12:00 and the rest on 04-02 09:00;
    I2 (Beta, 500,000, 03-15) marked paid on 03-25 12:00 with no payment rows."""
    with db.session(world.tenant_id) as session:
        for name, at, amount in (("PM1", ny(3, 10, 12), 600_000), ("PM2", ny(4, 2, 9), 400_000)):
            add(session, world, name, Payment(invoice_id=world["I1"], paid_at=at, amount_minor=amount,
                                              currency="USD"))
        session.get(Invoice, world["I2"]).paid_at = ny(3, 25, 12)
    return world


def test_dso_days(engine: MetricEngine, db: Database, receivables: World) -> None:
    # Owed at the end of each March day: I1 1,000,000 on 03-01 … 03-09 (9 days) and 400,000
    # on 03-10 … 03-31 (22 days) = 17,800,000; I2 500,000 on 03-15 … 03-24 (10 days) =
    # 5,000,000; the credit note I3 is never owed. Sales: 1,000,000 + 500,000 − 50,000.
    assert figures(engine, db, receivables, "dso_days", "client") == {
        "1": (17_800_000, 1_000_000, 17.8), "3": (5_000_000, 450_000, approx(5_000_000 / 450_000))}
    assert figures(engine, db, receivables, "dso_days", "company") == {
        "": (22_800_000, 1_450_000, approx(22_800_000 / 1_450_000))}
    # Ana: Acme + half of Beta.
    assert figures(engine, db, receivables, "dso_days", "person")["1"] == (
        20_300_000, 1_225_000, approx(20_300_000 / 1_225_000))
    # April: I1's last 400,000 is owed on 04-01 only, and nothing was invoiced: no data.
    assert figures(engine, db, receivables, "dso_days", "company", APRIL) == {"": (400_000, 0, None)}


def test_dso_of_an_invoice_paid_after_ten_days_is_ten(engine: MetricEngine, db: Database, world: World) -> None:
    # Alone in February: 1,000 invoiced 02-05, paid 02-15 08:00 → owed at the end of 02-05 … 02-14.
    with db.session(world.tenant_id) as session:
        invoice = add(session, world, "I9", Invoice(client_id=world["beta"], number="I9",
                                                    invoice_date=D(2024, 2, 5), total_minor=1_000, balance_minor=0,
                                                    currency="USD"))
        add(session, world, None, Payment(invoice_id=invoice.id, paid_at=ny(2, 15, 8), amount_minor=1_000,
                                          currency="USD"))
    february = Period("month", D(2024, 2, 1), D(2024, 3, 1))
    assert figures(engine, db, world, "dso_days", "client", february) == {"3": (10_000, 1_000, 10.0)}


# -- gross profit ------------------------------------------------------------------------


def test_gross_profit(engine: MetricEngine, db: Database, world: World) -> None:
    # As gross margin's worked example, as a sum: Acme 1,000,000 − A1's cost 310,000 − Ana's
    # labour on Acme (4 h × 5,000) = 670,000, over one agreement-month (A1 all March). Beta
    # 450,000 − A2's cost 62,000 × 10/31 − Ana's 2 h = 420,000, over A2's 10 days of 31.
    ten_days = 10 / 31
    client = figures(engine, db, world, "gross_profit", "client")
    assert client == {"1": (670_000, 1, 670_000), "3": (approx(420_000), approx(ten_days), close(420_000 / ten_days))}
    # The company adds Ana's internal time (e6 2 + e7 4.5 + e9 1 = 7.5 h × 5,000): 1,052,500.
    company = figures(engine, db, world, "gross_profit", "company")
    assert company == {"": (approx(1_052_500), approx(1 + ten_days), close(1_052_500 / (1 + ten_days)))}
    # What a profit-funded Help Desk pool reads: Beta's, the team's client.
    assert figures(engine, db, world, "gross_profit", "team")["1"][0] == approx(420_000)
    assert figures(engine, db, world, "gross_profit", "person")["1"][0] == approx(670_000 + 210_000)
    # Without labour: 1,450,000 − 330,000.
    assert figures(engine, db, world, "gross_profit", "company", include_labour=False)[""][0] == approx(1_120_000)
    # April: A1's cost for the month and no revenue.
    assert figures(engine, db, world, "gross_profit", "company", APRIL) == {"": (approx(-310_000), approx(1),
                                                                               approx(-310_000))}


# -- after-hours hours -------------------------------------------------------------------


@pytest.fixture
def late_work(db: Database, world: World) -> World:
    """Entries around business hours (09:00–17:00 New York, Monday to Friday):

    h1  Ana  Fri 03-08 16:00–19:00, 3 h              1 h inside, 2 after
    h2  Ana  Sat 03-09 22:00 – Sun 03-10 04:00, 5 h   the clocks jump at 02:00: 5 real hours, all after
    h3  Ana  Mon 03-11 07:00–10:00, 3 h              first EDT Monday: 07:00–09:00 after (2 h)
    h4  Ana  Tue 03-12 17:00–19:00, 1.5 h logged     "On-call", all after: 1.5 h
    h5  Ben  Fri 03-29 10:00–12:00, 2 h              Good Friday: a holiday, all after
    h6  Ben  Thu 03-28 10:00–12:00, 2 h              inside: nothing
    h7  Ana  Sat 03-23, 2 h, no end time              cannot be placed: nothing
    """
    with db.session(world.tenant_id) as session:
        entry(session, world, "h1", "ana_id", ny(3, 8, 16), 3.0)
        add(session, world, "h2", TimeEntry(identity_id=world["ana_id"], start_at=ny(3, 9, 22), end_at=ny(3, 10, 4),
                                            hours=5.0, work_type="Remote Support"))
        entry(session, world, "h3", "ana_id", ny(3, 11, 7), 3.0)
        add(session, world, "h4", TimeEntry(identity_id=world["ana_id"], start_at=ny(3, 12, 17),
                                            end_at=ny(3, 12, 19), hours=1.5, work_type="On-call"))
        entry(session, world, "h5", "ben_id", ny(3, 29, 10), 2.0)
        entry(session, world, "h6", "ben_id", ny(3, 28, 10), 2.0)
        add(session, world, "h7", TimeEntry(identity_id=world["ana_id"], start_at=ny(3, 23, 10), hours=2.0))
    return world


def test_after_hours_hours(engine: MetricEngine, db: Database, late_work: World) -> None:
    # Ana: the world's e1 (Mon 03-11 08:30–10:00, after DST: 08:30–09:00 after) 0.5 + h1 2
    # + h2 5 + h3 2 + h4 1.5 = 11 h over 5 entries. With the pre-DST offset the EDT Monday
    # would open at 10:00 and h3 and e1 would count an hour more each.
    person = figures(engine, db, late_work, "after_hours_hours", "person")
    assert person == {"1": (11, 5, 2.2), "2": (2, 1, 2.0)}
    # Only the on-call work type.
    assert figures(engine, db, late_work, "after_hours_hours", "person", work_types=["On-call"]) == {
        "1": (1.5, 1, 1.5)}
    # Help Desk: Ana's and Ben's Good Friday (he joined on 03-16); Projects: nothing.
    assert figures(engine, db, late_work, "after_hours_hours", "team") == {"1": (13, 6, approx(13 / 6))}
    # Clients: e1 is on Acme's T1.
    assert figures(engine, db, late_work, "after_hours_hours", "client") == {"1": (0.5, 1, 0.5)}


# -- root cause documented ---------------------------------------------------------------


@pytest.fixture
def problems(db: Database, world: World) -> World:
    """Problem tickets: T2 (Ana, root cause written 03-14, after it closed), T3 (Ben, none),
    T4 (Ben, first resolved 03-18 in its history, documented), T5 (Ana, documented), T6 (an
    alert-board ticket: out of scope) and T9 (open). T1 (Ana, an incident) is priority P1."""
    with db.session(world.tenant_id) as session:
        for name, documented in (("T2", ny(3, 14, 10)), ("T3", None), ("T4", ny(3, 18, 15)), ("T5", ny(3, 19, 11)),
                                 ("T6", None), ("T9", None)):
            ticket = session.get(Ticket, world[name])
            ticket.type, ticket.root_cause_documented_at = "Problem", documented
        session.get(Ticket, world["T1"]).priority = "P1"
    return world


def test_rca_documented_pct(engine: MetricEngine, db: Database, problems: World) -> None:
    # Ana: T2 ✓, T5 ✓ → 2/2. Ben: T3 ✗, T4 ✓ → 1/2. T6 is out of scope, T9 unresolved.
    assert figures(engine, db, problems, "rca_documented_pct", "person") == {"1": (2, 2, 100.0),
                                                                             "2": (1, 2, 50.0)}
    # Help Desk: Ana's and Ben's T4 (03-18); Projects: T3 (03-14).
    assert figures(engine, db, problems, "rca_documented_pct", "team") == {"1": (3, 3, 100.0), "2": (0, 1, 0.0)}
    # P1 incidents need one too: Ana's T1 has none.
    assert figures(engine, db, problems, "rca_documented_pct", "person", priorities=["P1"])["1"] == (
        2, 3, approx(200 / 3))
    # No ticket of a type that needs a root cause: no figures.
    assert figures(engine, db, problems, "rca_documented_pct", "person", ticket_types=["Change"]) == {}
