"""Admin pages: top-level, server-rendered pages for running Podium in a tenant.

One small module per area — connections, org data and identities, plugins, plans,
periods, appeals, the audit log and health — all on one blueprint (``/admin``), all
behind :func:`podium.web.admin.guard.admin_page` (signed in, role, CSRF, tenant
session). The pages are a face on the core services the REST API uses; they hold no
business rule of their own. See ``docs/admin.md`` for who may use each page.
"""

from __future__ import annotations

from flask import Flask

from podium.web.admin.guard import bp
from podium.web.admin import appeals, audit, connections, health, home, org, periods, plans, plugins  # noqa: F401, E402 - each adds its views to bp


def register_admin(app: Flask) -> None:
    """Add the admin pages to ``app``."""
    app.register_blueprint(bp)
