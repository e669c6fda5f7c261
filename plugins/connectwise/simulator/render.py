"""The simulated MSP world rendered as ConnectWise Manage records.

:class:`Renderer` walks a :class:`podium.simulate.World` once — setup tables, agreements,
then every ticket story (ticket, notes, configuration links, audit trail, time entries,
survey result), projects with their phase tickets, everyone's other time, invoices and
payments — and yields ``(resource, parent id, record)`` rows for
:meth:`~.store.WorldStore.load`. Ids are the world's external ids (a member's id is its
identity external id, a ticket's its number), so a connector syncing the simulator lands
on the same canonical ids as the world loaded directly.

How the world's facts appear in ConnectWise's terms (docs/connectwise.md lists them):

* tiers are teams: tier 1 is the client's region's Help Desk team, tier 2 its
  Escalations team (on the Tier 2 board), tier 3 its Projects team — ConnectWise has no
  tier field, and ``escalationLevel`` is the SLA stage (0 not responded, 10 response and
  resolution plan given, 15 resolved — the values of real tickets in
  rapid7/insightconnect-plugins' ConnectWise captures), not a tier;
* history is the audit trail: status, owner, board and team changes as
  ``system/audittrail?type=Ticket&id=`` entries whose ``text`` names the old and new values;
* ``dateResponded`` is the first response, ``dateResplan`` the same moment (no separate
  resolution-plan step, as on real tickets), ``dateResolved`` the resolution;
* empty values are left out, as ConnectWise leaves null properties out of its JSON.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from podium.simulate import World, WorldConfig, billing, catalog
from podium.simulate.catalog import BOARDS, PRIORITIES, SLAS, SURVEY, WORK_ROLES, WORK_TYPES
from podium.simulate.org import OFFICE_HOURS, PART_TIME_HOURS

from .store import Row, WorldStore, utc_stamp

if TYPE_CHECKING:
    from podium.simulate.projects import SimProject
    from podium.simulate.records import Record
    from podium.simulate.tickets import Story

UTC = dt.UTC
GUID_NAMESPACE = uuid.UUID("7d3b4d36-1f50-4b3e-9a0c-6f2d3c1e5a90")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ZONE_NAMES = {
    "America/New_York": "GMT-5/Eastern Time: US & Canada",
    "America/Chicago": "GMT-6/Central Time: US & Canada",
    "America/Denver": "GMT-7/Mountain Time: US & Canada",
    "America/Los_Angeles": "GMT-8/Pacific Time: US & Canada",
}
"""ConnectWise's time-zone setup names for the zones the world's people live in."""
MEMBER_TYPES = {"person": (1, "Employee"), "workflow": (2, "Workflow"), "api": (3, "API Member")}
COMPANY_TYPES = {"Internal": 1, "Managed": 2, "Block Hours": 3, "Break Fix": 4}
SOURCE_IDS = catalog.SOURCES
ESCALATION_LEVELS = {"not responded": 0, "responded": 10, "resolved": 15}
TIER_TEAMS = {1: "help_desk", 2: "escalations", 3: "projects"}
BOARD_TEAMS = {"Service Desk": ("help_desk",), "Tier 2": ("escalations", "projects"), "Monitoring": ("help_desk",),
               "Professional Services": ("projects",)}
PROJECT_STATUS_IDS = {status.name: n for n, status in enumerate(BOARDS["Professional Services"].statuses, 1)}
INVOICE_STATUSES = {"Open": 1, "Paid": 2}
APPLY_TO = {"Agreement": "Agreement", "Progress": "Project", "Standard": "All"}


def stamp(value: dt.datetime | dt.date) -> str:
    """A world datetime (or a date, at UTC midnight) as ConnectWise writes it."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(0), UTC)
    return utc_stamp(value)


def ref(record_id: int, name: str | None = None, **extra: Any) -> dict[str, Any]:
    """A reference sub-object (``{"id", "name", ...}``), empty values left out."""
    out = {"id": record_id, "name": name, **extra}
    return {key: value for key, value in out.items() if value is not None}


def compact(record: dict[str, Any]) -> dict[str, Any]:
    """Drop empty values, as ConnectWise does."""
    return {key: value for key, value in record.items() if value is not None}


def money(minor: int | None) -> float | None:
    return None if minor is None else round(minor / 100, 2)


def guid(*parts: object) -> str:
    return str(uuid.uuid5(GUID_NAMESPACE, "/".join(map(str, parts))))


@dataclass(frozen=True)
class MemberRef:
    id: int
    identifier: str
    name: str

    def ref(self) -> dict[str, Any]:
        return {"id": self.id, "identifier": self.identifier, "name": self.name}


