"""``podium plugins new``: a plugin project that works before its author changes a line.

The template (``plugin_template/``, shipped with Podium) is a pip-installable package with
the ``podium`` entry point, a working metric, and tests that run on Podium's own pytest
fixtures — so an author starts from green tests and changes one thing at a time. Files
are :class:`string.Template`\\s (``$package``, ``$metric_key`` …; paths too): no template
engine to install, and a placeholder the renderer does not know fails loudly.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from podium.version import HOOK_API_VERSION, __version__

TEMPLATE = Path(__file__).with_name("plugin_template")
SUFFIX = ".tmpl"
NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


class ScaffoldError(ValueError):
    """A name or target folder a new plugin project cannot use."""


def placeholders(name: str) -> dict[str, str]:
    """What the template's ``$placeholders`` stand for, for plugin ``name``."""
    if not NAME.match(name) or name.endswith("_") or "__" in name:
        raise ScaffoldError(f"name {name!r}: use 2–40 lowercase letters, digits and single underscores, "
                            "starting with a letter (it becomes a Python package name)")
    words = name.split("_")
    return {
        "name": name,
        "package": f"podium_{name}",
        "distribution": "podium-" + name.replace("_", "-"),
        "title": " ".join(words).capitalize(),
        "metric_key": f"{name}_pct",
        "metric_class": "".join(word.capitalize() for word in words),
        "hook_api": HOOK_API_VERSION,
        "podium_version": __version__,
        "next_major": str(int(__version__.split(".")[0]) + 1),
    }


def new_plugin_project(name: str, parent: Path) -> Path:
    """Write the project for plugin ``name`` into ``parent/podium-<name>``; returns that folder."""
    values = placeholders(name)
    target = parent / values["distribution"]
    if target.exists():
        raise ScaffoldError(f"{target} already exists; choose another name or folder")
    for source in sorted(TEMPLATE.rglob(f"*{SUFFIX}")):
        relative = Template(str(source.relative_to(TEMPLATE))[: -len(SUFFIX)]).substitute(values)
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(source.read_text()).substitute(values))
    return target
