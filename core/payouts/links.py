"""Links from a statement's figures to the records behind them, in the vendor's own UI.

A metric reading carries the ids of the records it was computed from; each record knows
its connection and the vendor's id, and the connection's data source knows how to link to
it (``DataSource.record_url``). Links are computed when a period closes and kept in its
snapshot, so a closed statement shows the same links forever.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable

from podium.connections import open_source
from podium.models import Connection
from podium.runtime import Podium
from podium.schemas.canonical import ENTITY_MODELS
from sqlalchemy import select
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


def record_links(session: Session, podium: Podium, refs: Iterable[tuple[str, int]]) -> dict[str, str]:
    """``{"ticket:42": "https://…"}`` for the records a data source can link to."""
    by_type: dict[str, set[int]] = defaultdict(set)
    for record_type, record_id in refs:
        if record_type in ENTITY_MODELS:
            by_type[record_type].add(int(record_id))
    located: dict[int, list[tuple[str, int, str]]] = defaultdict(list)
    for record_type, ids in by_type.items():
        model = ENTITY_MODELS[record_type]
        if not hasattr(model, "external_id"):
            continue
        rows = session.execute(select(model.id, model.connection_id, model.external_id).where(model.id.in_(ids)))
        for row_id, connection_id, external_id in rows:
            located[connection_id].append((record_type, row_id, external_id))
    links: dict[str, str] = {}
    for connection_id, records in located.items():
        connection = session.get(Connection, connection_id)
        if connection is None:
            continue
        try:
            source = open_source(podium, connection)
        except Exception as exc:  # noqa: BLE001 - a missing or broken connector only costs the links
            log.warning("no record links for connection %s: %s", connection_id, exc)
            continue
        for record_type, row_id, external_id in records:
            try:
                url = source.record_url(record_type, external_id)
            except Exception as exc:  # noqa: BLE001
                log.warning("record_url failed for %s %s: %s", record_type, external_id, exc)
                continue
            if url:
                links[f"{record_type}:{row_id}"] = url
    return dict(sorted(links.items()))
