"""The module the ``podium`` entry point names: Podium imports it and calls its hooks.

Keeping the hook implementations here, apart from the classes, means importing the
metric or the rule (in tests, in another plugin) registers nothing by accident.
"""

from __future__ import annotations

from podium import hookimpl
from podium.metrics import Metric
from podium.payouts import PayoutRule
from podium.registry import Registry

from podium_example.first_touch import FirstTouch
from podium_example.streak import StreakBonus

PODIUM_HOOK_API = "1.0"
"""The hook API version this plugin is written against; Podium refuses to load it when
its own hook API is of another major version or an older minor one."""


@hookimpl
def podium_register_metrics(registry: Registry[Metric]) -> None:
    registry.add(FirstTouch)


@hookimpl
def podium_register_payout_rules(registry: Registry[PayoutRule]) -> None:
    registry.add(StreakBonus)
