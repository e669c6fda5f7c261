"""The sync engine: drives a connector entity by entity, window by window, page by page.

Written once for every vendor (design §1), so each connector only says how to fetch:

* **Windows.** An incremental entity is scanned over ``Window(start, end)`` where ``end``
  is the vendor's clock when the scan began and ``start`` is the watermark minus
  ``config.sync_overlap_seconds`` (None for a first or ``--full`` sync). Entities the
  connector cannot filter by time are fetched whole every time.
* **Watermark.** ``SyncState.watermark`` stores the *scan start* (the window's ``end``) of
  the last window scanned completely; the overlap is subtracted when the next window is
  built, so changing the overlap setting applies at once. It moves only when a whole
  window is done: paging orders shift while records change, so a watermark moved per
  page would skip records that changed mid-scan.
* **Resume.** Each page lands in one transaction together with its resume cursor (and a
  renewal of the lease), so after a crash the window resumes after the last committed
  page: nothing lost, and — upserts being idempotent on (connection, external id) —
  nothing duplicated.
* **Records.** Each is validated with its canonical schema; failures are quarantined
  with their field errors while the rest of the batch lands. References are resolved
  from external ids to row ids within the connection; a record whose reference has not
  arrived yet waits in ``pending_records`` and lands when it has.
* **Errors.** Retriable errors were already retried by :mod:`podium.http`; one that still
  fails ends the run "failed" with the cursor kept. A fatal error stops the entity
  ("stopped") with a message naming the connection; the next entity goes on.
* **One at a time.** A lease (:mod:`podium.locks`) guards each (connection, entity),
  whoever starts the sync; a second one waits for the first.
* **One connector per connection sync.** :func:`sync_connection` opens the connector once
  and syncs every entity with it, so what a connector reads once per instance (setup
  tables, a ticket's audit trail needed by two entities) is not read again per entity.
* **Deletions.** Windows only see records that still exist; :func:`reconcile_ids` (run
  nightly by the scheduler) lists every id the vendor still has and deletes the rest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from dataclasses import dataclass, field
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from tqdm import tqdm

from podium.budget import RequestBudget
from podium.connections import open_source, source_class
from podium.datasource import DataSource, Window
from podium.db import batched, upsert
from podium.errors import FatalError, RetriableError
from podium.http import Redactor, RetryPolicy, SourceContext
from podium.locks import LeaseLock, LockLost
from podium.models import Connection, PendingRecord, QuarantinedRecord, SyncRun, SyncState, utcnow
from podium.models.connections import RUN_TRIGGERS
from podium.runtime import Podium
from podium.schemas.canonical import CANONICAL_SCHEMAS, ENTITY_MODELS, REFERENCES, UPSERT_KEYS
from podium.stored_records import StoredRecords

log = logging.getLogger(__name__)

LOCK_WAIT_SECONDS = 1800.0
"""How long a sync waits for another sync of the same entity to finish before giving up."""

KEY_LENGTH = 200
"""Longest record key stored in quarantine and pending rows (their column width)."""

ANALYZE_AFTER_ROWS = 1000
"""A run that upserts at least this many rows refreshes its table's planner statistics."""
RECONCILE_RUN_SUFFIX = ":reconcile"
"""``sync_runs.entity`` of a reconciliation is the entity with this suffix: the scheduler
reads when each entity was last scanned and last reconciled from the same table, and a
nightly reconciliation must not count as a scan (nor a scan as a reconciliation)."""

LEASE_RENEW_IDS = 20_000
"""While listing ids, the lease is renewed after every this many (a few vendor pages)."""


@dataclass
class SyncResult:
    """What one run of one entity did; also recorded as a ``SyncRun`` row (``run_id``).

    ``status`` is ``succeeded``, ``failed`` (retriable: run again, it resumes) or
    ``stopped`` (fatal: fix the connection first; ``error`` says what is wrong).
    """

    connection_id: int
    entity: str
    trigger: str
    status: str = "running"
    run_id: int | None = None
    fetched: int = 0
    upserted: int = 0
    quarantined: int = 0
    deferred: int = 0
    deleted: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"


