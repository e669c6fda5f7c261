"""A local ConnectWise Manage REST API 3.0 over the simulated MSP world (design §6).

``podium simulate connectwise`` builds the world into a :class:`WorldStore` and serves it
with :func:`create_simulator_app`; tests and the live mode change records through
:meth:`WorldStore.update`; a pod host page reads a member's Hosted API hash with
:meth:`WorldStore.member_hash`.
"""

from .app import create_simulator_app
from .auth import Credentials
from .store import WorldStore

__all__ = ["Credentials", "WorldStore", "create_simulator_app"]