class Renderer:
    """Renders one world; build it, then iterate :meth:`rows` once."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.setup_stamp = stamp(world.at_local(world.start - dt.timedelta(days=365), 9 * 60))
        self.last_day = world.end - dt.timedelta(days=1)
        self.identities = list(world.identities())
        self.members = {
            r.data["external_id"]: MemberRef(int(r.data["external_id"]), r.data["vendor_key"], r.data["display_name"])
            for r in self.identities
        }
        self.by_identifier = {m.identifier: m for m in self.members.values()}
        self.clients = {c.external_id: c for c in world.clients}
        self.contacts = {contact["id"]: contact for c in world.clients for contact in c.contacts}
        self.agreements = list(world.agreement_records())
        self.agreement_refs = {
            a.data["external_id"]: ref(int(a.data["external_id"]), a.data["name"], type=a.data["agreement_type"])
            for a in self.agreements
        }
        self.projects = {p.external_id: p for p in world.projects}
        self.endpoint_names = {e.external_id: e.name for devices in world.endpoints_by_client.values() for e in devices}
        self.status_ids = {(b.name, s.name): b.id * 10 + s.sort for b in BOARDS.values() for s in b.statuses}
        self.teams = {
            (board.name, team.index): board.id * 100 + team.index + 1
            for board in BOARDS.values() for team in world.org.teams if team.kind in BOARD_TEAMS[board.name]
        }
        self.vocabulary = self._vocabulary()
        self.charge_codes = {name: n for n, name in enumerate(
            (wt.name for wt in WORK_TYPES.values() if wt.mapping != "billable"), 1)}
        self.products: dict[str, int] = {}
        part_timers = [p for p in world.org.people if p.part_time]
        self.calendars = {catalog.BUSINESS_CALENDAR: 1, **{s.calendar: 2 + n for n, s in enumerate(
            s for s in SLAS.values() if s.calendar)}}
        first_personal = len(self.calendars) + 1
        self.person_calendars = {p.identifier: first_personal + n for n, p in enumerate(part_timers)}
        self.zones = {zone: n for n, zone in enumerate(ZONE_NAMES, 1)}

    # -- lookups ---------------------------------------------------------------------------

    def member(self, external_id: str | None) -> dict[str, Any] | None:
        return self.members[external_id].ref() if external_id else None

    def company(self, external_id: str) -> dict[str, Any]:
        client = self.clients[external_id]
        return {"id": int(external_id), "identifier": client.identifier, "name": client.name}

    def contact(self, external_id: str | None) -> dict[str, Any] | None:
        if not external_id:
            return None
        contact = self.contacts[external_id]
        return ref(int(external_id), f"{contact['first_name']} {contact['last_name']}")

    def board(self, name: str) -> dict[str, Any]:
        return ref(BOARDS[name].id, name)

    def status(self, board: str, name: str) -> dict[str, Any]:
        return ref(self.status_ids[(board, name)], name)

    def team(self, board: str, kind: str, region: int) -> dict[str, Any]:
        team = self.world.org.team_of_kind(kind, region)
        return ref(self.teams[(board, team.index)], team.name)

    def sla(self, name: str | None) -> dict[str, Any] | None:
        return ref(SLAS[name].id, name) if name else None

    def priority(self, name: str) -> dict[str, Any]:
        priority = next(p for p in PRIORITIES if p.name == name)
        return ref(priority.id, priority.name, sort=priority.sort)

    def work_type(self, name: str) -> dict[str, Any]:
        return ref(WORK_TYPES[name].id, name)

    def work_role(self, title: str | None) -> dict[str, Any] | None:
        if title is None:
            return None
        role_id = next(role_id for role_id, role_title in WORK_ROLES.values() if role_title == title)
        return ref(role_id, title)

    def _vocabulary(self) -> dict[tuple[int, str, str], int]:
        """Ids of each board's types, subtypes and items (ConnectWise keeps them per board)."""
        service = {
            "type": sorted({i.type for i in catalog.ISSUES} | {"Alert"}),
            "subtype": sorted({i.subtype for i in catalog.ISSUES} | {"Monitoring"}),
            "item": sorted({i.item for i in catalog.ISSUES} | {a.item for a in catalog.ALERTS}),
        }
        project = {"type": ["Project"], "subtype": [name for name, _ in catalog.PROJECT_PHASES], "item": []}
        ids: dict[tuple[int, str, str], int] = {}
        counters = {"type": 0, "subtype": 0, "item": 0}
        for board in BOARDS.values():
            for kind, names in (project if board.kind == "project" else service).items():
                for name in names:
                    counters[kind] += 1
                    ids[(board.id, kind, name)] = counters[kind]
        return ids

    def vocab(self, board: str, kind: str, name: str | None) -> dict[str, Any] | None:
        return ref(self.vocabulary[(BOARDS[board].id, kind, name)], name) if name else None

    # -- the whole world -----------------------------------------------------------------------

    def rows(self) -> Iterator[Row]:
        yield from self.setup()
        yield from self.people()
        yield from self.companies()
        yield from self.agreement_rows()
        for story in self.world.stories():
            yield from self.story(story)
        for project in self.world.projects:
            yield from self.project(project)
        for entry in self.world.daily_entries():
            yield self.time_entry(entry)
        yield from self.billing()

    def info(self, updated: str, entered: str | None = None, by: str = "Admin",
             entered_by: str | None = None) -> dict[str, str]:
        info = {"lastUpdated": updated, "updatedBy": by}
        if entered is not None:
            info.update(dateEntered=entered, enteredBy=entered_by or by)
        return info

    # -- setup tables ----------------------------------------------------------------------------

    def setup(self) -> Iterator[Row]:
        info = self.info(self.setup_stamp, self.setup_stamp)
        for board in BOARDS.values():
            yield "boards", None, {"id": board.id, "name": board.name, "inactiveFlag": False,
                                   "projectFlag": board.kind == "project", "signOffOnCloseFlag": False,
                                   "timeEntryLockedFlag": False, "_info": info}
            for status in board.statuses:
                yield "board_statuses", board.id, {
                    "id": self.status_ids[(board.name, status.name)], "name": status.name,
                    "board": self.board(board.name), "sortOrder": status.sort, "displayOnBoard": True,
                    "inactive": False, "closedStatus": status.closed, "timeEntryNotAllowed": status.closed,
                    "defaultFlag": status.default, "escalationStatus": status.escalation_status,
                    "customerPortalFlag": True, "_info": info,
                }
            for team in self.world.org.teams:
                if (board.name, team.index) in self.teams:
                    members = [int(p.member_id) for p in self.world.org.people
                               if p.team_on(self.last_day) == team.index and p.employed_on(self.last_day)]
                    yield "board_teams", board.id, {
                        "id": self.teams[(board.name, team.index)], "name": team.name,
                        "teamLeader": self.members[self.world.org.managers[team.index].member_id].ref(),
                        "members": members, "defaultFlag": False, "notifyOnTicketDelete": False,
                        "boardId": board.id, "_info": info,
                    }
            types = {name: i for (b, kind, name), i in self.vocabulary.items() if b == board.id and kind == "type"}
            for name, type_id in types.items():
                yield "board_types", board.id, {
                    "id": type_id, "name": name, "board": self.board(board.name),
                    "category": "Proactive" if name in ("Alert", "Project") else "Reactive",
                    "defaultFlag": False, "inactiveFlag": False, "requestForChangeFlag": False, "_info": info,
                }
            for (b, kind, name), subtype_id in self.vocabulary.items():
                if b == board.id and kind == "subtype":
                    yield "board_subtypes", board.id, {
                        "id": subtype_id, "name": name, "board": self.board(board.name), "inactiveFlag": False,
                        "typeAssociationIds": sorted(types[t] for t in self._types_of(name) if t in types),
                        "_info": info,
                    }
        for priority in PRIORITIES:
            yield "priorities", None, {
                "id": priority.id, "name": priority.name, "sortOrder": priority.sort,
                "color": ("red", "orange", "yellow", "green")[priority.sort - 1],
                "defaultFlag": priority.name == "Priority 3 - Medium", "_info": info,
            }
        yield from self.slas(info)
        yield from self.calendar_rows(info)
        for wt in WORK_TYPES.values():
            yield "work_types", None, {
                "id": wt.id, "name": wt.name, "billTime": wt.billable_option, "rateType": "Multiplier", "rate": 1.0,
                "inactiveFlag": False, "overallDefaultFlag": wt.name == "Remote Support", "activityFlag": False,
                "utilizationFlag": wt.utilization, "costMultiplier": 1.0, "_info": info,
            }
        for name, code_id in self.charge_codes.items():
            yield "charge_codes", None, {
                "id": code_id, "name": name, "billTime": WORK_TYPES[name].billable_option, "expenseEntryFlag": False,
                "allowAllExpenseTypeFlag": False, "timeEntryFlag": True, "scheduleEntryFlag": True,
                "company": self.company(str(catalog.IDS.internal_client)), "workType": self.work_type(name),
                "_info": info,
            }
        yield "surveys", None, {"id": SURVEY["id"], "name": SURVEY["name"], "inactiveFlag": False,
                                "thankYouText": "Thank you for your feedback!", "_info": info}
        yield "survey_questions", SURVEY["id"], {
            "id": SURVEY["question_id"], "surveyId": SURVEY["id"], "question": SURVEY["question"], "type": "Selection",
            "options": [{"caption": caption, "points": points, "includeFlag": True} for caption, points in SURVEY["options"]],
            "noAnswerPoints": 0, "requiredFlag": True, "sequenceNumber": 1, "includeFlag": True, "_info": info,
        }

    @staticmethod
    def _types_of(subtype: str) -> set[str]:
        if subtype == "Monitoring":
            return {"Alert"}
        if subtype in {name for name, _ in catalog.PROJECT_PHASES}:
            return {"Project"}
        return {i.type for i in catalog.ISSUES if i.subtype == subtype}

    def slas(self, info: dict[str, str]) -> Iterator[Row]:
        for sla in SLAS.values():
            medium = PRIORITIES[2].sort - 1
            yield "slas", None, compact({
                "id": sla.id, "name": sla.name, "defaultFlag": sla.default, "basedOn": sla.based_on,
                "customCalendar": ref(self.calendars[sla.calendar], sla.calendar) if sla.calendar else None,
                "respondHours": float(sla.respond_hours[medium]), "planWithin": float(sla.respond_hours[medium]),
                "resolutionHours": float(sla.resolve_hours[medium]), "applicationOrder": sla.id, "_info": info,
            })
            for priority in PRIORITIES:
                yield "sla_priorities", sla.id, {
                    "id": sla.id * 10 + priority.id, "sla": ref(sla.id, sla.name), "priority": self.priority(priority.name),
                    "respondHours": float(sla.respond_hours[priority.sort - 1]),
                    "planWithin": float(sla.respond_hours[priority.sort - 1]),
                    "resolutionHours": float(sla.resolve_hours[priority.sort - 1]), "_info": info,
                }

    def calendar_rows(self, info: dict[str, str]) -> Iterator[Row]:
        holiday_list = ref(1, "Company Holidays")
        yield "holiday_lists", None, {"id": 1, "name": "Company Holidays", "_info": info}
        for n, (day, name) in enumerate(self.world.org.holidays, 1):
            yield "holidays", 1, {"id": n, "name": name, "allDayFlag": True, "date": day.isoformat(),
                                  "holidayList": holiday_list, "_info": info}
        named = [(catalog.BUSINESS_CALENDAR, OFFICE_HOURS, True)]
        named += [(s.calendar, catalog.PREMIUM_HOURS, False) for s in SLAS.values() if s.calendar]
        for name, hours, holidays in named:
            yield "calendars", None, self._calendar(self.calendars[name], name, hours, holiday_list if holidays else None, info)
        for person in self.world.org.people:
            if person.part_time:
                yield "calendars", None, self._calendar(self.person_calendars[person.identifier],
                                                        f"{person.display_name} (part time)", PART_TIME_HOURS,
                                                        holiday_list, info)

    @staticmethod
    def _calendar(calendar_id: int, name: str, hours: dict[str, list[list[str]]], holiday_list: dict[str, Any] | None,
                  info: dict[str, str]) -> dict[str, Any]:
        record: dict[str, Any] = {"id": calendar_id, "name": name}
        if holiday_list:
            record["holidayList"] = holiday_list
        for day, key in zip(WEEKDAYS, ("mon", "tue", "wed", "thu", "fri", "sat", "sun"), strict=True):
            spans = hours.get(key) or []
            if spans:
                record[f"{day}StartTime"] = f"{spans[0][0]}:00"
                record[f"{day}EndTime"] = f"{spans[-1][1]}:00"
        record["_info"] = info
        return record

    # -- people and clients ------------------------------------------------------------------------

    def people(self) -> Iterator[Row]:
        issued = self.setup_stamp
        for identity in self.identities:
            data, vendor = identity.data, identity.vendor
            member_type = MEMBER_TYPES[vendor["member_type"]]
            reports_to = self.by_identifier[vendor["reports_to"]].ref() if vendor.get("reports_to") else None
            zone = vendor.get("time_zone")
            record = compact({
                "id": int(data["external_id"]), "identifier": data["vendor_key"],
                "firstName": vendor["first_name"], "lastName": vendor["last_name"] or None, "title": vendor["title"],
                "primaryEmail": data["email"], "officeEmail": data["email"], "defaultEmail": "Office",
                "defaultPhone": "Office", "inactiveFlag": vendor["inactive"], "adminFlag": False,
                "licenseClass": vendor["license_class"], "type": ref(*member_type),
                "reportsTo": reports_to, "timeApprover": reports_to,
                "dailyCapacity": vendor.get("daily_capacity"),
                "hourlyCost": money(vendor.get("hourly_cost_minor")), "hourlyRate": money(vendor.get("hourly_rate_minor")),
                "hireDate": stamp(vendor["hire_date"]) if vendor.get("hire_date") else None,
                "timeZone": ref(self.zones[zone], ZONE_NAMES[zone]) if zone else None,
                "calendar": ref(*self._member_calendar(data["vendor_key"])) if data["is_person"] else None,
                "includeInUtilizationReportingFlag": data["is_person"],
                "workRole": self.work_role(vendor.get("work_role")),
                "agreementInvoicingDisplayOptions": "RemainOnInvoicingScreen",
                "companyActivityTabFormat": "SummaryList", "invoiceScreenDefaultTabFormat": "ShowInvoicingTab",
                "invoiceTimeTabFormat": "SummaryList", "invoicingDisplayOptions": "RemainOnInvoicingScreen",
                "_info": self.info(issued, issued),
            })
            yield "members", None, record

    def _member_calendar(self, identifier: str) -> tuple[int, str]:
        if identifier in self.person_calendars:
            person = next(p for p in self.world.org.people if p.identifier == identifier)
            return self.person_calendars[identifier], f"{person.display_name} (part time)"
        return self.calendars[catalog.BUSINESS_CALENDAR], catalog.BUSINESS_CALENDAR

    def companies(self) -> Iterator[Row]:
        for record in self.world.client_records():
            data, vendor = record.data, record.vendor
            client = self.clients[data["external_id"]]
            since = stamp(self.world.at_local(vendor["date_acquired"], 9 * 60))
            type_name = vendor["type"]
            yield "companies", None, compact({
                "id": int(data["external_id"]), "identifier": vendor["identifier"], "name": data["name"],
                "status": ref(1, "Active"), "types": [ref(COMPANY_TYPES[type_name], type_name)],
                "dateAcquired": stamp(vendor["date_acquired"]), "deletedFlag": False, "leadFlag": False,
                "isVendorFlag": False, "numberOfEmployees": vendor["users"],
                "defaultContact": self.contact(client.contacts[0]["id"]) if client.contacts else None,
                "billingTerms": ref(1, "Net 30 days"), "_info": self.info(since, since),
            })
            for n, contact in enumerate(client.contacts):
                yield "contacts", None, {
                    "id": int(contact["id"]), "firstName": contact["first_name"], "lastName": contact["last_name"],
                    "company": self.company(data["external_id"]), "inactiveFlag": False, "defaultFlag": n == 0,
                    "communicationItems": [{"type": ref(1, "Email"), "value": contact["email"], "defaultFlag": True,
                                            "communicationType": "Email"}],
                    "_info": self.info(since, since),
                }

    # -- agreements -------------------------------------------------------------------------------

    def agreement_rows(self) -> Iterator[Row]:
        for record in self.agreements:
            data, vendor = record.data, record.vendor
            agreement_id = int(data["external_id"])
            client = self.clients[data["client_external_id"]]
            updated = stamp(data["vendor_updated_at"])
            entered = stamp(self.world.at_local(data["effective_from"], 9 * 60))
            block = data["agreement_type"] == "Block Hours"
            yield "agreements", None, compact({
                "id": agreement_id, "name": data["name"],
                "type": ref(vendor["type_id"], data["agreement_type"]), "company": self.company(client.external_id),
                "contact": self.contact(client.contacts[0]["id"]), "agreementStatus": vendor["status"],
                "cancelledFlag": data["cancelled_at"] is not None,
                "dateCancelled": stamp(data["cancelled_at"]) if data["cancelled_at"] else None,
                "reasonCancelled": "Customer cancelled" if data["cancelled_at"] else None,
                "startDate": stamp(data["effective_from"]),
                "endDate": stamp(data["effective_to"]) if data["effective_to"] else None,
                "noEndingDateFlag": data["effective_to"] is None, "billAmount": money(data["monthly_price_minor"]),
                "billingCycle": ref(1, vendor["billing_cycle"]), "applicationUnits": "Hours" if block else "Amount",
                "applicationLimit": float(vendor["additions"][0]["quantity"]) if block else None,
                "applicationCycle": "CalendarMonth", "applicationUnlimitedFlag": not block,
                "prorateFlag": vendor["prorate"], "billTime": "Billable" if block else "NoCharge",
                "sla": self.sla(vendor["sla"]), "_info": self.info(updated, entered),
            })
            for k, addition in enumerate(vendor["additions"]):
                product = addition["product"]
                product_id = self.products.setdefault(product, len(self.products) + 1)
                quantity = float(addition["quantity"])
                price, cost = money(addition["unit_price_minor"]), money(addition["unit_cost_minor"])
                yield "additions", agreement_id, compact({
                    "id": agreement_id * 100 + k, "agreementId": agreement_id,
                    "product": {"id": product_id, "identifier": product[:25]}, "description": product,
                    "quantity": quantity, "lessIncluded": 0.0, "unitPrice": price, "unitCost": cost,
                    "extPrice": round(quantity * price, 2), "extCost": round(quantity * cost, 2),
                    "margin": round(quantity * (price - cost), 2), "billCustomer": "Billable",
                    "effectiveDate": stamp(data["effective_from"]),
                    "cancelledDate": stamp(data["effective_to"]) if data["effective_to"] else None,
                    "agreementStatus": vendor["status"], "prorateCost": round(quantity * cost, 2),
                    "proratePrice": round(quantity * price, 2), "taxableFlag": False, "invoiceDescription": product,
                    "_info": self.info(updated, entered),
                })

    # -- tickets -----------------------------------------------------------------------------------

    def story(self, story: Story) -> Iterator[Row]:
        ticket = story.ticket
        ticket_id = int(ticket.data["external_id"])
        yield "service_tickets", None, self.ticket(ticket, story.events)
        yield from self.notes(ticket)
        if ticket.data["configuration_external_id"]:
            endpoint = ticket.data["configuration_external_id"]
            yield "ticket_configurations", ticket_id, {"id": int(endpoint),
                                                       "deviceIdentifier": self.endpoint_names[endpoint]}
        for entry in self.audit_trail(ticket, story.events):
            yield "ticket_audit_trail", ticket_id, entry
        summaries = {ticket_id: ticket.data["summary"][:100]}
        for entry in story.time_entries:
            yield self.time_entry(entry, summaries, ticket.vendor.get("agreement_external_id"))
        if story.survey is not None:
            yield self.survey_result(story.survey)

    def ticket(self, ticket: Record, events: list[Record]) -> dict[str, Any]:
        data, vendor = ticket.data, ticket.vendor
        board = data["board"]
        client = self.clients[data["client_external_id"]]
        project = data["is_project"]
        sla = None if project else vendor.get("sla")
        calendar = self.world.sla_calendar(sla) if sla else None
        responded, resolved = data["first_response_at"], data["resolved_at"]

        def minutes(until: dt.datetime | None) -> int:
            if calendar is None or until is None:
                return 0
            return round(calendar.business_seconds_between(data["created_at"], until) / 60)

        stage = "resolved" if resolved else "responded" if responded else "not responded"
        actors = [e.data["actor_external_id"] for e in events if e.data["actor_external_id"]]
        updated_by = self.members[actors[-1]].identifier if actors else vendor.get("created_by") or "Admin"
        record: dict[str, Any] = {
            "id": int(data["external_id"]), "summary": data["summary"][:100],
            "recordType": None if project else vendor["record_type"],
            "board": self.board(board), "status": self.status(board, data["status"]),
            "company": self.company(data["client_external_id"]), "contact": self.contact(data["contact_external_id"]),
            "contactName": vendor.get("contact_name"),
            "type": self.vocab(board, "type", data["type"]), "subType": self.vocab(board, "subtype", data["subtype"]),
            "item": self.vocab(board, "item", data["item"]),
            "team": self.team(board, TIER_TEAMS[data["tier"] or 3], client.region),
            "owner": self.member(data["owner_external_id"]), "priority": self.priority(data["priority"]),
            "source": ref(SOURCE_IDS[data["source"]], data["source"]),
            "agreement": self.agreement_refs.get(vendor.get("agreement_external_id") or ""),
            "severity": vendor.get("severity", "Medium"), "impact": vendor.get("severity", "Medium"),
            "closedFlag": data["closed"],
            "closedDate": stamp(data["closed_at"]) if data["closed_at"] else None,
            "closedBy": vendor.get("closed_by") if data["closed"] else None,
            "actualHours": vendor["actual_hours"], "approved": True, "billTime": "NoDefault",
            "billingMethod": "ActualRates",
            "dateResponded": stamp(responded) if responded else None,
            "dateResplan": stamp(responded) if responded else None,
            "dateResolved": stamp(resolved) if resolved else None,
            "respondMinutes": minutes(responded), "resPlanMinutes": minutes(responded),
            "resolveMinutes": minutes(resolved),
            "isInSla": None if sla is None else data["sla_response_met"] is not False and data["sla_resolution_met"] is not False,
            "resources": ",".join(vendor["resources"]) or None,
            "mergedParentTicket": {"id": int(data["parent_external_id"])} if data["parent_external_id"] else None,
            "sla": self.sla(sla), "slaStatus": self.sla_status(data, sla) if sla else None,
            "escalationLevel": 0 if project else ESCALATION_LEVELS[stage],
            "escalationStartDateUTC": stamp(resolved) if resolved and not project else None,
            "mobileGuid": guid("ticket", data["external_id"]),
            "_info": self.info(stamp(data["vendor_updated_at"]), stamp(data["created_at"]), updated_by,
                               vendor.get("created_by") or "Admin"),
        }
        if project:
            project_id = vendor["project_external_id"]
            phases = self.projects[project_id].phases
            phase_index = next(k for k, p in enumerate(phases) if p.name == vendor["phase"])
            record.update(
                project=ref(int(project_id), self._project_name(project_id)),
                phase=ref(int(project_id) * 10 + phase_index, vendor["phase"]),
                wbsCode=f"{phase_index + 1}", isIssueFlag=False,
            )
        return compact(record)

    def _project_name(self, external_id: str) -> str:
        return self.projects[external_id].name[:100]

    def sla_status(self, data: dict[str, Any], sla: str) -> str:
        """ConnectWise's SLA text: "Respond by Mon 01/27 4:00 PM UTC-06", "Waiting" or "Resolved"."""
        if data["resolved_at"] or data["closed"]:
            return "Resolved"
        if data["status"] == "Waiting Customer":
            return "Waiting"
        verb, due = ("Resolve", data["sla_resolution_due_at"]) if data["first_response_at"] else (
            "Respond", data["sla_response_due_at"])
        local = due.astimezone(self.world.sla_calendar(sla).zone)
        offset = int(local.utcoffset().total_seconds() // 3600)  # type: ignore[union-attr]
        return f"{verb} by {local:%a %m/%d} {local.hour % 12 or 12}:{local:%M %p} UTC{offset:+03d}"

    def notes(self, ticket: Record) -> Iterator[Row]:
        """The initial description and, once resolved, the resolution note."""
        data, vendor = ticket.data, ticket.vendor
        ticket_id = int(data["external_id"])
        created = stamp(data["created_at"])
        by = vendor.get("created_by") or "Admin"
        yield "ticket_notes", ticket_id, compact({
            "id": ticket_id * 10, "ticketId": ticket_id, "text": data["summary"], "detailDescriptionFlag": True,
            "internalAnalysisFlag": False, "resolutionFlag": False, "issueFlag": False,
            "contact": self.contact(data["contact_external_id"]), "dateCreated": created, "createdBy": by,
            "internalFlag": False, "externalFlag": True, "_info": self.info(created, by=by),
        })
        resolver = data["resolved_by_external_id"]
        if data["resolved_at"] and resolver:
            resolved = stamp(data["resolved_at"])
            identifier = self.members[resolver].identifier
            yield "ticket_notes", ticket_id, {
                "id": ticket_id * 10 + 1, "ticketId": ticket_id, "text": f"Resolved: {data['summary']}",
                "detailDescriptionFlag": False, "internalAnalysisFlag": False, "resolutionFlag": True,
                "issueFlag": False, "member": self.members[resolver].ref(), "dateCreated": resolved,
                "createdBy": identifier, "internalFlag": False, "externalFlag": True,
                "_info": self.info(resolved, by=identifier),
            }

    def audit_trail(self, ticket: Record, events: Iterable[Record]) -> Iterator[dict[str, Any]]:
        """Status, owner, board and team changes, oldest first, as ``system/audittrail`` lists them."""
        data = ticket.data
        region = self.clients[data["client_external_id"]].region
        board = "Professional Services" if data["is_project"] else None
        for event in events:
            e = event.data
            actor = self.members[e["actor_external_id"]].identifier if e["actor_external_id"] else "Email"
            at = e["at"]
            if e["kind"] == "status_change":
                yield self._audit(at, actor, "Status", e["from_value"], e["to_value"])
            elif e["kind"] == "reassignment":
                before = self.members[e["from_value"]].identifier if e["from_value"] else None
                yield self._audit(at, actor, "Owner", before, self.members[e["to_value"]].identifier)
            elif e["kind"] == "escalation":
                old, new = int(e["from_value"]), int(e["to_value"])
                old_board = board or ("Tier 2" if old >= 2 else self._first_board(data))
                new_board = board or ("Tier 2" if new >= 2 else old_board)
                if new_board != old_board:
                    yield self._audit(at, actor, "Board", old_board, new_board)
                yield self._audit(at, actor, "Team", self.team(old_board, TIER_TEAMS[old], region)["name"],
                                  self.team(new_board, TIER_TEAMS[new], region)["name"])

    @staticmethod
    def _audit(at: dt.datetime, actor: str, sub_type: str, before: str | None, after: str | None) -> dict[str, Any]:
        """One audit trail entry: ``<What> changed from "<old>" to "<new>"``."""
        label = {"Owner": "Ticket Owner"}.get(sub_type, sub_type)
        source = {"Workflow": "Workflow", "NinjaRMM": "API", "Email": "Email"}.get(actor, "Web")
        return {"text": f'{label} changed from "{before or ""}" to "{after or ""}"', "enteredDate": stamp(at),
                "enteredBy": actor, "auditType": "Ticket", "auditSubType": sub_type, "auditSource": source}

    @staticmethod
    def _first_board(data: dict[str, Any]) -> str:
        return "Monitoring" if data["type"] == "Alert" else "Service Desk"

    # -- time and surveys ----------------------------------------------------------------------------

    def time_entry(self, entry: Record, summaries: dict[int, str] | None = None,
                   agreement: str | None = None) -> Row:
        data, vendor = entry.data, entry.vendor
        member = self.members[data["identity_external_id"]]
        charge_to = vendor["charge_to_type"]
        ticket_id = int(data["ticket_external_id"]) if data["ticket_external_id"] else None
        entered = stamp(data["entered_at"])
        record = compact({
            "id": int(data["external_id"]), "company": self.company(vendor["company_external_id"]),
            "chargeToId": ticket_id if ticket_id else self.charge_codes[data["work_type"]],
            "chargeToType": charge_to, "member": member.ref(), "workType": self.work_type(data["work_type"]),
            "workRole": self.work_role(vendor["work_role"]),
            "agreement": self.agreement_refs.get(agreement or "") if charge_to == "ServiceTicket" else None,
            "ticket": compact({"id": ticket_id, "summary": (summaries or {}).get(ticket_id)}) if ticket_id else None,
            "project": (ref(int(data["project_external_id"]), self._project_name(data["project_external_id"]))
                        if data["project_external_id"] else None),
            "timeStart": stamp(data["start_at"]), "timeEnd": stamp(data["end_at"]),
            "actualHours": data["hours"], "hoursDeduct": 0.0, "billableOption": vendor["billable_option"],
            "hoursBilled": data["billed_hours"] if data["billed_hours"] is not None else 0.0,
            "hourlyRate": money(vendor["hourly_rate_minor"]), "notes": data["notes"],
            "addToDetailDescriptionFlag": False, "addToInternalAnalysisFlag": False, "addToResolutionFlag": False,
            "enteredBy": member.identifier, "dateEntered": entered, "status": self.entry_status(data),
            "_info": self.info(stamp(data["vendor_updated_at"]), by=member.identifier),
        })
        return "time_entries", None, record

    def entry_status(self, data: dict[str, Any]) -> str:
        """Rejected entries say so; billable ones are billed once their month is over."""
        if data["rejected"]:
            return "Rejected"
        month_over = data["end_at"].astimezone(UTC).replace(day=1, hour=0, minute=0, second=0) < \
            self.world.now.replace(day=1, hour=0, minute=0, second=0)
        if data["billable"]:
            return "Billed" if month_over else "ReadyToBill"
        return "ApprovedByTierOne" if month_over else "Open"

    def survey_result(self, survey: Record) -> Row:
        data, vendor = survey.data, survey.vendor
        submitted = stamp(data["submitted_at"])
        return "survey_results", vendor["survey_id"], compact({
            "id": int(data["external_id"]), "surveyId": vendor["survey_id"], "ticketId": int(data["ticket_external_id"]),
            "totalPoints": vendor["total_points"],
            "results": [{"questionId": a["question_id"], "answer": str(a["answer"])} for a in vendor["answers"]],
            "company": self.company(vendor["company_external_id"]), "contact": self.contact(vendor["contact_external_id"]),
            "contactMeFlag": False, "_info": self.info(submitted, submitted, by="Customer"),
        })

    # -- projects -------------------------------------------------------------------------------------

    def project(self, project: SimProject) -> Iterator[Row]:
        record, tickets, events, entries = self.world.project_records(project)
        data, vendor = record.data, record.vendor
        project_id = int(data["external_id"])
        yield "projects", None, compact({
            "id": project_id, "name": data["name"][:100], "company": self.company(data["client_external_id"]),
            "board": self.board(vendor["board"]), "status": ref(PROJECT_STATUS_IDS[data["status"]], data["status"]),
            "closedFlag": vendor["closed"], "manager": self.member(data["manager_external_id"]),
            "estimatedStart": stamp(vendor["estimated_start"]), "estimatedEnd": stamp(data["estimated_end"]),
            "actualStart": stamp(vendor["actual_start"]),
            "actualEnd": stamp(data["actual_end"]) if data["actual_end"] else None,
            "percentComplete": float(vendor["percent_complete"]), "estimatedHours": vendor["estimated_hours"],
            "actualHours": data["actual_hours"], "budgetHours": data["budget_hours"],
            "billingMethod": vendor["billing_method"],
            "_info": self.info(stamp(data["vendor_updated_at"]), stamp(self.world.at_local(vendor["estimated_start"], 9 * 60))),
        })
        summaries = {int(t.data["external_id"]): t.data["summary"][:100] for t in tickets}
        for ticket in tickets:
            ticket_id = int(ticket.data["external_id"])
            own = [e for e in events if e.data["ticket_external_id"] == ticket.data["external_id"]]
            yield "project_tickets", None, self.ticket(ticket, own)
            for entry in self.audit_trail(ticket, own):
                yield "project_ticket_audit_trail", ticket_id, entry
        for entry in entries:
            yield self.time_entry(entry, summaries)

    # -- money -------------------------------------------------------------------------------------------

    def billing(self) -> Iterator[Row]:
        for invoice, payments in billing.invoice_records(self.world):
            data, vendor = invoice.data, invoice.vendor
            invoice_id = int(data["external_id"])
            total, balance = money(data["total_minor"]), money(data["balance_minor"])
            company = self.company(data["client_external_id"])
            project = vendor.get("project_external_id")
            issued = stamp(dt.datetime.combine(data["invoice_date"], dt.time(14), UTC))
            yield "invoices", None, compact({
                "id": invoice_id, "invoiceNumber": data["number"], "type": vendor["type"],
                "status": ref(INVOICE_STATUSES[vendor["status"]], vendor["status"]), "company": company,
                "billToCompany": company, "applyToType": APPLY_TO[vendor["type"]],
                "date": stamp(data["invoice_date"]), "dueDate": stamp(data["due_date"]),
                "billingTerms": ref(1, "Net 30 days"), "subtotal": total, "total": total, "balance": balance,
                "payments": round(total - balance, 2), "credits": 0.0, "salesTax": 0.0,
                "serviceTotal": total if vendor["type"] != "Agreement" else 0.0, "productTotal": 0.0,
                "expenseTotal": 0.0,
                "agreement": self.agreement_refs.get(vendor.get("agreement_external_id") or ""),
                "agreementAmount": total if vendor["type"] == "Agreement" else None,
                "project": ref(int(project), self._project_name(project)) if project else None,
                "currency": ref(1, data["currency"]),
                "_info": self.info(stamp(data["vendor_updated_at"]), issued),
            })
            for payment in payments:
                paid = stamp(payment.data["paid_at"])
                yield "invoice_payments", invoice_id, {
                    "id": int(payment.data["external_id"]), "type": payment.vendor["method"],
                    "invoice": {"id": invoice_id, "identifier": data["number"]},
                    "amount": money(payment.data["amount_minor"]), "paymentDate": paid, "appliedBy": "Admin",
                    "creditFlag": False, "_info": self.info(paid, by="Admin"),
                }


def my_member_info(member: dict[str, Any]) -> dict[str, Any]:
    """``system/myMembers/info`` for a member: pyconnectwise's ``MyMemberInfo`` fields.

    Only ``identifier`` is confirmed from a real answer (facts §4); the rest are the
    generated model's names, with ``fullName`` and ``defaultEmail`` (the address, where
    ``Member.defaultEmail`` names which one) derived from the member record.
    """
    keys = ("id", "identifier", "firstName", "middleInitial", "lastName", "licenseClass", "inactiveFlag",
            "dailyCapacity", "defaultLocation", "defaultDepartment", "timeZone", "serviceDefaultBoard",
            "workRole", "workType", "_info")
    info = {key: member[key] for key in keys if key in member}
    info["fullName"] = " ".join(p for p in (member.get("firstName"), member.get("lastName")) if p)
    email = member.get("primaryEmail") or member.get("officeEmail")
    if email:
        info["defaultEmail"] = email
    return info


def load_world(store: WorldStore, world: World,
               wrap: Callable[[Iterable[Row]], Iterable[Row]] = lambda rows: rows) -> dict[str, int]:
    """Render ``world`` into an emptied ``store``; returns the record count per resource.

    ``wrap`` sees the stream of rows on its way in (the CLI's progress bar).
    """
    renderer = Renderer(world)
    store.reset()
    counts = store.load(wrap(renderer.rows()))
    store.issue_member_hashes(m.identifier for m in renderer.members.values())
    store.set_meta({"company_name": world.tenant["name"], "world": world_key(world.config)})
    return counts


def ensure_world(store: WorldStore, config: WorldConfig, *, rebuild: bool = False,
                 wrap: Callable[[Iterable[Row]], Iterable[Row]] = lambda rows: rows) -> dict[str, int] | None:
    """Render the world of ``config`` unless ``store`` already holds it; the counts, or None if reused."""
    if not rebuild and store.meta("world") == world_key(config):
        return None
    return load_world(store, World(config), wrap)


def world_key(config: WorldConfig) -> str:
    """What identifies a built world, so a store is rebuilt only when the config changes."""
    return repr(config)
