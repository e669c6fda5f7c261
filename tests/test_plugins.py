"""The plugin manager: loading, isolation, allow/block lists, every hook, and the CLI.

Plugins here are real files in a plugins directory, or a real pip-installed package with
an entry point, loaded by the real manager; nothing about loading is faked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from podium.cli import cli
from podium.plugins import PluginManager
from podium.runtime import Podium

HEADER = """
from marshmallow import Schema, fields
from podium import hookimpl
"""

DATA_SOURCE_PLUGIN = HEADER + """
from podium.datasource import DataSource

class Config(Schema):
    site = fields.String(required=True)
    api_key = fields.String(required=True, metadata={"secret": True})

class Acme(DataSource):
    key = "acme"
    label = "Acme PSA"
    config_schema = Config
    capabilities = {"identity": frozenset({"email"})}

@hookimpl
def podium_register_data_sources(registry):
    registry.add(Acme)
"""

METRIC_PLUGIN = HEADER + """
from podium.metrics import Metric

class Params(Schema):
    within_minutes = fields.Integer(load_default=60)

class Timely(Metric):
    key = "timely_pct"
    label = "Timely entries"
    params_schema = Params
    anchor = "time_entries.end_at"

@hookimpl
def podium_register_metrics(registry):
    registry.add(Timely)
"""

RULE_PLUGIN = HEADER + """
from podium.payouts import PayoutRule

class FlatConfig(Schema):
    amount = fields.Integer(required=True)

class Flat(PayoutRule):
    key = "flat"
    label = "Flat amount"
    config_schema = FlatConfig

@hookimpl
def podium_register_payout_rules(registry):
    registry.add(Flat)
"""

POD_PLUGIN = HEADER + """
from podium.pods import Pod

class Hello(Pod):
    key = "hello"
    title = "Hello"

@hookimpl
def podium_register_pods(registry):
    registry.add(Hello)
"""

COMMAND_PLUGIN = HEADER + """
import click

@click.command("hello")
@click.argument("name")
def hello(name):
    click.echo(f"hello {name} from a plugin")

@hookimpl
def podium_register_commands(cli):
    cli.add_command(hello)
"""

CHANGES_PLUGIN = HEADER + """
CALLS = []

@hookimpl
def podium_records_changed(entity, external_ids):
    CALLS.append((entity, list(external_ids)))
"""

BROKEN_IMPORT = "import podium_module_that_does_not_exist\n"

RAISES_AT_REGISTRATION = HEADER + """
from podium.metrics import Metric

class Fine(Metric):
    key = "half_registered"
    label = "registered before the error"
    anchor = "tickets.resolved_at"

@hookimpl
def podium_register_metrics(registry):
    registry.add(Fine)
    raise RuntimeError("metric catalogue unreachable")
"""

MISSPELT_HOOK = HEADER + """
@hookimpl
def podium_register_metric(registry):
    pass
