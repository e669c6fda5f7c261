"""``podium connections register-callbacks <conn>``: point ConnectWise's callbacks at this Podium.

ConnectWise tells an integration about changes through callback entries it keeps per
site (``system/callbacks``, facts §1.11). This registers one for tickets and one for time
entries, each at level ``owner`` with ``objectId`` 1 (every record), to
``<PODIUM_BASE_URL>/hooks/<the connection's webhook token>?recordId=`` (ConnectWise
appends the record id, and recommends ending the URL that way).

It is safe to run again: an entry of the same type already pointing at this connection's
hook — at any host, so a changed ``PODIUM_BASE_URL`` is picked up — is updated in place
when it differs (a disabled entry is re-enabled: ConnectWise sets ``inactiveFlag`` after
three days of failed deliveries) and left alone when it does not; a second such entry of
the same type is deleted, so a record is never announced twice. Entries of other
integrations are never touched. The webhook token is part of the URL, so it is never
printed: the output shows the base URL only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import click

from podium.audit import record
from podium.cli import get_podium
from podium.cli.connections import CLI_ACTOR, find_connection, tenant_for
from podium.connections import open_source, webhook_token
from podium.errors import ConnectorError
from podium.models import Connection
from podium.runtime import Podium
from podium.sync import source_context

CALLBACKS_PATH = "system/callbacks"
CALLBACK_TYPES = ("ticket", "time")
"""What Podium wants to hear about. ``time`` (time entries) is [UNCONFIRMED] as ConnectWise's
type string (see :data:`podium_connectwise.webhooks.CALLBACK_ENTITIES`)."""
COMPARED = ("url", "objectId", "type", "level", "description", "inactiveFlag", "payloadVersion",
            "isSelfSuppressedFlag")


@dataclass(frozen=True)
class Registration:
    """What happened to one callback type: ``created``, ``updated`` or ``unchanged``;
    ``removed`` lists duplicate entries deleted."""

    type: str
    outcome: str
    callback_id: int
    removed: tuple[int, ...] = ()


def hook_path(podium: Podium, connection: Connection) -> str:
    return f"/hooks/{webhook_token(podium, connection)}"


def desired_entry(podium: Podium, connection: Connection, kind: str) -> dict[str, Any]:
    """The callback entry Podium wants for ``kind`` on this connection."""
    return {
        "url": f"{podium.config.base_url.rstrip('/')}{hook_path(podium, connection)}?recordId=",
        "objectId": 1,
        "type": kind,
        "level": "owner",
        "description": f"Podium {kind} changes for {connection.name}"[:100],
        "inactiveFlag": False,
        "payloadVersion": "3.0.0",
        "isSelfSuppressedFlag": False,
    }


def _ours(podium: Podium, entry: dict[str, Any], connection: Connection, kind: str) -> bool:
    url = entry.get("url")
    return (isinstance(url, str) and urlsplit(url).path.rstrip("/") == hook_path(podium, connection)
            and str(entry.get("type", "")).lower() == kind)


def register_callbacks(podium: Podium, connection: Connection) -> list[Registration]:
    """Create or update the connection's ticket and time-entry callbacks on its ConnectWise site.

    Raises :class:`podium.errors.ConnectorError` (with secrets masked) when ConnectWise
    refuses, e.g. when the API member's role may not manage callbacks.
    """
    context = source_context(podium, connection)
    try:
        api = open_source(podium, connection, context).api  # type: ignore[attr-defined]
        existing = list(api.every(CALLBACKS_PATH))
        registrations = []
        for kind in CALLBACK_TYPES:
            wanted = desired_entry(podium, connection, kind)
            mine = sorted((e for e in existing if _ours(podium, e, connection, kind)), key=lambda e: e["id"])
            if not mine:
                created = api.navigable.json_of(api.navigable.request("POST", api.url(CALLBACKS_PATH), json=wanted))
                registrations.append(Registration(kind, "created", created["id"]))
                continue
            keep, extra = mine[0], mine[1:]
            for duplicate in extra:
                api.navigable.request("DELETE", api.url(f"{CALLBACKS_PATH}/{duplicate['id']}"))
            same = all(keep.get(name) == value for name, value in wanted.items())
            if not same:
                api.navigable.request("PUT", api.url(f"{CALLBACKS_PATH}/{keep['id']}"), json=wanted)
            registrations.append(Registration(kind, "unchanged" if same else "updated", keep["id"],
                                              tuple(e["id"] for e in extra)))
        return registrations
    finally:
        context.close()


@click.command("register-callbacks")
@click.argument("name")
@click.option("--tenant", "slug", help="Tenant slug (needed when there are several tenants).")
def register_callbacks_command(name: str, slug: str | None) -> None:
    """Register ConnectWise ticket and time-entry callbacks pointing at this Podium (PODIUM_BASE_URL).

    Run it again at any time: entries already pointing at the connection are updated, not duplicated.
    """
    podium = get_podium()
    with podium.db.session() as session:
        tenant = tenant_for(session, slug)
        connection = find_connection(session, tenant, name)
    if connection.vendor != "connectwise":
        raise click.ClickException(f"{name!r} is a {connection.vendor} connection; callbacks are ConnectWise's")
    try:
        registrations = register_callbacks(podium, connection)
    except ConnectorError as exc:
        raise click.ClickException(f"ConnectWise refused the callbacks: {exc}") from None
    with podium.db.session(tenant.id) as session:
        target = session.get(Connection, connection.id)
        shown = [{"type": r.type, "id": r.callback_id, "outcome": r.outcome} for r in registrations]
        record(session, CLI_ACTOR, "connection.register_callbacks", target, after={"callbacks": shown})
    base = podium.config.base_url.rstrip("/")
    click.echo(f"callbacks of {name!r} now point at {base}/hooks/… (the connection's token)")
    for r in registrations:
        removed = f"; removed duplicate(s) {', '.join(map(str, r.removed))}" if r.removed else ""
        click.echo(f"  {r.type}: {r.outcome} (callback {r.callback_id}){removed}")
