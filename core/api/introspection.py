"""``/-/plugins`` and ``/healthz``: what is loaded, and whether the server is well.

``/healthz`` is public (load balancers and uptime checks carry no token) and so says only
ok/failing per dependency — never a URL, a host or an error's text, which go to the log.

``/-/plugins`` needs an admin token (of any tenant: the list is the server's, the same
for all). datasette shows its plugin list to anyone, but ours names versions, which tell
an anonymous caller which known bugs to try, and load errors, which can name file paths.
``podium plugins list`` shows the same list on the server. Neither shows any config, so
no secret can appear in either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis
from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from podium.auth import authenticated, current_podium, require_role
from podium.jobs import failed_jobs
from podium.runtime import Podium

log = logging.getLogger(__name__)

bp = Blueprint("introspection", __name__)


@bp.get("/-/plugins")
@authenticated
@require_role("admin")
def plugins() -> Response:
    """Every plugin with its version, source, status, hooks, what it registered and its error."""
    return jsonify(current_podium().plugins.describe())


def _database(podium: Podium) -> dict[str, Any]:
    with podium.db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return {}


def _redis(podium: Podium) -> dict[str, Any]:
    client = redis.Redis.from_url(podium.config.redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return {}


def _jobs(podium: Podium) -> dict[str, Any]:
    return {"failed": len(failed_jobs(podium))}


def _checks(podium: Podium) -> dict[str, Callable[[Podium], dict[str, Any]]]:
    checks: dict[str, Callable[[Podium], dict[str, Any]]] = {"database": _database}
    if podium.config.redis_url:
        checks["redis"] = _redis
    checks["jobs"] = _jobs
    return checks


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 when every dependency answers, 503 otherwise; failed jobs are reported, not fatal."""
    podium = current_podium()
    results: dict[str, dict[str, Any]] = {}
    for name, check in _checks(podium).items():
        try:
            results[name] = {"ok": True, **check(podium)}
        except Exception:  # noqa: BLE001 - any failure of a dependency is "failing", logged here
            log.warning("health check %s failed", name, exc_info=True)
            results[name] = {"ok": False}
    healthy = all(result["ok"] for result in results.values())
    return jsonify({"status": "ok" if healthy else "failing", "checks": results}), 200 if healthy else 503
