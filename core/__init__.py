"""Podium: an extension server for MSPs.

Plugins import their marker from here: ``from podium import hookimpl``.
"""

import pluggy

from podium.version import HOOK_API_VERSION, __version__

hookimpl = pluggy.HookimplMarker("podium")
"""Marks a plugin's hook implementations (see docs/plugin_hooks.md)."""

__all__ = ["HOOK_API_VERSION", "__version__", "hookimpl"]
