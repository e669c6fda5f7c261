"""``podium plugins``: see, install, enable and disable plugins."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click

from podium.cli import get_podium


@click.group()
def plugins() -> None:
    """Plugins: connectors, metrics, payout rules and pods."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the same as GET /-/plugins).")
def list_plugins(as_json: bool) -> None:
    """Show every plugin with its version, hooks and status (loaded, failed, blocked, disabled)."""
    described = get_podium().plugins.describe()
    if as_json:
        click.echo(json.dumps(described, indent=2))
        return
    if not described:
        click.echo("no plugins")
    for plugin in described:
        click.echo(f"{plugin['name']}  {plugin['version'] or '-'}  [{plugin['status']}]  ({plugin['source']})")
        if plugin["hooks"]:
            click.echo(f"    hooks: {', '.join(plugin['hooks'])}")
        for kind, keys in plugin["registered"].items():
            click.echo(f"    {kind}: {', '.join(keys)}")
        if plugin["error"]:
            click.echo(f"    error: {plugin['error']}")


@plugins.command()
@click.argument("requirement")
@click.argument("pip_args", nargs=-1, type=click.UNPROCESSED)
@click.option("--upgrade", "-U", is_flag=True, help="Upgrade the plugin if it is installed.")
def install(requirement: str, pip_args: tuple[str, ...], upgrade: bool) -> None:
    """Install a plugin into Podium's own Python environment with pip.

    REQUIREMENT is anything pip accepts: a name, ``name==1.2``, a path or a URL; anything
    after ``--`` goes to pip unchanged (an index URL, ``--no-build-isolation``).
    """
    command = [sys.executable, "-m", "pip", "install", *(["--upgrade"] if upgrade else []), requirement, *pip_args]
    click.echo("running: " + " ".join(command))
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        raise click.ClickException(f"pip could not install {requirement!r} (exit code {result.returncode})")
    click.echo("installed; restart Podium's web and worker processes to load it")


@plugins.command()
@click.argument("name")
@click.option("--directory", "-d", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Where to create the project folder.")
def new(name: str, directory: Path) -> None:
    """Create a plugin project NAME: a package with a working metric and its tests.

    The project is written to ``podium-NAME`` (package ``podium_NAME``); its tests pass as
    generated (``python -m pytest`` in it) and ``pip install -e`` makes Podium load it.
    """
    from podium.scaffold import ScaffoldError, new_plugin_project

    try:
        target = new_plugin_project(name, directory)
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {target}")
    click.echo(f"next: cd {target} && python -m pytest && pip install -e .")


def _set_disabled(name: str, disabled: bool) -> None:
    config = get_podium().config
    names = set(config.disabled_plugins())
    if disabled:
        names.add(name)
    else:
        names.discard(name)
    config.disabled_plugins_file.write_text(json.dumps(sorted(names)))


@plugins.command()
@click.argument("name")
def disable(name: str) -> None:
    """Stop loading plugin NAME (recorded in the instance folder; takes effect on restart)."""
    known = {p["name"] for p in get_podium().plugins.describe()}
    if name not in known:
        raise click.ClickException(f"no plugin named {name!r}; `podium plugins list` shows them")
    _set_disabled(name, True)
    click.echo(f"{name} disabled")


@plugins.command()
@click.argument("name")
def enable(name: str) -> None:
    """Load plugin NAME again after ``podium plugins disable``."""
    if name not in get_podium().config.disabled_plugins():
        raise click.ClickException(f"{name!r} is not disabled")
    _set_disabled(name, False)
    click.echo(f"{name} enabled")


COMMANDS = [plugins]
