"""The simulated MSP's fixed vocabulary: what its PSA and RMM are configured with.

Vendor simulators render these as the vendor's setup tables (ConnectWise boards and their
statuses, priorities, SLAs, work types, work roles, agreement types, the survey), so
they carry the vendor-facing facts (ids, ``closedStatus``, ``escalationStatus``, sort
orders, survey points) next to what Podium's mappings turn them into.
"""

from __future__ import annotations

from dataclasses import dataclass

TENANT = {
    "slug": "summit-ridge",
    "name": "Summit Ridge IT",
    "time_zone": "America/Chicago",
    "currency": "USD",
    "fiscal_year_start_month": 1,
    "week_start": 0,
}
DOMAIN = "summitridge.example"
"""E-mail domain of the MSP's staff (``.example`` is reserved, so no mail can go astray)."""
CONNECTION_NAME = "Simulated MSP"
BUSINESS_CALENDAR = "Business Hours"

FIRST_NAMES = (
    "Aaron Abby Adrian Aisha Alex Alicia Amir Ana Andre Angela Ben Bianca Brandon Caleb Carla Carlos Chloe "
    "Chris Dana Daniel Derek Diana Dmitri Elena Eli Emma Eric Fatima Felix Gabe Grace Hannah Hector Ian Imani "
    "Isaac Jada Jamal Jasmine Jason Jen Joel Jordan Julia Kai Karen Kevin Kim Kyle Laura Leo Lina Logan Lucas "
    "Maya Marcus Maria Mason Mei Nadia Nate Nina Noah Olivia Omar Owen Paige Priya Quinn Rachel Raj Rosa Ryan "
    "Sam Sara Sean Sofia Tariq Tessa Theo Tom Uma Victor Wes Yara Zoe"
).split()
LAST_NAMES = (
    "Abbott Acosta Adams Alvarez Bailey Baker Banks Barnes Bell Bennett Brooks Bryant Burke Carter Castillo Chen "
    "Cole Collins Cruz Davis Diaz Dixon Edwards Ellis Evans Fischer Flores Ford Foster Garcia Gibson Gomez Grant "
    "Gray Hayes Henderson Hughes Hunt Ito Jackson James Jensen Kaur Kelly Khan Kim Klein Larson Lee Lopez Marsh "
    "Martin Mendez Miller Moore Morgan Murphy Nguyen Novak Ortiz Owens Park Patel Perry Price Quinn Ramos Reed "
    "Reyes Rivera Roberts Ross Russell Sanders Santos Shah Silva Stone Sullivan Tanaka Torres Tran Turner Vega "
    "Walker Ward Watson Weber Wells White Wong Young Zimmerman"
).split()
CLIENT_PREFIXES = (
    "Northwind Riverbend Bluebird Cedar Summit Lakeside Prairie Ironwood Oakridge Harbor Maple Granite Silverline "
    "Redstone Willow Pinecrest Aspen Brightwater Crescent Eastgate Fairview Foxhill Goldleaf Hawthorne Highland "
    "Juniper Keystone Lighthouse Meadow Midtown Northstar Orchard Pioneer Quarry Ridgeway Sagebrush Sandstone "
    "Skyline Stonebridge Sunrise Timber Union Valley Westfield Wildflower"
).split()
CLIENT_TRADES = (
    "Dental", "Law Group", "Accounting", "Logistics", "Manufacturing", "Realty", "Veterinary Clinic",
    "Architects", "Insurance", "Credit Union", "Family Medicine", "Construction", "Engineering", "Orthodontics",
    "Wealth Advisors", "Title Company", "Chiropractic", "Auto Group", "Foods", "Nonprofit", "Church",
    "Property Management", "Physical Therapy", "Marketing", "Plumbing", "Electric", "Landscaping", "Pharmacy",
    "School", "Hotel",
)  # fmt: skip

TIME_ZONES = (
    ("America/Chicago", 0.8),
    ("America/New_York", 0.1),
    ("America/Denver", 0.05),
    ("America/Los_Angeles", 0.05),
)


