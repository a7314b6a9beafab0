"""sla-planner as a user installs it: a wheel built from this checkout, installed with its
runtime dependencies (and nothing else) into a venv of its own, the way the image's
build stage installs it.

The venv with the dependencies is kept under ``out/wheel-venv/<key>`` between runs, the
key being a hash of the wheel's declared dependencies and the interpreter: a change to
either makes a fresh one. The package itself is rebuilt and reinstalled on every test
session, so the checks always see this checkout's code and package data.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / "out" / "wheel-venv"


@dataclass(frozen=True, slots=True)
class Installed:
    """A venv holding the wheel, and the wheel itself."""

    venv: Path
    wheel: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def entry_point(self) -> Path:
        return self.venv / "bin" / "sla-planner"


def _run(cmd: list[str], *, timeout_s: float) -> None:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, cwd=REPO)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {out.returncode}:\n{out.stderr[-3000:]}")


def build_wheel(dest: Path) -> Path:
    """``pip wheel`` of this checkout (the package alone, no dependencies) into ``dest``."""
    _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dest), str(REPO)],
        timeout_s=300,
    )
    (wheel,) = dest.glob("sla_planner-*.whl")
    return wheel


def _requirements(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        (meta,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        text = zf.read(meta).decode()
    return sorted(ln for ln in text.splitlines() if ln.startswith("Requires-Dist:"))


def install(wheel: Path) -> Installed:
    """A venv with ``wheel`` and its runtime dependencies; made fresh when the
    dependencies or the interpreter changed, else the kept one with the wheel reinstalled."""
    key_src = "\n".join([sys.version, *_requirements(wheel)])
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    venv = CACHE / key
    stamp = venv / ".complete"
    if not stamp.exists():
        shutil.rmtree(CACHE, ignore_errors=True)  # older keys: stale
        _run([sys.executable, "-m", "venv", str(venv)], timeout_s=120)
        _run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], timeout_s=900
        )
        stamp.write_text(key_src)
    else:
        _run(
            [
                str(venv / "bin" / "python"),
                *("-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)),
            ],
            timeout_s=300,
        )
    return Installed(venv=venv, wheel=wheel)
