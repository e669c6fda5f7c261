"""``python -m bench [<name> [options]]``: run the benchmark in ``bench/<name>.py``.

Each benchmark is a module with ``main(argv) -> int``; modules starting with ``_`` are
helpers. Without a name every benchmark runs with its defaults (``make bench``).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def benchmarks() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_"))


def run(name: str, argv: list[str]) -> int:
    return int(importlib.import_module(f"bench.{name}").main(argv) or 0)


def main(argv: list[str]) -> int:
    names = benchmarks()
    if not argv:
        return max((run(name, []) for name in names), default=0)
    if argv[0] not in names:
        print(f"unknown benchmark {argv[0]!r}; one of: {', '.join(names)}", file=sys.stderr)
        return 2
    return run(argv[0], argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
