"""The payroll export: one CSV row per person for a closed period.

Only closed periods are exported — payroll pays final figures, and a closed period's
figures never change, so exporting twice gives the same file. Columns: the person,
their vendor ids (``vendor:connection:id`` for each linked identity, so payroll can match
people across systems), one column per line kind (earnings, gates, eligibility,
proration, clawbacks, carried in, floor, cap, adjustments), the total and the currency.
Amounts are in major units with a dot and the currency's decimal places.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict

from podium.models import (
    Connection,
    Identity,
    PayoutPeriod,
    PayoutSnapshot,
    Plan,
    SnapshotLine,
)
from podium.payouts.base import LINE_KINDS
from podium.payouts.engine import PayoutError
from podium.payouts.money import format_plain
from podium.payouts.periods import PayPeriod
from sqlalchemy import select
from sqlalchemy.orm import Session


def payroll_csv(session: Session, plan: Plan, period: PayPeriod) -> str:
    row = session.scalars(select(PayoutPeriod).where(PayoutPeriod.plan_id == plan.id,
                                                     PayoutPeriod.starts_on == period.start)).one_or_none()
    if row is None or row.status != "closed":
        raise PayoutError(f"period: {period.label} is not closed; payroll exports closed periods only")
    snapshot = session.scalars(select(PayoutSnapshot).where(PayoutSnapshot.period_id == row.id)).one()
    currency = snapshot.content["currency"]
    amounts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for line in session.scalars(select(SnapshotLine).where(SnapshotLine.snapshot_id == snapshot.id)):
        amounts[line.person_id][line.kind] += line.amount_minor
    ids: dict[int, list[str]] = defaultdict(list)
    for person_id, vendor, connection_id, external_id in session.execute(
        select(Identity.person_id, Connection.vendor, Identity.connection_id, Identity.external_id)
        .join(Connection, Connection.id == Identity.connection_id)
        .where(Identity.person_id.in_([p["person_id"] for p in snapshot.content["participants"]]))
        .order_by(Connection.vendor, Identity.connection_id, Identity.external_id)
    ):
        ids[person_id].append(f"{vendor}:{connection_id}:{external_id}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["plan", "period", "person_id", "name", "email", "external_ids", *LINE_KINDS, "total", "currency"])
    for person in snapshot.content["participants"]:
        pid = person["person_id"]
        kinds = amounts[pid]
        writer.writerow([plan.key, period.label, pid, person["name"], person["email"] or "", " ".join(ids[pid]),
                         *(format_plain(kinds[kind], currency) for kind in LINE_KINDS),
                         format_plain(sum(kinds.values()), currency), currency])
    return out.getvalue()