# --- connection helpers ---------------------------------------------------------------


def connection_label(connection: Connection) -> str:
    """How every message names a connection: by name and id, never by its secrets."""
    return f"connection {connection.name!r} (id {connection.id})"


def source_context(podium: Podium, connection: Connection) -> SourceContext:
    """The :class:`SourceContext` a connector of ``connection`` is opened with."""
    config = podium.secrets.decrypt(connection.config_encrypted)
    try:
        secret_fields = source_class(podium, connection.vendor).secret_fields()
    except KeyError:
        secret_fields = frozenset(config)
    budget = RequestBudget.for_connection(
        podium.db,
        podium.config.redis_url,
        connection.tenant_id,
        connection.id,
        podium.config.request_budget_per_minute,
    )
    return SourceContext(
        label=connection_label(connection),
        budget=budget,
        retry=RetryPolicy.from_settings(podium.config.extra),
        redactor=Redactor(str(config[name]) for name in secret_fields if config.get(name) not in (None, "")),
        page_size=podium.config.sync_batch_size,
        stored_records=StoredRecords(podium.db, connection.tenant_id, connection.id),
    )


def _connection(podium: Podium, tenant_id: int, connection_id: int) -> Connection:
    with podium.db.session(tenant_id) as session:
        connection = session.get(Connection, connection_id)
        if connection is None or connection.tenant_id != tenant_id:
            raise LookupError(f"tenant {tenant_id} has no connection with id {connection_id}")
        return connection


# --- record keys ----------------------------------------------------------------------


@cache
def _key_fields(entity: str) -> tuple[str, ...]:
    """Schema fields that identify a record: ``external_id``, or the upsert key's sources."""
    if "external_id" in CANONICAL_SCHEMAS[entity]().fields:
        return ("external_id",)
    by_column = {column: name for name, (_target, column) in REFERENCES[entity].items()}
    return tuple(by_column.get(column, column) for column in UPSERT_KEYS[entity] if column != "connection_id")


def _key_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)


def record_key(entity: str, record: Mapping[str, Any]) -> str:
    """The id a record is known by in quarantine, pending rows and change notifications.

    The vendor's external id where the entity has one; for entities without one (ticket
    events, endpoint days) the fields of its unique key joined with ``|``. ``record`` is a
    validated record; for raw ones use :func:`raw_key`.
    """
    return "|".join(_key_text(record[name]) for name in _key_fields(entity))[:KEY_LENGTH]


def raw_key(entity: str, raw: Any) -> str:
    """The key of a record that failed validation, as it would be had it passed.

    Key fields are deserialised one by one, so a record quarantined for a bad ``hours``
    still gets its real id (and is resolved when a valid version arrives). Without a
    readable key, a hash of the payload keeps one quarantine row per distinct bad payload.
    """
    schema = CANONICAL_SCHEMAS[entity]()
    try:
        values = [schema.fields[name].deserialize(raw[name], name, raw) for name in _key_fields(entity)]
        if all(value is not None for value in values):
            return "|".join(_key_text(value) for value in values)[:KEY_LENGTH]
    except (KeyError, TypeError, ValidationError):
        pass
    digest = hashlib.sha256(json.dumps(_json_safe(raw), sort_keys=True).encode()).hexdigest()
    return f"no-id:{digest[:16]}"


def _json_safe(value: Any) -> Any:
    """A JSON-storable copy of a connector's raw record (datetimes become ISO text)."""
    return json.loads(json.dumps(value, default=_key_text))


# --- landing a batch ------------------------------------------------------------------


@dataclass
class Landed:
    """What :func:`land` did with one batch."""

    keys: list[str] = field(default_factory=list)
    """Keys of the records written to the entity's table."""
    quarantined: int = 0
    deferred: int = 0


