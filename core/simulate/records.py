"""The unit a world streams: a canonical record plus what vendor simulators also need.

``data`` holds exactly the fields of the entity's canonical schema
(:mod:`podium.schemas.canonical`), so the canonical loader can store it as is and a test
can validate it. ``vendor`` holds the facts a vendor API shows but Podium's canonical
model does not keep (a member's ``identifier`` is canonical as ``vendor_key``, but its
licence class, a time entry's work role or ``chargeToType``, an agreement's additions are
not); a vendor simulator renders both through its own field names.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from podium.simulate import catalog
from podium.simulate.org import SimPerson

UTC = dt.timezone.utc


@dataclass(frozen=True, slots=True)
class Record:
    entity: str
    """Canonical entity name (``ticket``, ``time_entry`` …)."""
    data: dict[str, Any]
    vendor: dict[str, Any] = field(default_factory=dict)


def time_entry(
    external_id: int,
    person: SimPerson,
    start: dt.datetime,
    end: dt.datetime,
    work_type: str,
    entered_at: dt.datetime,
    *,
    billable: bool = False,
    ticket_id: str | None = None,
    project_id: str | None = None,
    client_id: str = str(catalog.IDS.internal_client),
    notes: str | None = None,
    hourly_rate: int | None = None,
) -> Record:
    """A time entry; ``chargeToType`` follows what it is charged to (ticket, project, code).
    ``hourly_rate`` (whole currency units) overrides the rate of the person's grade."""
    hours = round((end - start).total_seconds() / 3600, 2)
    grade = person.grade_on(start.date())
    default = catalog.WORK_TYPES[work_type].billable_option
    # Billable work covered by an agreement is "no charge", not "do not bill".
    option = "Billable" if billable else "NoCharge" if default == "Billable" else default
    charge_to = "ProjectTicket" if project_id else "ServiceTicket" if ticket_id else "ChargeCode"
    data = {
        "external_id": str(external_id),
        "identity_external_id": person.member_id,
        "ticket_external_id": ticket_id,
        "project_external_id": project_id,
        "work_type": work_type,
        "start_at": start,
        "end_at": end,
        "hours": hours,
        "billable": billable,
        "billed_hours": math.ceil(hours * 4) / 4 if billable else None,
        "entered_at": entered_at,
        "rejected": False,
        "notes": notes,
        "vendor_updated_at": entered_at,
    }
    vendor = {
        "member_identifier": person.identifier,
        "work_type_id": catalog.WORK_TYPES[work_type].id,
        "work_role": grade.title,
        "billable_option": option,
        "charge_to_type": charge_to,
        "company_external_id": client_id,
        "hourly_rate_minor": (hourly_rate or grade.hourly_rate) * 100 if billable else 0,
    }
    return Record("time_entry", data, vendor)
