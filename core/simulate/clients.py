"""The simulated MSP's clients: companies, contacts, agreements, endpoints and their health.

Client sizes are right-skewed like a real book of business (many 10–30 seat offices, a few
large ones). Most clients are on a managed-services agreement (flat monthly fee, time not
billed), some buy block hours, the rest are break-fix (every hour billed). Endpoint health
is a per-endpoint Markov chain — a failed patch or backup tends to stay failed for a few
days — whose failure rate depends on how diligent the owning engineer is, which is what
lets "endpoint integrity of the clients I own" differ between engineers.
"""

from __future__ import annotations

import calendar as month_calendar
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from podium.simulate import catalog
from podium.simulate.catalog import AGREEMENT_TYPES, IDS
from podium.simulate.org import Org, SimPerson
from podium.simulate.streams import clamp, derive, lognormal, pick, whole_seconds

UTC = dt.timezone.utc


@dataclass
class SimClient:
    index: int
    external_id: str
    name: str
    identifier: str
    internal: bool
    plan: str
    """``managed``, ``block`` or ``break_fix``."""
    users: int
    servers: int
    region: int
    sla: str
    since: dt.date
    pay_days: float
    """Median days this client takes to pay an invoice."""
    hygiene: float = 1.0
    owners: list[tuple[SimPerson, float, dt.date, dt.date | None]] = field(default_factory=list)
    contacts: list[dict[str, str]] = field(default_factory=list)

    @property
    def billable_time(self) -> bool:
        """Whether ticket time is billed by the hour (break-fix; managed and block-hours
        clients are covered by their agreement)."""
        return self.plan == "break_fix"

    @property
    def code(self) -> str:
        return "".join(word[0] for word in self.name.split())[:4].upper() + f"{self.index:03d}"


