"""``podium worker``, ``podium scheduler`` and ``podium jobs failed|list``.

With ``REDIS_URL`` set, ``podium worker`` is an RQ worker (a forked work horse per job,
so timeouts kill the job) that also runs RQ's scheduler for retry back-off, and
``podium scheduler`` is the one process that enqueues periodic syncs (run exactly one;
a second one stands by on the lock). Without Redis, ``podium worker`` works the database
queue and ticks the scheduler itself, just as the web process's job thread does.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
from collections.abc import Sequence
from typing import Any

import click
from rq import Queue, Worker

from podium.cli import get_podium
from podium.dbqueue import DbQueueWorker
from podium.jobs import failed_jobs, pending_jobs, queue_names, redis_client, use_runtime
from podium.scheduler import TICK_SECONDS, Scheduler, SchedulerBusy


def _on_sigterm(stop: Any) -> None:
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop())


@click.command()
@click.option("--burst", is_flag=True, help="Run the jobs that are due, then exit.")
@click.option("--queue", "queues", multiple=True, metavar="Q",
              help="A queue to work (repeatable). Default: all, webhooks first.")
def worker(burst: bool, queues: tuple[str, ...]) -> None:
    """Run background jobs: syncs and webhook fetches."""
    podium = get_podium()
    podium.plugins  # noqa: B018 - load plugins (and the job types they register) once, before forking
    names = list(queues) or queue_names()
    if podium.config.redis_url:
        use_runtime(podium)
        client = redis_client(podium.config.redis_url)
        rq_worker = Worker([Queue(name, connection=client) for name in names], connection=client)
        rq_worker.work(burst=burst, with_scheduler=True)
        return
    db_worker = DbQueueWorker(podium, names)
    if burst:
        click.echo(f"ran {db_worker.work(burst=True)} jobs")
        return
    _on_sigterm(lambda: db_worker.stop(timeout=0))
    click.echo(f"working the database queue ({', '.join(names)}); Ctrl+C to stop", err=True)
    try:
        db_worker.work()
    except KeyboardInterrupt:
        db_worker.stop(timeout=0)


@click.command()
@click.option("--once", is_flag=True, help="Enqueue the syncs that are due now, then exit.")
@click.option("--interval", type=click.FloatRange(min=0, min_open=True), envvar="PODIUM_SYNC_INTERVAL_MINUTES",
              help="Minutes between incremental syncs of an entity (default 15).")
@click.option("--tick", type=click.FloatRange(min=1), default=TICK_SECONDS, show_default=True,
              help="Seconds between checks for due syncs.")
def scheduler(once: bool, interval: float | None, tick: float) -> None:
    """Enqueue periodic incremental syncs (run exactly one of these with Redis)."""
    podium = get_podium()
    runner = Scheduler(podium, dt.timedelta(minutes=interval) if interval else None)
    if once:
        try:
            runner.run(once=True)
        except SchedulerBusy as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo("scheduler: due syncs enqueued")
        return
    stop = threading.Event()
    _on_sigterm(stop.set)
    click.echo(f"scheduler: every {runner.interval} per entity, checking every {tick:g} s", err=True)
    try:
        runner.run(tick_seconds=tick, stop=stop)
    except KeyboardInterrupt:
        stop.set()


@click.group()
def jobs() -> None:
    """Look at background jobs."""


def _arguments(args: dict[str, Any]) -> str:
    return " ".join(
        f"{name}=[{len(value)} ids]" if isinstance(value, list) else f"{name}={value}" for name, value in args.items()
    )


def _table(headers: Sequence[str], rows: list[Sequence[Any]]) -> None:
    cells = [[str(c) for c in headers], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@jobs.command("failed")
def jobs_failed() -> None:
    """Jobs that failed for good, newest first, with their last error line."""
    rows = failed_jobs(get_podium())
    if not rows:
        click.echo("no failed jobs")
        return
    _table(
        ("ID", "TYPE", "TENANT", "ARGS", "ATTEMPTS", "ERROR"),
        [(r["id"], r["type"], r["tenant_id"], _arguments(r["args"]), f"{r['attempts']}/{r['max_attempts']}",
          r["error_line"]) for r in rows],
    )


@jobs.command("list")
def jobs_list() -> None:
    """Jobs queued, waiting for a retry or running."""
    rows = pending_jobs(get_podium())
    if not rows:
        click.echo("no pending jobs")
        return
    _table(
        ("ID", "TYPE", "STATUS", "TENANT", "ARGS", "ATTEMPTS"),
        [(r["id"], r["type"], r["status"], r["tenant_id"], _arguments(r["args"]),
          f"{r['attempts']}/{r['max_attempts']}") for r in rows],
    )


COMMANDS = [worker, scheduler, jobs]
