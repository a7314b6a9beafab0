"""What a normal (non-editable) install contains, checked where it is installed: the wheel
carries the shipped profiles as package data, and in a venv holding only the wheel and
its runtime dependencies the entry point answers --help, the default profile is found
inside site-packages and loads, and no development package is present. The container
image gets the same check from `make image-check` (scripts/check-image.sh)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from tests.integration.installed import REPO, Installed

CHECK = REPO / "scripts" / "check_installed.py"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _check(python: str) -> tuple[int, dict[str, object]]:
    out = subprocess.run([python, str(CHECK)], capture_output=True, text=True, timeout=120, cwd="/")
    return out.returncode, json.loads(out.stdout.strip().splitlines()[-1])


def test_wheel_carries_the_profiles(installed_planner: Installed) -> None:
    """Every file of the shipped profile folder is in the wheel under profiles/."""
    shipped = {
        str(p.relative_to(REPO))
        for p in (REPO / "profiles").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    with zipfile.ZipFile(installed_planner.wheel) as zf:
        names = set(zf.namelist())
    assert shipped and shipped <= names, shipped - names


def test_installed_wheel_content(installed_planner: Installed) -> None:
    """The installed wheel passes every content check: package and default profile from
    site-packages, the profile loads, `sla-planner --help` works, no dev package."""
    rc, report = _check(str(installed_planner.python))
    assert rc == 0 and report["ok"], report["problems"]
    assert str(report["default_profile"]).startswith(str(installed_planner.venv))
    assert report["profile_model"] == "nvidia/Llama-3.1-8B-Instruct-FP8"
    assert "pytest" in report["dev_extra"] and report["dev_installed"] == []


def test_the_check_fails_on_a_development_install() -> None:
    """The same check run by the editable development venv fails, naming the source
    tree and the dev packages: it can tell a user's install from a checkout."""
    rc, report = _check(sys.executable)
    assert rc == 1 and not report["ok"]
    problems = "\n".join(report["problems"])  # type: ignore[arg-type]
    assert "not from" in problems and "development packages installed" in problems
    assert "pytest" in problems
