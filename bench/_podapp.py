"""The WSGI app the pod benchmark serves with gunicorn: Podium's own app plus the floor.

The floor is a bare Flask route in the same app, served by the same gunicorn workers: what
any response from this server costs (routing, WSGI, the socket, the load tool) before a pod
does any work. Configuration comes from the environment the benchmark sets (``DATABASE_URL``,
``PODIUM_SECRET_KEY``, ``PODIUM_INSTANCE``, ``PODIUM_LOAD_PLUGINS``).
"""

from __future__ import annotations

from flask import Response

from podium.app import create_app

FLOOR_PATH = "/-/bench/floor"


def floor() -> Response:
    return Response("<p>ok</p>", mimetype="text/html")


app = create_app(run_jobs=False)
app.add_url_rule(FLOOR_PATH, "bench_floor", floor)
