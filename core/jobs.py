"""Background jobs: what runs, with which timeout and retries, and on which queue.

One facade over two backends (design §1, §8): with ``REDIS_URL`` jobs go to RQ and run on
``podium worker`` processes anywhere; without it they go to the database queue
(:mod:`podium.dbqueue`) worked by a thread in the one web process. Callers only ever say
:func:`enqueue`; nothing runs inside a request (ConnectWise gives a callback 5 s).

The rules, learnt from redash and RQ's issue trackers (anchors §4.3, §5, §10.4):

* **Every job type is declared** in one table with an explicit timeout, retry policy and
  queue — RQ's default 180 s timeout is invisible until it kills a sync.
* **Arguments are ids only.** A queued job is stored in Redis or a table that backups,
  dashboards (``rq info``) and ``podium jobs failed`` show to operators; a vendor secret
  or a whole connection config in it would leak there. Jobs therefore take tenant,
  connection and record ids plus a few flags, and look everything else up when they run
  (with the config decrypted only in memory). :func:`check_arguments` enforces it.
* **Pending work is deduplicated by a deterministic key** such as
  ``sync-<tenant>-<connection>-<entity>``: enqueueing the same sync twice while the first
  is still pending returns the pending job instead of a second one, so two scheduler
  ticks or a burst of webhooks never pile up duplicates. A key is held while its job is
  queued, waiting for a retry or running; a type that *merges* (``fetch_records``) lets
  go of its key when it starts, because ids that arrive from then on were not drained
  and need a new job, and so does one declared ``release_key_on_start``
  (``refresh_metrics``: a change committed while it runs may come after what it read). Ids sent while a fetch is still queued are merged into it
  ("webhook bursts coalesce into one fetch of the ids").
* **Failures are raised, never returned** (redash returned them and RQ called them
  successes). The sync engine reports connector errors as a result status; the job
  functions turn a failed run into :class:`JobError` so the queue retries and records it.
  A *stopped* run (bad credentials, forbidden) is not retried: retrying cannot fix it.

RQ specifics: job ids are the key plus a random suffix (``sync-1-2-tickets-3f9c…``);
the key → pending job id pointer lives in ``podium:job-key:<key>`` and is compared and
set in a ``WATCH``/``MULTI`` transaction (redash's dedup lock). Deterministic ids alone
(RQ's ``unique=True``) would not do: a failed job keeps its id in the FailedJobRegistry
for ``failure_ttl`` and would block every later sync of that entity, and a running fetch
must not swallow ids it has already drained. Run workers with ``podium worker``, which
also runs RQ's scheduler (retry back-off needs it).
"""

from __future__ import annotations

import inspect
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import redis
from rq import Queue, Retry, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from podium.runtime import Podium

if TYPE_CHECKING:
    from podium.models import Connection
    from podium.sync import SyncResult

log = logging.getLogger(__name__)

FAILURE_TTL = 7 * 24 * 3600
"""Seconds a terminally failed job stays listed (RQ's default is a year; periodic syncs of a
broken connection would fill Redis with near-identical failures)."""

RESULT_TTL = 600
"""Seconds RQ keeps a finished job; our jobs return nothing worth keeping (``SyncRun`` rows
are the history)."""

MAX_STRING = 200
"""Longest string argument accepted: ids, entity names and triggers are short; a long
string is a sign of a payload or a secret being smuggled into a job."""

MAX_LIST = 10_000
"""Most ids one job may carry (a very large webhook burst still fits)."""

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,180}$")
"""Job keys become RQ job ids, which allow only these characters."""

SECRET_LOOKING = re.compile(
    r"(^|_)(secret|password|passwd|token|api_?key|credentials?|private_key|config|auth|cookie)s?($|_)", re.IGNORECASE
)
"""Parameter names a job must not have (``api_key``, ``webhook_token``, ``config``…): the
value would be stored in the queue in clear. Matched on whole ``_``-separated words, so
``author_id`` is fine."""

POINTER_PREFIX = "podium:job-key:"
MERGE_PREFIX = "podium:job-merge:"


