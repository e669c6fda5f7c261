"""Plugins: what is loaded, what failed and what is blocked — the list ``/-/plugins`` and
``podium plugins list`` show (:meth:`podium.plugins.PluginManager.describe`), grouped by
status. No config appears in it, so no secret can.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from podium.auth import current_podium
from podium.web.admin.guard import admin_page, bp, page

GROUPS = (("loaded", "Loaded"), ("failed", "Failed"), ("blocked", "Blocked"), ("disabled", "Disabled"),
          ("not allowed", "Not allowed"))
"""Plugin statuses in the order the page shows them."""


@bp.get("/plugins")
@admin_page("admin", "auditor")
def plugins() -> Any:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for info in current_podium().plugins.describe():
        grouped[info["status"]].append(info)
    return page("admin/plugins.html", groups=[(status, label, grouped[status]) for status, label in GROUPS])