def land(
    session: Session, tenant_id: int, connection_id: int, entity: str, records: Sequence[Any]
) -> Landed:
    """Validate ``records`` of ``entity`` and write them in the caller's transaction.

    Invalid records are quarantined, records waiting for a reference are parked in
    ``pending_records``, and the rest are upserted with references resolved to row ids.
    Landing a record resolves its quarantine entry and drops a stale pending version.
    """
    schema = CANONICAL_SCHEMAS[entity]()
    refs = REFERENCES[entity]
    model = ENTITY_MODELS[entity]
    columns = model.__table__.c
    now = utcnow()
    landed = Landed()
    valid: list[dict[str, Any]] = []
    for raw in records:
        try:
            valid.append(schema.load(raw))
        except ValidationError as exc:
            _quarantine(session, tenant_id, connection_id, entity, raw, exc.normalized_messages(), now)
            landed.quarantined += 1
    row_ids = _resolve(session, connection_id, entity, valid)
    rows: dict[str, dict[str, Any]] = {}
    for record in valid:
        key = record_key(entity, record)
        missing = [
            {"entity": target, "external_id": record[name]}
            for name, (target, _column) in refs.items()
            if record.get(name) is not None and (target, record[name]) not in row_ids
        ]
        if missing:
            _defer(session, tenant_id, connection_id, entity, key, schema.dump(record), missing)
            landed.deferred += 1
            continue
        row = {name: value for name, value in record.items() if name not in refs}
        for name, (target, column) in refs.items():
            row[column] = None if record.get(name) is None else row_ids[(target, record[name])]
        row["tenant_id"] = tenant_id
        if "connection_id" in columns:
            row["connection_id"] = connection_id
        if "synced_at" in columns:
            row["synced_at"] = now
        rows[key] = row  # a record repeated in one batch lands once, as its last version
    upsert(session, model, list(rows.values()), conflict=UPSERT_KEYS[entity])
    landed.keys = list(rows)
    _settle(session, connection_id, entity, landed.keys, now)
    return landed


