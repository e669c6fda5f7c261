"""The ConnectWise resources the simulator serves: URL, parent, and the declared fields.

Each resource declares its fields and their types the way ConnectWise's REST 3.0 models
name them (facts §1.6–§1.11; HealthITAU/pyconnectwise's models generated from
ConnectWise's OpenAPI document). The declaration is what lets ``conditions``, ``orderBy``
and ``fields`` be checked like the real API checks them: a name that is not a field of
the resource is a 400, a string compared with a number is a 400, and a field that exists
but is empty on a record simply does not match — which is why the declarations list
fields the simulated world leaves empty (``closedDate`` on an open ticket), as ConnectWise
omits null properties from its JSON.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Union


class Kind(enum.Enum):
    """The JSON value types a ConnectWise field can have, as conditions see them."""

    INT = "integer"
    FLOAT = "decimal"
    STR = "string"
    BOOL = "boolean"
    DATETIME = "datetime"
    DATE = "date"
    OBJECT = "reference"
    LIST = "list"
    INFO = "_info"


Schema = Mapping[str, Union[Kind, "Schema"]]

INFO = Kind.INFO
I, F, S, B, DT, D, L = Kind.INT, Kind.FLOAT, Kind.STR, Kind.BOOL, Kind.DATETIME, Kind.DATE, Kind.LIST

REF: Schema = {"id": I, "name": S, "_info": INFO}
IDENTIFIED_REF: Schema = {"id": I, "identifier": S, "name": S, "_info": INFO}
PRIORITY_REF: Schema = {"id": I, "name": S, "sort": I, "_info": INFO}
AGREEMENT_REF: Schema = {"id": I, "name": S, "type": S, "_info": INFO}
TICKET_REF: Schema = {"id": I, "summary": S, "_info": INFO}
CATALOG_REF: Schema = {"id": I, "identifier": S, "_info": INFO}
BILL_OPTIONS = S  # Billable | DoNotBill | NoCharge | NoDefault

MEMBER: Schema = {
    "id": I, "identifier": S, "firstName": S, "lastName": S, "middleInitial": S, "title": S,
    "primaryEmail": S, "officeEmail": S, "officePhone": S, "mobilePhone": S,
    "defaultEmail": S, "defaultPhone": S, "inactiveFlag": B, "inactiveDate": DT, "adminFlag": B,
    "licenseClass": S, "type": REF, "reportsTo": IDENTIFIED_REF, "timeApprover": IDENTIFIED_REF,
    "expenseApprover": IDENTIFIED_REF, "defaultDepartment": IDENTIFIED_REF, "defaultLocation": REF,
    "dailyCapacity": F, "hourlyCost": F, "hourlyRate": F, "hireDate": DT, "timeZone": REF,
    "calendar": REF, "includeInUtilizationReportingFlag": B, "serviceDefaultBoard": REF,
    "serviceBoardTeamIds": L, "workRole": REF, "workType": REF,
    "agreementInvoicingDisplayOptions": S, "companyActivityTabFormat": S,
    "invoiceScreenDefaultTabFormat": S, "invoiceTimeTabFormat": S, "invoicingDisplayOptions": S,
    "_info": INFO,
}

COMPANY: Schema = {
    "id": I, "identifier": S, "name": S, "status": REF, "types": L, "addressLine1": S,
    "addressLine2": S, "city": S, "state": S, "zip": S, "country": REF, "phoneNumber": S,
    "website": S, "territory": REF, "market": REF, "dateAcquired": DT, "timeZoneSetup": REF,
    "billingTerms": REF, "leadFlag": B, "isVendorFlag": B, "deletedFlag": B, "dateDeleted": DT,
    "deletedBy": S, "site": REF, "defaultContact": REF, "annualRevenue": F,
    "numberOfEmployees": I, "_info": INFO,
}

CONTACT: Schema = {
    "id": I, "firstName": S, "lastName": S, "company": IDENTIFIED_REF, "site": REF,
    "inactiveFlag": B, "title": S, "defaultPhoneType": S, "defaultPhoneNbr": S,
    "defaultBillingFlag": B, "defaultFlag": B, "communicationItems": L, "types": L,
    "_info": INFO,
}

BOARD: Schema = {
    "id": I, "name": S, "location": REF, "department": IDENTIFIED_REF, "inactiveFlag": B,
    "projectFlag": B, "signOffOnCloseFlag": B, "workRole": REF, "workType": REF,
    "showDependenciesFlag": B, "timeEntryLockedFlag": B, "_info": INFO,
}

BOARD_STATUS: Schema = {
    "id": I, "name": S, "board": REF, "sortOrder": I, "displayOnBoard": B, "inactive": B,
    "closedStatus": B, "timeEntryNotAllowed": B, "defaultFlag": B, "escalationStatus": S,
    "customerPortalDescription": S, "customerPortalFlag": B, "statusIndicator": REF,
    "_info": INFO,
}

BOARD_TEAM: Schema = {
    "id": I, "name": S, "teamLeader": IDENTIFIED_REF, "members": L, "defaultFlag": B,
    "notifyOnTicketDelete": B, "boardId": I, "locationId": I, "businessUnitId": I,
    "_info": INFO,
}

BOARD_TYPE: Schema = {
    "id": I, "name": S, "board": REF, "category": S, "defaultFlag": B, "inactiveFlag": B,
    "requestForChangeFlag": B, "_info": INFO,
}

BOARD_SUBTYPE: Schema = {
    "id": I, "name": S, "board": REF, "inactiveFlag": B, "typeAssociationIds": L,
    "_info": INFO,
}

PRIORITY: Schema = {
    "id": I, "name": S, "color": S, "sortOrder": I, "level": S, "defaultFlag": B,
    "imageLink": S, "_info": INFO,
}

SLA: Schema = {
    "id": I, "name": S, "defaultFlag": B, "basedOn": S, "customCalendar": REF,
    "respondHours": F, "planWithin": F, "resolutionHours": F, "respondPercent": I,
    "planWithinPercent": I, "resolutionPercent": I, "applicationOrder": I,
    "hiImpactHiUrgency": PRIORITY_REF, "hiImpactMedUrgency": PRIORITY_REF,
    "hiImpactLowUrgency": PRIORITY_REF, "medImpactHiUrgency": PRIORITY_REF,
    "medImpactMedUrgency": PRIORITY_REF, "medImpactLowUrgency": PRIORITY_REF,
    "lowImpactHiUrgency": PRIORITY_REF, "lowImpactMedUrgency": PRIORITY_REF,
    "lowImpactLowUrgency": PRIORITY_REF, "_info": INFO,
}

CALENDAR: Schema = {
    "id": I, "name": S, "holidayList": REF,
    **{f"{day}{edge}": S for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
       for edge in ("StartTime", "EndTime")},
    "_info": INFO,
}

HOLIDAY_LIST: Schema = {"id": I, "name": S, "_info": INFO}

HOLIDAY: Schema = {
    "id": I, "name": S, "allDayFlag": B, "date": D, "timeStart": S, "timeEnd": S,
    "holidayList": REF, "_info": INFO,
}

WORK_TYPE: Schema = {
    "id": I, "name": S, "billTime": BILL_OPTIONS, "rateType": S, "rate": F, "hoursMin": F,
    "hoursMax": F, "roundBillHoursTo": F, "inactiveFlag": B, "overallDefaultFlag": B,
    "activityFlag": B, "utilizationFlag": B, "costMultiplier": F, "externalIntegrationXRef": REF,
    "_info": INFO,
}

CHARGE_CODE: Schema = {
    "id": I, "name": S, "billTime": BILL_OPTIONS, "expenseEntryFlag": B,
    "allowAllExpenseTypeFlag": B, "timeEntryFlag": B, "scheduleEntryFlag": B,
    "company": IDENTIFIED_REF, "location": REF, "department": IDENTIFIED_REF, "workType": REF,
    "workRole": REF, "integrationXRef": S, "_info": INFO,
}

_TICKET_COMMON: Schema = {
    "id": I, "summary": S, "board": REF, "status": REF, "company": IDENTIFIED_REF,
    "site": REF, "siteName": S, "contact": REF, "contactName": S, "contactEmailAddress": S,
    "contactPhoneNumber": S, "type": REF, "subType": REF, "item": REF, "team": REF,
    "owner": IDENTIFIED_REF, "priority": PRIORITY_REF, "serviceLocation": REF, "source": REF,
    "agreement": AGREEMENT_REF, "severity": S, "impact": S, "closedDate": DT, "closedBy": S,
    "closedFlag": B, "actualHours": F, "budgetHours": F, "approved": B, "billTime": BILL_OPTIONS,
    "billExpenses": BILL_OPTIONS, "billProducts": BILL_OPTIONS, "billingMethod": S,
    "dateResolved": DT, "dateResplan": DT, "dateResponded": DT, "resolveMinutes": I,
    "resPlanMinutes": I, "respondMinutes": I, "isInSla": B, "resources": S,
    "parentTicketId": I, "hasChildTicket": B, "hasMergedChildTicketFlag": B,
    "mergedParentTicket": TICKET_REF, "requiredDate": DT, "estimatedStartDate": DT,
    "duration": I, "location": REF, "department": IDENTIFIED_REF, "mobileGuid": S,
    "sla": REF, "slaStatus": S, "customerUpdatedFlag": B, "automaticEmailContactFlag": B,
    "automaticEmailResourceFlag": B, "automaticEmailCcFlag": B, "escalationStartDateUTC": DT,
    "escalationLevel": I, "minutesBeforeWaiting": I, "respondedSkippedMinutes": I,
    "resplanSkippedMinutes": I, "customFields": L, "_info": INFO,
}

SERVICE_TICKET: Schema = {**_TICKET_COMMON, "recordType": S, "requestForChangeFlag": B}

PROJECT_TICKET: Schema = {
    **_TICKET_COMMON, "project": REF, "phase": REF, "wbsCode": S, "isIssueFlag": B,
}

TICKET_NOTE: Schema = {
    "id": I, "ticketId": I, "text": S, "detailDescriptionFlag": B, "internalAnalysisFlag": B,
    "resolutionFlag": B, "issueFlag": B, "member": IDENTIFIED_REF, "contact": REF,
    "customerUpdatedFlag": B, "processNotifications": B, "dateCreated": DT, "createdBy": S,
    "internalFlag": B, "externalFlag": B, "_info": INFO,
}

TICKET_CONFIGURATION: Schema = {"id": I, "deviceIdentifier": S, "_info": INFO}

AUDIT_TRAIL_ENTRY: Schema = {
    "text": S, "enteredDate": DT, "enteredBy": S, "auditType": S, "auditSubType": S,
    "auditSource": S,
}

TIME_ENTRY: Schema = {
    "id": I, "company": IDENTIFIED_REF, "chargeToId": I, "chargeToType": S,
    "member": IDENTIFIED_REF, "locationId": I, "businessUnitId": I, "workType": REF,
    "workRole": REF, "agreement": AGREEMENT_REF, "ticket": TICKET_REF, "project": REF,
    "phase": REF, "invoice": REF, "timeSheet": REF, "timeStart": DT, "timeEnd": DT,
    "hoursDeduct": F, "actualHours": F, "billableOption": BILL_OPTIONS, "notes": S,
    "internalNotes": S, "addToDetailDescriptionFlag": B, "addToInternalAnalysisFlag": B,
    "addToResolutionFlag": B, "emailResourceFlag": B, "emailContactFlag": B,
    "emailCcFlag": B, "hoursBilled": F, "invoiceHours": F, "agreementHours": F,
    "agreementAmount": F, "hourlyRate": F, "overageRate": F, "extendedInvoiceAmount": F,
    "enteredBy": S, "dateEntered": DT, "mobileGuid": S, "status": S, "_info": INFO,
}

SURVEY: Schema = {
    "id": I, "name": S, "headerText": S, "footerText": S, "thankYouText": S,
    "inactiveFlag": B, "notifyMember": IDENTIFIED_REF, "notifyWho": REF, "_info": INFO,
}

SURVEY_QUESTION: Schema = {
    "id": I, "surveyId": I, "question": S, "type": S, "options": L, "noAnswerPoints": I,
    "requiredFlag": B, "sequenceNumber": I, "includeFlag": B, "_info": INFO,
}

SURVEY_RESULT: Schema = {
    "id": I, "surveyId": I, "ticketId": I, "totalPoints": I, "results": L,
    "company": IDENTIFIED_REF, "contact": REF, "contactMeFlag": B, "emailAddress": S,
    "footerResponse": S, "_info": INFO,
}

AGREEMENT: Schema = {
    "id": I, "name": S, "type": REF, "company": IDENTIFIED_REF, "contact": REF, "site": REF,
    "location": REF, "department": IDENTIFIED_REF, "agreementStatus": S, "cancelledFlag": B,
    "dateCancelled": DT, "reasonCancelled": S, "startDate": DT, "endDate": DT,
    "noEndingDateFlag": B, "billAmount": F, "billingCycle": REF, "billStartDate": S,
    "nextInvoiceDate": S, "applicationUnits": S, "applicationLimit": F,
    "applicationCycle": S, "applicationUnlimitedFlag": B, "prorateFlag": B,
    "billTime": BILL_OPTIONS, "billExpenses": BILL_OPTIONS, "billProducts": BILL_OPTIONS,
    "parentAgreement": REF, "sla": REF, "workRole": REF, "workType": REF, "periodType": S,
    "taxable": B, "_info": INFO,
}

ADDITION: Schema = {
    "id": I, "agreementId": I, "product": CATALOG_REF, "description": S, "quantity": F,
    "lessIncluded": F, "unitPrice": F, "unitCost": F, "extPrice": F, "extCost": F,
    "margin": F, "billCustomer": S, "effectiveDate": DT, "cancelledDate": DT,
    "agreementStatus": S, "prorateCost": F, "proratePrice": F, "taxableFlag": B,
    "invoiceDescription": S, "invoiceGrouping": REF, "_info": INFO,
}

INVOICE: Schema = {
    "id": I, "invoiceNumber": S, "type": S, "status": REF, "company": IDENTIFIED_REF,
    "billToCompany": IDENTIFIED_REF, "applyToType": S, "date": DT, "dueDate": DT,
    "billingTerms": REF, "subtotal": F, "total": F, "balance": F, "payments": F,
    "credits": F, "salesTax": F, "serviceTotal": F, "productTotal": F, "expenseTotal": F,
    "agreement": AGREEMENT_REF, "agreementAmount": F, "project": REF, "phase": REF,
    "ticket": TICKET_REF, "currency": REF, "_info": INFO,
}

INVOICE_PAYMENT: Schema = {
    "id": I, "type": S, "invoice": {"id": I, "identifier": S, "_info": INFO}, "amount": F,
    "paymentDate": DT, "appliedBy": S, "creditFlag": B, "_info": INFO,
}

PROJECT: Schema = {
    "id": I, "name": S, "company": IDENTIFIED_REF, "contact": REF, "board": REF,
    "status": REF, "closedFlag": B, "manager": IDENTIFIED_REF, "type": REF,
    "agreement": AGREEMENT_REF, "estimatedStart": DT, "estimatedEnd": DT, "actualStart": DT,
    "actualEnd": DT, "scheduledStart": DT, "scheduledEnd": DT, "percentComplete": F,
    "estimatedHours": F, "actualHours": F, "budgetHours": F, "scheduledHours": F,
    "billingMethod": S, "description": S, "location": REF, "department": IDENTIFIED_REF,
    "_info": INFO,
}

CALLBACK: Schema = {
    "id": I, "description": S, "url": S, "objectId": I, "type": S, "level": S,
    "memberId": I, "payloadVersion": S, "inactiveFlag": B, "isSoapCallbackFlag": B,
    "isSelfSuppressedFlag": B, "connectWiseID": S, "_info": INFO,
}

INFO_ALIASES: dict[str, tuple[str, Kind]] = {
    "lastUpdated": ("lastUpdated", DT),
    "dateEntered": ("dateEntered", DT),
    "enteredBy": ("enteredBy", S),
    "updatedBy": ("updatedBy", S),
}
"""Fields that conditions name directly but records carry inside ``_info``
(``lastUpdated>[...]`` in django-connectwise's sync; ``dateEntered>=[...]`` in
Ingenio-Tech/ticketwise). A resource whose record has such a field at the top level
(time entries' ``dateEntered``) uses its own."""


@dataclass(frozen=True)
class Field:
    """One filterable/sortable/projectable field: its JSON path and kind."""

    name: str
    path: tuple[str, ...]
    kind: Kind

    @property
    def scalar(self) -> bool:
        return self.kind not in (Kind.OBJECT, Kind.LIST, Kind.INFO)


@dataclass(frozen=True)
class Resource:
    """A ConnectWise resource: where it is served and what its records hold.

    ``path`` is relative to ``/{codebase}apis/3.0/`` and lower-case (ConnectWise paths
    are case-insensitive: CWREST writes ``service/SLAs``, pyconnectwise ``service/slas``).
    A child resource's ``path`` has a ``{parent}`` segment: its rows belong to one
    parent record of ``parent`` (a board's statuses, a ticket's notes).
    """

    name: str
    label: str
    path: str
    schema: Schema
    parent: str | None = None
    has_ids: bool = True
    forward_only: bool = True
    writable: bool = False

    def fields(self) -> Iterator[Field]:
        """Every declared field, objects and their sub-fields included."""
        yield from _walk(self.schema, ())
        for alias, (key, kind) in INFO_ALIASES.items():
            if alias not in self.schema and "_info" in self.schema:
                yield Field(alias, ("_info", key), kind)

    def field(self, name: str) -> Field | None:
        """The field a condition, ``orderBy`` or ``fields`` entry names, or None.

        Names are matched without regard to case, as ConnectWise matches them.
        """
        return self._index.get(name.lower())

    @cached_property
    def _index(self) -> dict[str, Field]:
        return {f.name.lower(): f for f in self.fields()}


def _walk(schema: Schema, prefix: tuple[str, ...]) -> Iterator[Field]:
    for key, value in schema.items():
        path = (*prefix, key)
        if isinstance(value, Kind):
            yield Field("/".join(path), path, value)
        else:
            yield Field("/".join(path), path, Kind.OBJECT)
            yield from _walk(value, path)


RESOURCES: dict[str, Resource] = {r.name: r for r in (
    Resource("members", "Member", "system/members", MEMBER),
    Resource("companies", "Company", "company/companies", COMPANY),
    Resource("contacts", "Contact", "company/contacts", CONTACT),
    Resource("boards", "Board", "service/boards", BOARD),
    Resource("board_statuses", "Board Status", "service/boards/{parent}/statuses", BOARD_STATUS, parent="boards"),
    Resource("board_teams", "Board Team", "service/boards/{parent}/teams", BOARD_TEAM, parent="boards"),
    Resource("board_types", "Board Type", "service/boards/{parent}/types", BOARD_TYPE, parent="boards"),
    Resource("board_subtypes", "Board SubType", "service/boards/{parent}/subtypes", BOARD_SUBTYPE, parent="boards"),
    Resource("priorities", "Priority", "service/priorities", PRIORITY),
    Resource("slas", "SLA", "service/slas", SLA),
    Resource("calendars", "Calendar", "schedule/calendars", CALENDAR),
    Resource("holiday_lists", "Holiday List", "schedule/holidaylists", HOLIDAY_LIST),
    Resource("holidays", "Holiday", "schedule/holidaylists/{parent}/holidays", HOLIDAY, parent="holiday_lists"),
    Resource("work_types", "Work Type", "time/worktypes", WORK_TYPE),
    Resource("charge_codes", "Charge Code", "time/chargecodes", CHARGE_CODE),
    Resource("service_tickets", "Ticket", "service/tickets", SERVICE_TICKET),
    Resource("ticket_notes", "Service Note", "service/tickets/{parent}/notes", TICKET_NOTE, parent="service_tickets"),
    Resource("ticket_configurations", "Configuration", "service/tickets/{parent}/configurations",
             TICKET_CONFIGURATION, parent="service_tickets"),
    Resource("project_tickets", "Project Ticket", "project/tickets", PROJECT_TICKET),
    Resource("ticket_audit_trail", "Audit Trail Entry", "system/audittrail", AUDIT_TRAIL_ENTRY,
             parent="service_tickets", has_ids=False, forward_only=False),
    Resource("project_ticket_audit_trail", "Audit Trail Entry", "system/audittrail", AUDIT_TRAIL_ENTRY,
             parent="project_tickets", has_ids=False, forward_only=False),
    Resource("time_entries", "Time Entry", "time/entries", TIME_ENTRY),
    Resource("surveys", "Survey", "service/surveys", SURVEY),
    Resource("survey_questions", "Survey Question", "service/surveys/{parent}/questions", SURVEY_QUESTION,
             parent="surveys"),
    Resource("survey_results", "Survey Result", "service/surveys/{parent}/results", SURVEY_RESULT, parent="surveys"),
    Resource("agreements", "Agreement", "finance/agreements", AGREEMENT),
    Resource("additions", "Addition", "finance/agreements/{parent}/additions", ADDITION, parent="agreements"),
    Resource("invoices", "Invoice", "finance/invoices", INVOICE),
    Resource("invoice_payments", "Payment", "finance/invoices/{parent}/payments", INVOICE_PAYMENT,
             parent="invoices"),
    Resource("projects", "Project", "project/projects", PROJECT),
    Resource("callbacks", "Callback Entry", "system/callbacks", CALLBACK, writable=True),
)}

AUDIT_TRAIL_TYPES: dict[str, str] = {"Ticket": "ticket_audit_trail", "ProjectTicket": "project_ticket_audit_trail"}
"""``system/audittrail?type=`` values the simulator keeps a trail for, and where."""


def undeclared(resource: Resource, record: Mapping[str, Any]) -> list[str]:
    """Paths in ``record`` that the resource does not declare, or whose value has the wrong type.

    The store refuses such a record: a field conditions cannot see, or a ``"5"`` where
    ConnectWise sends ``5``, would make the simulator answer differently from the API.
    """
    return list(_check(resource.schema, record, ()))


_PY_TYPES: dict[Kind, tuple[type, ...]] = {
    Kind.INT: (int,), Kind.FLOAT: (int, float), Kind.STR: (str,), Kind.BOOL: (bool,),
    Kind.DATETIME: (str,), Kind.DATE: (str,), Kind.LIST: (list,), Kind.INFO: (dict,),
}


def _check(schema: Schema, record: Mapping[str, Any], prefix: tuple[str, ...]) -> Iterator[str]:
    for key, value in record.items():
        path = "/".join((*prefix, key))
        kind = schema.get(key)
        if kind is None:
            yield f"{path}: not a field"
        elif value is None:
            yield f"{path}: null (ConnectWise omits empty fields)"
        elif isinstance(kind, Kind):
            if not isinstance(value, _PY_TYPES[kind]) or (kind in (Kind.INT, Kind.FLOAT) and isinstance(value, bool)):
                yield f"{path}: {type(value).__name__} is not a {kind.value}"
            elif kind is Kind.DATETIME and not _TIMESTAMP.fullmatch(value):
                yield f"{path}: {value!r} is not an ISO-8601 UTC timestamp ending in Z"
            elif kind is Kind.DATE and not _DATE.fullmatch(value):
                yield f"{path}: {value!r} is not a YYYY-MM-DD date"
            elif kind is Kind.INFO and not all(isinstance(v, str) for v in value.values()):
                yield f"{path}: _info values are strings"
        elif not isinstance(value, Mapping):
            yield f"{path}: {type(value).__name__} is not a reference object"
        else:
            yield from _check(kind, value, (*prefix, key))


_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_DATE = re.compile(r"\d{4}-\d\d-\d\d")
