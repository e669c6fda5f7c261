"""Podium's version, and the version of the hook API that plugins are written against."""

__version__ = "0.1.0"

HOOK_API_VERSION = "1.0"
"""Bumped in its major part when a hook signature changes incompatibly (docs/plugin_hooks.md)."""
