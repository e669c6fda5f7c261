"""The ConnectWise Manage connector: REST API 3.0 → canonical records (key ``connectwise``).

What it asks ConnectWise, and how (facts §1.1–§1.10):

* **Discovery and auth.** ``GET {site}/login/companyinfo/{companyId}`` (no auth) gives the
  codebase unless the config names one; every API call then goes to
  ``{site}/{codebase}apis/3.0/`` with Basic ``companyId+publicKey:privateKey`` and the
  ``clientId`` header. Retries, ``Retry-After``, the per-minute request budget and secret
  masking are :class:`podium.http.RestClient`'s; this module never retries by itself.
* **Windows.** Incremental entities are filtered with
  ``lastUpdated>=[start] and lastUpdated<[end]`` (the engine's window, seconds floored).
* **Paging.** Big lists page forward-only (``pagination-type: forward-only`` and
  ``pageId``: a keyset on ``id``), which stays correct while records change mid-scan — a
  record that moves out of the window shifts no other record to an earlier page, as it
  would with ``page`` numbers. The resume cursor is ``{"stream": path, "after_id": id}``.
  Small setup tables and per-record lists (statuses, additions, payments, audit trails)
  page navigably (``page``/``pageSize``, following ``Link: rel="next"``).
* **History.** Ticket events, and who resolved a ticket (for ``resolved_by`` and survey
  attribution), come from each ticket's audit trail — one request per ticket, capped per
  entity sync by ``audit_requests_per_sync`` — or, past the cap, from snapshot differences
  against the stored tickets the engine offers (``context.stored_records``). A trail is
  fetched once per version of a ticket (its ``lastUpdated``) for as long as this instance
  lives — the engine syncs a whole connection with one instance, so the ticket scan's
  trails serve the ticket-event scan and survey attribution — and a page's trails are
  fetched a few at a time, each request still taking its permit from the request budget.
  With a cap, the ticket scan also keeps the stored state of the tickets it changes, which
  the ticket-event scan of the same connection sync compares with; a ticket-event sync on
  its own compares with the stored tickets, so it finds the changes a ticket sync has not
  landed yet.

Canonical fields ConnectWise cannot supply are left empty and listed in
``docs/connectwise.md`` (SLA due times, revenue categories, project billable amounts).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from podium.datasource import DataSource, Page, Window
from podium.errors import ConnectionTestError, FatalError, RetriableError
from podium.http import Redactor, RestClient, RetryPolicy, SourceContext, link_url
from podium.vendor_mapping import iso_z

from . import history, mapping
from .embed import ManageHostedApi
from .schema import ConnectWiseConfigSchema
from .webhooks import ConnectWiseCallbacks

log = logging.getLogger(__name__)

API_ROOT = "apis/3.0/"
MAX_PAGE_SIZE = 1000
FORWARD_ONLY = {"pagination-type": "forward-only"}
TICKET_STREAMS = ("service/tickets", "project/tickets")
PROJECT_STREAM = "project/tickets"
AUDIT_TYPES = {"service/tickets": "Ticket", "project/tickets": "ProjectTicket"}
"""``system/audittrail?type=`` per ticket kind ("ProjectTicket" is [UNCONFIRMED] for real ConnectWise)."""
EVENT_TICKET_FIELDS = "id,board,status,team,owner,closedFlag,dateResolved,_info"
CONCURRENT_REQUESTS = 4
"""Per-record requests of one page (audit trails, additions, payments) sent at once: each is
small, so a first sync mostly waits on round trips; four keeps the load on a vendor modest."""
RECORD_MEMORY = 250_000
"""Most per-record answers one connector instance keeps for the next entity to reuse (a
parsed audit trail takes ~0.8 KB: at most ~200 MB, reached only by a first sync of a large
account); past it, answers are still fetched, just not kept."""
STREAMS: dict[str, tuple[str, ...]] = {
    "identity": ("system/members",),
    "client": ("company/companies",),
    "project": ("project/projects",),
    "ticket": TICKET_STREAMS,
    "ticket_event": TICKET_STREAMS,
    "time_entry": ("time/entries",),
    "agreement": ("finance/agreements",),
    "invoice": ("finance/invoices",),
    "payment": ("finance/invoices",),
}
"""The list endpoints each entity is read from, in order (surveys: one stream per survey)."""
VersionKey = tuple[str, int, str | None]
"""One version of a record: (what it is, its id, its ``lastUpdated``); its audit trail or
payments cannot change without ``lastUpdated`` moving."""
UI_RECORDS = {
    "ticket": "services/system_io/Service/fv_sr100_request.rails?service_recid={id}&companyName={company}",
    "client": "services/system_io/router/openrecord.rails?locale=en_US&companyName={company}"
              "&recordType=CompanyFV&recid={id}",
    "project": "services/system_io/router/openrecord.rails?locale=en_US&companyName={company}"
               "&recordType=ProjectHeaderFV&recid={id}",
}
"""ConnectWise UI links (from working third-party integrations, not official docs: see docs/connectwise.md)."""


class ConnectWiseApi:
    """ConnectWise's REST API for one connection: codebase discovery, auth, the two paging modes.

    ``calls`` counts the requests made (a page reports how many it cost).
    """

    def __init__(self, config: Mapping[str, Any], context: SourceContext) -> None:
        self.config = config
        self.context = context
        self.site = config["site"]
        self.calls = 0
        self._codebase: str | None = config.get("codebase")
        self._calls_lock = threading.Lock()

    def count_call(self) -> None:
        """One more request (pages report what they cost); audit trails are fetched from threads."""
        with self._calls_lock:
            self.calls += 1

    @property
    def page_size(self) -> int:
        """The engine's batch size, within ConnectWise's 1..1000."""
        return max(1, min(MAX_PAGE_SIZE, int(self.context.page_size)))

    @property
    def headers(self) -> dict[str, str]:
        return {"clientId": self.config["client_id"], "Accept": "application/json"}

    @property
    def auth(self) -> tuple[str, str]:
        return f"{self.config['company_id']}+{self.config['public_key']}", self.config["private_key"]

    @cached_property
    def navigable(self) -> RestClient:
        """The site's client (paths below carry the codebase), paging by page number."""
        return self.context.rest_client(
            self.site, auth=self.auth, headers=self.headers, allow_http=self.config["allow_http"]
        )

    @cached_property
    def forward(self) -> RestClient:
        """The same, sending ``pagination-type: forward-only``."""
        return self.context.rest_client(
            self.site, auth=self.auth, headers=self.headers | FORWARD_ONLY, allow_http=self.config["allow_http"]
        )

    def company_info(self) -> dict[str, Any]:
        """``/login/companyinfo/{companyId}``; a FatalError says the company id is unknown there.

        The endpoint needs no credentials; it is asked through the site's one client all the
        same (the same host the API calls go to), which saves a connection per sync.
        """
        company = self.config["company_id"]
        path = f"/login/companyinfo/{quote(company, safe='')}"
        self.count_call()
        body = self.navigable.get_json(path, missing_ok=True)
        if not isinstance(body, dict) or not body.get("Codebase"):
            raise FatalError(
                f"{self.context.label}: {self.site} does not know the company id {company!r} "
                f"(codebase discovery at {path} found nothing); use the company id of the ConnectWise login screen"
            )
        return body

    @property
    def codebase(self) -> str:
        if self._codebase is None:
            self._codebase = str(self.company_info()["Codebase"]).strip("/") + "/"
        return self._codebase

    def url(self, path: str) -> str:
        """``path`` under ``/{codebase}apis/3.0/`` (absolute URLs, e.g. ``Link`` targets, pass through)."""
        return path if "://" in path else f"/{self.codebase}{API_ROOT}{path}"

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """One record (None when ConnectWise answers 404: it no longer exists)."""
        self.count_call()
        return self.navigable.get_json(self.url(path), params, missing_ok=True)

    def probe(self) -> None:
        """One authenticated one-row request: proves the keys, the client id and the role."""
        self.count_call()
        self.navigable.get_json(self.url("system/members"), {"pageSize": 1, "fields": "id,identifier"})

    def keyset(
        self,
        path: str,
        *,
        page_size: int | None = None,
        conditions: str | None = None,
        fields: str | None = None,
        after_id: int | None = None,
    ) -> Iterator[tuple[list[dict[str, Any]], int | None]]:
        """Forward-only pages of ``path`` after ``after_id``: (rows, last id, or None on the last page)."""
        page_size = page_size or self.page_size
        params: dict[str, Any] = {"pageSize": page_size}
        if conditions:
            params["conditions"] = conditions
        if fields:
            params["fields"] = fields
        while True:
            if after_id is not None:
                params["pageId"] = after_id
            self.count_call()
            rows = self.forward.get_json(self.url(path), params)
            if not isinstance(rows, list):
                raise FatalError(f"{self.context.label}: GET {path} did not answer a list")
            more = len(rows) == page_size
            after_id = rows[-1]["id"] if rows else after_id
            yield rows, after_id if more else None
            if not more:
                return

    def every(
        self, path: str, params: Mapping[str, Any] | None = None, *, order_by: str | None = "id asc"
    ) -> Iterator[dict[str, Any]]:
        """Every row of a (small) list, navigably, following ``Link: rel="next"``.

        Ordered by ``order_by`` (the audit trail has no ids and keeps its own order: pass None).
        """
        url: str | None = self.url(path)
        query: dict[str, Any] | None = {"pageSize": self.page_size, **(params or {})}
        if order_by:
            query["orderBy"] = order_by
        while url is not None:
            self.count_call()
            response = self.navigable.request("GET", url, params=query)
            rows = self.navigable.json_of(response)
            if not isinstance(rows, list):
                raise FatalError(f"{self.context.label}: GET {path} did not answer a list")
            yield from rows
            url, query = link_url(response), None

    def server_time(self) -> dt.datetime | None:
        """ConnectWise's clock, from the ``Date`` header of a one-row request."""
        self.count_call()
        response = self.navigable.request("GET", self.url("system/members"), params={"pageSize": 1, "fields": "id"})
        header = response.headers.get("Date")
        return email.utils.parsedate_to_datetime(header).astimezone(dt.UTC) if header else None


