"""Podium's ConnectWise Manage plugin: the simulator (``podium simulate connectwise``),
``podium demo``, which runs Podium against it, and ``podium connections register-callbacks``.

Registered like any third-party plugin, through the ``podium`` entry point group.
"""

from __future__ import annotations

import click

from podium import hookimpl


@hookimpl
def podium_register_commands(cli: click.Group) -> None:
    """Add ``connectwise`` to ``podium simulate`` (creating the group if Podium has none), ``demo``,
    and ``register-callbacks`` to ``podium connections``."""
    from podium_connectwise.callbacks import register_callbacks_command
    from podium_connectwise.demo import demo  # Flask and SQLAlchemy only when commands are built
    from podium_connectwise.simulator.cli import connectwise

    group = cli.commands.get("simulate")
    if not isinstance(group, click.Group):
        group = click.Group("simulate", help="Simulated vendors over the simulated MSP.")
        cli.add_command(group)
    group.add_command(connectwise)
    cli.add_command(demo)
    connections = cli.commands.get("connections")
    if isinstance(connections, click.Group):
        connections.add_command(register_callbacks_command)
