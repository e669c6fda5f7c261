"""Recording audit events: who changed what, when and why (design §7).

Every write the API or the admin CLI makes goes through :func:`record` in the same
transaction as the change itself, so there is never a change without its event (or an
event for a change that was rolled back). Snapshots must already be free of secrets —
callers pass the masked views (``podium.connections.describe``), never raw configs.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from sqlalchemy.orm import Session

from podium.models import AuditEvent, Tenant, User


def _json_safe(value: Any) -> Any:
    """Dates and times become ISO strings, so a snapshot fits a JSON column on both backends."""
    if value is None:
        return None

    def default(obj: Any) -> str:
        if isinstance(obj, (dt.date, dt.datetime, dt.time)):
            return obj.isoformat()
        raise TypeError(f"{type(obj).__name__} is not JSON-serialisable in an audit snapshot")

    return json.loads(json.dumps(value, default=default))


def target_type(target: object) -> str:
    """``Connection`` → ``connection``, ``ApiToken`` → ``api_token``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(target).__name__).lower()


def record(
    session: Session,
    actor: User | str,
    action: str,
    target: Any,
    before: Any = None,
    after: Any = None,
    reason: str | None = None,
) -> AuditEvent:
    """Add an audit event for ``action`` (a dotted verb such as ``connection.update``).

    ``actor`` is the acting user, or a label such as ``"cli"`` or ``"system:sync"`` for
    actions no signed-in user took. ``target`` is the ORM object acted on (a Tenant is
    its own tenant); its type and id are recorded.
    """
    tenant_id = target.id if isinstance(target, Tenant) else target.tenant_id
    event = AuditEvent(
        tenant_id=tenant_id,
        actor_user_id=actor.id if isinstance(actor, User) else None,
        actor_label=actor.email if isinstance(actor, User) else actor,
        action=action,
        target_type=target_type(target),
        target_id=str(target.id),
        before=_json_safe(before),
        after=_json_safe(after),
        reason=reason,
    )
    session.add(event)
    return event
