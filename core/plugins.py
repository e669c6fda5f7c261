"""The plugin manager: discovery, allow/block lists, validation and failure isolation.

Load order: Podium's own default plugins, then entry points in the group ``podium``
(built-in vendors, metrics and rules are installed this way, exactly like third-party
ones), then ``*.py`` files in the plugins directory. A plugin that fails to import,
fails pluggy's validation, declares a hook API version this Podium does not speak
(:func:`check_hook_api`), implements an unknown hook (``check_pending``) or raises while
registering is logged, unregistered and listed with its error; everything else loads and
the server starts. Registration hooks are called one implementation at a time for the
same reason: pluggy stops at the first exception, and one broken metric must not hide
the others.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import pluggy

from podium import hookspecs
from podium.config import Config
from podium.datasource import DataSource
from podium.metrics import Metric
from podium.payouts import PayoutRule
from podium.pods import Pod
from podium.registry import Registry
from podium.version import HOOK_API_VERSION, __version__

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "podium"

DEFAULT_PLUGINS: tuple[str, ...] = ()
"""Podium modules that are plugins but not separate packages (loaded before entry points)."""

Status = Literal["loaded", "failed", "blocked", "disabled", "not allowed"]


@dataclass
class PluginInfo:
    """What ``podium plugins list`` and ``/-/plugins`` show about one plugin."""

    name: str
    version: str | None
    source: Literal["default", "entry point", "plugins dir"]
    status: Status = "loaded"
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None
    module: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "status": self.status,
            "hooks": sorted(self.hooks),
            "registered": self.registered,
            "error": self.error,
        }


class HookApiMismatch(pluggy.PluginValidationError):
    """A plugin declares (``PODIUM_HOOK_API``) a hook API version this Podium does not speak."""


def _major_minor(version: str) -> tuple[int, int]:
    major, _, minor = version.strip().partition(".")
    return int(major), int(minor.partition(".")[0] or 0)


def check_hook_api(plugin: Any) -> None:
    """Refuse a plugin written for another major hook API version, or a newer minor one.

    A plugin may say which hook API it is written against with a module attribute
    ``PODIUM_HOOK_API = "1.2"``. Within a major version hooks only gain optional
    arguments, so a plugin for 1.0 runs on 1.3; a plugin for 1.3 may use what 1.0 lacks,
    and one for 2.x expects hooks that 1.x has differently (docs/writing_plugins.md).
    """
    declared = getattr(plugin, "PODIUM_HOOK_API", None)
    if declared is None:
        return
    try:
        theirs = _major_minor(str(declared))
    except ValueError:
        raise HookApiMismatch(plugin, f"PODIUM_HOOK_API {declared!r} is not a version like '1.0'") from None
    ours = _major_minor(HOOK_API_VERSION)
    if theirs[0] != ours[0] or theirs[1] > ours[1]:
        raise HookApiMismatch(
            plugin, f"written for hook API {declared}, but this Podium ({__version__}) has hook API "
                    f"{HOOK_API_VERSION}: install a plugin release for {ours[0]}.x or a Podium for {declared}")


def _describe(exc: BaseException) -> str:
    """The error line shown to admins; the full traceback goes to the log."""
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


class PluginManager:
    """Podium's plugins, loaded once per process, and the registries they filled."""

    REGISTRATION_HOOKS: dict[str, tuple[str, type]] = {
        "podium_register_data_sources": ("data_sources", DataSource),
        "podium_register_metrics": ("metrics", Metric),
        "podium_register_payout_rules": ("payout_rules", PayoutRule),
        "podium_register_pods": ("pods", Pod),
    }

    def __init__(self, config: Config) -> None:
        self.config = config
        self.pm = pluggy.PluginManager("podium")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.data_sources: Registry[DataSource] = Registry(DataSource)
        self.metrics: Registry[Metric] = Registry(Metric)
        self.payout_rules: Registry[PayoutRule] = Registry(PayoutRule)
        self.pods: Registry[Pod] = Registry(Pod)
        self._blocked = set(config.block_plugins)
        self._disabled = set(config.disabled_plugins())

    @property
    def hook(self) -> Any:
        return self.pm.hook

    # -- loading -------------------------------------------------------------------------

    def load(self) -> PluginManager:
        """Discover and register every plugin, then fill the registries."""
        for module_name in DEFAULT_PLUGINS:
            self._load("default", module_name.rsplit(".", 1)[-1], __version__, lambda m=module_name: importlib.import_module(m))
        if self.config.load_entry_points:
            for dist in importlib.metadata.distributions():
                for ep in dist.entry_points:
                    if ep.group == ENTRY_POINT_GROUP and ep.name not in self.plugins:
                        self._load("entry point", ep.name, dist.version, ep.load)
        if self.config.plugins_dir:
            for path in sorted(Path(self.config.plugins_dir).glob("*.py")):
                self._load("plugins dir", path.stem, None, lambda p=path: _import_file(p))
        self._check_pending()
        for hook_name, (attr, _kind) in self.REGISTRATION_HOOKS.items():
            self._fill(hook_name, getattr(self, attr))
        return self

    def _load(self, source: Any, name: str, version: str | None, loader: Callable[[], Any]) -> None:
        info = PluginInfo(name=name, version=version, source=source)
        self.plugins[name] = info
        if source != "default":
            allowed = self.config.load_plugins
            if name in self._blocked:
                info.status = "blocked"
            elif name in self._disabled:
                info.status = "disabled"
            elif allowed is not None and name not in allowed:
                info.status = "not allowed"
            if info.status != "loaded":
                self.pm.set_blocked(name)
                log.info("plugin %s not loaded: %s", name, info.status)
                return
        try:
            plugin = loader()
            info.module = getattr(plugin, "__name__", None)
            check_hook_api(plugin)
            self.pm.register(plugin, name=name)
        except Exception as exc:  # noqa: BLE001 - isolating any plugin failure is the point
            self._fail(info, exc, "could not be loaded")
            return
        info.hooks = [caller.name for caller in self.pm.get_hookcallers(plugin) or []]

    def _check_pending(self) -> None:
        """Unregister plugins implementing hooks that do not exist (a misspelt name)."""
        for name, info in self.plugins.items():
            plugin = self.pm.get_plugin(name)
            if plugin is None:
                continue
            unknown = [
                hook_name
                for hook_name in dir(self.pm.hook)
                if not hook_name.startswith("_")
                and not getattr(self.pm.hook, hook_name).has_spec()
                and any(impl.plugin is plugin and not impl.optionalhook
                        for impl in getattr(self.pm.hook, hook_name).get_hookimpls())
            ]
            if unknown:
                self._fail(info, pluggy.PluginValidationError(plugin, f"unknown hook {', '.join(unknown)}"),
                           "implements a hook Podium does not have")
        self.pm.check_pending()

    def _fill(self, hook_name: str, registry: Registry[Any]) -> None:
        """Call each implementation of a registration hook on its own, isolating failures."""
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            info = self.plugins.get(impl.plugin_name)
            registry.current_plugin = impl.plugin_name
            try:
                impl.function(*[{"registry": registry}[arg] for arg in impl.argnames])
            except Exception as exc:  # noqa: BLE001
                registry.discard_plugin(impl.plugin_name)
                if info is not None:
                    self._fail(info, exc, f"raised in {hook_name}")
                continue
            if info is not None:
                keys = registry.keys_of(impl.plugin_name)
                if keys:
                    info.registered[self.REGISTRATION_HOOKS[hook_name][0]] = keys
        registry.current_plugin = "podium"

    def _fail(self, info: PluginInfo, exc: BaseException, what: str) -> None:
        log.error("plugin %s %s: %s", info.name, what, _describe(exc), exc_info=exc)
        info.status = "failed"
        info.error = f"{what}: {_describe(exc)}"
        plugin = self.pm.get_plugin(info.name)
        if plugin is not None:
            self.pm.unregister(plugin)
        for attr, _kind in self.REGISTRATION_HOOKS.values():
            getattr(self, attr).discard_plugin(info.name)

    # -- calling -------------------------------------------------------------------------

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, BaseException]]:
        """Call every implementation of a notification hook; one plugin's error stops no other.

        Returns (plugin name, exception) for each implementation that raised.
        """
        errors: list[tuple[str, BaseException]] = []
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            try:
                impl.function(*[kwargs[arg] for arg in impl.argnames])
            except Exception as exc:  # noqa: BLE001
                log.error("plugin %s raised in %s: %s", impl.plugin_name, hook_name, _describe(exc), exc_info=exc)
                errors.append((impl.plugin_name, exc))
        return errors

    def describe(self) -> list[dict[str, Any]]:
        return [info.as_dict() for info in sorted(self.plugins.values(), key=lambda i: i.name)]


def _import_file(path: Path) -> ModuleType:
    """Import a one-off plugin file from the plugins directory under a private name."""
    module_name = f"podium_plugins_dir.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module
