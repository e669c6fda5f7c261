"""ConnectWise Manage JSON → Podium's canonical records: pure functions, no I/O.

Each function takes the records ConnectWise returns (facts §1.6–§1.10; empty fields are
left out of ConnectWise's JSON, so every read is a ``.get``) plus the setup tables it
needs, already fetched, and returns a dict in the shape of
:mod:`podium.schemas.canonical`. Keeping the translation free of HTTP makes every rule
here testable on its own, and lets the connector decide what to fetch and when.

Decisions that are Podium's, not ConnectWise's, are made here once:

* a status's category comes from its board status: ``closedStatus`` → closed,
  ``escalationStatus`` ``Resolved`` → resolved, anything else → open;
* ``impact`` is the priority's rank (the most urgent of N priorities is N), because
  ConnectWise's own ``impact`` text has only three levels;
* a member is a person unless it is an API member (``licenseClass`` ``A``) or its member
  type is an API or workflow account;
* support tiers come from configured team and board names; ``escalationLevel`` is an SLA
  stage and is never read;
* SLA met flags compare ConnectWise's own business-minute counters with the SLA's hours
  for the ticket's priority; due times are left to Podium's calendars.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from podium.vendor_mapping import day, to_minor

NON_PERSON_TYPES = re.compile(r"\b(api|workflow|integration)\b", re.IGNORECASE)
"""Member type names of accounts that are not people (an integration's or a workflow's)."""
REJECTED_STATUSES = frozenset({"Rejected", "RejectBySecondTier"})
TICKET_CHARGES = frozenset({"ServiceTicket", "ProjectTicket"})
INTERNAL_COMPANY_TYPES = frozenset({"internal", "owner"})
CYCLE_MONTHS: dict[str, float] = {
    "monthly": 1, "bimonthly": 2, "quarterly": 3, "semiannual": 6, "semi-annual": 6, "semiannually": 6,
    "biannual": 6, "annual": 12, "annually": 12, "yearly": 12, "weekly": 12 / 52, "biweekly": 12 / 26,
}
"""Months per billing cycle, by ConnectWise billing-cycle name (lower case)."""


def ref_id(value: Any) -> str | None:
    """The id of a reference object (``{"id": 5, "name": ...}``) as an external id."""
    return str(value["id"]) if isinstance(value, Mapping) and value.get("id") is not None else None


def ref_name(value: Any) -> str | None:
    return value.get("name") if isinstance(value, Mapping) else None


def info(record: Mapping[str, Any], key: str) -> Any:
    return (record.get("_info") or {}).get(key)


# -- setup tables -------------------------------------------------------------------------


def status_category(status: Mapping[str, Any]) -> str:
    """Podium's category of a board status (``closedStatus`` first, then ``escalationStatus``)."""
    if status.get("closedStatus"):
        return "closed"
    if status.get("escalationStatus") == "Resolved":
        return "resolved"
    return "open"


@dataclass
class StatusBook:
    """Every board's statuses, to categorise a status seen on a ticket or in its audit trail."""

    by_board: dict[tuple[str, str], str] = field(default_factory=dict)
    """(board name, status name) → category; names compared in lower case."""
    by_name: dict[str, str] = field(default_factory=dict)
    """status name → category, for a status the trail names on another board."""

    @classmethod
    def build(cls, statuses: Iterable[Mapping[str, Any]]) -> StatusBook:
        book = cls()
        for status in statuses:
            category = status_category(status)
            name = str(status.get("name", "")).lower()
            book.by_board[(str(ref_name(status.get("board")) or "").lower(), name)] = category
            book.by_name.setdefault(name, category)
        return book

    def category(self, board: str | None, status: str | None) -> str | None:
        if status is None:
            return None
        key = status.lower()
        return self.by_board.get(((board or "").lower(), key), self.by_name.get(key))


