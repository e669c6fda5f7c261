"""``podium simulate``: the simulated MSP.

``simulate`` is a group so that vendor plugins can add ``podium simulate connectwise``
(their API served over the same world) through ``podium_register_commands``; ``load``
puts the world straight into the store for demos and tests that need no vendor.
"""

from __future__ import annotations

import datetime as dt
import sys

import click
from tqdm import tqdm

from podium.cli import get_podium
from podium.simulate import PRESETS, World, preset
from podium.simulate.loader import load_world


@click.group()
def simulate() -> None:
    """The simulated MSP every vendor simulator renders."""


@simulate.command("load")
@click.option("--tenant", "tenant_slug", metavar="SLUG", help="Tenant to load into (created if missing).")
@click.option("--preset", "preset_name", type=click.Choice(list(PRESETS)), default="default", show_default=True)
@click.option("--seed", type=int, help="Seed (same seed, same world).")
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]), help="First day of the world (YYYY-MM-DD).")
@click.option("--technicians", type=int, help="Override the preset's number of technicians.")
@click.option("--clients", type=int, help="Override the preset's number of clients.")
@click.option("--days", type=int, help="Override the preset's number of days.")
def load(
    tenant_slug: str | None,
    preset_name: str,
    seed: int | None,
    start: dt.datetime | None,
    technicians: int | None,
    clients: int | None,
    days: int | None,
) -> None:
    """Generate the simulated MSP and store it for a tenant; running it again changes nothing."""
    given = {
        "seed": seed,
        "start": start.date() if start else None,
        "technicians": technicians,
        "clients": clients,
        "days": days,
    }
    try:
        config = preset(preset_name, **{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    world = World(config)
    click.echo(f"simulating {world.tenant['name']}: {world.config}", err=True)
    bars: dict[str, tqdm] = {}

    def progress(entity: str, count: int) -> None:
        if entity not in bars:
            bars[entity] = tqdm(desc=entity, unit=" rows", leave=True, file=sys.stderr)
        bars[entity].update(count)

    try:
        report = load_world(get_podium(), world, tenant_slug=tenant_slug, progress=progress)
    finally:
        for bar in bars.values():
            bar.close()
    click.echo(f"tenant {report.tenant_id}, connection {report.connection_id}; {report.linked} identities linked")
    for entity, count in sorted(report.records.items()):
        click.echo(f"  {entity}: {count}")


COMMANDS = [simulate]
