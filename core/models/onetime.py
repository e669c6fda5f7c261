"""One-use tickets: short-lived secrets that work exactly once.

Pods use them where a bearer token cannot travel in a header: an ``EventSource`` cannot
send one, so an event stream is opened with a ticket in its URL; and the sign-in popup
hands the iframe a one-time code. They live in Redis when it is configured (a key with
a TTL) and in this table otherwise (:mod:`podium.podsession`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from podium.models.base import Base, ref_column, utcnow
from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column


class OneUseTicket(Base):
    """A ticket or code, stored only as its SHA-256 (a dump of the table redeems nothing).

    Not ``TenantScoped``: a ticket is redeemed before its tenant is known (the secret is
    the only thing the caller presents), so it is looked up by hash in an unscoped
    session; ``tenant_id`` ties it to its tenant for clean-up and cascades.
    """

    __tablename__ = "one_use_tickets"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    """What the ticket opens (``stream``, ``signin-code``); a ticket of one purpose never opens another."""
    tenant_id: Mapped[int] = ref_column("tenants.id", index=True)
    payload: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