@dataclass
class MemberBook:
    """Members by id and by ``identifier`` (audit trails and ``closedBy`` name members by identifier)."""

    people: dict[str, bool] = field(default_factory=dict)
    """external id → is a person."""
    by_identifier: dict[str, str] = field(default_factory=dict)
    """identifier (lower case) → external id."""

    @classmethod
    def build(cls, members: Iterable[Mapping[str, Any]]) -> MemberBook:
        book = cls()
        for member in members:
            external_id = str(member["id"])
            book.people[external_id] = is_person(member)
            if member.get("identifier"):
                book.by_identifier[str(member["identifier"]).lower()] = external_id
        return book

    def id_of(self, identifier: str | None) -> str | None:
        return self.by_identifier.get(identifier.lower()) if identifier else None

    def is_person(self, external_id: str) -> bool:
        return self.people.get(external_id, False)

    def technician(self, identifier: str | None) -> str | None:
        """The external id of the member ``identifier`` if it is a person (a technician)."""
        external_id = self.id_of(identifier)
        return external_id if external_id is not None and self.is_person(external_id) else None


@dataclass
class Tiers:
    """Configured support tiers: team patterns first, then board patterns (shell-style, case-insensitive)."""

    teams: Mapping[str, int] = field(default_factory=dict)
    boards: Mapping[str, int] = field(default_factory=dict)

    def of(self, team: str | None, board: str | None) -> int | None:
        for name, patterns in ((team, self.teams), (board, self.boards)):
            if name:
                for pattern, tier in patterns.items():
                    if fnmatchcase(name.lower(), pattern.lower()):
                        return tier
        return None