class JobArgumentError(ValueError):
    """A job was enqueued (or declared) with an argument it must not carry."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


class UnknownJobType(LookupError):
    """No job type of that name is registered in this process."""


class JobError(RuntimeError):
    """A job ran but did not do its work; raised so the queue records (and maybe retries) it."""

    def __init__(self, message: str, *, retriable: bool = True) -> None:
        super().__init__(message)
        self.retriable = retriable


@dataclass(frozen=True)
class JobType:
    """One kind of job: the function and how the queue must treat it.

    ``func(podium, *, tenant_id, ...)`` receives the worker's runtime and keyword
    arguments that are ids or flags. ``backoff`` holds the seconds to wait before the
    2nd, 3rd, … attempt (the last value repeats). ``key`` builds the deduplication key
    from the arguments (tenant included); ``merge`` names a list argument whose values are
    merged into a still-queued job of the same key instead of queueing another.
    ``release_key_on_start`` lets a job that reads everything afresh when it runs be
    queued again while one is running (a merging type always does).
    """

    name: str
    func: Callable[..., Any]
    timeout: int
    max_attempts: int
    backoff: tuple[int, ...] = ()
    queue: str = "default"
    key: Callable[[Mapping[str, Any]], str] | None = None
    merge: str | None = None
    release_key_on_start: bool = False
    parameters: Mapping[str, inspect.Parameter] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.timeout < 1:
            raise JobArgumentError("timeout", f"job type {self.name!r} needs a timeout of at least 1 s")
        if self.max_attempts < 1:
            raise JobArgumentError("max_attempts", f"job type {self.name!r} needs at least 1 attempt")
        if any(seconds < 0 for seconds in self.backoff):
            raise JobArgumentError("backoff", f"job type {self.name!r} has a negative back-off")
        signature = inspect.signature(self.func)
        names = list(signature.parameters)
        if not names or names[0] != "podium":
            raise JobArgumentError("func", f"{self.name!r}: the first parameter must be `podium` (the runtime)")
        parameters = {name: p for name, p in signature.parameters.items() if name != "podium"}
        if "tenant_id" not in parameters:
            raise JobArgumentError("func", f"{self.name!r}: jobs carry their tenant, add a `tenant_id` parameter")
        for name in parameters:
            if SECRET_LOOKING.search(name):
                raise JobArgumentError(name, f"job type {self.name!r} may not take secrets or configs, only ids")
        if self.merge is not None and self.merge not in parameters:
            raise JobArgumentError("merge", f"{self.name!r} has no parameter {self.merge!r} to merge")
        object.__setattr__(self, "parameters", parameters)

    def backoff_after(self, attempt: int) -> int:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        pattern = self.backoff or (0,)
        return pattern[min(attempt, len(pattern)) - 1]

    @property
    def retry_intervals(self) -> list[int]:
        """The wait before each retry, one per retry, so RQ (which indexes its interval list
        from the end) and the database queue wait exactly the same."""
        return [self.backoff_after(attempt) for attempt in range(1, self.max_attempts)]

    @property
    def holds_key_while_running(self) -> bool:
        return self.merge is None and not self.release_key_on_start

    def key_for(self, arguments: Mapping[str, Any]) -> str | None:
        return None if self.key is None else self.key(arguments)


_job_types: dict[str, JobType] = {}


def _path(func: Callable[..., Any]) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def register_job_type(job_type: JobType) -> JobType:
    """Make ``job_type`` runnable in this process; plugins call it when they are imported.

    Re-registering a name with the same function (a plugin file imported again) replaces
    it; a different function under a taken name is refused.
    """
    current = _job_types.get(job_type.name)
    if current is not None and _path(current.func) != _path(job_type.func):
        raise JobArgumentError(
            "name", f"job type {job_type.name!r} is already registered by {_path(current.func)}"
        )
    _job_types[job_type.name] = job_type
    return job_type


def job_types() -> dict[str, JobType]:
    """Every registered job type, by name."""
    return dict(_job_types)


def get_job_type(name: str, podium: Podium | None = None) -> JobType:
    """The job type called ``name``; loads ``podium``'s plugins first if it is not known yet."""
    if name not in _job_types and podium is not None:
        podium.plugins  # noqa: B018 - importing the plugins registers their job types
    try:
        return _job_types[name]
    except KeyError:
        known = ", ".join(sorted(_job_types)) or "none"
        raise UnknownJobType(f"no job type {name!r} (registered: {known})") from None