def _resolve(
    session: Session, connection_id: int, entity: str, records: Iterable[Mapping[str, Any]]
) -> dict[tuple[str, str], int]:
    """Row ids of the referenced records that exist: ``{(entity, external id): id}``."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for name, (target, _column) in REFERENCES[entity].items():
        wanted[target].update(record[name] for record in records if record.get(name) is not None)
    found: dict[tuple[str, str], int] = {}
    for target, external_ids in wanted.items():
        model = ENTITY_MODELS[target]
        for chunk in batched(sorted(external_ids), 500):
            rows = session.execute(
                select(model.external_id, model.id).where(
                    model.connection_id == connection_id, model.external_id.in_(chunk)
                )
            )
            found.update(((target, external_id), row_id) for external_id, row_id in rows)
    return found


def _quarantine(
    session: Session,
    tenant_id: int,
    connection_id: int,
    entity: str,
    raw: Any,
    errors: Any,
    now: dt.datetime,
) -> None:
    """Keep a record that failed validation, once per (connection, entity, key)."""
    key = raw_key(entity, raw)
    # Only the holder of this (connection, entity) lease writes these rows: no race here.
    row = session.scalars(
        select(QuarantinedRecord).where(
            QuarantinedRecord.connection_id == connection_id,
            QuarantinedRecord.entity == entity,
            QuarantinedRecord.external_id == key,
        )
    ).one_or_none()
    if row is None:
        row = QuarantinedRecord(
            tenant_id=tenant_id, connection_id=connection_id, entity=entity, external_id=key,
            first_seen_at=now, attempts=0,
        )
        session.add(row)
    row.payload = _json_safe(raw)
    row.errors = errors
    row.last_seen_at = now
    row.attempts = (row.attempts or 0) + 1
    row.resolved_at = None
    log.warning("quarantined %s %s of connection %s: %s", entity, key, connection_id, errors)


def _defer(
    session: Session,
    tenant_id: int,
    connection_id: int,
    entity: str,
    key: str,
    payload: dict[str, Any],
    waiting_for: list[dict[str, str]],
) -> None:
    """Park a valid record until what it references has been synced."""
    row = session.scalars(
        select(PendingRecord).where(
            PendingRecord.connection_id == connection_id,
            PendingRecord.entity == entity,
            PendingRecord.external_id == key,
        )
    ).one_or_none()
    if row is None:
        session.add(
            PendingRecord(
                tenant_id=tenant_id, connection_id=connection_id, entity=entity, external_id=key,
                payload=payload, waiting_for=waiting_for, attempts=0,
            )
        )
        return
    row.payload = payload
    row.waiting_for = waiting_for
    row.attempts += 1


def _settle(session: Session, connection_id: int, entity: str, keys: Sequence[str], now: dt.datetime) -> None:
    """Records that landed (or were deleted) are no longer quarantined or pending."""
    for chunk in batched(list(keys), 500):
        session.execute(
            update(QuarantinedRecord)
            .where(
                QuarantinedRecord.connection_id == connection_id,
                QuarantinedRecord.entity == entity,
                QuarantinedRecord.external_id.in_(chunk),
                QuarantinedRecord.resolved_at.is_(None),
            )
            .values(resolved_at=now)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            delete(PendingRecord)
            .where(
                PendingRecord.connection_id == connection_id,
                PendingRecord.entity == entity,
                PendingRecord.external_id.in_(chunk),
            )
            .execution_options(synchronize_session=False)
        )


def _delete(session: Session, connection_id: int, entity: str, external_ids: Sequence[str]) -> None:
    """Remove records the vendor says no longer exist."""
    model = ENTITY_MODELS[entity]
    for chunk in batched(list(external_ids), 500):
        session.execute(
            delete(model)
            .where(model.connection_id == connection_id, model.external_id.in_(chunk))
            .execution_options(synchronize_session=False)
        )
    _settle(session, connection_id, entity, external_ids, utcnow())


# --- runs -----------------------------------------------------------------------------


class _Connector:
    """A connection's connector and its :class:`SourceContext`, opened on first use.

    A run opens its own; :func:`sync_connection` shares one between its entity runs and
    closes it (its HTTP clients) when the last entity is done.
    """

    def __init__(self, podium: Podium, connection: Connection) -> None:
        self.podium = podium
        self.connection = connection
        self.context = source_context(podium, connection)
        self._source: DataSource | None = None

    def source(self, entity: str) -> DataSource:
        """The connector, checked to supply ``entity``; a FatalError says why not."""
        label = connection_label(self.connection)
        if self._source is None:
            try:
                source_class(self.podium, self.connection.vendor)
            except KeyError as exc:
                raise FatalError(f"{label}: its connector is not available: {exc.args[0]}") from None
            self._source = open_source(self.podium, self.connection, self.context)
        if entity not in self._source.capabilities:
            raise FatalError(
                f"{label}: the {self.connection.vendor} connector does not supply {entity!r} "
                f"(it supplies {', '.join(self._source.capabilities) or 'nothing'})"
            )
        return self._source

    def close(self) -> None:
        self.context.close()


class _Run:
    """One run of one entity: its lease, its ``SyncRun`` row, its source and its counters.

    ``connector`` is shared when given (and then not closed here). ``run_entity`` is what
    the ``SyncRun`` row calls the run (a reconciliation's differs, see
    :data:`RECONCILE_RUN_SUFFIX`); only scans and fetches record errors on the entity's
    ``SyncState``, whose status is the scan's.
    """

    def __init__(
        self,
        podium: Podium,
        connection: Connection,
        entity: str,
        trigger: str,
        lease: LeaseLock,
        connector: _Connector | None = None,
        *,
        run_entity: str | None = None,
    ) -> None:
        self.podium = podium
        self.connection = connection
        self.tenant_id = connection.tenant_id
        self.entity = entity
        self.run_entity = run_entity or entity
        self.lease = lease
        self.label = connection_label(connection)
        self.owns_connector = connector is None
        self.connector = connector or _Connector(podium, connection)
        self.context = self.connector.context
        self.result = SyncResult(connection_id=connection.id, entity=entity, trigger=trigger)
        self.result.run_id = self._start()

    @contextmanager
    def session(self, lease: LeaseLock | None = None) -> Iterator[Session]:
        """A transaction of this run that starts by renewing the lease.

        Renewing first means the work rolls back if the lease was lost, and — the renewal
        being a write — SQLite takes its write lock before any read, so the transaction
        cannot fail on a read-to-write upgrade while other processes write.
        """
        with self.podium.db.session(self.tenant_id) as session:
            (lease or self.lease).renew(session)
            yield session

    def _start(self) -> int:
        with self.session() as session:
            # Holding the lease, any run still "running" here belongs to a dead process.
            session.execute(
                update(SyncRun)
                .where(
                    SyncRun.connection_id == self.connection.id,
                    SyncRun.entity.in_((self.entity, self.entity + RECONCILE_RUN_SUFFIX)),
                    SyncRun.status == "running",
                )
                .values(status="failed", finished_at=utcnow(), error="interrupted: the process stopped mid-run")
                .execution_options(synchronize_session=False)
            )
            run = SyncRun(connection_id=self.connection.id, entity=self.run_entity, trigger=self.result.trigger)
            session.add(run)
            session.flush()
            return run.id

    def state(self, session: Session) -> SyncState:
        state = session.scalars(
            select(SyncState).where(SyncState.connection_id == self.connection.id, SyncState.entity == self.entity)
        ).one_or_none()
        if state is None:
            state = SyncState(connection_id=self.connection.id, entity=self.entity, status="idle", records_synced=0)
            session.add(state)
        return state

    def write(self, session: Session, records: Sequence[Any], gone: Sequence[str] = ()) -> list[str]:
        """Land a batch (and deletions) in ``session``; returns the keys that changed."""
        landed = land(session, self.tenant_id, self.connection.id, self.entity, records)
        if gone:
            _delete(session, self.connection.id, self.entity, gone)
        self.result.fetched += len(records) + len(gone)
        self.result.upserted += len(landed.keys)
        self.result.quarantined += landed.quarantined
        self.result.deferred += landed.deferred
        self.result.deleted += len(gone)
        return landed.keys + list(gone)

    def changed(self, keys: list[str], entity: str | None = None) -> None:
        """Tell plugins (the metric engine) which records were written; after the commit."""
        if keys:
            self.podium.plugins.call_each(
                "podium_records_changed",
                podium=self.podium,
                tenant_id=self.tenant_id,
                connection_id=self.connection.id,
                entity=entity or self.entity,
                external_ids=keys,
            )

    def error_text(self, exc: BaseException) -> str:
        text = self.context.redactor(str(exc) or type(exc).__name__)
        if not isinstance(exc, (FatalError, RetriableError)):
            text = f"{type(exc).__name__}: {text}"
        return text if text.startswith(self.label) else f"{self.label}: {text}"

    def finish(self, status: str, error: BaseException | None = None) -> None:
        """Record the outcome on the run and, for an error, on the entity's state."""
        self.result.status = status
        self.result.error = None if error is None else self.error_text(error)
        if error is not None:
            log.error("sync of %s %s %s: %s", self.label, self.entity, status, self.result.error)
        # Not self.session(): the lease may be the very thing that was lost. The first
        # statement is still a write, for SQLite's sake (see session()).
        with self.podium.db.session(self.tenant_id) as session:
            session.execute(
                update(SyncRun)
                .where(SyncRun.id == self.result.run_id)
                .values(
                    status=status,
                    finished_at=utcnow(),
                    error=self.result.error,
                    **{name: getattr(self.result, name) for name in ("fetched", "upserted", "quarantined", "deferred", "deleted")},
                )
                .execution_options(synchronize_session=False)
            )
            if error is not None and self.run_entity == self.entity:
                state = self.state(session)
                state.status = status
                state.last_error = self.result.error

    def guarded(self, work: Callable[[DataSource], None]) -> SyncResult:
        """Run ``work(source)``, turning connector errors into the run's outcome.

        Unexpected exceptions are recorded and re-raised: they are bugs and must be loud.
        """
        try:
            source = self.connector.source(self.entity)
            work(source)
        except (FatalError, ValidationError) as exc:
            self.finish("stopped", exc)
        except (RetriableError, LockLost) as exc:
            self.finish("failed", exc)
        except Exception as exc:
            self.finish("failed", exc)
            raise
        else:
            self.finish("succeeded")
            self.refresh_statistics()
        finally:
            if self.owns_connector:
                self.connector.close()
        return self.result

    def refresh_statistics(self) -> None:
        """After a run that wrote many rows (a first sync, a full resync), analyse the
        entity's table so metric queries are planned for its real size (:meth:`Database.analyze`)."""
        model = ENTITY_MODELS.get(self.entity)
        if model is not None and self.result.upserted >= ANALYZE_AFTER_ROWS:
            self.podium.db.analyze(model.__tablename__)