"""


def write_plugins(directory: Path, plugins: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, source in plugins.items():
        (directory / f"{name}.py").write_text(textwrap.dedent(source))
    return directory


def manager(tmp_path: Path, plugins: dict[str, str], **overrides: object) -> PluginManager:
    runtime = Podium.from_env(
        instance_path=tmp_path / "instance",
        database_url=f"sqlite:///{tmp_path / 'p.db'}",
        secret_key="k",
        plugins_dir=write_plugins(tmp_path / "plugins", plugins),
        **overrides,
    )
    return runtime.plugins


def by_name(pm: PluginManager) -> dict[str, dict]:
    return {p["name"]: p for p in pm.describe()}


def test_hook_podium_register_data_sources(tmp_path: Path) -> None:
    pm = manager(tmp_path, {"acme": DATA_SOURCE_PLUGIN})
    source = pm.data_sources.get("acme")
    assert source.label == "Acme PSA"
    assert source.secret_fields() == {"api_key"}
    assert pm.data_sources.owner("acme") == "acme"
    assert by_name(pm)["acme"]["registered"] == {"data_sources": ["acme"]}


def test_hook_podium_register_metrics(tmp_path: Path) -> None:
    pm = manager(tmp_path, {"timely": METRIC_PLUGIN})
    metric = pm.metrics.get("timely_pct")({"within_minutes": 30})
    assert metric.params == {"within_minutes": 30}
    assert pm.metrics.get("timely_pct")().params == {"within_minutes": 60}


def test_hook_podium_register_payout_rules(tmp_path: Path) -> None:
    pm = manager(tmp_path, {"flat": RULE_PLUGIN})
    assert pm.payout_rules.get("flat")({"amount": 2500}).config == {"amount": 2500}


def test_hook_podium_register_pods(tmp_path: Path) -> None:
    pm = manager(tmp_path, {"hello_pod": POD_PLUGIN})
    assert pm.pods.get("hello").title == "Hello"


def test_hook_podium_register_commands(tmp_path: Path) -> None:
    """Through the installed console script, as a user runs it."""
    plugins = write_plugins(tmp_path / "plugins", {"greeter": COMMAND_PLUGIN})
    env = {**os.environ, "PODIUM_PLUGINS_DIR": str(plugins), "PODIUM_INSTANCE": str(tmp_path / "instance")}
    podium_bin = Path(sys.executable).with_name("podium")
    result = subprocess.run([str(podium_bin), "hello", "Ada"], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello Ada from a plugin"


def test_hook_podium_records_changed(tmp_path: Path) -> None:
    """Only the plugins-dir listeners: the built-in ones need a migrated database."""
    pm = manager(tmp_path, {"listener": CHANGES_PLUGIN, "crashes": HEADER + textwrap.dedent("""
        @hookimpl
        def podium_records_changed(entity):
            raise ValueError("listener bug")
    """)}, load_entry_points=False)
    errors = pm.call_each(
        "podium_records_changed", podium=None, tenant_id=1, connection_id=2, entity="ticket", external_ids=["7", "8"]
    )
    listener = sys.modules["podium_plugins_dir.listener"]
    assert listener.CALLS == [("ticket", ["7", "8"])]
    assert [(name, str(exc)) for name, exc in errors] == [("crashes", "listener bug")]


def test_broken_plugins_are_isolated_and_listed(tmp_path: Path) -> None:
    pm = manager(tmp_path, {
        "acme": DATA_SOURCE_PLUGIN,
        "broken": BROKEN_IMPORT,
        "half": RAISES_AT_REGISTRATION,
        "typo": MISSPELT_HOOK,
        "timely": METRIC_PLUGIN,
    })
    plugins = by_name(pm)
    assert plugins["acme"]["status"] == "loaded"
    assert plugins["timely"]["status"] == "loaded"
    assert plugins["broken"]["status"] == "failed"
    assert "No module named 'podium_module_that_does_not_exist'" in plugins["broken"]["error"]
    assert plugins["half"]["status"] == "failed"
    assert "metric catalogue unreachable" in plugins["half"]["error"]
    assert "half_registered" not in pm.metrics, "a failed plugin's partial registrations are removed"
    assert plugins["typo"]["status"] == "failed"
    assert "podium_register_metric" in plugins["typo"]["error"]
    assert "timely_pct" in pm.metrics and "acme" in pm.data_sources


def test_duplicate_key_fails_the_second_plugin_only(tmp_path: Path) -> None:
    pm = manager(tmp_path, {"a_first": METRIC_PLUGIN, "b_second": METRIC_PLUGIN})
    plugins = by_name(pm)
    assert plugins["a_first"]["status"] == "loaded"
    assert plugins["b_second"]["status"] == "failed"
    assert "already registered by plugin 'a_first'" in plugins["b_second"]["error"]


def test_block_list_and_allow_list(tmp_path: Path) -> None:
    pm = manager(tmp_path, {"acme": DATA_SOURCE_PLUGIN, "timely": METRIC_PLUGIN}, block_plugins=("acme",))
    assert by_name(pm)["acme"]["status"] == "blocked"
    assert "acme" not in pm.data_sources
    assert "timely_pct" in pm.metrics

    pm = manager(tmp_path, {"acme": DATA_SOURCE_PLUGIN, "timely": METRIC_PLUGIN}, load_plugins=("timely",))
    assert by_name(pm)["acme"]["status"] == "not allowed"
    assert by_name(pm)["timely"]["status"] == "loaded"


def test_block_list_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODIUM_BLOCK_PLUGINS", "acme, other")
    monkeypatch.setenv("PODIUM_LOAD_PLUGINS", "acme,timely")
    pm = manager(tmp_path, {"acme": DATA_SOURCE_PLUGIN, "timely": METRIC_PLUGIN})
    assert by_name(pm)["acme"]["status"] == "blocked"
    assert by_name(pm)["timely"]["status"] == "loaded"


def test_cli_list_disable_enable(tmp_path: Path) -> None:
    plugins = write_plugins(tmp_path / "plugins", {"acme": DATA_SOURCE_PLUGIN, "broken": BROKEN_IMPORT})
    env = {"PODIUM_PLUGINS_DIR": str(plugins), "PODIUM_INSTANCE": str(tmp_path / "instance")}
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    listing = run("plugins", "list")
    assert "acme" in listing and "[loaded]" in listing and "data_sources: acme" in listing
    assert "broken" in listing and "[failed]" in listing and "podium_module_that_does_not_exist" in listing
    assert "disabled" in run("plugins", "disable", "acme")
    as_json = {p["name"]: p for p in json.loads(run("plugins", "list", "--json"))}
    assert as_json["acme"]["status"] == "disabled"
    assert "enabled" in run("plugins", "enable", "acme")
    as_json = {p["name"]: p for p in json.loads(run("plugins", "list", "--json"))}
    assert as_json["acme"]["status"] == "loaded"
    refused = runner.invoke(cli, ["plugins", "disable", "nope"], env=env)
    assert refused.exit_code != 0 and "no plugin named 'nope'" in refused.output


def test_install_from_path_loads_through_entry_point(tmp_path: Path) -> None:
    """`podium plugins install` pip-installs a package whose entry point then loads."""
    package = tmp_path / "podium-hello"
    (package / "podium_hello").mkdir(parents=True)
    (package / "podium_hello" / "__init__.py").write_text(textwrap.dedent(POD_PLUGIN))
    (package / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=69"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "podium-hello"
        version = "0.3.1"
        [project.entry-points.podium]
        hello = "podium_hello"
    """))
    env = {"PODIUM_INSTANCE": str(tmp_path / "instance")}
    runner = CliRunner()
    try:
        result = runner.invoke(cli, ["plugins", "install", str(package), "--", "--no-build-isolation", "--no-deps",
                                     "--quiet"], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        listed = subprocess.run(
            [str(Path(sys.executable).with_name("podium")), "plugins", "list", "--json"],
            env={**os.environ, **env}, capture_output=True, text=True, check=True,
        )
        hello = {p["name"]: p for p in json.loads(listed.stdout)}["hello"]
        assert hello == {**hello, "version": "0.3.1", "source": "entry point", "status": "loaded",
                         "registered": {"pods": ["hello"]}}
    finally:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", "podium-hello"], check=False)


def test_plugin_hooks_have_tests() -> None:
    """Every hook in podium.hookspecs has a test_hook_<name> test in this module (meta-test)."""
    from podium import hookspecs

    hooks = [name for name in dir(hookspecs) if name.startswith("podium_")]
    tests = [name for name in globals() if name.startswith("test_hook_")]
    missing = [hook for hook in hooks if f"test_hook_{hook}" not in tests]
    assert hooks, "no hooks found"
    assert not missing, f"hooks without a test_hook_<name> test: {missing}"
