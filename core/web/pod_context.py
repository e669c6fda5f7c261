"""What ticket and company pods share: the record the PSA screen shows, and links between pods.

A PSA frames a context pod with the screen's record id in its URL (ConnectWise's Hosted
API substitutes ``[cw_id]``; the pod is registered as ``/pods/ticket?c=…&id=[cw_id]``).
That id is the *vendor's* id, so it is looked up among the records synced from the
pod's own connection (the one its embed reference named, carried in the pod token),
inside the viewer's tenant session. An id that no record of this tenant has — unknown,
not synced yet, or another tenant's — gets one and the same "not found", so a pod can
never be used to learn whether some other organisation has such a record.

The id is context, never access: what the viewer may see of the record is decided by
the pod from the viewer's role, as for every figure.
"""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import url_for
from podium.embed import embed_ref
from podium.podsession import refuse
from sqlalchemy import select

R = TypeVar("R")
MAX_ID_LENGTH = 64
"""External ids are at most this long (``ExternalRecord.external_id``)."""


def context_record(view: Any, model: type[R], noun: str) -> R:
    """The ``model`` row the pod's ``id`` names on the viewer's connection; a 404 otherwise.

    Without a connection in the session (a sign-in opened outside a PSA) the id must name
    exactly one record among the tenant's connections.
    """
    raw = (view.args.get("id") or "").strip()
    if not raw or len(raw) > MAX_ID_LENGTH:
        refuse(422, "invalid-input", f"This pod needs the {noun}'s id from the PSA screen.",
               errors={"id": [f"Give the PSA's {noun} id (at most {MAX_ID_LENGTH} characters)."]})
    statement = select(model).where(model.tenant_id == view.viewer.tenant_id, model.external_id == raw)  # type: ignore[attr-defined]
    connection_id = view.viewer.grant.connection_id
    if connection_id is not None:
        statement = statement.where(model.connection_id == connection_id)  # type: ignore[attr-defined]
    found = view.session.scalars(statement.limit(2)).all()
    if len(found) != 1:
        refuse(404, "not-found", f"Podium has no {noun} {raw} from this PSA. It may not be synced yet.")
    return found[0]


def pod_link(view: Any, key: str, **params: Any) -> str:
    """The URL of another pod's page for this viewer's connection (a drill-down link).

    It goes to the pod's shell, which runs the handshake again, so the link works inside
    the PSA's iframe without a cookie and grants nothing by itself.
    """
    query: dict[str, Any] = {}
    if view.viewer.grant.connection_id is not None:
        query["c"] = embed_ref(view.podium, view.viewer.grant.connection_id)
    query.update({name: value for name, value in params.items() if value is not None})
    return url_for("pods.shell", key=key) + ("?" + urlencode(query) if query else "")