def _check_trigger(trigger: str) -> None:
    if trigger not in RUN_TRIGGERS:
        raise ValueError(f"trigger must be one of {', '.join(RUN_TRIGGERS)}, not {trigger!r}")


class _Scan:
    """The window scan of one entity (the body of :func:`sync_entity`)."""

    def __init__(self, run: _Run, *, full: bool, progress: bool) -> None:
        self.run = run
        self.full = full
        self.progress = progress

    def __call__(self, source: DataSource) -> None:
        run = self.run
        window, cursor = self._window(source)
        bar = tqdm(
            desc=f"{run.connection.name} {run.entity}", unit=" records", file=sys.stderr,
            disable=not self.progress, dynamic_ncols=True,
        )
        completed = False
        try:
            for page in source.fetch(run.entity, window, cursor):
                with run.session() as session:
                    keys = run.write(session, page.records)
                    state = run.state(session)
                    state.cursor = page.cursor
                    state.records_synced = (state.records_synced or 0) + len(keys)
                    if page.cursor is None:
                        self._complete(state, window)
                        completed = True
                run.changed(keys)
                bar.update(len(page.records))
                bar.set_postfix(
                    upserted=run.result.upserted, quarantined=run.result.quarantined,
                    deferred=run.result.deferred, refresh=False,
                )
                if completed:
                    break
        finally:
            bar.close()
        if not completed:
            with run.session() as session:
                self._complete(run.state(session), window)

    def _window(self, source: DataSource) -> tuple[Window, dict[str, Any] | None]:
        """Resume the window in progress, or start the next one (and store it first)."""
        run = self.run
        with run.session() as session:
            state = run.state(session)
            state.status = "running"
            if not self.full and state.window_end is not None:
                log.info("%s %s: resuming window at cursor %s", run.label, run.entity, state.cursor)
                return Window(start=state.window_start, end=state.window_end), state.cursor
            watermark = state.watermark
        # The vendor's clock is read outside any transaction: no HTTP call holds one open.
        end = source.server_time()
        start = None
        if not self.full and run.entity in source.incremental and watermark is not None:
            start = watermark - dt.timedelta(seconds=run.podium.config.sync_overlap_seconds)
        with run.session() as session:
            state = run.state(session)
            state.window_start, state.window_end, state.scan_started_at, state.cursor = start, end, end, None
        log.info("%s %s: scanning window %s .. %s", run.label, run.entity, start, end)
        return Window(start=start, end=end), None

    @staticmethod
    def _complete(state: SyncState, window: Window) -> None:
        """The whole window is scanned: move the watermark to its end (the scan start)."""
        state.watermark = window.end
        state.window_start = state.window_end = None
        state.cursor = None
        state.status = "idle"
        state.last_error = None
        state.last_success_at = utcnow()


