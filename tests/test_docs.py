"""Documentation meta-tests: every hook is documented with its exact signature."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from podium import hookspecs

DOCS = Path(__file__).resolve().parent.parent / "docs"
HOOKS = [name for name in dir(hookspecs) if name.startswith("podium_")]


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hooks_are_documented(hook: str) -> None:
    signature = f"{hook}({', '.join(inspect.signature(getattr(hookspecs, hook)).parameters)})"
    headings = re.findall(r"^#+ (.+)$", (DOCS / "plugin_hooks.md").read_text(), flags=re.MULTILINE)
    assert signature in headings, f"docs/plugin_hooks.md has no heading `{signature}`"