def queue_names() -> list[str]:
    """Queues a worker listens to by default: webhook fetches first, then syncs, then the rest."""
    return sorted({jt.queue for jt in _job_types.values()}, key=lambda n: (n != "webhooks", n != "sync", n))


# --- arguments ------------------------------------------------------------------------------


def _check_scalar(name: str, value: Any) -> None:
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise JobArgumentError(name, f"strings are limited to {MAX_STRING} characters (ids only)")
    elif value is not None and not isinstance(value, (bool, int)):
        raise JobArgumentError(name, f"must be an id, a short string, a flag or a list of ids, not {type(value).__name__}")


def check_arguments(job_type: JobType, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``arguments`` for ``job_type``: known names, required ones present, ids only.

    Returns them JSON- and pickle-safe (tuples become lists). Raises
    :class:`JobArgumentError` naming the first offending argument.
    """
    clean: dict[str, Any] = {}
    for name, value in arguments.items():
        if name not in job_type.parameters:
            reason = "secrets and configs are never job arguments; pass ids" if SECRET_LOOKING.search(name) else (
                f"not a parameter of {job_type.name!r} (it takes {', '.join(job_type.parameters)})"
            )
            raise JobArgumentError(name, reason)
        if isinstance(value, (list, tuple)):
            if len(value) > MAX_LIST:
                raise JobArgumentError(name, f"at most {MAX_LIST} ids per job")
            for item in value:
                if isinstance(item, bool) or not isinstance(item, (int, str)):
                    raise JobArgumentError(name, "lists may hold only ids (integers or strings)")
                _check_scalar(name, item)
            value = list(value)
        else:
            _check_scalar(name, value)
        clean[name] = value
    missing = [
        name for name, p in job_type.parameters.items()
        if p.default is inspect.Parameter.empty and name not in clean
    ]
    if missing:
        raise JobArgumentError(missing[0], f"required by {job_type.name!r}")
    return clean


def merged(existing: Sequence[Any], extra: Iterable[Any]) -> list[Any]:
    """``existing`` followed by the values of ``extra`` it lacks, in order, without repeats."""
    return list(dict.fromkeys([*existing, *extra]))


# --- enqueueing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Enqueued:
    """The job that will do the work: a new one (``created``) or a pending one it joined."""

    id: str
    created: bool
    backend: str


def enqueue(
    podium: Podium, job_type: str, *, tenant_id: int | None, job_key: str | None = None, **kwargs: Any
) -> Enqueued:
    """Queue ``job_type`` for ``tenant_id`` with id-only ``kwargs``; never runs it here.

    ``job_key`` overrides the type's deduplication key. While a job with the same key is
    pending, no second one is queued and the pending one is returned; for a merging type
    its id list is extended (the joining call's other arguments are dropped: the key
    already says which connection and entity they are for).
    """
    jt = get_job_type(job_type, podium)
    arguments = check_arguments(jt, {"tenant_id": tenant_id, **kwargs})
    key = job_key if job_key is not None else jt.key_for(arguments)
    if key is not None and not KEY_PATTERN.match(key):
        raise JobArgumentError("job_key", "use 1-180 letters, digits, '_' or '-'")
    if podium.config.redis_url:
        return _rq_enqueue(podium, jt, key, arguments)
    from podium import dbqueue  # noqa: PLC0415 - dbqueue builds on this module

    return dbqueue.enqueue(podium, jt, key, arguments)


def enqueue_sync(
    podium: Podium, connection: Connection, entity: str, *, full: bool = False, trigger: str = "api"
) -> str:
    """Queue a sync of one entity of ``connection`` (the API's and CLI's shortcut); its job id."""
    return enqueue(
        podium, "sync_entity", tenant_id=connection.tenant_id, connection_id=connection.id,
        entity=entity, full=full, trigger=trigger,
    ).id


# --- RQ backend -----------------------------------------------------------------------------


@cache
def redis_client(url: str) -> redis.Redis:
    """One client (and connection pool) per URL per process; redis-py resets it after fork."""
    return redis.Redis.from_url(url)


def _rq_queue(podium: Podium, name: str) -> Queue:
    return Queue(name, connection=redis_client(podium.config.redis_url or ""))


def _describe(jt: JobType, arguments: Mapping[str, Any]) -> str:
    shown = ", ".join(
        f"{k}={v!r}" if not isinstance(v, list) else f"{k}=[{len(v)} ids]" for k, v in arguments.items()
    )
    return f"{jt.name}({shown})"


def _pending_statuses(jt: JobType) -> set[JobStatus]:
    """Statuses in which a job still holds its key (a merging job lets go when it starts)."""
    pending = {JobStatus.QUEUED, JobStatus.SCHEDULED}
    return pending | {JobStatus.STARTED} if jt.holds_key_while_running else pending


def _rq_status(client: redis.Redis, job_id: str) -> JobStatus | None:
    try:
        return Job.fetch(job_id, connection=client).get_status(refresh=False)
    except NoSuchJobError:
        return None


def _rq_enqueue(podium: Podium, jt: JobType, key: str | None, arguments: dict[str, Any]) -> Enqueued:
    client = redis_client(podium.config.redis_url or "")
    queue = _rq_queue(podium, jt.queue)
    retry = Retry(max=jt.max_attempts - 1, interval=jt.retry_intervals) if jt.max_attempts > 1 else None
    options: dict[str, Any] = {
        "timeout": jt.timeout, "result_ttl": RESULT_TTL, "failure_ttl": FAILURE_TTL, "retry": retry,
        "description": _describe(jt, arguments),
        "meta": {"podium_type": jt.name, "podium_key": key, "attempts": 0, "max_attempts": jt.max_attempts},
    }
    if key is None:
        job = queue.enqueue_call(perform, args=(jt.name,), kwargs=arguments, **options)
        return Enqueued(job.id, True, "rq")
    pointer = POINTER_PREFIX + key

    def attempt(pipe: Any) -> Enqueued:
        current = pipe.get(pointer)
        if current is not None:
            job_id = current.decode()
            if _rq_status(client, job_id) in _pending_statuses(jt):
                pipe.multi()
                if jt.merge and arguments.get(jt.merge):
                    pipe.sadd(MERGE_PREFIX + job_id, *arguments[jt.merge])
                    pipe.expire(MERGE_PREFIX + job_id, FAILURE_TTL)
                return Enqueued(job_id, False, "rq")
        job_id = f"{key}-{uuid.uuid4().hex[:12]}"
        pipe.multi()
        queue.enqueue_call(perform, args=(jt.name,), kwargs=arguments, job_id=job_id, pipeline=pipe, **options)
        pipe.set(pointer, job_id, ex=FAILURE_TTL)
        return Enqueued(job_id, True, "rq")

    return client.transaction(attempt, pointer, value_from_callable=True)


def _release_key(client: redis.Redis, job: Job) -> None:
    """Let go of the job's key if it still points at this job (a later enqueue queues anew)."""
    key = job.meta.get("podium_key")
    if key:
        pointer = POINTER_PREFIX + key

        def release(pipe: Any) -> None:
            current = pipe.get(pointer)
            pipe.multi()
            if current is not None and current.decode() == job.id:
                pipe.delete(pointer)

        client.transaction(release, pointer)


def _drain_merged(client: redis.Redis, job: Job, initial: Sequence[Any]) -> list[Any]:
    """Let go of the key (later ids need a new job), then take the ids merged into this job.

    Atomic with :func:`_rq_enqueue`'s merge: both watch the pointer, so an id is either
    merged before this point (and read below) or finds the pointer gone and queues anew.
    """
    _release_key(client, job)
    extra = sorted(member.decode() for member in client.smembers(MERGE_PREFIX + job.id))
    return merged(initial, extra)


# --- running --------------------------------------------------------------------------------

_runtime: Podium | None = None


def use_runtime(podium: Podium | None) -> None:
    """Set the runtime jobs run with in this process (``podium worker`` sets it once)."""
    global _runtime
    _runtime = podium


def worker_runtime() -> Podium:
    """This process's runtime, built from the environment on first use."""
    global _runtime
    if _runtime is None:
        _runtime = Podium.from_env()
    return _runtime


def _after_fork_in_child() -> None:
    """RQ forks a work horse per job: never reuse the parent's database connections."""
    if _runtime is not None and "db" in _runtime.__dict__:
        _runtime.db.engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)


