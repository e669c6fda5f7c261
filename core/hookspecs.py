"""Every hook a Podium plugin can implement: the whole extension contract.

Each hook is documented with its exact signature in ``docs/plugin_hooks.md`` and tested
by a ``test_hook_<name>`` test; two meta-tests enforce both. Implementations may accept
fewer arguments than the spec (pluggy's opt-in arguments), so a spec can grow without
breaking plugins. Registration hooks receive a typed registry and return nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from podium.datasource import DataSource
    from podium.metrics import Metric
    from podium.payouts import PayoutRule
    from podium.pods import Pod
    from podium.registry import Registry
    from podium.runtime import Podium

hookspec = pluggy.HookspecMarker("podium")


@hookspec
def podium_register_data_sources(registry: Registry[DataSource]) -> None:
    """Register connector classes (subclasses of ``podium.datasource.DataSource``)."""


@hookspec
def podium_register_metrics(registry: Registry[Metric]) -> None:
    """Register metric classes (subclasses of ``podium.metrics.Metric``)."""


@hookspec
def podium_register_payout_rules(registry: Registry[PayoutRule]) -> None:
    """Register payout-rule types (subclasses of ``podium.payouts.PayoutRule``)."""


@hookspec
def podium_register_pods(registry: Registry[Pod]) -> None:
    """Register pod views (subclasses of ``podium.pods.Pod``)."""


@hookspec
def podium_register_commands(cli: click.Group) -> None:
    """Add commands or command groups to the ``podium`` CLI."""


@hookspec
def podium_records_changed(
    podium: Podium, tenant_id: int, connection_id: int, entity: str, external_ids: list[str]
) -> None:
    """Called after synced records of ``entity`` were written (or deleted) for a connection."""
