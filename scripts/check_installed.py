"""Checks what a user's install of sla-planner contains, run by the installed interpreter
(a fresh venv from the wheel, or the container image): the package comes from
site-packages, the entry point answers --help, the default profile is found and loads,
and none of the development extra's packages is installed. Prints one JSON line; exits 1
naming every failed check."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path


def _dev_requirements() -> list[str]:
    """Names of the packages the ``dev`` extra adds, from the installed metadata."""
    names = []
    for req in metadata.requires("sla-planner") or []:
        if re.search(r"""extra\s*==\s*["']dev["']""", req):
            names.append(re.split(r"[\s;<>=!~\[]", req, maxsplit=1)[0])
    return names


def _installed(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def main() -> int:
    problems: list[str] = []
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    import connectors
    import planner
    import profiles
    from planner.perf.profile import DEFAULT_PROFILE_DIR, load_profile

    for mod in (planner, connectors, profiles):
        where = Path(mod.__file__ or "").resolve()
        if not where.is_relative_to(site):
            problems.append(f"{mod.__name__} imported from {where}, not from {site}")
    profile_dir = DEFAULT_PROFILE_DIR.resolve()
    if not profile_dir.is_relative_to(site):
        problems.append(f"default profile {profile_dir} is outside {site}")
    try:
        meta = load_profile(DEFAULT_PROFILE_DIR).meta
        model = meta.model
    except Exception as exc:
        problems.append(f"default profile does not load: {exc}")
        model = None
    dev = _dev_requirements()
    if not dev:
        problems.append("the installed metadata lists no dev extra to check against")
    dev_installed = sorted(n for n in dev if _installed(n))
    if dev_installed:
        problems.append(f"development packages installed: {', '.join(dev_installed)}")
    exe = Path(sys.prefix) / "bin" / "sla-planner"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    if out.returncode != 0 or not out.stdout.startswith("usage: sla-planner"):
        problems.append(f"{exe} --help exited {out.returncode}: {out.stderr[-500:]}")
    report = {
        "ok": not problems,
        "problems": problems,
        "site_packages": str(site),
        "default_profile": str(profile_dir),
        "profile_model": model,
        "dev_extra": dev,
        "dev_installed": dev_installed,
        "entry_point": str(exe),
    }
    print(json.dumps(report))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