@dataclass(frozen=True)
class Grade:
    """A career step: the role and level facts Podium stores, and how such a person works."""

    code: str
    role: str
    level: str
    title: str
    salary_range: tuple[int, int]
    """Annual base salary in whole dollars."""
    hourly_rate: int
    """What an hour of their time is billed at, in whole dollars."""
    touch_hours: float
    """Median length of one work session on a ticket."""
    fill_hours: float
    """Mean proactive-maintenance hours a day on top of tickets."""


GRADES = {
    "L1": Grade("L1", "Engineer L1", "L1", "Help Desk Technician", (48_000, 58_000), 125, 0.35, 1.75),
    "L2": Grade("L2", "Engineer L2", "L2", "Systems Engineer", (62_000, 76_000), 150, 0.8, 1.5),
    "L3": Grade("L3", "Engineer L3", "L3", "Senior Engineer", (82_000, 102_000), 175, 1.2, 1.25),
    "M": Grade("M", "Service Manager", "Manager", "Service Manager", (90_000, 112_000), 175, 1.0, 0.25),
}

TEAM_KINDS = (
    ("help_desk", "Help Desk", "First line: phones, e-mail, portal and RMM alerts"),
    ("escalations", "Escalations", "Tier 2/3 engineering: escalated and complex tickets"),
    ("projects", "Projects", "Project delivery and senior engineering"),
)
REGIONS = ("", "East", "West", "Central", "North", "South", "Mountain", "Pacific", "Atlantic", "Gulf", "Lakes")
"""Team name suffixes when an MSP has more than one team of a kind (large worlds)."""


@dataclass(frozen=True)
class Status:
    name: str
    category: str
    """Podium's status category (the ``status`` mapping): open, resolved or closed."""
    escalation_status: str
    """ConnectWise's SLA stage for the status."""
    closed: bool
    sort: int
    default: bool = False


SERVICE_STATUSES = (
    Status("New", "open", "NotResponded", False, 1, default=True),
    Status("In Progress", "open", "Responded", False, 2),
    Status("Waiting Customer", "open", "Responded", False, 3),
    Status("Reopened", "open", "Responded", False, 4),
    Status("Resolved", "resolved", "Resolved", False, 5),
    Status("Closed", "closed", "NoEscalation", True, 6),
)
MONITORING_STATUSES = (
    Status("New", "open", "NotResponded", False, 1, default=True),
    Status("In Progress", "open", "Responded", False, 2),
    Status("Auto Resolved", "resolved", "Resolved", False, 3),
    Status("Resolved", "resolved", "Resolved", False, 4),
    Status("Closed", "closed", "NoEscalation", True, 5),
)
PROJECT_STATUSES = (
    Status("New", "open", "NoEscalation", False, 1, default=True),
    Status("In Progress", "open", "NoEscalation", False, 2),
    Status("Completed", "closed", "NoEscalation", True, 3),
)


@dataclass(frozen=True)
class Board:
    id: int
    name: str
    kind: str
    """Podium's board category (the ``board`` mapping)."""
    statuses: tuple[Status, ...]

    def status(self, name: str) -> Status:
        return next(status for status in self.statuses if status.name == name)


BOARDS = {
    board.name: board
    for board in (
        Board(1, "Service Desk", "service", SERVICE_STATUSES),
        Board(2, "Tier 2", "service", SERVICE_STATUSES),
        Board(3, "Monitoring", "alert", MONITORING_STATUSES),
        Board(4, "Professional Services", "project", PROJECT_STATUSES),
    )
}


@dataclass(frozen=True)
class Priority:
    id: int
    name: str
    sort: int
    weight: float
    """Share of service tickets opened at this priority."""
    impact: int
    """Ticket ``impact`` as a number (higher = more severe)."""
    severity: str
    """ConnectWise ``severity``/``impact`` text."""
    response_median_hours: float