def perform(job_type: str, **arguments: Any) -> None:
    """The function every RQ job calls: resolve the type and the runtime, then run it.

    A module-level function taking only ids, so RQ can import and call it in any worker
    process; the runtime is built once per worker process, not per job.
    """
    podium = worker_runtime()
    jt = get_job_type(job_type, podium)
    job = get_current_job()
    if job is None:
        raise RuntimeError("podium.jobs.perform runs inside an RQ job; use enqueue() to run a job")
    job.meta["attempts"] = int(job.meta.get("attempts", 0)) + 1
    job.save_meta()
    if jt.merge:
        arguments[jt.merge] = _drain_merged(job.connection, job, arguments.get(jt.merge) or [])
    elif jt.release_key_on_start:
        _release_key(job.connection, job)
    try:
        jt.func(podium, **arguments)
    except JobError as exc:
        if not exc.retriable:
            job.retries_left = 0  # RQ reads this from the same object when it handles the failure
        raise
    if jt.merge:
        job.connection.delete(MERGE_PREFIX + job.id)


# --- the built-in job types -----------------------------------------------------------------


def _raise_for(results: Sequence[SyncResult]) -> None:
    """Turn sync results into a failure the queue sees: failed → retry, stopped → give up."""
    failed = [r for r in results if r.status == "failed"]
    stopped = [r for r in results if r.status == "stopped"]
    if failed or stopped:
        message = "; ".join(f"{r.entity} {r.status}: {r.error}" for r in failed + stopped)
        raise JobError(message, retriable=bool(failed))