# --- pending records ------------------------------------------------------------------


def _retry_pending(run: _Run, entity: str, lease: LeaseLock) -> list[str]:
    """Land the pending records of ``entity`` whose references have arrived since.

    ``lease`` is the caller's lease on ``entity`` (not necessarily the run's own).
    """
    with run.session(lease) as session:
        payloads = session.scalars(
            select(PendingRecord.payload).where(
                PendingRecord.connection_id == run.connection.id, PendingRecord.entity == entity
            )
        ).all()
        if not payloads:
            return []
        landed = land(session, run.tenant_id, run.connection.id, entity, payloads)
    run.changed(landed.keys, entity)
    if landed.keys:
        log.info("%s: %d pending %s record(s) landed", run.label, len(landed.keys), entity)
    return landed.keys


def _waiting_for(podium: Podium, tenant_id: int, connection_id: int, entities: set[str]) -> set[str]:
    """Entities with pending records waiting for any of ``entities``."""
    with podium.db.session(tenant_id) as session:
        rows = session.execute(
            select(PendingRecord.entity, PendingRecord.waiting_for).where(PendingRecord.connection_id == connection_id)
        )
        return {
            entity for entity, waiting in rows if any(item.get("entity") in entities for item in waiting or [])
        }


def _release_dependants(run: _Run) -> None:
    """After ``run.entity`` synced, land what was waiting for it — under each one's lease.

    Each dependent entity is retried only if its lease is free right now: if it is
    syncing, that sync retries its own pending records before it ends, so nothing waits
    longer than the next sync of either side.
    """
    changed, done = {run.entity}, {run.entity}
    while changed:
        todo = _waiting_for(run.podium, run.tenant_id, run.connection.id, changed) - done
        changed = set()
        for entity in sorted(todo):
            done.add(entity)
            lease = LeaseLock(run.podium.db, run.tenant_id, run.connection.id, entity)
            if not lease.acquire():
                continue
            try:
                if _retry_pending(run, entity, lease):
                    changed.add(entity)
            finally:
                lease.release()