PRIORITIES = (
    Priority(1, "Priority 1 - Critical", 1, 0.02, 4, "High", 0.15),
    Priority(2, "Priority 2 - High", 2, 0.10, 3, "High", 0.35),
    Priority(3, "Priority 3 - Medium", 3, 0.68, 2, "Medium", 0.6),
    Priority(4, "Priority 4 - Low", 4, 0.20, 1, "Low", 1.2),
)


@dataclass(frozen=True)
class Sla:
    id: int
    name: str
    based_on: str
    """ConnectWise ``basedOn``: MyCalendar (the tenant's hours) or Custom (its own calendar)."""
    calendar: str | None
    """Name of its own calendar (a Podium ``sla`` calendar), None = the tenant's."""
    respond_hours: tuple[float, float, float, float]
    """Business hours to first response, by priority 1–4."""
    resolve_hours: tuple[float, float, float, float]
    default: bool = False


SLAS = {
    sla.name: sla
    for sla in (
        Sla(1, "Standard SLA", "MyCalendar", None, (1, 2, 4, 8), (4, 8, 16, 40), default=True),
        Sla(2, "Premium SLA", "Custom", "Premium SLA", (0.5, 1, 2, 4), (4, 8, 12, 24)),
    )
}
PREMIUM_HOURS = {
    day: ([["07:00", "19:00"]] if day not in ("sat", "sun") else [])
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}
"""The Premium SLA's extended hours (its own calendar)."""


@dataclass(frozen=True)
class WorkType:
    id: int
    name: str
    mapping: str
    """Podium's work-type category: billable, productive, internal or pto."""
    billable_option: str
    """ConnectWise default ``billableOption``."""
    utilization: bool


WORK_TYPES = {
    wt.name: wt
    for wt in (
        WorkType(1, "Remote Support", "billable", "Billable", True),
        WorkType(2, "Onsite Support", "billable", "Billable", True),
        WorkType(3, "Project Work", "billable", "Billable", True),
        WorkType(4, "Proactive Maintenance", "productive", "NoCharge", True),
        WorkType(5, "Internal Meeting", "internal", "DoNotBill", False),
        WorkType(6, "Training", "internal", "DoNotBill", False),
        WorkType(7, "Admin", "internal", "DoNotBill", False),
        WorkType(8, "PTO", "pto", "DoNotBill", False),
    )
}
WORK_ROLES = {grade.code: (index + 1, grade.title) for index, grade in enumerate(GRADES.values())}


@dataclass(frozen=True)
class AgreementType:
    id: int
    name: str
    category: str
    """Podium's revenue category (the ``agreement_type`` mapping)."""
    prefix: str


AGREEMENT_TYPES = {
    at.name: at
    for at in (
        AgreementType(1, "Managed Services", "managed_services", "MSA"),
        AgreementType(2, "Managed Security", "security", "SEC"),
        AgreementType(3, "Backup as a Service", "backup", "BAK"),
        AgreementType(4, "Microsoft 365", "licensing", "M365"),
        AgreementType(5, "Block Hours", "block_hours", "BLK"),
    )
}

SOURCES = {"Email": 1, "Phone": 2, "Portal": 3, "Monitoring": 4, "Schedule": 5}
SERVICE_SOURCES = (("Email", 0.5), ("Phone", 0.3), ("Portal", 0.2))

SURVEY = {
    "id": 1,
    "name": "Ticket Satisfaction",
    "question_id": 1,
    "question": "How satisfied are you with how we handled this ticket?",
    "options": (("Very dissatisfied", 1), ("Dissatisfied", 2), ("Neutral", 3), ("Satisfied", 4), ("Very satisfied", 5)),
    "scale": (1, 5),
    "positive_from": 4,
}
"""One ConnectWise-style survey: a single Selection question whose option points are the score."""


@dataclass(frozen=True)
class Issue:
    type: str
    subtype: str
    item: str
    summaries: tuple[str, ...]
    weight: float
    ease: float
    """Added to the first-touch resolution chance (password resets are easy, servers are not)."""
    onsite: float = 0.02


