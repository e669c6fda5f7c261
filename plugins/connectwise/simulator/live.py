"""``--live``: the simulated service desk keeps working, and ConnectWise calls back about it.

Every tick makes one change a technician would make in Manage, writes it to the store the
API serves (:meth:`WorldStore.update` / :meth:`~WorldStore.insert`, which move
``_info.lastUpdated`` as an edit does, so polling sees it too) and announces it to the
registered callbacks (:mod:`.delivery`):

* a **new ticket** on the Service Desk or Tier 2 board (a copy of an existing ticket's
  client, contact and classification, status New, owned by a technician), with its
  description note — ``ticket`` ``added``;
* a **note** on an open ticket — the ticket is touched, ``ticket`` ``updated``;
* a **time entry** by the ticket's owner, ending now — ``time`` ``added``;
* a **resolution** of an open ticket by its owner (status Resolved, ``dateResolved``, the
  audit-trail line and resolution note the connector credits the resolver from) —
  ``ticket`` ``updated``;
* a **reopen** of a resolved or closed ticket (status Reopened, the resolution cleared,
  the audit-trail line) — ``ticket`` ``updated``.

Only service tickets on the Service Desk and Tier 2 boards are touched (Monitoring
tickets are the RMM's, and project tickets follow their project).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select

from .delivery import CallbackPoster, Delivery
from .params import ListQuery
from .resources import RESOURCES, undeclared
from .store import InvalidRecord, WorldStore, utc_stamp

log = logging.getLogger(__name__)

WORKED_BOARDS = (1, 2)
"""Service Desk and Tier 2: the boards technicians work tickets on."""
OPEN = f"closedFlag = False and dateResolved = null and board/id in ({', '.join(map(str, WORKED_BOARDS))})"
DONE = f"board/id in ({', '.join(map(str, WORKED_BOARDS))}) and (closedFlag = True or dateResolved != null)"
TECHNICIANS = 'licenseClass = "F" and inactiveFlag = False'
"""Members who work tickets (the rest are API and workflow accounts)."""
KINDS = {"new_ticket": 3, "add_note": 3, "log_time": 4, "resolve": 2, "reopen": 1}
"""Relative weights of the changes a tick makes."""
NEW_TICKET_FIELDS = ("recordType", "board", "company", "contact", "contactName", "type", "subType", "item",
                     "team", "priority", "source", "agreement", "severity", "impact", "sla", "summary")
NOTES = ("Called the user back; working on it.", "Remoted in and checked the event logs.",
         "Waiting on the vendor's answer.", "Applied the fix; monitoring.")


@dataclass(frozen=True)
class Change:
    """What one tick did: the callback ``kind`` and ``action`` and the record's id."""

    name: str
    kind: str
    action: str
    record_id: int
    deliveries: tuple[Delivery, ...]


def member_ref(member: dict[str, Any]) -> dict[str, Any]:
    name = " ".join(p for p in (member.get("firstName"), member.get("lastName")) if p)
    return {"id": member["id"], "identifier": member["identifier"], "name": name}