def priority_impacts(priorities: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Priority id → impact: the most urgent (lowest ``sortOrder``) of N priorities is N, the least 1."""
    ordered = sorted(priorities, key=lambda p: (p.get("sortOrder", 0), p["id"]))
    return {str(p["id"]): len(ordered) - rank for rank, p in enumerate(ordered)}


def sla_targets(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], tuple[float | None, float | None]]:
    """(SLA id, priority id) → (respond hours, resolution hours), from ``service/SLAs/{id}/priorities``."""
    return {
        (ref_id(row.get("sla")) or "", ref_id(row.get("priority")) or ""): (
            row.get("respondHours"), row.get("resolutionHours"),
        )
        for row in rows
    }


def survey_scale(questions: Iterable[Mapping[str, Any]]) -> tuple[float, float] | None:
    """(lowest, highest) total points a survey's included Selection questions can give."""
    low = high = 0.0
    scored = False
    for question in questions:
        points = [o.get("points", 0) for o in question.get("options") or [] if o.get("includeFlag", True)]
        if question.get("includeFlag", True) and points:
            low += min(points)
            high += max(points)
            scored = True
    return (low, high) if scored and high > low else None


# -- records ------------------------------------------------------------------------------


def is_person(member: Mapping[str, Any]) -> bool:
    """False for API members and workflow/integration accounts (never attributed or paid)."""
    if member.get("licenseClass") == "A":
        return False
    return not NON_PERSON_TYPES.search(ref_name(member.get("type")) or "")


def identity(member: Mapping[str, Any]) -> dict[str, Any]:
    name = " ".join(p for p in (member.get("firstName"), member.get("lastName")) if p) or member["identifier"]
    return {
        "external_id": str(member["id"]),
        "vendor_key": member.get("identifier"),
        "email": member.get("primaryEmail") or member.get("officeEmail"),
        "display_name": name[:200],
        "is_person": is_person(member),
        "raw": {
            key: member[key] for key in ("licenseClass", "type", "inactiveFlag", "title") if key in member
        } or None,
    }


def client(company: Mapping[str, Any], *, company_id: str) -> dict[str, Any]:
    """A company; the MSP itself (type Internal/Owner, or the login company id) is internal."""
    types = {str(ref_name(t) or "").lower() for t in company.get("types") or []}
    internal = bool(types & INTERNAL_COMPANY_TYPES) or str(company.get("identifier", "")).lower() == company_id.lower()
    status = str(ref_name(company.get("status")) or "").lower()
    return {
        "external_id": str(company["id"]),
        "name": company["name"],
        "is_internal": internal,
        "active": not company.get("deletedFlag") and not status.startswith("inactive"),
    }


@dataclass(frozen=True)
class TicketContext:
    """The setup tables a ticket's translation needs."""

    statuses: StatusBook
    impacts: Mapping[str, int]
    slas: Mapping[tuple[str, str], tuple[float | None, float | None]]
    tiers: Tiers


def ticket(raw: Mapping[str, Any], context: TicketContext, *, project: bool,
           resolved_by: str | None = None) -> dict[str, Any]:
    """A service or project ticket; ``resolved_by`` comes from its history (see history.py)."""
    board = ref_name(raw.get("board"))
    status = ref_name(raw.get("status")) or ""
    category = "closed" if raw.get("closedFlag") else context.statuses.category(board, status) or "open"
    response_met, resolution_met = sla_met(raw, context.slas)
    return {
        "external_id": str(raw["id"]),
        "number": str(raw["id"]),
        "summary": raw.get("summary", ""),
        "client_external_id": ref_id(raw.get("company")),
        "contact_external_id": ref_id(raw.get("contact")),
        "board": board,
        "type": ref_name(raw.get("type")),
        "subtype": ref_name(raw.get("subType")),
        "item": ref_name(raw.get("item")),
        "priority": ref_name(raw.get("priority")),
        "impact": context.impacts.get(ref_id(raw.get("priority")) or ""),
        "weight": None,
        "source": ref_name(raw.get("source")),
        "status": status,
        "status_category": category,
        "closed": bool(raw.get("closedFlag")),
        "created_at": info(raw, "dateEntered"),
        "first_response_at": raw.get("dateResponded"),
        "resolved_at": raw.get("dateResolved") if category != "open" else None,
        "closed_at": raw.get("closedDate") if raw.get("closedFlag") else None,
        "sla_response_due_at": None,
        "sla_resolution_due_at": None,
        "sla_response_met": response_met,
        "sla_resolution_met": resolution_met,
        "sla_source": "vendor" if raw.get("sla") else None,
        "owner_external_id": ref_id(raw.get("owner")),
        "resolved_by_external_id": resolved_by if category != "open" else None,
        "tier": None if project else context.tiers.of(ref_name(raw.get("team")), board),
        "parent_external_id": ref_id(raw.get("mergedParentTicket")) or (
            str(raw["parentTicketId"]) if raw.get("parentTicketId") else None
        ),
        "merged": raw.get("mergedParentTicket") is not None,
        "is_project": project,
        "configuration_external_id": None,
        "vendor_updated_at": info(raw, "lastUpdated"),
    }


def sla_met(
    raw: Mapping[str, Any], targets: Mapping[tuple[str, str], tuple[float | None, float | None]]
) -> tuple[bool | None, bool | None]:
    """(response met, resolution met) as ConnectWise's own SLA verdicts say.

    ``isInSla`` true means nothing is late: every milestone reached was met. Otherwise a
    reached milestone is judged by ConnectWise's business-minute counter
    (``respondMinutes``/``resolveMinutes``) against the SLA's hours for the ticket's
    priority, and with ``isInSla`` false the earliest milestone not reached yet is late.
    A milestone not reached and not known to be late is undecided (None).
    """
    if raw.get("sla") is None:
        return None, None
    responded, resolved = bool(raw.get("dateResponded")), bool(raw.get("dateResolved"))
    if raw.get("isInSla") is True:
        return (True if responded else None), (True if resolved else None)
    respond_hours, resolve_hours = targets.get((ref_id(raw.get("sla")) or "", ref_id(raw.get("priority")) or ""),
                                               (None, None))

    def within(minutes: Any, hours: float | None) -> bool | None:
        return None if hours is None or minutes is None else minutes <= hours * 60

    response = within(raw.get("respondMinutes"), respond_hours) if responded else None
    resolution = within(raw.get("resolveMinutes"), resolve_hours) if resolved else None
    if raw.get("isInSla") is False:
        if not responded:
            response = False
        elif not resolved and response is True:
            resolution = False
    return response, resolution


def time_entry(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A time entry; rejected entries are kept and flagged (``rejected``), never counted as work."""
    charge = raw.get("chargeToType")
    ticket_id = ref_id(raw.get("ticket")) or (
        str(raw["chargeToId"]) if charge in TICKET_CHARGES and raw.get("chargeToId") else None
    )
    billable = raw.get("billableOption") == "Billable"
    return {
        "external_id": str(raw["id"]),
        "identity_external_id": ref_id(raw.get("member")),
        "ticket_external_id": ticket_id,
        "project_external_id": ref_id(raw.get("project")),
        "work_type": ref_name(raw.get("workType")),
        "start_at": raw["timeStart"],
        "end_at": raw.get("timeEnd"),
        "hours": raw.get("actualHours") or 0.0,
        "billable": billable,
        "billed_hours": raw.get("hoursBilled") if billable else None,
        "entered_at": raw.get("dateEntered") or info(raw, "dateEntered"),
        "rejected": raw.get("status") in REJECTED_STATUSES,
        "notes": raw.get("notes"),
        "vendor_updated_at": info(raw, "lastUpdated"),
    }


def project(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A project; its billable amount is not in ConnectWise's project record and stays empty."""
    return {
        "external_id": str(raw["id"]),
        "name": raw["name"],
        "client_external_id": ref_id(raw.get("company")),
        "manager_external_id": ref_id(raw.get("manager")),
        "status": ref_name(raw.get("status")),
        "estimated_end": day(raw.get("estimatedEnd")),
        "actual_end": day(raw.get("actualEnd")),
        "budget_hours": raw.get("budgetHours"),
        "actual_hours": raw.get("actualHours"),
        "billable_minor": None,
        "currency": None,
        "vendor_updated_at": info(raw, "lastUpdated"),
    }


def currency_of(raw: Mapping[str, Any], default: str) -> str:
    """A record's ISO currency (its ``currency`` reference's code), else the connection's."""
    currency = raw.get("currency")
    if isinstance(currency, Mapping):
        for key in ("currencyCode", "currencyIdentifier", "name"):
            code = currency.get(key)
            if isinstance(code, str) and re.fullmatch(r"[A-Z]{3}", code):
                return code
    return default


def monthly(amount: float, cycle: str | None) -> float:
    """An amount per billing cycle as an amount per month (unknown cycles count as monthly)."""
    return amount / CYCLE_MONTHS.get((cycle or "monthly").lower().replace(" ", ""), 1)


def agreement(raw: Mapping[str, Any], additions: Iterable[Mapping[str, Any]], currency: str) -> dict[str, Any]:
    """An agreement as a recurring revenue line: its additions' price and cost per month.

    Price counts additions billed to the customer; cost counts every addition. The
    revenue ``category`` is Podium's (the ``agreement_type`` mapping), not ConnectWise's.
    """
    cycle = ref_name(raw.get("billingCycle"))
    price = cost = 0.0
    for addition in additions:
        if addition.get("billCustomer", "Billable") == "Billable":
            price += addition.get("extPrice") or 0.0
        cost += addition.get("extCost") or 0.0
    code = currency_of(raw, currency)
    return {
        "external_id": str(raw["id"]),
        "client_external_id": ref_id(raw.get("company")),
        "name": raw["name"],
        "agreement_type": ref_name(raw.get("type")) or "Unknown",
        "category": None,
        "monthly_price_minor": to_minor(round(monthly(price, cycle), 6), code),
        "monthly_cost_minor": to_minor(round(monthly(cost, cycle), 6), code),
        "currency": code,
        "effective_from": day(raw.get("startDate")),
        "effective_to": day(raw.get("endDate")),
        "cancelled_at": day(raw.get("dateCancelled")) if raw.get("cancelledFlag") or raw.get("dateCancelled") else None,
        "vendor_updated_at": info(raw, "lastUpdated"),
    }


def invoice(raw: Mapping[str, Any], payments: Iterable[Mapping[str, Any]], currency: str) -> dict[str, Any]:
    """An invoice; it is paid when its balance is zero, at its last payment's date."""
    code = currency_of(raw, currency)
    balance = to_minor(raw.get("balance") or 0, code)
    dates = sorted(p["paymentDate"] for p in payments if p.get("paymentDate"))
    return {
        "external_id": str(raw["id"]),
        "client_external_id": ref_id(raw.get("company")),
        "number": raw.get("invoiceNumber") or str(raw["id"]),
        "invoice_date": day(raw.get("date")),
        "due_date": day(raw.get("dueDate")),
        "total_minor": to_minor(raw.get("total") or 0, code),
        "balance_minor": balance,
        "currency": code,
        "paid_at": dates[-1] if balance == 0 and dates else None,
        "vendor_updated_at": info(raw, "lastUpdated"),
    }


def is_paid(raw: Mapping[str, Any]) -> bool:
    """Whether an invoice has been paid off (then its payments say when)."""
    return (raw.get("balance") or 0) == 0 and (raw.get("payments") or 0) > 0


def payment(raw: Mapping[str, Any], invoice_id: str, currency: str) -> dict[str, Any]:
    return {
        "external_id": str(raw["id"]),
        "invoice_external_id": invoice_id,
        "paid_at": raw["paymentDate"],
        "amount_minor": to_minor(raw.get("amount") or 0, currency),
        "currency": currency,
    }


def survey(
    raw: Mapping[str, Any], scale: tuple[float, float], identity_id: str | None, positive_share: float
) -> dict[str, Any]:
    """A survey result, scored on its survey's scale and credited to ``identity_id``."""
    low, high = scale
    score = float(raw.get("totalPoints") or 0)
    return {
        "external_id": str(raw["id"]),
        "ticket_external_id": str(raw["ticketId"]) if raw.get("ticketId") else None,
        "identity_external_id": identity_id,
        "score": score,
        "scale_min": low,
        "scale_max": high,
        "positive": score - low >= positive_share * (high - low),
        "submitted_at": info(raw, "dateEntered") or info(raw, "lastUpdated"),
        "vendor_updated_at": info(raw, "lastUpdated"),
    }


# -- suggestions for Podium's org data ----------------------------------------------------


WORK_TYPE_WORDS = (("pto", re.compile(r"\b(pto|vacation|holiday|leave|sick|time off)\b", re.IGNORECASE)),
                   ("internal", re.compile(r"\b(internal|meeting|admin|training)\b", re.IGNORECASE)))


def work_type_value(work_type: Mapping[str, Any]) -> str:
    """Podium's category of a work type: PTO and internal by name, else billable or productive."""
    name = str(work_type.get("name", ""))
    for value, words in WORK_TYPE_WORDS:
        if words.search(name):
            return value
    if work_type.get("billTime") == "Billable":
        return "billable"
    return "productive" if work_type.get("utilizationFlag") else "internal"


def board_value(board: Mapping[str, Any], statuses: Iterable[Mapping[str, Any]]) -> str:
    """Podium's kind of board: project boards, alert boards (by name), else service."""
    if board.get("projectFlag"):
        return "project"
    if re.search(r"\b(monitor|alert|rmm|noc)", str(board.get("name", "")), re.IGNORECASE):
        return "alert"
    return "service"


def slug(text: str) -> str:
    """``Managed Services`` → ``managed_services`` (a revenue-category slug)."""
    value = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "other"
    return value if value[0].isalpha() else f"c_{value}"[:64]


def mapping_rows(
    connection: str | None,
    boards: Iterable[Mapping[str, Any]],
    statuses: Iterable[Mapping[str, Any]],
    work_types: Iterable[Mapping[str, Any]],
    agreement_types: Iterable[str],
) -> list[dict[str, Any]]:
    """Unconfirmed ``mappings`` rows (podium.org.csvio's CSV shape) for an admin to review."""
    statuses = list(statuses)
    rows: dict[tuple[str, str], str] = {}
    for status in statuses:
        rows.setdefault(("status", status["name"]), status_category(status))
    for board in boards:
        rows.setdefault(("board", board["name"]), board_value(board, statuses))
    for work_type in work_types:
        rows.setdefault(("work_type", work_type["name"]), work_type_value(work_type))
    for name in agreement_types:
        rows.setdefault(("agreement_type", name), slug(name))
    return [
        {"connection": connection, "kind": kind, "vendor_value": value, "podium_value": podium_value,
         "confirmed": False}
        for (kind, value), podium_value in sorted(rows.items())
    ]


def team_rows(teams: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``teams`` rows: ConnectWise's board teams, once per name (a team may serve several boards)."""
    names: dict[str, str] = {}
    for team in teams:
        names.setdefault(team["name"], f"ConnectWise board team (leader: {ref_name(team.get('teamLeader')) or '-'})")
    return [{"name": name, "description": text} for name, text in sorted(names.items())]


def membership_rows(
    teams: Iterable[Mapping[str, Any]], emails: Mapping[str, str], since: dt.date
) -> list[dict[str, Any]]:
    """``memberships`` rows from board teams' current members (ConnectWise keeps no history,
    so each starts at ``since``, the day the suggestion was made)."""
    seen: set[tuple[str, str]] = set()
    rows = []
    for team in teams:
        for member_id in team.get("members") or []:
            email = emails.get(str(member_id))
            if email and (email, team["name"]) not in seen:
                seen.add((email, team["name"]))
                rows.append({"person": email, "team": team["name"], "valid_from": since, "valid_to": None,
                             "share": 1.0})
    return sorted(rows, key=lambda r: (r["team"], r["person"]))


DAY_KEYS = (("monday", "mon"), ("tuesday", "tue"), ("wednesday", "wed"), ("thursday", "thu"), ("friday", "fri"),
            ("saturday", "sat"), ("sunday", "sun"))


def calendar_rows(
    calendars: Iterable[Mapping[str, Any]],
    slas: Iterable[Mapping[str, Any]],
    members: Iterable[Mapping[str, Any]],
    *,
    time_zone: str,
) -> list[dict[str, Any]]:
    """``calendars`` rows: each day's ``startTime``-``endTime`` as ``HH:MM-HH:MM`` (blank = closed).

    A calendar an SLA uses is an ``sla`` calendar; one that exactly one member works to,
    while others work to another, is that ``person``'s; the rest are the tenant's.
    """
    sla_calendars = {ref_id(sla.get("customCalendar")) for sla in slas} - {None}
    users: dict[str, list[Mapping[str, Any]]] = {}
    for member in members:
        calendar_id = ref_id(member.get("calendar"))
        if calendar_id is not None:
            users.setdefault(calendar_id, []).append(member)
    rows = []
    for calendar in calendars:
        calendar_id = str(calendar["id"])
        kind, person = "tenant", None
        if calendar_id in sla_calendars:
            kind = "sla"
        elif len(users.get(calendar_id, [])) == 1 and len(users) > 1:
            member = users[calendar_id][0]
            person = member.get("primaryEmail") or member.get("officeEmail")
            kind = "person" if person else "tenant"
        row: dict[str, Any] = {"name": calendar["name"], "kind": kind, "time_zone": time_zone, "person": person}
        for long, short in DAY_KEYS:
            start, end = calendar.get(f"{long}StartTime"), calendar.get(f"{long}EndTime")
            row[short] = f"{start[:5]}-{end[:5]}" if start and end else None
        rows.append(row)
    return rows


def holiday_rows(calendar: str, holidays: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        ({"calendar": calendar, "day": day(h["date"]), "name": h["name"]} for h in holidays if h.get("date")),
        key=lambda r: r["day"],
    )