# --- public entry points --------------------------------------------------------------


def sync_entity(
    podium: Podium,
    tenant_id: int,
    connection_id: int,
    entity: str,
    *,
    full: bool = False,
    trigger: str = "cli",
    progress: bool = False,
) -> SyncResult:
    """Sync one entity of one connection: resume its window or scan the next one.

    Waits for another sync of the same (connection, entity) to finish first. Returns the
    outcome rather than raising for connector errors (``status`` failed/stopped, with the
    error); raises for bugs, an unknown connection or trigger, and :class:`LockTimeout`.
    ``progress`` shows a progress bar on stderr (CLI runs).
    """
    _check_trigger(trigger)
    connection = _connection(podium, tenant_id, connection_id)
    return _sync_entity(podium, connection, entity, None, full=full, trigger=trigger, progress=progress)


def _sync_entity(
    podium: Podium,
    connection: Connection,
    entity: str,
    connector: _Connector | None,
    *,
    full: bool,
    trigger: str,
    progress: bool,
) -> SyncResult:
    lease = LeaseLock(podium.db, connection.tenant_id, connection.id, entity)
    with lease.hold(wait=True, timeout=LOCK_WAIT_SECONDS):
        run = _Run(podium, connection, entity, trigger, lease, connector)
        result = run.guarded(_Scan(run, full=full, progress=progress))
        _retry_pending(run, entity, lease)
    _release_dependants(run)
    return result


def fetch_records(
    podium: Podium,
    tenant_id: int,
    connection_id: int,
    entity: str,
    external_ids: Iterable[str],
    trigger: str = "webhook",
) -> SyncResult:
    """Fetch the given records one by one (webhooks) and land them; None means deleted.

    A burst of ids is one call, one lease and one ``SyncRun``; duplicates are fetched once.
    The entity's window and cursor are left alone, so a scan in progress is unaffected.
    """
    _check_trigger(trigger)
    ids = list(dict.fromkeys(str(external_id) for external_id in external_ids))
    if "external_id" not in ENTITY_MODELS[entity].__table__.c:
        raise ValueError(f"{entity!r} records have no external id and cannot be fetched one by one")
    connection = _connection(podium, tenant_id, connection_id)
    lease = LeaseLock(podium.db, tenant_id, connection_id, entity)
    with lease.hold(wait=True, timeout=LOCK_WAIT_SECONDS):
        run = _Run(podium, connection, entity, trigger, lease)

        def work(source: DataSource) -> None:
            for chunk in batched(ids, run.context.page_size):
                records, gone = [], []
                for external_id in chunk:
                    record = source.fetch_one(entity, external_id)
                    if record is None:
                        gone.append(external_id)
                    else:
                        records.append(record)
                with run.session() as session:
                    keys = run.write(session, records, gone)
                run.changed(keys)

        result = run.guarded(work)
        _retry_pending(run, entity, lease)
    _release_dependants(run)
    return result


