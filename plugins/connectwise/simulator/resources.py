"""The ConnectWise resources the simulator serves: URL, parent, and the declared fields.

Each resource declares its fields and their types the way ConnectWise's REST 3.0 models
name them (facts §1.6-§1.11; HealthITAU/pyconnectwise's models generated from
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
from collections.abc import Callable, Iterator, Mapping
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
INT, DEC, STR, BOOL, STAMP, DATE, LIST = Kind.INT, Kind.FLOAT, Kind.STR, Kind.BOOL, Kind.DATETIME, Kind.DATE, Kind.LIST

REF: Schema = {"id": INT, "name": STR, "_info": INFO}
IDENTIFIED_REF: Schema = {"id": INT, "identifier": STR, "name": STR, "_info": INFO}
PRIORITY_REF: Schema = {"id": INT, "name": STR, "sort": INT, "_info": INFO}
AGREEMENT_REF: Schema = {"id": INT, "name": STR, "type": STR, "_info": INFO}
TICKET_REF: Schema = {"id": INT, "summary": STR, "_info": INFO}
CATALOG_REF: Schema = {"id": INT, "identifier": STR, "_info": INFO}
BILL_OPTIONS = STR  # Billable | DoNotBill | NoCharge | NoDefault

MEMBER: Schema = {
    "id": INT, "identifier": STR, "firstName": STR, "lastName": STR, "middleInitial": STR, "title": STR,
    "primaryEmail": STR, "officeEmail": STR, "officePhone": STR, "mobilePhone": STR,
    "defaultEmail": STR, "defaultPhone": STR, "inactiveFlag": BOOL, "inactiveDate": STAMP, "adminFlag": BOOL,
    "licenseClass": STR, "type": REF, "reportsTo": IDENTIFIED_REF, "timeApprover": IDENTIFIED_REF,
    "expenseApprover": IDENTIFIED_REF, "defaultDepartment": IDENTIFIED_REF, "defaultLocation": REF,
    "dailyCapacity": DEC, "hourlyCost": DEC, "hourlyRate": DEC, "hireDate": STAMP, "timeZone": REF,
    "calendar": REF, "includeInUtilizationReportingFlag": BOOL, "serviceDefaultBoard": REF,
    "serviceBoardTeamIds": LIST, "workRole": REF, "workType": REF,
    "agreementInvoicingDisplayOptions": STR, "companyActivityTabFormat": STR,
    "invoiceScreenDefaultTabFormat": STR, "invoiceTimeTabFormat": STR, "invoicingDisplayOptions": STR,
    "_info": INFO,
}

COMPANY: Schema = {
    "id": INT, "identifier": STR, "name": STR, "status": REF, "types": LIST, "addressLine1": STR,
    "addressLine2": STR, "city": STR, "state": STR, "zip": STR, "country": REF, "phoneNumber": STR,
    "website": STR, "territory": REF, "market": REF, "dateAcquired": STAMP, "timeZoneSetup": REF,
    "billingTerms": REF, "leadFlag": BOOL, "isVendorFlag": BOOL, "deletedFlag": BOOL, "dateDeleted": STAMP,
    "deletedBy": STR, "site": REF, "defaultContact": REF, "annualRevenue": DEC,
    "numberOfEmployees": INT, "_info": INFO,
}

CONTACT: Schema = {
    "id": INT, "firstName": STR, "lastName": STR, "company": IDENTIFIED_REF, "site": REF,
    "inactiveFlag": BOOL, "title": STR, "defaultPhoneType": STR, "defaultPhoneNbr": STR,
    "defaultBillingFlag": BOOL, "defaultFlag": BOOL, "communicationItems": LIST, "types": LIST,
    "_info": INFO,
}

BOARD: Schema = {
    "id": INT, "name": STR, "location": REF, "department": IDENTIFIED_REF, "inactiveFlag": BOOL,
    "projectFlag": BOOL, "signOffOnCloseFlag": BOOL, "workRole": REF, "workType": REF,
    "showDependenciesFlag": BOOL, "timeEntryLockedFlag": BOOL, "_info": INFO,
}

BOARD_STATUS: Schema = {
    "id": INT, "name": STR, "board": REF, "sortOrder": INT, "displayOnBoard": BOOL, "inactive": BOOL,
    "closedStatus": BOOL, "timeEntryNotAllowed": BOOL, "defaultFlag": BOOL, "escalationStatus": STR,
    "customerPortalDescription": STR, "customerPortalFlag": BOOL, "statusIndicator": REF,
    "_info": INFO,
}

BOARD_TEAM: Schema = {
    "id": INT, "name": STR, "teamLeader": IDENTIFIED_REF, "members": LIST, "defaultFlag": BOOL,
    "notifyOnTicketDelete": BOOL, "boardId": INT, "locationId": INT, "businessUnitId": INT,
    "_info": INFO,
}

BOARD_TYPE: Schema = {
    "id": INT, "name": STR, "board": REF, "category": STR, "defaultFlag": BOOL, "inactiveFlag": BOOL,
    "requestForChangeFlag": BOOL, "_info": INFO,
}

BOARD_SUBTYPE: Schema = {
    "id": INT, "name": STR, "board": REF, "inactiveFlag": BOOL, "typeAssociationIds": LIST,
    "_info": INFO,
}

PRIORITY: Schema = {
    "id": INT, "name": STR, "color": STR, "sortOrder": INT, "level": STR, "defaultFlag": BOOL,
    "imageLink": STR, "_info": INFO,
}

SLA: Schema = {
    "id": INT, "name": STR, "defaultFlag": BOOL, "basedOn": STR, "customCalendar": REF,
    "respondHours": DEC, "planWithin": DEC, "resolutionHours": DEC, "respondPercent": INT,
    "planWithinPercent": INT, "resolutionPercent": INT, "applicationOrder": INT,
    "hiImpactHiUrgency": PRIORITY_REF, "hiImpactMedUrgency": PRIORITY_REF,
    "hiImpactLowUrgency": PRIORITY_REF, "medImpactHiUrgency": PRIORITY_REF,
    "medImpactMedUrgency": PRIORITY_REF, "medImpactLowUrgency": PRIORITY_REF,
    "lowImpactHiUrgency": PRIORITY_REF, "lowImpactMedUrgency": PRIORITY_REF,
    "lowImpactLowUrgency": PRIORITY_REF, "_info": INFO,
}

SLA_PRIORITY: Schema = {
    "id": INT, "sla": REF, "priority": PRIORITY_REF, "respondHours": DEC, "planWithin": DEC,
    "resolutionHours": DEC, "_info": INFO,
}

CALENDAR: Schema = {
    "id": INT, "name": STR, "holidayList": REF,
    **{f"{day}{edge}": STR for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
       for edge in ("StartTime", "EndTime")},
    "_info": INFO,
}

HOLIDAY_LIST: Schema = {"id": INT, "name": STR, "_info": INFO}

HOLIDAY: Schema = {
    "id": INT, "name": STR, "allDayFlag": BOOL, "date": DATE, "timeStart": STR, "timeEnd": STR,
    "holidayList": REF, "_info": INFO,
}

WORK_TYPE: Schema = {
    "id": INT, "name": STR, "billTime": BILL_OPTIONS, "rateType": STR, "rate": DEC, "hoursMin": DEC,
    "hoursMax": DEC, "roundBillHoursTo": DEC, "inactiveFlag": BOOL, "overallDefaultFlag": BOOL,
    "activityFlag": BOOL, "utilizationFlag": BOOL, "costMultiplier": DEC, "externalIntegrationXRef": REF,
    "_info": INFO,
}

CHARGE_CODE: Schema = {
    "id": INT, "name": STR, "billTime": BILL_OPTIONS, "expenseEntryFlag": BOOL,
    "allowAllExpenseTypeFlag": BOOL, "timeEntryFlag": BOOL, "scheduleEntryFlag": BOOL,
    "company": IDENTIFIED_REF, "location": REF, "department": IDENTIFIED_REF, "workType": REF,
    "workRole": REF, "integrationXRef": STR, "_info": INFO,
}

_TICKET_COMMON: Schema = {
    "id": INT, "summary": STR, "board": REF, "status": REF, "company": IDENTIFIED_REF,
    "site": REF, "siteName": STR, "contact": REF, "contactName": STR, "contactEmailAddress": STR,
    "contactPhoneNumber": STR, "type": REF, "subType": REF, "item": REF, "team": REF,
    "owner": IDENTIFIED_REF, "priority": PRIORITY_REF, "serviceLocation": REF, "source": REF,
    "agreement": AGREEMENT_REF, "severity": STR, "impact": STR, "closedDate": STAMP, "closedBy": STR,
    "closedFlag": BOOL, "actualHours": DEC, "budgetHours": DEC, "approved": BOOL, "billTime": BILL_OPTIONS,
    "billExpenses": BILL_OPTIONS, "billProducts": BILL_OPTIONS, "billingMethod": STR,
    "dateResolved": STAMP, "dateResplan": STAMP, "dateResponded": STAMP, "resolveMinutes": INT,
    "resPlanMinutes": INT, "respondMinutes": INT, "isInSla": BOOL, "resources": STR,
    "parentTicketId": INT, "hasChildTicket": BOOL, "hasMergedChildTicketFlag": BOOL,
    "mergedParentTicket": TICKET_REF, "requiredDate": STAMP, "estimatedStartDate": STAMP,
    "duration": INT, "location": REF, "department": IDENTIFIED_REF, "mobileGuid": STR,
    "sla": REF, "slaStatus": STR, "customerUpdatedFlag": BOOL, "automaticEmailContactFlag": BOOL,
    "automaticEmailResourceFlag": BOOL, "automaticEmailCcFlag": BOOL, "escalationStartDateUTC": STAMP,
    "escalationLevel": INT, "minutesBeforeWaiting": INT, "respondedSkippedMinutes": INT,
    "resplanSkippedMinutes": INT, "customFields": LIST, "_info": INFO,
}

SERVICE_TICKET: Schema = {**_TICKET_COMMON, "recordType": STR, "requestForChangeFlag": BOOL}

PROJECT_TICKET: Schema = {
    **_TICKET_COMMON, "project": REF, "phase": REF, "wbsCode": STR, "isIssueFlag": BOOL,
}

TICKET_NOTE: Schema = {
    "id": INT, "ticketId": INT, "text": STR, "detailDescriptionFlag": BOOL, "internalAnalysisFlag": BOOL,
    "resolutionFlag": BOOL, "issueFlag": BOOL, "member": IDENTIFIED_REF, "contact": REF,
    "customerUpdatedFlag": BOOL, "processNotifications": BOOL, "dateCreated": STAMP, "createdBy": STR,
    "internalFlag": BOOL, "externalFlag": BOOL, "_info": INFO,
}

TICKET_CONFIGURATION: Schema = {"id": INT, "deviceIdentifier": STR, "_info": INFO}

AUDIT_TRAIL_ENTRY: Schema = {
    "text": STR, "enteredDate": STAMP, "enteredBy": STR, "auditType": STR, "auditSubType": STR,
    "auditSource": STR,
}

TIME_ENTRY: Schema = {
    "id": INT, "company": IDENTIFIED_REF, "chargeToId": INT, "chargeToType": STR,
    "member": IDENTIFIED_REF, "locationId": INT, "businessUnitId": INT, "workType": REF,
    "workRole": REF, "agreement": AGREEMENT_REF, "ticket": TICKET_REF, "project": REF,
    "phase": REF, "invoice": REF, "timeSheet": REF, "timeStart": STAMP, "timeEnd": STAMP,
    "hoursDeduct": DEC, "actualHours": DEC, "billableOption": BILL_OPTIONS, "notes": STR,
    "internalNotes": STR, "addToDetailDescriptionFlag": BOOL, "addToInternalAnalysisFlag": BOOL,
    "addToResolutionFlag": BOOL, "emailResourceFlag": BOOL, "emailContactFlag": BOOL,
    "emailCcFlag": BOOL, "hoursBilled": DEC, "invoiceHours": DEC, "agreementHours": DEC,
    "agreementAmount": DEC, "hourlyRate": DEC, "overageRate": DEC, "extendedInvoiceAmount": DEC,
    "enteredBy": STR, "dateEntered": STAMP, "mobileGuid": STR, "status": STR, "_info": INFO,
}

SURVEY: Schema = {
    "id": INT, "name": STR, "headerText": STR, "footerText": STR, "thankYouText": STR,
    "inactiveFlag": BOOL, "notifyMember": IDENTIFIED_REF, "notifyWho": REF, "_info": INFO,
}

SURVEY_QUESTION: Schema = {
    "id": INT, "surveyId": INT, "question": STR, "type": STR, "options": LIST, "noAnswerPoints": INT,
    "requiredFlag": BOOL, "sequenceNumber": INT, "includeFlag": BOOL, "_info": INFO,
}

SURVEY_RESULT: Schema = {
    "id": INT, "surveyId": INT, "ticketId": INT, "totalPoints": INT, "results": LIST,
    "company": IDENTIFIED_REF, "contact": REF, "contactMeFlag": BOOL, "emailAddress": STR,
    "footerResponse": STR, "_info": INFO,
}

AGREEMENT: Schema = {
    "id": INT, "name": STR, "type": REF, "company": IDENTIFIED_REF, "contact": REF, "site": REF,
    "location": REF, "department": IDENTIFIED_REF, "agreementStatus": STR, "cancelledFlag": BOOL,
    "dateCancelled": STAMP, "reasonCancelled": STR, "startDate": STAMP, "endDate": STAMP,
    "noEndingDateFlag": BOOL, "billAmount": DEC, "billingCycle": REF, "billStartDate": STR,
    "nextInvoiceDate": STR, "applicationUnits": STR, "applicationLimit": DEC,
    "applicationCycle": STR, "applicationUnlimitedFlag": BOOL, "prorateFlag": BOOL,
    "billTime": BILL_OPTIONS, "billExpenses": BILL_OPTIONS, "billProducts": BILL_OPTIONS,
    "parentAgreement": REF, "sla": REF, "workRole": REF, "workType": REF, "periodType": STR,
    "taxable": BOOL, "_info": INFO,
}

ADDITION: Schema = {
    "id": INT, "agreementId": INT, "product": CATALOG_REF, "description": STR, "quantity": DEC,
    "lessIncluded": DEC, "unitPrice": DEC, "unitCost": DEC, "extPrice": DEC, "extCost": DEC,
    "margin": DEC, "billCustomer": STR, "effectiveDate": STAMP, "cancelledDate": STAMP,
    "agreementStatus": STR, "prorateCost": DEC, "proratePrice": DEC, "taxableFlag": BOOL,
    "invoiceDescription": STR, "invoiceGrouping": REF, "_info": INFO,
}

INVOICE: Schema = {
    "id": INT, "invoiceNumber": STR, "type": STR, "status": REF, "company": IDENTIFIED_REF,
    "billToCompany": IDENTIFIED_REF, "applyToType": STR, "date": STAMP, "dueDate": STAMP,
    "billingTerms": REF, "subtotal": DEC, "total": DEC, "balance": DEC, "payments": DEC,
    "credits": DEC, "salesTax": DEC, "serviceTotal": DEC, "productTotal": DEC, "expenseTotal": DEC,
    "agreement": AGREEMENT_REF, "agreementAmount": DEC, "project": REF, "phase": REF,
    "ticket": TICKET_REF, "currency": REF, "_info": INFO,
}

INVOICE_PAYMENT: Schema = {
    "id": INT, "type": STR, "invoice": {"id": INT, "identifier": STR, "_info": INFO}, "amount": DEC,
    "paymentDate": STAMP, "appliedBy": STR, "creditFlag": BOOL, "_info": INFO,
}

PROJECT: Schema = {
    "id": INT, "name": STR, "company": IDENTIFIED_REF, "contact": REF, "board": REF,
    "status": REF, "closedFlag": BOOL, "manager": IDENTIFIED_REF, "type": REF,
    "agreement": AGREEMENT_REF, "estimatedStart": STAMP, "estimatedEnd": STAMP, "actualStart": STAMP,
    "actualEnd": STAMP, "scheduledStart": STAMP, "scheduledEnd": STAMP, "percentComplete": DEC,
    "estimatedHours": DEC, "actualHours": DEC, "budgetHours": DEC, "scheduledHours": DEC,
    "billingMethod": STR, "description": STR, "location": REF, "department": IDENTIFIED_REF,
    "_info": INFO,
}

CALLBACK: Schema = {
    "id": INT, "description": STR, "url": STR, "objectId": INT, "type": STR, "level": STR,
    "memberId": INT, "payloadVersion": STR, "inactiveFlag": BOOL, "isSoapCallbackFlag": BOOL,
    "isSelfSuppressedFlag": BOOL, "connectWiseID": STR, "_info": INFO,
}

INFO_ALIASES: dict[str, tuple[str, Kind]] = {
    "lastUpdated": ("lastUpdated", STAMP),
    "dateEntered": ("dateEntered", STAMP),
    "enteredBy": ("enteredBy", STR),
    "updatedBy": ("updatedBy", STR),
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
    Resource("sla_priorities", "SLA Priority", "service/slas/{parent}/priorities", SLA_PRIORITY, parent="slas"),
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
    return list(_check(_rules(resource.name, resource.schema), record, ()))


Rule = tuple[tuple[type, ...], Callable[[Any], bool] | None, str, "dict[str, Rule] | None"]
"""(accepted Python types, extra check, what the value should be, rules of a nested object)."""

_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_DATE = re.compile(r"\d{4}-\d\d-\d\d")


def _valid_info(info: Mapping[str, Any]) -> bool:
    """``_info`` holds strings, and its stamps are the timestamps conditions compare."""
    return all(type(value) is str for value in info.values()) and all(
        _TIMESTAMP.fullmatch(info[key]) is not None for key in ("lastUpdated", "dateEntered") if key in info
    )


_LEAF_RULES: dict[Kind, tuple[tuple[type, ...], Callable[[Any], bool] | None, str]] = {
    Kind.INT: ((int,), None, "an integer"),
    Kind.FLOAT: ((int, float), None, "a decimal"),
    Kind.STR: ((str,), None, "a string"),
    Kind.BOOL: ((bool,), None, "a boolean"),
    Kind.DATETIME: ((str,), lambda v: _TIMESTAMP.fullmatch(v) is not None, "an ISO-8601 UTC timestamp ending in Z"),
    Kind.DATE: ((str,), lambda v: _DATE.fullmatch(v) is not None, "a YYYY-MM-DD date"),
    Kind.LIST: ((list,), None, "a list"),
    Kind.INFO: ((dict,), _valid_info, "an _info object of strings with Z timestamps"),
}
_RULES: dict[str, dict[str, Rule]] = {}



def _rules(name: str, schema: Schema) -> dict[str, Rule]:
    """The schema compiled to exact-type checks once per resource (loading checks every record)."""
    compiled = _RULES.get(name)
    if compiled is None:
        compiled = _RULES[name] = _compile(schema)
    return compiled


def _compile(schema: Schema) -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for key, kind in schema.items():
        if isinstance(kind, Kind):
            types, extra, expected = _LEAF_RULES[kind]
            rules[key] = (types, extra, expected, None)
        else:
            rules[key] = ((dict,), None, "a reference object", _compile(kind))
    return rules


def _check(rules: dict[str, Rule], record: Mapping[str, Any], prefix: tuple[str, ...]) -> Iterator[str]:
    for key, value in record.items():
        rule = rules.get(key)
        if rule is None:
            yield f"{'/'.join((*prefix, key))}: not a field"
            continue
        types, extra, expected, nested = rule
        if value is None:
            yield f"{'/'.join((*prefix, key))}: null (ConnectWise omits empty fields)"
        elif type(value) not in types or (extra is not None and not extra(value)):
            yield f"{'/'.join((*prefix, key))}: {value!r} is not {expected}"
        elif nested is not None:
            yield from _check(nested, value, (*prefix, key))
