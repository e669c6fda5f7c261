"""The Flask app factory: one runtime, the REST API, pods and sign-in, and the job thread.

The app keeps no state of its own (design §8): everything lives in the
:class:`~podium.runtime.Podium` runtime it is given (stored in
``app.extensions["podium"]``), so any number of web processes can serve the same
database. Without Redis, jobs are worked by a database-queue thread inside this one
process (the embedded default); with Redis, RQ workers elsewhere do it.
"""

from __future__ import annotations

import atexit

from flask import Flask

from podium.api import register_api
from podium.api.introspection import bp as introspection
from podium.runtime import Podium
from podium.web import register_web
from podium.webhooks import bp as webhooks


def create_app(podium: Podium | None = None, *, run_jobs: bool | None = None) -> Flask:
    """Build the web app around ``podium`` (default: a runtime from the environment).

    ``run_jobs`` starts the database job-queue worker thread; by default it starts when
    no ``REDIS_URL`` is configured. Tests, and processes that must only serve requests,
    pass ``run_jobs=False``.
    """
    podium = podium or Podium.from_env()
    app = Flask("podium")
    app.config["SECRET_KEY"] = podium.config.secret_key
    app.extensions["podium"] = podium
    podium.plugins  # noqa: B018 - load plugins now: a broken plugin is reported at start-up, not mid-request
    register_api(app)
    app.register_blueprint(introspection)
    app.register_blueprint(webhooks)
    register_web(app)
    if run_jobs is None:
        run_jobs = podium.config.redis_url is None
    if run_jobs:
        _start_db_queue(app, podium)
    return app


def _start_db_queue(app: Flask, podium: Podium) -> None:
    from podium.dbqueue import DbQueueWorker  # noqa: PLC0415 - only the embedded setup needs it

    worker = DbQueueWorker(podium)
    worker.start()
    app.extensions["podium.dbqueue"] = worker
    atexit.register(worker.stop)