def sync_connection(
    podium: Podium,
    tenant_id: int,
    connection_id: int,
    *,
    full: bool = False,
    trigger: str = "cli",
    progress: bool = False,
) -> list[SyncResult]:
    """Sync every entity the connector supplies, in its capability order (references first).

    One connector instance serves every entity (see the module doc). An entity that fails
    or stops does not prevent the next one from syncing.
    """
    _check_trigger(trigger)
    connection = _connection(podium, tenant_id, connection_id)
    connector = _Connector(podium, connection)
    try:
        return [
            _sync_entity(podium, connection, entity, connector, full=full, trigger=trigger, progress=progress)
            for entity in source_class(podium, connection.vendor).entities()
        ]
    finally:
        connector.close()


def reconcilable_entities(source: type[DataSource]) -> list[str]:
    """The entities of a connector that :func:`reconcile_ids` can reconcile: those whose
    records have vendor ids, when the connector implements ``list_ids``."""
    if source.list_ids is DataSource.list_ids:
        return []
    return [entity for entity in source.entities() if "external_id" in ENTITY_MODELS[entity].__table__.c]


def reconcile_ids(
    podium: Podium, tenant_id: int, connection_id: int, entity: str, *, trigger: str = "scheduler"
) -> SyncResult:
    """Delete the stored records of ``entity`` that the vendor no longer has.

    A window scan only sees records that still exist, so deletions in the vendor would
    stay in Podium forever; webhooks announce some, this finds the rest. Under the
    entity's lease (no scan or fetch lands records meanwhile), every id the vendor has is
    listed first (``source.list_ids``) — a vendor error while listing ends the run
    failed/stopped with nothing deleted — then this connection's rows whose ids were not
    listed are deleted in one transaction and plugins are told which ones went. An empty
    listing against stored records is refused rather than taken as "everything is gone".
    Recorded as a ``SyncRun`` (``fetched`` = ids listed, ``deleted``) named
    ``<entity>:reconcile``.
    """
    _check_trigger(trigger)
    model = ENTITY_MODELS[entity]
    if "external_id" not in model.__table__.c:
        raise ValueError(f"{entity!r} records have no external id to reconcile")
    connection = _connection(podium, tenant_id, connection_id)
    lease = LeaseLock(podium.db, tenant_id, connection_id, entity)
    with lease.hold(wait=True, timeout=LOCK_WAIT_SECONDS):
        run = _Run(podium, connection, entity, trigger, lease, run_entity=entity + RECONCILE_RUN_SUFFIX)

        def work(source: DataSource) -> None:
            listed: set[str] = set()
            for external_id in source.list_ids(entity):
                listed.add(str(external_id))
                if len(listed) % LEASE_RENEW_IDS == 0:
                    lease.renew()
            run.result.fetched = len(listed)
            with run.session() as session:
                stored = set(
                    session.scalars(select(model.external_id).where(model.connection_id == connection.id))
                )
                if stored and not listed:
                    raise FatalError(
                        f"{run.label}: the vendor listed no {entity} records at all while Podium holds "
                        f"{len(stored)}; nothing was deleted (a permission or API change is more likely than "
                        "every record being gone)"
                    )
                gone = sorted(stored - listed)
                _delete(session, connection.id, entity, gone)
            run.result.deleted = len(gone)
            run.changed(gone)
            if gone:
                log.info("%s: %d %s record(s) deleted in the vendor are gone from Podium", run.label, len(gone), entity)

        return run.guarded(work)
