"""A client written for the real ConnectWise Manage REST API 3.0 — nothing simulator-specific.

It is the fidelity bar of issue 4: given only a site URL and the five credentials it
discovers the codebase (``/login/companyinfo/{companyId}``), authenticates with Basic
``companyId+publicKey:privateKey`` and the ``clientId`` header, pages by following
``Link: rel="next"`` (navigable or forward-only), and validates every record against
pydantic models of ConnectWise's field names, types and required fields (facts §1.6-§1.11
and HealthITAU/pyconnectwise's models generated from ConnectWise's OpenAPI document).
Models are strict: a field ConnectWise does not have, an integer sent as a string, a
timestamp without ``Z`` or a missing required field fails validation.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter


def _utc(value: Any) -> Any:
    if isinstance(value, str) and not value.endswith("Z"):
        raise ValueError("ConnectWise timestamps are UTC with a trailing Z")
    return value


UtcDateTime = Annotated[datetime, Field(strict=False), BeforeValidator(_utc)]
Date = Annotated[date, Field(strict=False)]
Info = Annotated[dict[str, str] | None, Field(alias="_info")]
BillOption = Literal["Billable", "DoNotBill", "NoCharge", "NoDefault"]


class CWModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True)


class Reference(CWModel):
    id: int
    name: str | None = None
    info: Info = None


class IdentifiedReference(Reference):
    identifier: str | None = None


class PriorityReference(Reference):
    sort: int | None = None


class AgreementReference(Reference):
    type: str | None = None


class TicketReference(CWModel):
    id: int
    summary: str | None = None
    info: Info = None


class CatalogReference(CWModel):
    id: int
    identifier: str | None = None
    info: Info = None


class CustomFieldValue(CWModel):
    id: int
    caption: str | None = None
    type: str | None = None
    entryMethod: str | None = None
    numberOfDecimals: int | None = None
    value: Any = None


class Member(CWModel):
    id: int
    identifier: str = Field(max_length=15)
    firstName: str = Field(max_length=30)
    lastName: str | None = Field(default=None, max_length=30)
    middleInitial: str | None = None
    title: str | None = None
    primaryEmail: str | None = None
    officeEmail: str | None = None
    officePhone: str | None = None
    mobilePhone: str | None = None
    defaultEmail: Literal["Office", "Mobile", "Home"]
    defaultPhone: Literal["Office", "Mobile", "Home"]
    inactiveFlag: bool | None = None
    inactiveDate: UtcDateTime | None = None
    adminFlag: bool | None = None
    licenseClass: Literal["A", "C", "F", "X"]
    type: Reference | None = None
    reportsTo: IdentifiedReference | None = None
    timeApprover: IdentifiedReference | None = None
    expenseApprover: IdentifiedReference | None = None
    defaultDepartment: IdentifiedReference | None = None
    defaultLocation: Reference | None = None
    dailyCapacity: float | None = None
    hourlyCost: float | None = None
    hourlyRate: float | None = None
    hireDate: UtcDateTime | None = None
    timeZone: Reference | None = None
    calendar: Reference | None = None
    includeInUtilizationReportingFlag: bool | None = None
    serviceDefaultBoard: Reference | None = None
    serviceBoardTeamIds: list[int] | None = None
    workRole: Reference | None = None
    workType: Reference | None = None
    agreementInvoicingDisplayOptions: Literal["RemainOnInvoicingScreen", "ShowRecentInvoices"]
    companyActivityTabFormat: Literal["SummaryList", "DetailList"] | None = None
    invoiceScreenDefaultTabFormat: Literal["ShowInvoicingTab", "ShowAgreementInvoicingTab"]
    invoiceTimeTabFormat: Literal["SummaryList", "DetailList"] | None = None
    invoicingDisplayOptions: Literal["RemainOnInvoicingScreen", "ShowRecentInvoices"]
    info: Info = None


class MyMemberInfo(CWModel):
    id: int
    identifier: str
    firstName: str | None = None
    middleInitial: str | None = None
    lastName: str | None = None
    fullName: str | None = None
    defaultEmail: str | None = None
    licenseClass: Literal["A", "C", "F", "X"] | None = None
    inactiveFlag: bool | None = None
    dailyCapacity: float | None = None
    defaultLocation: Reference | None = None
    defaultDepartment: IdentifiedReference | None = None
    timeZone: Reference | None = None
    serviceDefaultBoard: Reference | None = None
    workRole: Reference | None = None
    workType: Reference | None = None
    info: Info = None


class CompanyType(Reference):
    pass


class Company(CWModel):
    id: int
    identifier: str = Field(max_length=25)
    name: str = Field(max_length=50)
    status: Reference | None = None
    types: list[CompanyType] | None = None
    addressLine1: str | None = None
    addressLine2: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: Reference | None = None
    phoneNumber: str | None = None
    website: str | None = None
    territory: Reference | None = None
    market: Reference | None = None
    dateAcquired: UtcDateTime | None = None
    timeZoneSetup: Reference | None = None
    billingTerms: Reference | None = None
    leadFlag: bool | None = None
    isVendorFlag: bool | None = None
    deletedFlag: bool | None = None
    dateDeleted: UtcDateTime | None = None
    deletedBy: str | None = None
    site: Reference | None = None
    defaultContact: Reference | None = None
    annualRevenue: float | None = None
    numberOfEmployees: int | None = None
    info: Info = None


class CommunicationItem(CWModel):
    id: int | None = None
    type: Reference | None = None
    value: str | None = None
    extension: str | None = None
    defaultFlag: bool | None = None
    communicationType: Literal["Email", "Fax", "Phone"] | None = None


class Contact(CWModel):
    id: int
    firstName: str = Field(max_length=30)
    lastName: str | None = None
    company: IdentifiedReference | None = None
    site: Reference | None = None
    inactiveFlag: bool | None = None
    title: str | None = None
    defaultPhoneType: str | None = None
    defaultPhoneNbr: str | None = None
    defaultBillingFlag: bool | None = None
    defaultFlag: bool | None = None
    communicationItems: list[CommunicationItem] | None = None
    types: list[Reference] | None = None
    info: Info = None


class Board(CWModel):
    id: int
    name: str = Field(max_length=50)
    location: Reference | None = None
    department: IdentifiedReference | None = None
    inactiveFlag: bool | None = None
    projectFlag: bool | None = None
    signOffOnCloseFlag: bool | None = None
    workRole: Reference | None = None
    workType: Reference | None = None
    showDependenciesFlag: bool | None = None
    timeEntryLockedFlag: bool | None = None
    info: Info = None


class BoardStatus(CWModel):
    id: int
    name: str = Field(max_length=50)
    board: Reference | None = None
    sortOrder: int | None = None
    displayOnBoard: bool | None = None
    inactive: bool | None = None
    closedStatus: bool | None = None
    timeEntryNotAllowed: bool | None = None
    defaultFlag: bool | None = None
    escalationStatus: Literal["NotResponded", "Responded", "ResolutionPlan", "Resolved", "NoEscalation"] | None = None
    customerPortalDescription: str | None = None
    customerPortalFlag: bool | None = None
    statusIndicator: Reference | None = None
    info: Info = None


class BoardTeam(CWModel):
    id: int
    name: str = Field(max_length=30)
    teamLeader: IdentifiedReference | None = None
    members: list[int] | None = None
    defaultFlag: bool | None = None
    notifyOnTicketDelete: bool | None = None
    boardId: int | None = None
    locationId: int | None = None
    businessUnitId: int | None = None
    info: Info = None


class BoardType(CWModel):
    id: int
    name: str = Field(max_length=50)
    board: Reference | None = None
    category: Literal["Reactive", "Proactive"] | None = None
    defaultFlag: bool | None = None
    inactiveFlag: bool | None = None
    requestForChangeFlag: bool | None = None
    info: Info = None


class BoardSubType(CWModel):
    id: int
    name: str = Field(max_length=50)
    board: Reference | None = None
    inactiveFlag: bool | None = None
    typeAssociationIds: list[int] | None = None
    info: Info = None


class Priority(CWModel):
    id: int
    name: str = Field(max_length=50)
    color: str | None = None
    sortOrder: int | None = None
    level: str | None = None
    defaultFlag: bool | None = None
    imageLink: str | None = None
    info: Info = None


class SLA(CWModel):
    id: int
    name: str = Field(max_length=100)
    defaultFlag: bool | None = None
    basedOn: Literal["AllHours", "Customer", "MyCalendar", "Custom"]
    customCalendar: Reference | None = None
    respondHours: float
    planWithin: float
    resolutionHours: float
    respondPercent: int | None = None
    planWithinPercent: int | None = None
    resolutionPercent: int | None = None
    applicationOrder: int | None = None
    hiImpactHiUrgency: PriorityReference | None = None
    hiImpactMedUrgency: PriorityReference | None = None
    hiImpactLowUrgency: PriorityReference | None = None
    medImpactHiUrgency: PriorityReference | None = None
    medImpactMedUrgency: PriorityReference | None = None
    medImpactLowUrgency: PriorityReference | None = None
    lowImpactHiUrgency: PriorityReference | None = None
    lowImpactMedUrgency: PriorityReference | None = None
    lowImpactLowUrgency: PriorityReference | None = None
    info: Info = None


class SLAPriority(CWModel):
    id: int
    sla: Reference | None = None
    priority: PriorityReference
    respondHours: float
    planWithin: float
    resolutionHours: float
    info: Info = None


class Calendar(CWModel):
    id: int
    name: str = Field(max_length=50)
    holidayList: Reference | None = None
    mondayStartTime: str | None = None
    mondayEndTime: str | None = None
    tuesdayStartTime: str | None = None
    tuesdayEndTime: str | None = None
    wednesdayStartTime: str | None = None
    wednesdayEndTime: str | None = None
    thursdayStartTime: str | None = None
    thursdayEndTime: str | None = None
    fridayStartTime: str | None = None
    fridayEndTime: str | None = None
    saturdayStartTime: str | None = None
    saturdayEndTime: str | None = None
    sundayStartTime: str | None = None
    sundayEndTime: str | None = None
    info: Info = None


class HolidayList(CWModel):
    id: int
    name: str = Field(max_length=50)
    info: Info = None


class Holiday(CWModel):
    id: int
    name: str = Field(max_length=50)
    allDayFlag: bool | None = None
    date: Date
    timeStart: str | None = None
    timeEnd: str | None = None
    holidayList: Reference | None = None
    info: Info = None


class WorkType(CWModel):
    id: int
    name: str = Field(max_length=50)
    billTime: BillOption
    rateType: Literal["AdjAmount", "Custom", "Multiplier"]
    rate: float | None = None
    hoursMin: float | None = None
    hoursMax: float | None = None
    roundBillHoursTo: float | None = None
    inactiveFlag: bool | None = None
    overallDefaultFlag: bool | None = None
    activityFlag: bool | None = None
    utilizationFlag: bool | None = None
    costMultiplier: float | None = None
    externalIntegrationXRef: Reference | None = None
    info: Info = None


class ChargeCode(CWModel):
    id: int
    name: str = Field(max_length=50)
    billTime: BillOption | None = None
    expenseEntryFlag: bool | None = None
    allowAllExpenseTypeFlag: bool | None = None
    timeEntryFlag: bool | None = None
    scheduleEntryFlag: bool | None = None
    company: IdentifiedReference
    location: Reference | None = None
    department: IdentifiedReference | None = None
    workType: Reference | None = None
    workRole: Reference | None = None
    integrationXRef: str | None = None
    info: Info = None


class _TicketFields(CWModel):
    id: int
    summary: str = Field(max_length=100)
    board: Reference | None = None
    status: Reference | None = None
    company: IdentifiedReference | None = None
    site: Reference | None = None
    siteName: str | None = None
    contact: Reference | None = None
    contactName: str | None = None
    contactEmailAddress: str | None = None
    contactPhoneNumber: str | None = None
    type: Reference | None = None
    subType: Reference | None = None
    item: Reference | None = None
    team: Reference | None = None
    owner: IdentifiedReference | None = None
    priority: PriorityReference | None = None
    serviceLocation: Reference | None = None
    source: Reference | None = None
    agreement: AgreementReference | None = None
    severity: Literal["Low", "Medium", "High"] | None = None
    impact: Literal["Low", "Medium", "High"] | None = None
    closedDate: UtcDateTime | None = None
    closedBy: str | None = None
    closedFlag: bool | None = None
    actualHours: float | None = None
    budgetHours: float | None = None
    approved: bool | None = None
    billTime: BillOption | None = None
    billExpenses: BillOption | None = None
    billProducts: BillOption | None = None
    billingMethod: Literal["ActualRates", "FixedFee", "NotToExceed", "OverrideRate"] | None = None
    dateResolved: str | None = None
    dateResplan: str | None = None
    dateResponded: str | None = None
    resolveMinutes: int | None = None
    resPlanMinutes: int | None = None
    respondMinutes: int | None = None
    isInSla: bool | None = None
    resources: str | None = None
    parentTicketId: int | None = None
    hasChildTicket: bool | None = None
    hasMergedChildTicketFlag: bool | None = None
    mergedParentTicket: TicketReference | None = None
    requiredDate: UtcDateTime | None = None
    estimatedStartDate: UtcDateTime | None = None
    duration: int | None = None
    location: Reference | None = None
    department: IdentifiedReference | None = None
    mobileGuid: str | None = None
    sla: Reference | None = None
    slaStatus: str | None = None
    customerUpdatedFlag: bool | None = None
    automaticEmailContactFlag: bool | None = None
    automaticEmailResourceFlag: bool | None = None
    automaticEmailCcFlag: bool | None = None
    escalationStartDateUTC: UtcDateTime | None = None
    escalationLevel: int | None = None
    minutesBeforeWaiting: int | None = None
    respondedSkippedMinutes: int | None = None
    resplanSkippedMinutes: int | None = None
    customFields: list[CustomFieldValue] | None = None
    info: Info = None


class Ticket(_TicketFields):
    recordType: Literal["ProjectIssue", "ProjectTicket", "ServiceTicket"] | None = None
    requestForChangeFlag: bool | None = None


class ProjectTicket(_TicketFields):
    project: Reference | None = None
    phase: Reference | None = None
    wbsCode: str | None = None
    isIssueFlag: bool | None = None


class ServiceNote(CWModel):
    id: int
    ticketId: int | None = None
    text: str | None = None
    detailDescriptionFlag: bool | None = None
    internalAnalysisFlag: bool | None = None
    resolutionFlag: bool | None = None
    issueFlag: bool | None = None
    member: IdentifiedReference | None = None
    contact: Reference | None = None
    customerUpdatedFlag: bool | None = None
    processNotifications: bool | None = None
    dateCreated: UtcDateTime | None = None
    createdBy: str | None = None
    internalFlag: bool | None = None
    externalFlag: bool | None = None
    info: Info = None


class ConfigurationReference(CWModel):
    id: int
    deviceIdentifier: str | None = None
    info: Info = None


class AuditTrailEntry(CWModel):
    text: str
    enteredDate: UtcDateTime
    enteredBy: str
    auditType: str
    auditSubType: str
    auditSource: str | None = None


class TimeEntry(CWModel):
    id: int
    company: IdentifiedReference | None = None
    chargeToId: int | None = None
    chargeToType: Literal["ServiceTicket", "ProjectTicket", "ChargeCode", "Activity"] | None = None
    member: IdentifiedReference | None = None
    locationId: int | None = None
    businessUnitId: int | None = None
    workType: Reference | None = None
    workRole: Reference | None = None
    agreement: AgreementReference | None = None
    ticket: TicketReference | None = None
    project: Reference | None = None
    phase: Reference | None = None
    invoice: Reference | None = None
    timeSheet: Reference | None = None
    timeStart: UtcDateTime
    timeEnd: UtcDateTime | None = None
    hoursDeduct: float | None = None
    actualHours: float | None = None
    billableOption: BillOption | None = None
    notes: str | None = None
    internalNotes: str | None = None
    addToDetailDescriptionFlag: bool | None = None
    addToInternalAnalysisFlag: bool | None = None
    addToResolutionFlag: bool | None = None
    emailResourceFlag: bool | None = None
    emailContactFlag: bool | None = None
    emailCcFlag: bool | None = None
    hoursBilled: float | None = None
    invoiceHours: float | None = None
    agreementHours: float | None = None
    agreementAmount: float | None = None
    hourlyRate: float | None = None
    overageRate: float | None = None
    extendedInvoiceAmount: float | None = None
    enteredBy: str | None = None
    dateEntered: UtcDateTime | None = None
    mobileGuid: str | None = None
    status: Literal[
        "Open", "Rejected", "PendingApproval", "ErrorsCorrected", "PendingProjectApproval", "ApprovedByTierOne",
        "RejectBySecondTier", "ApprovedByTierTwo", "ReadyToBill", "Billed", "WrittenOff", "BilledAgreement",
    ] | None = None
    info: Info = None


class Survey(CWModel):
    id: int
    name: str = Field(max_length=50)
    headerText: str | None = None
    footerText: str | None = None
    thankYouText: str | None = None
    inactiveFlag: bool | None = None
    notifyMember: IdentifiedReference | None = None
    notifyWho: Reference | None = None
    info: Info = None


class SurveyOption(CWModel):
    caption: str
    points: int | None = None
    includeFlag: bool | None = None


class SurveyQuestion(CWModel):
    id: int
    surveyId: int | None = None
    question: str = Field(max_length=1000)
    type: Literal["OpenEnded", "Selection"]
    options: list[SurveyOption] | None = None
    noAnswerPoints: int | None = None
    requiredFlag: bool | None = None
    sequenceNumber: int | None = None
    includeFlag: bool | None = None
    info: Info = None


class SurveyResultDetail(CWModel):
    questionId: int
    answer: str | None = None


class SurveyResult(CWModel):
    id: int
    surveyId: int | None = None
    ticketId: int
    totalPoints: int | None = None
    results: list[SurveyResultDetail] | None = None
    company: IdentifiedReference | None = None
    contact: Reference | None = None
    contactMeFlag: bool | None = None
    emailAddress: str | None = None
    footerResponse: str | None = None
    info: Info = None


class Agreement(CWModel):
    id: int
    name: str = Field(max_length=100)
    type: Reference
    company: IdentifiedReference
    contact: Reference
    site: Reference | None = None
    location: Reference | None = None
    department: IdentifiedReference | None = None
    agreementStatus: Literal["Active", "Cancelled", "Expired", "Inactive"] | None = None
    cancelledFlag: bool | None = None
    dateCancelled: UtcDateTime | None = None
    reasonCancelled: str | None = None
    startDate: UtcDateTime | None = None
    endDate: UtcDateTime | None = None
    noEndingDateFlag: bool | None = None
    billAmount: float | None = None
    billingCycle: Reference | None = None
    billStartDate: str | None = None
    nextInvoiceDate: str | None = None
    applicationUnits: Literal["Amount", "Hours", "Incidents"] | None = None
    applicationLimit: float | None = None
    applicationCycle: str | None = None
    applicationUnlimitedFlag: bool | None = None
    prorateFlag: bool | None = None
    billTime: BillOption | None = None
    billExpenses: BillOption | None = None
    billProducts: BillOption | None = None
    parentAgreement: Reference | None = None
    sla: Reference | None = None
    workRole: Reference | None = None
    workType: Reference | None = None
    periodType: str | None = None
    taxable: bool | None = None
    info: Info = None


class Addition(CWModel):
    id: int
    agreementId: int | None = None
    product: CatalogReference
    description: str | None = None
    quantity: float | None = None
    lessIncluded: float | None = None
    unitPrice: float | None = None
    unitCost: float | None = None
    extPrice: float | None = None
    extCost: float | None = None
    margin: float | None = None
    billCustomer: Literal["Billable", "DoNotBill", "NoCharge"] | None = None
    effectiveDate: UtcDateTime | None = None
    cancelledDate: UtcDateTime | None = None
    agreementStatus: str | None = None
    prorateCost: float | None = None
    proratePrice: float | None = None
    taxableFlag: bool | None = None
    invoiceDescription: str | None = None
    invoiceGrouping: Reference | None = None
    info: Info = None


class Invoice(CWModel):
    id: int
    invoiceNumber: str | None = None
    type: Literal["Agreement", "CreditMemo", "DownPayment", "Miscellaneous", "Progress", "Standard"]
    status: Reference | None = None
    company: IdentifiedReference
    billToCompany: IdentifiedReference | None = None
    applyToType: Literal["All", "Agreement", "Project", "ProjectPhase", "SalesOrder", "Ticket"] | None = None
    date: UtcDateTime | None = None
    dueDate: UtcDateTime | None = None
    billingTerms: Reference | None = None
    subtotal: float | None = None
    total: float | None = None
    balance: float | None = None
    payments: float | None = None
    credits: float | None = None
    salesTax: float | None = None
    serviceTotal: float | None = None
    productTotal: float | None = None
    expenseTotal: float | None = None
    agreement: AgreementReference | None = None
    agreementAmount: float | None = None
    project: Reference | None = None
    phase: Reference | None = None
    ticket: TicketReference | None = None
    currency: Reference | None = None
    info: Info = None


class Payment(CWModel):
    id: int
    type: str | None = None
    invoice: CatalogReference | None = None
    amount: float
    paymentDate: UtcDateTime
    appliedBy: str | None = None
    creditFlag: bool | None = None
    info: Info = None


class Project(CWModel):
    id: int
    name: str = Field(max_length=100)
    company: IdentifiedReference
    contact: Reference | None = None
    board: Reference
    status: Reference | None = None
    closedFlag: bool | None = None
    manager: IdentifiedReference | None = None
    type: Reference | None = None
    agreement: AgreementReference | None = None
    estimatedStart: UtcDateTime
    estimatedEnd: UtcDateTime
    actualStart: UtcDateTime | None = None
    actualEnd: UtcDateTime | None = None
    scheduledStart: UtcDateTime | None = None
    scheduledEnd: UtcDateTime | None = None
    percentComplete: float | None = None
    estimatedHours: float | None = None
    actualHours: float | None = None
    budgetHours: float | None = None
    scheduledHours: float | None = None
    billingMethod: Literal["ActualRates", "FixedFee", "NotToExceed", "OverrideRate"]
    description: str | None = None
    location: Reference | None = None
    department: IdentifiedReference | None = None
    info: Info = None


class CallbackEntry(CWModel):
    id: int
    description: str | None = Field(default=None, max_length=100)
    url: str
    objectId: int
    type: str
    level: str
    memberId: int | None = None
    payloadVersion: str | None = None
    inactiveFlag: bool | None = None
    isSoapCallbackFlag: bool | None = None
    isSelfSuppressedFlag: bool | None = None
    connectWiseID: str | None = None
    info: Info = None


class CompanyInfo(BaseModel):
    """``/login/companyinfo/{companyId}`` (PascalCase, unlike the API)."""

    model_config = ConfigDict(extra="allow")
    CompanyName: str
    Codebase: str
    VersionCode: str
    VersionNumber: str
    CompanyID: str
    IsCloud: bool


M = TypeVar("M", bound=BaseModel)


class ConnectWiseError(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.status_code} {response.text}")
        self.response = response
        self.status_code = response.status_code
        self.body = response.json()


class ConnectWiseClient:
    """The least a real integration does: discover, authenticate, follow links, validate."""

    def __init__(self, site: str, company_id: str, public_key: str, private_key: str, client_id: str,
                 *, page_size: int = 1000, timeout: float = 10.0) -> None:
        self.site = site.rstrip("/")
        self.company_id = company_id
        self.page_size = page_size
        token = base64.b64encode(f"{company_id}+{public_key}:{private_key}".encode()).decode()
        self.http = httpx.Client(timeout=timeout, headers={
            "Authorization": f"Basic {token}",
            "clientId": client_id,
            "Accept": "application/vnd.connectwise.com+json; version=2025.1",
        })
        self.info = self.company_info()
        self.base = f"{self.site}/{self.info.Codebase}apis/3.0"

    def close(self) -> None:
        self.http.close()

    def company_info(self) -> CompanyInfo:
        response = httpx.get(f"{self.site}/login/companyinfo/{self.company_id}", timeout=10.0)
        response.raise_for_status()
        return CompanyInfo.model_validate(response.json())

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = path if path.startswith("http") else f"{self.base}/{path.lstrip('/')}"
        response = self.http.request(method, url, **kwargs)
        if response.status_code >= 400:
            raise ConnectWiseError(response)
        return response

    def get(self, path: str, model: type[M], **params: Any) -> M:
        return model.model_validate_json(self.request("GET", path, params=params).content)

    def count(self, path: str, conditions: str | None = None) -> int:
        params = {"conditions": conditions} if conditions else {}
        return int(self.request("GET", f"{path}/count", params=params).json()["count"])

    def pages(self, path: str, model: type[M], *, forward_only: bool = False, page_size: int | None = None,
              **params: Any) -> Iterator[list[M]]:
        """Every page of a list endpoint, following ``Link: rel="next"`` until there is none."""
        adapter = TypeAdapter(list[model])  # type: ignore[valid-type]
        headers = {"pagination-type": "forward-only"} if forward_only else {}
        response = self.request("GET", path, params={"pageSize": page_size or self.page_size, **params},
                                headers=headers)
        while True:
            yield adapter.validate_json(response.content)
            following = response.links.get("next")
            if following is None:
                return
            response = self.request("GET", following["url"], headers=headers)

    def all(self, path: str, model: type[M], **kwargs: Any) -> list[M]:
        return [record for page in self.pages(path, model, **kwargs) for record in page]
