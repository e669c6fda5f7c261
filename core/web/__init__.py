"""Server-rendered pages: sign-in, pods, and the shared layout (templates and static files in ``ui/``).

:func:`register_web` attaches them to the app made by :func:`podium.app.create_app`.
There is no front-end build step: Jinja templates, one stylesheet, and a little plain
JavaScript (``pod.js``) that keeps a pod's token in memory.

Every page carries a Content-Security-Policy with no inline script, so a value that
slipped into a template unescaped still could not run; pages a PSA may frame name
exactly the PSA's origins in ``frame-ancestors``, every other page ``'none'``.
"""

from __future__ import annotations

from pathlib import Path

import podium.ui
from flask import Blueprint, Flask, Response

UI_ROOT = Path(podium.ui.__file__).resolve().parent

ui = Blueprint(
    "ui",
    __name__,
    template_folder=str(UI_ROOT / "templates"),
    static_folder=str(UI_ROOT / "static"),
    static_url_path="/ui/static",
)

BASE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
)


def secure_page(response: Response, frame_ancestors: str = "frame-ancestors 'none'") -> Response:
    """Add the page policy: ``frame_ancestors`` decides who may frame it (nobody by default)."""
    response.headers["Content-Security-Policy"] = f"{BASE_POLICY}; {frame_ancestors}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def register_web(app: Flask) -> None:
    """Add the sign-in pages, the pod routes and the static files to ``app`` (once)."""
    if "podium.web" in app.extensions:
        return
    from podium.web import pods, signin
    from podium.web.admin import register_admin

    podium = app.extensions["podium"]
    # The session cookie is only ever used top-level (the sign-in window), never inside a
    # PSA's iframe, so Lax is enough and keeps it off cross-site subrequests.
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if podium.config.base_url.startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
    app.register_blueprint(ui)
    app.register_blueprint(signin.bp)
    app.register_blueprint(pods.bp)
    register_admin(app)
    signin.init_oauth(app, podium)
    app.extensions["podium.web"] = True