def sync_entity(
    podium: Podium, *, tenant_id: int, connection_id: int, entity: str, full: bool = False, trigger: str = "scheduler"
) -> None:
    """Sync one entity of one connection (resumes its window)."""
    from podium import sync  # noqa: PLC0415 - the engine imports every connector's machinery

    _raise_for([sync.sync_entity(podium, tenant_id, connection_id, entity, full=full, trigger=trigger)])


def fetch_records(
    podium: Podium, *, tenant_id: int, connection_id: int, entity: str, external_ids: list[str], trigger: str = "webhook"
) -> None:
    """Fetch the records a webhook burst named, in one run."""
    from podium import sync  # noqa: PLC0415

    _raise_for([sync.fetch_records(podium, tenant_id, connection_id, entity, external_ids, trigger=trigger)])


def sync_connection(
    podium: Podium, *, tenant_id: int, connection_id: int, full: bool = False, trigger: str = "api"
) -> None:
    """Sync every entity of a connection in order (references first)."""
    from podium import sync  # noqa: PLC0415

    _raise_for(sync.sync_connection(podium, tenant_id, connection_id, full=full, trigger=trigger))


def reconcile_ids(
    podium: Podium, *, tenant_id: int, connection_id: int, entity: str, trigger: str = "scheduler"
) -> None:
    """Delete the records of one entity that the vendor no longer has (nightly)."""
    from podium import sync  # noqa: PLC0415

    _raise_for([sync.reconcile_ids(podium, tenant_id, connection_id, entity, trigger=trigger)])