@dataclass(frozen=True)
class Lookups:
    """Setup tables a sync needs, fetched once per run when first used."""

    statuses: list[dict[str, Any]]
    boards: list[dict[str, Any]]
    teams: list[dict[str, Any]]


class ConnectWiseManage(DataSource):
    """ConnectWise Manage (PSA): members, companies, tickets and their history, time,
    surveys, agreements, invoices, payments and projects."""

    key = "connectwise"
    label = "ConnectWise Manage (PSA)"
    config_schema = ConnectWiseConfigSchema
    webhooks = ConnectWiseCallbacks
    embed = ManageHostedApi
    capabilities: ClassVar[Mapping[str, frozenset[str]]] = {
        "identity": frozenset({"vendor_key", "email", "display_name", "is_person", "raw"}),
        "client": frozenset({"name", "is_internal", "active"}),
        "project": frozenset({"name", "client_external_id", "manager_external_id", "status", "estimated_end",
                              "actual_end", "budget_hours", "actual_hours", "vendor_updated_at"}),
        "ticket": frozenset({
            "number", "summary", "client_external_id", "contact_external_id", "board", "type", "subtype", "item",
            "priority", "impact", "source", "status", "status_category", "closed", "created_at", "first_response_at",
            "resolved_at", "closed_at", "sla_response_met", "sla_resolution_met", "sla_source", "owner_external_id",
            "resolved_by_external_id", "tier", "parent_external_id", "merged", "is_project", "vendor_updated_at",
        }),
        "ticket_event": frozenset({"ticket_external_id", "kind", "at", "actor_external_id", "from_value",
                                   "to_value", "source"}),
        "time_entry": frozenset({"identity_external_id", "ticket_external_id", "project_external_id", "work_type",
                                 "start_at", "end_at", "hours", "billable", "billed_hours", "entered_at", "rejected",
                                 "notes", "vendor_updated_at"}),
        "survey": frozenset({"ticket_external_id", "identity_external_id", "score", "scale_min", "scale_max",
                             "positive", "submitted_at", "vendor_updated_at"}),
        "agreement": frozenset({"client_external_id", "name", "agreement_type", "monthly_price_minor",
                                "monthly_cost_minor", "currency", "effective_from", "effective_to", "cancelled_at",
                                "vendor_updated_at"}),
        "invoice": frozenset({"client_external_id", "number", "invoice_date", "due_date", "total_minor",
                              "balance_minor", "currency", "paid_at", "vendor_updated_at"}),
        "payment": frozenset({"invoice_external_id", "paid_at", "amount_minor", "currency"}),
    }
    incremental = frozenset(
        {"identity", "client", "project", "ticket", "ticket_event", "time_entry", "survey", "invoice", "payment"}
    )
    """Agreements are read whole every time: an addition can change without touching its agreement."""

    def __init__(self, config: Mapping[str, Any], context: SourceContext | None = None) -> None:
        super().__init__(config, context)
        if self.context is None:
            # The API's "test connection" opens a connector without a sync context; an admin
            # is waiting for the answer, so a dead site is reported after one retry.
            self.context = SourceContext(
                label="ConnectWise connection", budget=None, retry=RetryPolicy(max_attempts=2, max_wait=10.0),
                redactor=Redactor([self.config["private_key"]]), page_size=200,
            )
        self.api = ConnectWiseApi(self.config, self.context)
        self._audit_left: int | None = self.config.get("audit_requests_per_sync")
        self._memory: dict[VersionKey, Any] = {}
        """Per-record answers by record version, reused across the entities of one sync."""

    # -- connection test -----------------------------------------------------------------

    def test_connection(self) -> str:
        """Discover the codebase and read one member; each failure names what to fix."""
        site = self.config["site"]
        if urlsplit(site).scheme == "http" and not self.config.get("allow_http"):
            raise ConnectionTestError(
                f"{site} is plain http, which would send the API keys unencrypted; use https:// "
                "(allow_http is only for a local simulator)"
            )
        try:
            company = self.api.company_info() if self.config.get("codebase") is None else None
        except RetriableError as exc:
            raise ConnectionTestError(f"cannot reach {site}: {exc}") from None
        except FatalError as exc:
            if exc.status is None or exc.status == 404:
                raise ConnectionTestError(str(exc)) from None
            raise ConnectionTestError(f"{site} did not answer codebase discovery: {exc}") from None
        try:
            self.api.probe()
        except RetriableError as exc:
            raise ConnectionTestError(f"cannot reach the ConnectWise API at {site}: {exc}") from None
        except FatalError as exc:
            raise ConnectionTestError(self._refusal(exc)) from None
        name = (company or {}).get("CompanyName") or self.config["company_id"]
        version = (company or {}).get("VersionCode")
        suffix = f", version {version}" if version else ""
        return f"connected to ConnectWise {name!r} at {site} (codebase {self.api.codebase}{suffix})"

    def _refusal(self, exc: FatalError) -> str:
        text = str(exc)
        if exc.status == 401 and "clientid" in text.lower():
            return (f"ConnectWise refused the client id: {text} — give the clientId GUID registered for this "
                    "integration at developer.connectwise.com")
        if exc.status == 401:
            return (f"ConnectWise refused the API keys: {text} — check the company id and the API member's "
                    "public and private key (a key pair may have been revoked)")
        if exc.status == 403:
            return f"the API member's security role may not read members: {text}"
        if exc.status == 404:
            return f"no ConnectWise API at codebase {self.api.codebase!r}: {text} — clear the codebase to discover it"
        return text

    # -- the vendor's clock ---------------------------------------------------------------

    def server_time(self) -> dt.datetime:
        return self.api.server_time() or super().server_time()

    # -- fetching --------------------------------------------------------------------------

    def fetch(self, entity: str, window: Window, cursor: dict[str, Any] | None) -> Iterator[Page]:
        self._audit_left = self.config.get("audit_requests_per_sync")  # the cap is per entity sync
        translate = self._translator(entity)
        conditions = window_conditions(window, incremental=entity in self.incremental)
        streams = self._streams(entity)
        first = _resume_index(streams, cursor)
        for index in range(first, len(streams)):
            path = streams[index]
            after = cursor.get("after_id") if cursor and index == first else None
            calls = self.api.calls
            for rows, last in self.api.keyset(
                path, conditions=conditions, fields=self._fields(entity), after_id=after
            ):
                records = translate(path, rows)
                if last is not None:
                    next_cursor: dict[str, Any] | None = {"stream": path, "after_id": last}
                elif index + 1 < len(streams):
                    next_cursor = {"stream": streams[index + 1], "after_id": None}
                else:
                    next_cursor = None
                yield Page(records, next_cursor, requests=self.api.calls - calls)
                calls = self.api.calls

    def _streams(self, entity: str) -> tuple[str, ...]:
        if entity == "survey":
            return tuple(f"service/surveys/{survey['id']}/results" for survey in self._surveys)
        if entity not in STREAMS:
            raise FatalError(f"{self.context.label}: the ConnectWise connector does not supply {entity!r}")
        return STREAMS[entity]

    @staticmethod
    def _fields(entity: str) -> str | None:
        return EVENT_TICKET_FIELDS if entity == "ticket_event" else None

    def _translator(self, entity: str) -> Callable[[str, list[dict[str, Any]]], list[dict[str, Any]]]:
        simple: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "identity": mapping.identity,
            "client": lambda row: mapping.client(row, company_id=self.config["company_id"]),
            "project": mapping.project,
            "time_entry": mapping.time_entry,
        }
        if entity in simple:
            convert = simple[entity]
            return lambda _path, rows: [convert(row) for row in rows]
        return {
            "ticket": self._tickets,
            "ticket_event": self._ticket_events,
            "survey": self._survey_results,
            "agreement": self._agreements,
            "invoice": self._invoices,
            "payment": self._payments,
        }[entity]

    # -- tickets and their history ------------------------------------------------------------

    def _tickets(self, path: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        project = path == PROJECT_STREAM
        trails = self._trails_of(path, [row for row in rows if row.get("dateResolved")])
        records = [
            mapping.ticket(row, self._ticket_context, project=project,
                           resolved_by=self._resolver(path, row, trails.get(self._trail_key(path, row))))
            for row in rows
        ]
        self._keep_stored_states(path, rows, records)
        return records

    def _keep_stored_states(self, path: str, rows: list[dict[str, Any]], records: list[dict[str, Any]]) -> None:
        """Before a page of tickets lands, keep what Podium stored of each ticket whose status,
        owner or tier it changes — when an audit cap is set, for this sync's ticket-event scan:
        by then the stored ticket is the new one, and a snapshot difference would find nothing."""
        stored_records = self.context.stored_records
        if stored_records is None or self.config.get("audit_requests_per_sync") is None:
            return
        stored = stored_records("ticket", [record["external_id"] for record in records])
        for row, record in zip(rows, records, strict=True):
            before = stored.get(record["external_id"])
            if before is not None and history.ticket_state(before) != history.ticket_state(record):
                self._remember(self._stored_key(path, row), before)

    @staticmethod
    def _stored_key(path: str, ticket: Mapping[str, Any]) -> VersionKey:
        return f"stored {path}", ticket["id"], mapping.info(ticket, "lastUpdated")

    def _resolver(self, path: str, row: Mapping[str, Any], trail: list[history.AuditChange] | None) -> str | None:
        """Who resolved a resolved or closed ticket: its audit trail says; past the audit cap,
        ``closedBy`` when that member is a technician."""
        if not row.get("dateResolved"):
            return None
        if trail is None:
            return self._members.technician(row.get("closedBy"))
        return history.replay(row, trail, self._history_rules, project=path == PROJECT_STREAM).resolver

    def _ticket_events(self, path: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        project = path == PROJECT_STREAM
        events: list[dict[str, Any]] = []
        pending: list[dict[str, Any]] = []
        trails = self._trails_of(path, rows)
        for row in rows:
            trail = trails[self._trail_key(path, row)]
            if trail is None:
                pending.append(row)
            else:
                events += history.replay(row, trail, self._history_rules, project=project).events
        stored_records = self.context.stored_records
        if pending and stored_records is None:
            log.warning("%s: %d changed ticket(s) get no events: past the audit-trail cap and no stored tickets "
                        "to compare with", self.context.label, len(pending))
        elif pending:
            kept = {str(row["id"]): self._memory.get(self._stored_key(path, row)) for row in pending}
            stored = stored_records("ticket", [ticket_id for ticket_id, before in kept.items() if before is None])
            for row in pending:
                fetched = mapping.ticket(row, self._ticket_context, project=project)
                before = kept[str(row["id"])] or stored.get(str(row["id"]))
                events += history.snapshot_events(
                    before, fetched, history.updated_by(row, self._members), self._members
                )
        return events

    @staticmethod
    def _trail_key(path: str, ticket: Mapping[str, Any]) -> VersionKey:
        return path, ticket["id"], mapping.info(ticket, "lastUpdated")

    def _trails_of(
        self, path: str, tickets: Iterable[Mapping[str, Any]]
    ) -> dict[VersionKey, list[history.AuditChange] | None]:
        """The parsed audit trails of ``tickets`` by :meth:`_trail_key`, fetched while this
        entity sync's audit cap allows (None past it)."""
        found, fetched = self._versions(
            [self._trail_key(path, ticket) for ticket in tickets],
            lambda key: self._fetch_trail(path, key[1]),
            limit=self._audit_left,
        )
        if self._audit_left is not None:
            self._audit_left -= fetched
        return found

    def _versions(
        self, keys: Iterable[VersionKey], fetch: Callable[[VersionKey], Any], *, limit: int | None = None
    ) -> tuple[dict[VersionKey, Any], int]:
        """Per-record answers for ``keys``: those this instance remembers, the rest (at most
        ``limit`` of them; None for the others) fetched :data:`CONCURRENT_REQUESTS` at a time.
        Returns the answers and how many were fetched."""
        found = {key: self._memory.get(key) for key in keys}
        missing = [key for key, value in found.items() if value is None]
        if limit is not None:
            missing = missing[: max(0, limit)]
        for key, value in zip(missing, self._each(fetch, missing), strict=True):
            found[key] = value
            self._remember(key, value)
        return found, len(missing)

    def _remember(self, key: VersionKey, value: Any) -> None:
        if len(self._memory) < RECORD_MEMORY:
            self._memory[key] = value

    @staticmethod
    def _each(fetch: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        """``fetch(item)`` for every item, in order, :data:`CONCURRENT_REQUESTS` at a time (each
        request still takes its permit from the request budget and retries on its own)."""
        if len(items) < 2:
            return [fetch(item) for item in items]
        pool = ThreadPoolExecutor(CONCURRENT_REQUESTS, thread_name_prefix="cw-fetch")
        try:
            return list(pool.map(fetch, items))
        finally:
            pool.shutdown(cancel_futures=True)  # after a failure, send none of the requests not begun

    def _fetch_trail(self, path: str, ticket_id: int) -> list[history.AuditChange]:
        entries = self.api.every("system/audittrail", {"type": AUDIT_TYPES[path], "id": ticket_id}, order_by=None)
        return history.parse_trail(entries)

    # -- surveys ------------------------------------------------------------------------------

    def _survey_results(self, path: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        survey_id = int(path.split("/")[2])
        scale = self._survey_scales.get(survey_id)
        if scale is None:
            raise FatalError(
                f"{self.context.label}: survey {survey_id} has no Selection question with points, so its "
                "results have no scale"
            )
        tickets = self._tickets_by_id({str(row["ticketId"]) for row in rows if row.get("ticketId")})
        trails: dict[VersionKey, list[history.AuditChange] | None] = {}
        if self.config["survey_attribution"] == "resolver":
            for stream in TICKET_STREAMS:
                trails |= self._trails_of(stream, [ticket for where, ticket in tickets.values() if where == stream])
        return [
            mapping.survey(row, scale, self._attribute(tickets.get(str(row.get("ticketId"))), trails),
                           self.config["survey_positive_share"])
            for row in rows
        ]

    def _attribute(
        self, found: tuple[str, dict[str, Any]] | None, trails: Mapping[VersionKey, list[history.AuditChange] | None]
    ) -> str | None:
        """The identity a survey counts for, by the configured rule (``trails``: its ticket's, for ``resolver``)."""
        if found is None:
            return None
        path, ticket = found
        rule = self.config["survey_attribution"]
        if rule == "owner":
            return mapping.ref_id(ticket.get("owner"))
        if rule == "resolver":
            trail = trails.get(self._trail_key(path, ticket))
            if trail is not None:
                return history.replay(ticket, trail, self._history_rules, project=path == PROJECT_STREAM).resolver
        return self._members.technician(ticket.get("closedBy"))

    def _tickets_by_id(self, ids: set[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """The tickets with ``ids`` (service first, then project tickets), keyed by id."""
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        for path in TICKET_STREAMS:
            wanted = sorted(ids - set(found), key=int)
            for start in range(0, len(wanted), 200):
                chunk = wanted[start:start + 200]
                for row in self.api.every(path, {"conditions": f"id in ({','.join(chunk)})"}):
                    found[str(row["id"])] = (path, row)
        return found

    # -- money ------------------------------------------------------------------------------------

    def _agreements(self, _path: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        additions = self._each(lambda row: list(self.api.every(f"finance/agreements/{row['id']}/additions")), rows)
        return [
            mapping.agreement(row, row_additions, self.config["currency"])
            for row, row_additions in zip(rows, additions, strict=True)
        ]

    def _invoices(self, _path: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        payments = self._payments_of([row for row in rows if mapping.is_paid(row)])
        return [
            mapping.invoice(row, payments.get(self._payments_key(row)) or [], self.config["currency"])
            for row in rows
        ]

    def _payments(self, _path: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows = [row for row in rows if row.get("payments")]
        payments = self._payments_of(rows)
        records = []
        for row in rows:
            currency = mapping.currency_of(row, self.config["currency"])
            records += [mapping.payment(p, str(row["id"]), currency) for p in payments[self._payments_key(row)]]
        return records

    @staticmethod
    def _payments_key(invoice: Mapping[str, Any]) -> VersionKey:
        return "finance/invoices/payments", invoice["id"], mapping.info(invoice, "lastUpdated")

    def _payments_of(self, invoices: list[dict[str, Any]]) -> dict[VersionKey, list[dict[str, Any]]]:
        """The payments of each of ``invoices`` (the invoice and payment entities both need them)."""
        keys = [self._payments_key(invoice) for invoice in invoices]
        return self._versions(keys, lambda key: self._invoice_payments(key[1]))[0]

    def _invoice_payments(self, invoice_id: int) -> list[dict[str, Any]]:
        return list(self.api.every(f"finance/invoices/{invoice_id}/payments"))

    # -- setup tables (fetched once per run, when first needed) ---------------------------------

    @cached_property
    def _lookups(self) -> Lookups:
        boards = list(self.api.every("service/boards"))
        statuses, teams = [], []
        for board in boards:
            statuses += self.api.every(f"service/boards/{board['id']}/statuses")
            teams += self.api.every(f"service/boards/{board['id']}/teams")
        return Lookups(statuses=statuses, boards=boards, teams=teams)

    @cached_property
    def _members(self) -> mapping.MemberBook:
        return mapping.MemberBook.build(
            self.api.every("system/members", {"fields": "id,identifier,licenseClass,type"})
        )

    @cached_property
    def _tiers(self) -> mapping.Tiers:
        return mapping.Tiers(teams=self.config["tier_teams"], boards=self.config["tier_boards"])

    @cached_property
    def _ticket_context(self) -> mapping.TicketContext:
        slas = list(self.api.every("service/SLAs", {"fields": "id"}))
        targets: list[dict[str, Any]] = []
        for sla in slas:
            targets += self.api.every(f"service/SLAs/{sla['id']}/priorities")
        return mapping.TicketContext(
            statuses=mapping.StatusBook.build(self._lookups.statuses),
            impacts=mapping.priority_impacts(self.api.every("service/priorities")),
            slas=mapping.sla_targets(targets),
            tiers=self._tiers,
        )

    @cached_property
    def _history_rules(self) -> history.HistoryRules:
        return history.HistoryRules(
            statuses=mapping.StatusBook.build(self._lookups.statuses), members=self._members, tiers=self._tiers
        )

    @cached_property
    def _surveys(self) -> list[dict[str, Any]]:
        return list(self.api.every("service/surveys"))

    @cached_property
    def _survey_scales(self) -> dict[int, tuple[float, float] | None]:
        return {
            survey["id"]: mapping.survey_scale(self.api.every(f"service/surveys/{survey['id']}/questions"))
            for survey in self._surveys
        }

    # -- one record, all ids, links -------------------------------------------------------------

    def fetch_one(self, entity: str, external_id: str) -> dict[str, Any] | None:
        """One record by id (callbacks); None when ConnectWise no longer has it."""
        if not external_id.isdigit():
            return None
        if entity in ("identity", "client", "project", "time_entry", "agreement", "invoice"):
            row = self.api.get(f"{STREAMS[entity][0]}/{external_id}")
            return None if row is None else self._translator(entity)(STREAMS[entity][0], [row])[0]
        if entity == "ticket":
            for path in TICKET_STREAMS:
                row = self.api.get(f"{path}/{external_id}")
                if row is not None:
                    return self._tickets(path, [row])[0]
            return None
        if entity == "survey":
            for survey in self._surveys:
                path = f"service/surveys/{survey['id']}/results"
                row = self.api.get(f"{path}/{external_id}")
                if row is not None:
                    return self._survey_results(path, [row])[0]
            return None
        raise FatalError(
            f"{self.context.label}: ConnectWise {entity} records cannot be fetched one by one "
            "(payments come with their invoice, ticket events with their ticket)"
        )

    def list_ids(self, entity: str) -> Iterator[str]:
        """Every id ConnectWise still has (forward-only paging of ``fields=id``), for deletions."""
        if entity == "ticket_event":
            raise FatalError(f"{self.context.label}: ticket events have no ConnectWise ids to reconcile")
        if entity == "payment":
            for _last, invoices in self._pages("finance/invoices", "id,payments"):
                for invoice in invoices:
                    if invoice.get("payments"):
                        yield from (str(p["id"]) for p in self._invoice_payments(invoice["id"]))
            return
        for path in self._streams(entity):
            for _last, rows in self._pages(path, "id"):
                yield from (str(row["id"]) for row in rows)

    def _pages(self, path: str, fields: str) -> Iterator[tuple[int | None, list[dict[str, Any]]]]:
        for rows, last in self.api.keyset(path, page_size=MAX_PAGE_SIZE, fields=fields):
            yield last, rows

    def record_url(self, entity: str, external_id: str) -> str | None:
        """The record in ConnectWise's web UI (tickets, companies, projects); the UI host is the
        API host without its ``api-`` prefix."""
        pattern = UI_RECORDS.get(entity)
        if pattern is None or not external_id.isdigit():
            return None
        parts = urlsplit(self.config["site"])
        host = parts.netloc.removeprefix("api-")
        company = quote(self.config["company_id"], safe="")
        return f"{parts.scheme}://{host}/{self.api.codebase}" + pattern.format(id=external_id, company=company)

    # -- suggestions for Podium's org data ---------------------------------------------------------

    def suggestions(
        self, connection: str | None = None, *, time_zone: str = "UTC", today: dt.date | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """Org data and mappings ConnectWise suggests, as unconfirmed rows of :mod:`podium.org.csvio`
        kinds (``mappings``, ``teams``, ``memberships``, ``calendars``, ``holidays``).

        Podium owns this data: an admin reviews the rows (``confirmed`` false) and imports
        them; board teams are current-only, so memberships start ``today``. ConnectWise
        calendars carry no zone: they are suggested in ``time_zone`` (the tenant's).
        """
        lookups = self._lookups
        members = list(self.api.every("system/members", {"fields": "id,primaryEmail,officeEmail,calendar"}))
        emails = {str(m["id"]): m.get("primaryEmail") or m.get("officeEmail") for m in members}
        agreement_types = {mapping.ref_name(a.get("type")) for a in self.api.every("finance/agreements",
                                                                                   {"fields": "id,type"})}
        calendars = list(self.api.every("schedule/calendars"))
        holiday_lists = list(self.api.every("schedule/holidayLists"))
        holidays = []
        for holiday_list in holiday_lists:
            named = [c["name"] for c in calendars
                     if mapping.ref_id(c.get("holidayList")) == str(holiday_list["id"])] or [holiday_list["name"]]
            items = list(self.api.every(f"schedule/holidayLists/{holiday_list['id']}/holidays"))
            for calendar in named:
                holidays += mapping.holiday_rows(calendar, items)
        return {
            "mappings": mapping.mapping_rows(
                connection, lookups.boards, lookups.statuses, self.api.every("time/workTypes"),
                sorted(name for name in agreement_types if name),
            ),
            "teams": mapping.team_rows(lookups.teams),
            "memberships": mapping.membership_rows(
                lookups.teams, {k: v for k, v in emails.items() if v}, today or dt.date.today()
            ),
            "calendars": mapping.calendar_rows(
                calendars, self.api.every("service/SLAs", {"fields": "id,customCalendar"}), members,
                time_zone=time_zone,
            ),
            "holidays": holidays,
        }


def window_conditions(window: Window, *, incremental: bool) -> str:
    """``lastUpdated>=[start] and lastUpdated<[end]`` (whole seconds, the start left out when full)."""
    end = f"lastUpdated<[{iso_z(window.end)}]"
    if not incremental or window.start is None:
        return end
    return f"lastUpdated>=[{iso_z(window.start)}] and {end}"


def _resume_index(streams: Iterable[str], cursor: Mapping[str, Any] | None) -> int:
    """Where a cursor resumes: its stream's position (a stream that vanished restarts the window)."""
    streams = list(streams)
    if not cursor or cursor.get("stream") not in streams:
        return 0
    return streams.index(cursor["stream"])
