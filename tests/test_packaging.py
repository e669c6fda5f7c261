"""Packaging: the card's folders install under Podium's own names, with their data files."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    return parser


def mapping() -> dict[str, str]:
    lines = setup_cfg()["options"]["package_dir"].strip().splitlines()
    return dict(tuple(part.strip() for part in line.split("=")) for line in lines)


def test_every_package_folder_is_listed() -> None:
    listed = set(setup_cfg()["options"]["packages"].split())
    found = set()
    for top, folder in mapping().items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            found.add(".".join([top, *relative.parts]))
    assert found - listed == set(), "packages missing from setup.cfg [options] packages"
    assert listed - found == set(), "setup.cfg lists packages that do not exist"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", str(ROOT), "-w", str(out)],
        check=True,
    )
    return next(out.glob("podium_msp-*.whl"))


def test_wheel_claims_no_generic_top_level_name(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"podium", "podium_connectwise", "podium_autotask", "podium_halo", "podium_ninja_rmm"}
    assert "podium/migrations/env.py" in names
    assert any(name.startswith("podium/migrations/versions/") for name in names)
    assert "podium/ui/__init__.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "podium = podium.cli:main" in text


def test_installed_wheel_migrates_a_database(wheel: Path, tmp_path: Path) -> None:
    """The wheel alone (not the source tree) carries what `podium init` needs."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
    )
    script = (
        "import podium, sys; from podium import migrate;"
        f"assert podium.__file__.startswith({str(target)!r}), podium.__file__;"
        f"migrate.upgrade('sqlite:///{tmp_path / 'x.db'}'); print(migrate.current('sqlite:///{tmp_path / 'x.db'}'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(target)},
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "no revision recorded"
