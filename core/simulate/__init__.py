"""The simulated MSP: one seeded, believable managed-service provider to sync and demo.

:mod:`podium.simulate.world` generates it (org, clients, tickets, time, surveys, money,
endpoints) as lazy streams of canonical records; :mod:`podium.simulate.loader` puts it
straight into the store for one tenant; vendor plugins' simulators render the same world
through their own APIs. See ``docs/simulated_msp.md``.
"""

from podium.simulate.world import ENTITIES, PRESETS, World, WorldConfig, preset

__all__ = ["ENTITIES", "PRESETS", "World", "WorldConfig", "preset"]
