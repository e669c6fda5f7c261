"""The ConnectWise plugin's hook implementations (entry point ``connectwise``).

Registered exactly like a third-party plugin (design §3): setup.cfg points the ``podium``
entry-point group at this module, and Podium's plugin manager calls these hooks.
"""

from __future__ import annotations

from podium import hookimpl
from podium.datasource import DataSource
from podium.registry import Registry
from podium_connectwise.connector import ConnectWiseManage


@hookimpl
def podium_register_data_sources(registry: Registry[DataSource]) -> None:
    """Register the ConnectWise Manage connector under the key ``connectwise``."""
    registry.add(ConnectWiseManage)
