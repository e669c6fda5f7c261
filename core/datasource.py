"""The data-source contract: what a connector plugin implements.

A connector turns one vendor's API into canonical records (``podium.schemas.canonical``)
and nothing more: it never writes to the store and never computes a metric. The sync
engine (:mod:`podium.sync`) drives it window by window and page by page, so resuming
after a crash, watermarks, quarantine and the one-sync-at-a-time rule are written once
for every vendor.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from marshmallow import Schema

if TYPE_CHECKING:
    from podium.embed import EmbedHandshake
    from podium.webhooks import WebhookVerifier


@dataclass(frozen=True)
class Window:
    """The span of vendor ``lastUpdated`` times one scan covers.

    ``start`` is None for a full sync. ``end`` is the server's clock when the scan began:
    records changed after it are picked up by the next window (which starts at
    ``end`` minus the overlap), never lost between pages.
    """

    start: dt.datetime | None
    end: dt.datetime

    @property
    def is_full(self) -> bool:
        return self.start is None


@dataclass
class Page:
    """One page of canonical records and the cursor that resumes *after* it.

    ``cursor`` is JSON-serialisable and opaque to the engine; ``None`` means the window is
    exhausted. ``records`` are plain dicts in canonical-schema form (external ids, aware
    UTC datetimes); ``requests`` counts the vendor calls spent producing the page.
    """

    records: list[dict[str, Any]]
    cursor: dict[str, Any] | None
    requests: int = 1


class DataSource:
    """Base class of every connector; subclass it and register it with ``registry.add``.

    Class attributes declare what the connector is; methods fetch. ``config`` is the
    validated connection configuration (secrets already decrypted), and ``context`` is a
    :class:`SourceContext` giving the shared HTTP machinery and the request budget.
    """

    key: ClassVar[str]
    """Stable id stored on connections, e.g. ``"connectwise"``."""
    label: ClassVar[str]
    config_schema: ClassVar[type[Schema]]
    """marshmallow schema of the connection config; mark secrets with ``metadata={"secret": True}``."""
    capabilities: ClassVar[Mapping[str, frozenset[str]]] = {}
    """Canonical entity → canonical fields this source can supply, in sync order (references first)."""
    incremental: ClassVar[frozenset[str]] = frozenset()
    """Entities that can be fetched by a ``lastUpdated`` window; the rest are always fetched whole."""
    webhooks: ClassVar[type[WebhookVerifier] | None] = None
    """The vendor's webhook verifier (:mod:`podium.webhooks`); None: the vendor's changes are only polled."""
    embed: ClassVar[type[EmbedHandshake] | None] = None
    """The vendor's pod handshake (:mod:`podium.embed`); None: pods open through a Podium sign-in."""

    def __init__(self, config: Mapping[str, Any], context: Any = None) -> None:
        self.config = dict(config)
        self.context = context

    @classmethod
    def secret_fields(cls) -> frozenset[str]:
        """Names of config fields marked secret in ``config_schema``."""
        return frozenset(
            name for name, fld in cls.config_schema().fields.items() if fld.metadata.get("secret")
        )

    @classmethod
    def entities(cls) -> list[str]:
        return list(cls.capabilities)

    def test_connection(self) -> str:
        """Check credentials and reachability; return a one-line success message.

        Raise :class:`podium.errors.ConnectionTestError` with a message that says exactly
        what to fix (wrong company id, bad keys, missing client id, unreachable site).
        """
        raise NotImplementedError

    def fetch(self, entity: str, window: Window, cursor: dict[str, Any] | None) -> Iterator[Page]:
        """Yield pages of ``entity`` changed inside ``window``, resuming after ``cursor``."""
        raise NotImplementedError

    def fetch_one(self, entity: str, external_id: str) -> dict[str, Any] | None:
        """One record by id (webhooks); None when the vendor says it no longer exists."""
        raise NotImplementedError

    def list_ids(self, entity: str) -> Iterator[str]:
        """Every id the vendor still has, for reconciling deletions."""
        raise NotImplementedError

    def record_url(self, entity: str, external_id: str) -> str | None:
        """A link to the record in the vendor's UI, for statements and drill-down."""
        return None

    def server_time(self) -> dt.datetime:
        """The vendor's clock, which windows are cut on; the local clock by default."""
        return dt.datetime.now(dt.timezone.utc)
