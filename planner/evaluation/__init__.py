"""Policy and forecaster evaluation that regenerates the docs' tables (``make evaluate``,
``make feasibility``, ``make backtests``). Reads the public data beside the checkout."""

from pathlib import Path

#: the repository root (docs/ and out/ are written under it)
REPO = Path(__file__).resolve().parents[2]
#: ../shared/data beside the checkout (public traces and profiles, see its README)
SHARED_DATA = REPO.parent / "shared" / "data"
