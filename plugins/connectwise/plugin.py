"""The ConnectWise plugin's hook implementations (entry point ``connectwise``).

Registered exactly like a third-party plugin (design §3): setup.cfg points the ``podium``
entry-point group at this module, and Podium's plugin manager calls these hooks.
"""

from __future__ import annotations

from podium import hookimpl
from podium.datasource import DataSource
from podium.registry import Registry
from podium_connectwise.connector import ConnectWiseManage
from podium_connectwise.embed import ManageHostedApi
from podium_connectwise.webhooks import ConnectWiseCallbacks

# The connector's callback verifier and pod handshake. They belong on the class in
# connector.py (``webhooks = ConnectWiseCallbacks``, ``embed = ManageHostedApi``), which its
# owner was asked to add; until then they are attached here, where the class is registered.
ConnectWiseManage.webhooks = ConnectWiseCallbacks  # type: ignore[attr-defined]
ConnectWiseManage.embed = ManageHostedApi  # type: ignore[attr-defined]


@hookimpl
def podium_register_data_sources(registry: Registry[DataSource]) -> None:
    """Register the ConnectWise Manage connector under the key ``connectwise``."""
    registry.add(ConnectWiseManage)
