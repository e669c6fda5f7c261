#!/usr/bin/env python3
"""Screenshots of every registered pod, for the docs and the README.

Each pod is rendered the way a PSA shows it: in a narrow iframe of a host page on another
site (``127.0.0.1`` framing Podium on ``localhost``), its session from a vendor handshake
(the ``signedpsa`` test vendor of ``tests/pods_support.py``: the host page posts the
member's signed id), with demo-like data, and saved as ``docs/screenshots/<pod>.png``.

The data comes from :data:`SCENES`, one line per pod: a function that adds what the pod
needs to the demo org (:func:`tests.pods_support.seed_org`: Ada and Bob, technicians; Mia,
Ada's manager) and says who looks and with which query. A registered pod without a
scene is shot with the demo org as it is, looked at by Ada.

    .venv/bin/python scripts/screenshots.py                 # every registered pod
    .venv/bin/python scripts/screenshots.py whoami scorecard --width 320

Needs Debian's chromium (``scripts/install_browser.sh``); nothing is written outside a
temporary directory and the output folder.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import logging
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask, request  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from podium import migrate  # noqa: E402
from podium.embed import embed_ref  # noqa: E402
from podium.runtime import Podium  # noqa: E402

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.pods_support import Org, pod_runtime, seed_org, sign, web_app  # noqa: E402
from tests.scorecard_support import add_history, seed_scorecard  # noqa: E402
from tests.source_plugin import serve  # noqa: E402


@dataclass(frozen=True)
class View:
    """Who looks at a pod (a ``signedpsa`` member of the demo org) and the pod URL's query."""

    member: str = "m-ada"
    query: str = ""


def scorecard_scene(podium: Podium, org: Org) -> View:
    seed_scorecard(podium, org)
    add_history(podium, org, "m-ada", [(14, 2), (9, 1), (11, 3), (17, 1), (12, 2)])
    return View()


SCENES: dict[str, Callable[[Podium, Org], View]] = {
    "whoami": lambda podium, org: View(),
    "scorecard": scorecard_scene,
}
"""Pod key → the demo data it needs and who looks at it (add one line per new pod)."""

HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>PSA</title>
<style>body {{ margin: 0; background: #e9edf3; }} iframe {{ border: 0; display: block; background: #fff; }}</style>
</head><body>
<iframe id="pod" title="Podium pod" width="{width}" height="1200" src="{src}"></iframe>
<script>
  const frame = document.getElementById("pod");
  frame.addEventListener("load", () => frame.contentWindow.postMessage({claims}, {origin}));
</script>
</body></html>"""


def host_app(width: int) -> Flask:
    """A PSA stand-in that frames a pod and hands it the member's signed identity."""
    app = Flask("screenshot-host")

    @app.get("/")
    def page() -> str:
        member, src = request.args["member"], request.args["src"]
        claims = json.dumps(json.dumps({"member": member, "signature": sign(member)}))
        origin = json.dumps(src.split("/pods/")[0])
        return HOST_PAGE.format(width=width, src=html.escape(src, quote=True), claims=claims, origin=origin)

    return app


@contextlib.contextmanager
def demo_podium(folder: Path, key: str, host_base: str) -> Iterator[tuple[Podium, Org, View]]:
    """A fresh SQLite Podium with every installed plugin, the demo org and ``key``'s scene."""
    (folder / key).mkdir()
    database = f"sqlite:///{folder / key / 'podium.db'}"
    migrate.upgrade(database)
    podium = pod_runtime(database, folder / key, load_plugins=None)
    try:
        org = seed_org(podium, host_base)
        view = SCENES.get(key, lambda _podium, _org: View())(podium, org)
        yield podium, org, view
    finally:
        podium.db.dispose()


def shoot(browser: object, url: str, path: Path) -> None:
    """Open ``url`` (the host page), wait for the pod's figures and save the iframe, cropped to its content."""
    page = browser.new_page(viewport={"width": 800, "height": 1300}, device_scale_factor=2)  # type: ignore[attr-defined]
    try:
        page.goto(url)
        frame = page.frame_locator("#pod")
        frame.locator('#pod[data-state="ready"]').wait_for(timeout=30_000)
        height = frame.locator("#pod").evaluate("pod => Math.ceil(pod.getBoundingClientRect().bottom) + 8")
        page.locator("#pod").evaluate("(el, h) => { el.height = h; }", height)
        page.locator("#pod").screenshot(path=str(path))
    finally:
        page.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pods", nargs="*", help="pod keys (default: every registered pod)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--width", type=int, default=320, help="the pod's width in CSS pixels (PSAs: ~300–420)")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as temp, serve(host_app(args.width)) as host_base, \
            sync_playwright() as playwright:
        folder = Path(temp)
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        with demo_podium(folder, "registry", host_base) as (podium, _org, _view):
            registered = sorted(pod.key for pod in podium.plugins.pods)
        unknown = sorted(set(args.pods) - set(registered))
        if unknown:
            parser.error(f"no registered pod {', '.join(unknown)} (registered: {', '.join(registered)})")
        for key in args.pods or registered:
            with demo_podium(folder, key, host_base) as (podium, org, view), serve(web_app(podium)) as served:
                base = served.replace("127.0.0.1", "localhost")
                src = f"{base}/pods/{key}?c={embed_ref(podium, org.signed_connection_id)}{view.query}"
                target = args.out / f"{key}.png"
                shoot(browser, f"{host_base}/?{urlencode({'member': view.member, 'src': src})}", target)
                print(f"{key}: {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}"
                      + ("" if key in SCENES else " (no scene: the demo org as it is)"))
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
