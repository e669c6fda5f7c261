"""Test helpers for plugin authors, and the pytest fixtures built on them.

Installing Podium installs a pytest plugin (entry point ``pytest11``:
:mod:`podium.testing.pytest_plugin`), so a plugin's own test suite gets, with no
conftest at all:

* ``podium_app`` — a Podium runtime on a fresh, migrated SQLite database in a temporary
  folder, with every installed plugin loaded (the plugin under test included);
* ``podium_tenant`` — a :class:`PodiumWorld` of one empty tenant, for hand-made records
  whose figures a test works out by hand;
* ``podium_world`` — a :class:`PodiumWorld` of the simulated MSP (a small preset of
  :mod:`podium.simulate`, loaded straight into the store), for realistic data.

See ``docs/writing_plugins.md``. The fixtures' names all start with ``podium_`` and none is
called ``podium``, ``db`` or ``tenant_id``, so they never shadow a project's own.
"""

from typing import Any

__all__ = ["TEST_SECRET_KEY", "PodiumWorld", "migrated_sqlite", "plugin_shims", "runtime"]


def __getattr__(name: str) -> Any:
    # Imported on first use: pytest loads the fixtures module (and so this package) in
    # every run of every project in the environment, which should not pay for Podium's
    # imports unless a test asks for a Podium.
    if name in __all__:
        from podium.testing import world

        return getattr(world, name)
    raise AttributeError(name)
