"""The admin start page: the menu of the pages the viewer's role may open."""

from __future__ import annotations

from typing import Any

from podium.web.admin.guard import STAFF, admin_page, bp, page


@bp.get("/")
@admin_page(*STAFF)
def home() -> Any:
    return page("admin/home.html")