class LiveWorld:
    """Moves a rendered world forward, one realistic change per :meth:`tick`."""

    def __init__(self, store: WorldStore, poster: CallbackPoster, *, seed: int | None = None,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self.store = store
        self.poster = poster
        self.random = random.Random(seed)
        self.clock = clock

    # -- reading the world ------------------------------------------------------------------

    def _pick(self, name: str, conditions: str) -> dict[str, Any] | None:
        """A random record of ``name`` matching ``conditions``, or None."""
        resource = RESOURCES[name]
        count = self.store.count(resource, conditions)
        if count == 0:
            return None
        rows = self.store.page(resource, ListQuery(conditions=conditions, page=self.random.randrange(count) + 1,
                                                   page_size=1))
        return json.loads(rows[0][1])

    def _technician(self, ticket: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ticket's owner, else any active technician."""
        owner = (ticket or {}).get("owner")
        member = self.store.find_member(owner["identifier"]) if owner else None
        found = member or self._pick("members", TECHNICIANS)
        if found is None:
            raise LookupError("the world has no active technician")
        return found

    def _status(self, board_id: int, name: str) -> dict[str, Any]:
        rows = self.store.page(RESOURCES["board_statuses"], ListQuery(conditions=f'name = "{name}"', page_size=1),
                               parent_id=board_id)
        status = json.loads(rows[0][1])
        return {"id": status["id"], "name": status["name"]}

    def _stamp(self) -> str:
        return utc_stamp(self.clock())

    # -- changes ----------------------------------------------------------------------------

    def tick(self) -> Change:
        """Make one change (chosen at random by :data:`KINDS`) and announce it."""
        name = self.random.choices(list(KINDS), weights=list(KINDS.values()))[0]
        change = getattr(self, name)()
        return change if change is not None else self.new_ticket()

    def new_ticket(self) -> Change:
        template = self._pick("service_tickets", f"board/id in ({', '.join(map(str, WORKED_BOARDS))})")
        if template is None:
            raise LookupError("the world has no service ticket to model a new one on")
        tech = self._technician()
        now = self._stamp()
        record = {key: template[key] for key in NEW_TICKET_FIELDS if key in template}
        record.update(
            status=self._status(template["board"]["id"], "New"), owner=member_ref(tech),
            resources=tech["identifier"], closedFlag=False, approved=True, billTime="NoDefault",
            billingMethod="ActualRates", respondMinutes=0, resPlanMinutes=0, resolveMinutes=0, escalationLevel=0,
            mobileGuid=str(uuid.uuid4()),
            _info={"lastUpdated": now, "updatedBy": tech["identifier"], "dateEntered": now,
                   "enteredBy": tech["identifier"]},
        )
        ticket = self.store.insert("service_tickets", record)
        self._note(ticket, tech, record["summary"], description=True)
        return self._announce("new_ticket", "ticket", "added", ticket, tech)

    def add_note(self) -> Change | None:
        ticket = self._pick("service_tickets", OPEN)
        if ticket is None:
            return None
        tech = self._technician(ticket)
        self._note(ticket, tech, self.random.choice(NOTES))
        ticket = self.store.update("service_tickets", ticket["id"], {}, at=self.clock(),
                                   updated_by=tech["identifier"])
        return self._announce("add_note", "ticket", "updated", ticket, tech)

    def log_time(self) -> Change | None:
        ticket = self._pick("service_tickets", OPEN)
        template = self._pick("time_entries", 'chargeToType = "ServiceTicket"')
        if ticket is None or template is None:
            return None
        tech = self._technician(ticket)
        end = self.clock().replace(microsecond=0)
        minutes = self.random.randrange(10, 90)
        hours = round(minutes / 60, 2)
        billable = template["billableOption"] == "Billable"
        entry = {
            "company": ticket["company"], "chargeToId": ticket["id"], "chargeToType": "ServiceTicket",
            "member": member_ref(tech), "workType": template["workType"], "billableOption": template["billableOption"],
            "ticket": {"id": ticket["id"], "summary": ticket["summary"]},
            "timeStart": utc_stamp(end - dt.timedelta(minutes=minutes)), "timeEnd": utc_stamp(end),
            "actualHours": hours, "hoursDeduct": 0.0, "hoursBilled": hours if billable else 0.0,
            "notes": f"{template['workType']['name']}: {ticket['summary']}", "addToDetailDescriptionFlag": False,
            "addToInternalAnalysisFlag": False, "addToResolutionFlag": False, "enteredBy": tech["identifier"],
            "dateEntered": utc_stamp(end), "status": "Open",
            "_info": {"lastUpdated": utc_stamp(end), "updatedBy": tech["identifier"]},
        }
        for optional in ("workRole", "hourlyRate"):
            if optional in template:
                entry[optional] = template[optional]
        if "agreement" in ticket:
            entry["agreement"] = ticket["agreement"]
        return self._announce("log_time", "time", "added", self.store.insert("time_entries", entry), tech)

    def resolve(self) -> Change | None:
        ticket = self._pick("service_tickets", OPEN)
        if ticket is None:
            return None
        tech = self._technician(ticket)
        now = self._stamp()
        status = self._status(ticket["board"]["id"], "Resolved")
        self._audit(ticket, tech["identifier"], ticket["status"]["name"], status["name"], now)
        self._note(ticket, tech, f"Resolved: {ticket['summary']}", resolution=True)

        def resolved(record: dict[str, Any]) -> None:
            record.update(status=status, dateResolved=now, escalationLevel=15, escalationStartDateUTC=now)
            record.setdefault("dateResponded", now)
            record.setdefault("dateResplan", now)
            if "sla" in record:
                record["slaStatus"] = "Resolved"

        ticket = self.store.update("service_tickets", ticket["id"], resolved, at=self.clock(),
                                   updated_by=tech["identifier"])
        return self._announce("resolve", "ticket", "updated", ticket, tech)

    def reopen(self) -> Change | None:
        ticket = self._pick("service_tickets", DONE)
        if ticket is None:
            return None
        tech = self._technician(ticket)
        status = self._status(ticket["board"]["id"], "Reopened")
        self._audit(ticket, tech["identifier"], ticket["status"]["name"], status["name"], self._stamp())

        def reopened(record: dict[str, Any]) -> None:
            for cleared in ("dateResolved", "closedDate", "closedBy", "escalationStartDateUTC", "slaStatus"):
                record.pop(cleared, None)
            record.update(status=status, closedFlag=False, escalationLevel=10)

        ticket = self.store.update("service_tickets", ticket["id"], reopened, at=self.clock(),
                                   updated_by=tech["identifier"])
        return self._announce("reopen", "ticket", "updated", ticket, tech)

    # -- helpers ----------------------------------------------------------------------------

    def _note(self, ticket: dict[str, Any], tech: dict[str, Any], text: str, *, description: bool = False,
              resolution: bool = False) -> None:
        now = self._stamp()
        self.store.insert("ticket_notes", {
            "ticketId": ticket["id"], "text": text, "detailDescriptionFlag": description,
            "internalAnalysisFlag": not (description or resolution), "resolutionFlag": resolution, "issueFlag": False,
            "member": member_ref(tech), "dateCreated": now, "createdBy": tech["identifier"],
            "internalFlag": not (description or resolution), "externalFlag": description or resolution,
            "_info": {"lastUpdated": now, "updatedBy": tech["identifier"]},
        }, parent_id=ticket["id"])

    def _audit(self, ticket: dict[str, Any], actor: str, before: str, after: str, at: str) -> None:
        """Append a ``Status`` line to the ticket's audit trail (the connector reads the resolver there).

        Audit entries have no ids of their own; the store numbers them per ticket in order, so
        the next number is taken here (``WorldStore.insert`` needs an id in the record).
        """
        resource = RESOURCES["ticket_audit_trail"]
        entry = {"text": f'Status changed from "{before}" to "{after}"', "enteredDate": at, "enteredBy": actor,
                 "auditType": "Ticket", "auditSubType": "Status", "auditSource": "Web"}
        problems = undeclared(resource, entry)
        if problems:
            raise InvalidRecord("; ".join(problems))
        table = self.store.tables[resource.name]
        with self.store.engine.begin() as conn:
            last = conn.execute(select(func.coalesce(func.max(table.c.id), 0))
                                .where(table.c.parent_id == ticket["id"])).scalar_one()
            conn.execute(insert(table).values(parent_id=ticket["id"], id=int(last) + 1, last_updated=None,
                                              record=entry))

    def _announce(self, name: str, kind: str, action: str, record: dict[str, Any], tech: dict[str, Any]) -> Change:
        deliveries = self.poster.announce(kind, action, record["id"], record, tech["identifier"])
        return Change(name, kind, action, record["id"], tuple(deliveries))


def describe(change: Change) -> str:
    """One line about a tick: what changed and what each callback receiver answered."""
    outcome = "; ".join(f"callback {d.callback_id}: {'/'.join(map(str, d.attempts))}" for d in change.deliveries)
    return (f"{change.name}: {change.kind} {change.record_id} {change.action} "
            f"({outcome or 'no callbacks registered'})")


def run_live(world: LiveWorld, interval: float, stop: threading.Event, report: Callable[[Change], None]) -> None:
    """Tick every ``interval`` seconds until ``stop`` is set (the simulator CLI's ``--live`` thread)."""
    while not stop.wait(interval):
        try:
            change = world.tick()
        except Exception:  # noqa: BLE001 - one failed tick must not end the live world
            log.exception("live tick failed")
            continue
        report(change)
