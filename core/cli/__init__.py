"""The ``podium`` command.

Each module in this package defines the commands of one area and exposes them as
``COMMANDS`` (a list of click commands or groups); they are collected here, and plugins
add theirs through the ``podium_register_commands`` hook. The runtime (config, database,
plugins) is built lazily, so ``podium --help`` works before anything is configured.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import click

from podium.runtime import Podium


class Runtime:
    """Holds the lazily built :class:`Podium` for the commands of one invocation."""

    def __init__(self, overrides: dict[str, Any]) -> None:
        self._overrides = overrides
        self._podium: Podium | None = None

    @property
    def podium(self) -> Podium:
        if self._podium is None:
            self._podium = Podium.from_env(**self._overrides)
        return self._podium


pass_runtime = click.make_pass_decorator(Runtime)


def get_podium() -> Podium:
    """The runtime of the running command (for commands that need it)."""
    return click.get_current_context().find_object(Runtime).podium


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--instance", type=click.Path(file_okay=False), envvar="PODIUM_INSTANCE",
              help="Instance folder (SQLite file, secret key, settings). Default: ./instance")
@click.version_option(package_name="podium-msp")
@click.pass_context
def cli(ctx: click.Context, instance: str | None) -> None:
    """Podium: live technician scorecards and incentive payouts from your PSA and RMM."""
    if ctx.obj is None or instance:
        ctx.obj = Runtime({"instance_path": instance} if instance else {})


def _collect() -> None:
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for command in getattr(module, "COMMANDS", ()):
            cli.add_command(command)


_collect()


def main() -> None:
    """Console-script entry point: add plugin commands, then run."""
    runtime = Runtime({})
    try:
        manager = runtime.podium.plugins
    except Exception as exc:  # noqa: BLE001 - a broken config must not hide `podium --help`
        click.echo(f"warning: plugins not loaded: {exc}", err=True)
    else:
        manager.call_each("podium_register_commands", cli=cli)
    cli(obj=runtime)
