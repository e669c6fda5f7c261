"""Browser fixtures: Debian's Chromium driven by Playwright, with third-party cookies blocked.

Playwright's own browser download is never used (``playwright install`` cannot reach its
CDN from our machines): ``scripts/install_browser.sh`` installs Debian's ``chromium`` and
the tests launch it by path. Without it the browser tests fail under ``make test`` and in
CI (``PODIUM_REQUIRE_SERVICES`` or ``CI`` set: the suite must not go green by skipping)
and are skipped with a reason for a developer running other tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("PODIUM_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Block third-party cookies as browsers that phase them out do; the tests check it.
    "--test-third-party-cookie-phaseout",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (scripts/install_browser.sh installs Debian's chromium)"
        if os.environ.get("CI") or os.environ.get("PODIUM_REQUIRE_SERVICES"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()