ISSUES = (
    Issue(
        "Service Request",
        "Account",
        "Password Reset",
        ("Password reset for {contact}", "Account locked out"),
        0.14,
        0.25,
    ),
    Issue(
        "Incident",
        "Email",
        "Outlook",
        ("Outlook keeps asking for password", "Not receiving external e-mail", "Shared mailbox missing in Outlook"),
        0.13,
        0.05,
    ),
    Issue("Service Request", "Account", "New User", ("New user setup for {contact}'s team",), 0.05, -0.05),
    Issue(
        "Incident",
        "Network",
        "VPN",
        ("VPN disconnects every few minutes", "Cannot connect to VPN from home"),
        0.07,
        -0.1,
    ),
    Issue(
        "Incident",
        "Network",
        "Wi-Fi",
        ("Wi-Fi dropping in the conference room", "Slow internet at the office"),
        0.06,
        -0.15,
        onsite=0.2,
    ),
    Issue(
        "Incident",
        "Printer",
        "Printing",
        ("Printer offline on 2nd floor", "Scan to e-mail not working"),
        0.08,
        0.0,
        onsite=0.15,
    ),
    Issue(
        "Incident",
        "Hardware",
        "Workstation",
        ("Laptop running very slow", "Docking station monitors not detected", "Blue screen on startup"),
        0.1,
        -0.1,
        onsite=0.15,
    ),
    Issue(
        "Incident",
        "Software",
        "Line of Business",
        ("Practice software won't open", "Accounting app crashes on export"),
        0.08,
        -0.1,
    ),
    Issue(
        "Service Request",
        "Software",
        "Install",
        ("Install Adobe Acrobat for {contact}", "Need Teams installed"),
        0.08,
        0.2,
    ),
    Issue(
        "Incident",
        "Security",
        "Phishing",
        ("Suspicious e-mail reported", "Clicked a link in a phishing e-mail"),
        0.05,
        0.0,
    ),
    Issue(
        "Service Request",
        "Account",
        "Permissions",
        ("Access to the shared finance folder", "Add {contact} to a distribution list"),
        0.09,
        0.2,
    ),
    Issue("Incident", "Server", "File Server", ("Mapped drive missing", "File server very slow"), 0.07, -0.2),
)


@dataclass(frozen=True)
class Alert:
    item: str
    summary: str
    device_class: str
    priority: int
    auto_close: float
    """Share of these alerts the RMM clears by itself (the ticket auto-resolves and closes)."""


ALERTS = (
    Alert("Disk Space", "Disk space low on {device} (C: {pct}% free)", "server", 3, 0.45),
    Alert("Offline", "{device} is offline", "server", 2, 0.7),
    Alert("Backup", "Backup job failed on {device}", "server", 3, 0.5),
    Alert("Antivirus", "Threat quarantined on {device}", "workstation", 3, 0.6),
    Alert("CPU", "High CPU usage on {device}", "workstation", 4, 0.8),
    Alert("Service", "Print Spooler service stopped on {device}", "workstation", 4, 0.75),
)

PROJECTS = (
    ("Microsoft 365 Migration", 40, 120),
    ("Server Replacement", 30, 90),
    ("Firewall Replacement", 12, 40),
    ("Windows 11 Rollout", 20, 80),
    ("Office Move", 16, 60),
    ("Backup Modernisation", 12, 40),
    ("MFA Rollout", 8, 30),
    ("Network Refresh", 24, 80),
)
PROJECT_PHASES = (("Planning", 0.15), ("Implementation", 0.7), ("Handover", 0.15))
PROJECT_RATE = 165
"""Dollars per project hour (T&M billing, fixed-fee quotes)."""


@dataclass(frozen=True)
class WorldIds:
    """Where each kind of vendor id starts, so every stream can number on its own."""

    internal_client: int = 1
    first_client: int = 2
    first_ticket: int = 10_001
    project_ticket_base: int = 8_000_000
    project_entry_base: int = 50_000_000
    daily_entry_base: int = 60_000_000
    workflow_member: int = 2
    rmm_member: int = 3
    contractor_member: int = 900
    first_member: int = 100


IDS = WorldIds()
