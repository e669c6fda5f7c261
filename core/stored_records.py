"""Read a connection's stored records back in the form its connector yields them.

Some vendors keep no usable history (or charge a request per record for it), so a
connector learns what changed by comparing what it fetches with what Podium stored
last time — a ticket's status, owner and tier before and after (ConnectWise's snapshot
differences, :mod:`podium_connectwise.history`). A connector never opens the database
itself; the sync engine hands it a :class:`StoredRecords` for its own connection, which
only reads, only that connection's rows, and returns canonical dicts (references as
the vendor's external ids, exactly as :mod:`podium.schemas.canonical` names them).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from podium.db import Database, batched
from podium.schemas.canonical import CANONICAL_SCHEMAS, ENTITY_MODELS, REFERENCES
from sqlalchemy import select


class StoredRecords:
    """``stored(entity, external_ids)`` → ``{external id: canonical record}`` of one connection."""

    def __init__(self, db: Database, tenant_id: int, connection_id: int) -> None:
        self.db = db
        self.tenant_id = tenant_id
        self.connection_id = connection_id

    def __call__(self, entity: str, external_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        model = ENTITY_MODELS[entity]
        if "external_id" not in model.__table__.c:
            raise ValueError(f"{entity!r} records have no external id to look them up by")
        refs = REFERENCES[entity]
        names = [name for name in CANONICAL_SCHEMAS[entity]().fields if name not in refs]
        found: dict[str, dict[str, Any]] = {}
        with self.db.session(self.tenant_id) as session:
            for chunk in batched(sorted(set(external_ids)), 500):
                rows = session.execute(
                    select(model).where(model.connection_id == self.connection_id, model.external_id.in_(chunk))
                ).scalars()
                for row in rows:
                    found[row.external_id] = {name: getattr(row, name) for name in names} | {
                        name: getattr(row, column) for name, (_target, column) in refs.items()
                    }
            for name, (target, _column) in refs.items():
                target_model = ENTITY_MODELS[target]
                row_ids = {record[name] for record in found.values() if record[name] is not None}
                external: dict[int, str] = {}
                for chunk in batched(sorted(row_ids), 500):
                    external.update(
                        session.execute(
                            select(target_model.id, target_model.external_id).where(target_model.id.in_(chunk))
                        ).all()
                    )
                for record in found.values():
                    record[name] = external.get(record[name]) if record[name] is not None else None
        return found