def build_clients(seed: int, count: int, org: Org, start: dt.date, end: dt.date) -> list[SimClient]:
    """The internal company (the MSP itself) and ``count`` customers, owners assigned."""
    rng = derive(seed, "clients")
    names = rng.sample([f"{p} {t}" for p in catalog.CLIENT_PREFIXES for t in catalog.CLIENT_TRADES], count)
    clients = [
        SimClient(
            0,
            str(IDS.internal_client),
            catalog.TENANT["name"],
            "SummitRidge",
            True,
            "internal",
            25,
            2,
            0,
            "Standard SLA",
            start - dt.timedelta(days=3650),
            0,
        )
    ]
    for index, name in enumerate(names, 1):
        crng = derive(seed, "client", index)
        users = int(clamp(round(lognormal(crng, 22, 0.7)), 4, 400))
        plan = pick(crng, [("managed", 0.7), ("block", 0.1), ("break_fix", 0.2)])
        servers = 0 if users < 8 else crng.randint(1, min(8, 2 + users // 40))
        clients.append(
            SimClient(
                index=index,
                external_id=str(IDS.first_client + index - 1),
                name=name,
                identifier="".join(name.split())[:25],
                internal=False,
                plan=plan,
                users=users,
                servers=servers,
                region=(index - 1) % org.regions,
                sla="Premium SLA" if plan == "managed" and crng.random() < 0.15 else "Standard SLA",
                since=_first_of_month(start - dt.timedelta(days=crng.randint(60, 1500))),
                pay_days=crng.uniform(10, 40),
            )
        )
    _assign_owners(seed, clients, org, start, end)
    for client in clients:
        client.contacts = _contacts(seed, client)
    return clients


def _assign_owners(seed: int, clients: list[SimClient], org: Org, start: dt.date, end: dt.date) -> None:
    """One primary engineer per client (two sharing 50/50 for about one in ten), and a
    handover to another engineer for about one in twenty during the world."""
    rng = derive(seed, "owners")
    owners = org.owners()
    days = (end - start).days
    for n, client in enumerate(c for c in clients if not c.internal):
        first = owners[n % len(owners)]
        since = client.since
        if len(owners) > 1 and rng.random() < 0.1:
            second = owners[(n + 1 + rng.randrange(len(owners) - 1)) % len(owners)]
            client.owners = [(first, 0.5, since, None), (second, 0.5, since, None)]
        elif len(owners) > 1 and days >= 30 and rng.random() < 0.05:
            handover = start + dt.timedelta(days=rng.randint(days // 2, days - 7))
            other = owners[(n + 1 + rng.randrange(len(owners) - 1)) % len(owners)]
            client.owners = [(first, 1.0, since, handover), (other, 1.0, handover, None)]
        else:
            client.owners = [(first, 1.0, since, None)]
        diligence = sum(owner.diligence * share for owner, share, _, end_ in client.owners if end_ is None)
        client.hygiene = clamp(0.55 + 0.45 * diligence + rng.gauss(0, 0.05), 0.5, 1.0)


def _contacts(seed: int, client: SimClient) -> list[dict[str, str]]:
    rng = derive(seed, "contacts", client.index)
    domain = client.identifier.lower()[:20] + ".example"
    contacts = []
    for k in range(int(clamp(client.users // 4, 2, 25))):
        first, last = rng.choice(catalog.FIRST_NAMES), rng.choice(catalog.LAST_NAMES)
        contacts.append(
            {
                "id": str(int(client.external_id) * 100 + k),
                "first_name": first,
                "last_name": last,
                "email": f"{first}.{last}{k}@{domain}".lower(),
            }
        )
    return contacts


def _first_of_month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _month_end(day: dt.date) -> dt.date:
    return day.replace(day=month_calendar.monthrange(day.year, day.month)[1])


# -- agreements ------------------------------------------------------------------------


@dataclass(frozen=True)
class AgreementLine:
    """A recurring revenue line and the ConnectWise-style additions it is made of."""

    external_id: str
    client: SimClient
    type: str
    monthly_price: int
    """Minor units."""
    monthly_cost: int
    effective_from: dt.date
    effective_to: dt.date | None
    """Last day billed (inclusive)."""
    cancelled_at: dt.date | None
    additions: tuple[tuple[str, int, int, int], ...]
    """(product, quantity, unit price, unit cost) in minor units."""

    def active_days(self, start: dt.date, end: dt.date) -> int:
        """Days of ``[start, end)`` the line is billed for (for prorating)."""
        last = end if self.effective_to is None else min(end, self.effective_to + dt.timedelta(days=1))
        return max(0, (last - max(start, self.effective_from)).days)


def agreements(seed: int, clients: list[SimClient], start: dt.date, end: dt.date) -> list[AgreementLine]:
    """Every client's agreement lines, including add-ons sold and cancelled during the world."""
    lines = []
    days = (end - start).days
    for client in clients:
        if client.internal or client.plan == "break_fix":
            continue
        rng = derive(seed, "agreements", client.index)
        wanted: list[tuple[str, list[tuple[str, int, float, float]]]] = []
        if client.plan == "block":
            hours = rng.choice((10, 15, 20, 30))
            wanted.append(("Block Hours", [("Prepaid support hours", hours, 140.0, 0.0)]))
        else:
            per_user = rng.uniform(95, 140)
            products = [("Managed workstation support", client.users, per_user, per_user * rng.uniform(0.28, 0.38))]
            if client.servers:
                products.append(("Managed server", client.servers, 150.0, 55.0))
            wanted.append(("Managed Services", products))
            if rng.random() < 0.4:
                wanted.append(("Managed Security", [("Security stack per user", client.users, 25.0, 12.0)]))
            if client.servers and rng.random() < 0.45:
                wanted.append(("Backup as a Service", [("Server backup", client.servers, 120.0, 42.0)]))
            if rng.random() < 0.5:
                wanted.append(("Microsoft 365", [("Microsoft 365 Business Premium", client.users, 22.0, 18.75)]))
        for k, (type_name, products) in enumerate(wanted):
            effective_from, effective_to, cancelled = client.since, None, None
            if k > 0 and days >= 45 and rng.random() < 0.08:
                effective_from = _first_of_month(start + dt.timedelta(days=rng.randint(31, days - 1)))
            elif k > 0 and days >= 30 and rng.random() < 0.05:
                cancelled = start + dt.timedelta(days=rng.randint(5, days - 1))
                effective_to = _month_end(_month_end(cancelled) + dt.timedelta(days=1))
            additions = tuple((name, qty, round(price * 100), round(cost * 100)) for name, qty, price, cost in products)
            lines.append(
                AgreementLine(
                    external_id=str(int(client.external_id) * 10 + k),
                    client=client,
                    type=type_name,
                    monthly_price=sum(q * p for _, q, p, _ in additions),
                    monthly_cost=sum(q * c for _, q, _, c in additions),
                    effective_from=effective_from,
                    effective_to=effective_to,
                    cancelled_at=cancelled,
                    additions=additions,
                )
            )
    return lines


def agreement_record(line: AgreementLine, now: dt.datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """(canonical agreement, ConnectWise-facing extras)."""
    kind = AGREEMENT_TYPES[line.type]
    changed = line.cancelled_at or line.effective_from
    updated = dt.datetime.combine(min(changed, now.date()), dt.time(15), UTC)
    data = {
        "external_id": line.external_id,
        "client_external_id": line.client.external_id,
        "name": f"{kind.prefix} - {line.client.name}",
        "agreement_type": line.type,
        "category": kind.category,
        "monthly_price_minor": line.monthly_price,
        "monthly_cost_minor": line.monthly_cost,
        "currency": catalog.TENANT["currency"],
        "effective_from": line.effective_from,
        "effective_to": line.effective_to,
        "cancelled_at": line.cancelled_at,
        "vendor_updated_at": updated,
    }
    vendor = {
        "type_id": kind.id,
        "billing_cycle": "Monthly",
        "prorate": True,
        "sla": line.client.sla,
        "status": "Cancelled" if line.cancelled_at else "Active",
        "additions": [
            {"product": name, "quantity": qty, "unit_price_minor": price, "unit_cost_minor": cost}
            for name, qty, price, cost in line.additions
        ],
    }
    return data, vendor


# -- endpoints -------------------------------------------------------------------------


@dataclass(frozen=True)
class SimEndpoint:
    external_id: str
    client: SimClient
    name: str
    device_class: str
    node_class: str
    """NinjaOne's node class."""
    first_day: dt.date
    last_day: dt.date | None
    """Retired after this day (None = still managed)."""
    offline_since: dt.datetime | None
    backed_up: bool


def endpoints_of(seed: int, client: SimClient, backup: bool, start: dt.date, end: dt.date) -> list[SimEndpoint]:
    """A client's devices: workstations (some Macs), servers and network gear."""
    if client.internal:
        return []
    rng = derive(seed, "endpoints", client.index)
    days = (end - start).days
    workstations = round(client.users * rng.uniform(1.0, 1.25))
    network = min(4, 1 + client.users // 50)
    devices = [("workstation", f"WS{n:03d}") for n in range(1, workstations + 1)]
    devices += [("server", f"SRV{n:02d}") for n in range(1, client.servers + 1)]
    devices += [("network", f"FW{n:02d}") for n in range(1, network + 1)]
    result = []
    for k, (device_class, suffix) in enumerate(devices[:999]):
        mac = device_class == "workstation" and rng.random() < 0.1
        node_class = {"server": "WINDOWS_SERVER", "network": "NMS_NETWORK_MANAGEMENT_AGENT"}.get(
            device_class, "MAC" if mac else "WINDOWS_WORKSTATION"
        )
        first_day, last_day, offline = start - dt.timedelta(days=400), None, None
        roll = rng.random()
        if days >= 14 and roll < 0.03:
            first_day = start + dt.timedelta(days=rng.randint(1, days - 1))
        elif days >= 14 and roll < 0.05:
            last_day = start + dt.timedelta(days=rng.randint(1, days - 2))
        elif device_class == "workstation" and roll < 0.1:
            offline = dt.datetime.combine(end, dt.time(0), UTC) - dt.timedelta(hours=rng.uniform(24, 24 * 20))
        result.append(
            SimEndpoint(
                external_id=str(int(client.external_id) * 1000 + k),
                client=client,
                name=f"{client.code}-{suffix}",
                device_class=device_class,
                node_class=node_class,
                first_day=first_day,
                last_day=last_day,
                offline_since=offline,
                backed_up=backup
                and (device_class == "server" or (device_class == "workstation" and rng.random() < 0.2)),
            )
        )
    return result


def endpoint_record(seed: int, endpoint: SimEndpoint, now: dt.datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = derive(seed, "last-contact", endpoint.external_id)
    if endpoint.last_day is not None:
        contact = dt.datetime.combine(endpoint.last_day, dt.time(17), UTC)
    elif endpoint.offline_since is not None:
        contact = endpoint.offline_since
    else:
        contact = now - dt.timedelta(minutes=rng.uniform(1, 30))
    data = {
        "external_id": endpoint.external_id,
        "client_external_id": endpoint.client.external_id,
        "name": endpoint.name,
        "device_class": endpoint.device_class,
        "last_contact_at": whole_seconds(contact),
        "active": endpoint.last_day is None,
    }
    vendor = {"node_class": endpoint.node_class, "created": endpoint.first_day, "backed_up": endpoint.backed_up}
    return data, vendor


CHECKS = (
    # (field, daily chance a healthy check fails at hygiene 1.0, daily chance a failed one recovers)
    ("patch_ok", 0.018, 0.45),
    ("av_ok", 0.004, 0.6),
    ("backup_ok", 0.02, 0.6),
    ("health_ok", 0.012, 0.5),
)


def endpoint_statuses(seed: int, endpoint: SimEndpoint, first: dt.date, end: dt.date) -> Iterator[dict[str, Any]]:
    """One row per day from ``first`` to ``end`` while the endpoint is managed; a check is
    None (unknown) while the device is offline, and ``backup_ok`` is None when it has no backup."""
    rng = derive(seed, "health", endpoint.external_id)
    state = {name: True for name, _, _ in CHECKS}
    penalty = 1.6 - endpoint.client.hygiene
    day = max(first, endpoint.first_day)
    while day < end and (endpoint.last_day is None or day <= endpoint.last_day):
        row: dict[str, Any] = {"endpoint_external_id": endpoint.external_id, "day": day}
        offline = endpoint.offline_since is not None and day > endpoint.offline_since.date()
        for name, fail, recover in CHECKS:
            if state[name]:
                state[name] = rng.random() >= fail * penalty
            else:
                state[name] = rng.random() < recover
            known = not offline and (name != "backup_ok" or endpoint.backed_up)
            row[name] = state[name] if known else None
        yield row
        day += dt.timedelta(days=1)