def _sync_key(a: Mapping[str, Any]) -> str:
    return f"sync-{a['tenant_id']}-{a['connection_id']}-{a['entity']}" + ("-full" if a.get("full") else "")


# A scan waits up to ``sync.LOCK_WAIT_SECONDS`` (30 min) for another sync of the same
# entity before it starts, so a timeout below that would kill jobs that are only waiting.
for _jt in (
    JobType(
        "sync_entity", sync_entity, timeout=3600, max_attempts=3, backoff=(60, 300), queue="sync", key=_sync_key,
    ),
    JobType(
        "fetch_records", fetch_records, timeout=2100, max_attempts=5, backoff=(10, 60, 300, 900), queue="webhooks",
        key=lambda a: f"fetch-{a['tenant_id']}-{a['connection_id']}-{a['entity']}", merge="external_ids",
    ),
    JobType(
        "sync_connection", sync_connection, timeout=4 * 3600, max_attempts=2, backoff=(300,), queue="sync",
        key=lambda a: f"syncall-{a['tenant_id']}-{a['connection_id']}" + ("-full" if a.get("full") else ""),
    ),
    # Lists every id of the entity (a page per thousand) after waiting for its lease.
    JobType(
        "reconcile_ids", reconcile_ids, timeout=3600, max_attempts=2, backoff=(900,), queue="sync",
        key=lambda a: f"reconcile-{a['tenant_id']}-{a['connection_id']}-{a['entity']}",
    ),
):
    register_job_type(_jt)


# --- looking at jobs ------------------------------------------------------------------------


def last_line(text: str | None) -> str:
    """The last non-blank line of a traceback: the exception and its message."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _rq_row(job: Job, status: str, error: str | None = None) -> dict[str, Any]:
    kwargs = dict(job.kwargs)
    tenant_id = kwargs.pop("tenant_id", None)
    return {
        "id": job.id,
        "type": job.meta.get("podium_type") or (job.args[0] if job.args else job.func_name),
        "tenant_id": tenant_id,
        "args": kwargs,
        "status": status,
        "attempts": int(job.meta.get("attempts", 0)),
        "max_attempts": int(job.meta.get("max_attempts", 1)),
        "error": error,
        "error_line": last_line(error),
        "at": job.ended_at or job.started_at or job.enqueued_at,
    }


def _rq_jobs(podium: Podium, kind: str) -> list[dict[str, Any]]:
    client = redis_client(podium.config.redis_url or "")
    rows: list[dict[str, Any]] = []
    for name in queue_names():
        queue = _rq_queue(podium, name)
        if kind == "failed":
            groups = [("failed", FailedJobRegistry(queue=queue).get_job_ids())]
        else:
            groups = [
                ("queued", queue.get_job_ids()),
                ("scheduled", ScheduledJobRegistry(queue=queue).get_job_ids()),
                ("started", StartedJobRegistry(queue=queue).get_job_ids()),
            ]
        for status, ids in groups:
            for job in Job.fetch_many(ids, connection=client):
                if job is None:
                    continue
                error = None
                if status == "failed":
                    result = job.latest_result()
                    error = result.exc_string if result is not None else None
                rows.append(_rq_row(job, status, error))
    return rows


def failed_jobs(podium: Podium) -> list[dict[str, Any]]:
    """Jobs that failed for good, newest first, with their error (RQ or the database queue)."""
    if podium.config.redis_url:
        rows = _rq_jobs(podium, "failed")
    else:
        from podium import dbqueue  # noqa: PLC0415

        rows = dbqueue.jobs(podium, ("failed",))
    return sorted(rows, key=lambda r: (r["at"] is not None, r["at"]), reverse=True)


def pending_jobs(podium: Podium) -> list[dict[str, Any]]:
    """Jobs queued, waiting for a retry or running."""
    if podium.config.redis_url:
        return _rq_jobs(podium, "pending")
    from podium import dbqueue  # noqa: PLC0415

    return dbqueue.jobs(podium, ("queued", "started"))
