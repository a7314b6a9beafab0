"""Shared fixtures: paths to the shipped profile and to the public data beside the repo."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.perf.model import PerfModel
from planner.perf.profile import DEFAULT_PROFILE_DIR, load_profile

REPO = Path(__file__).resolve().parent.parent
#: ../shared/data beside the checkout (CI clones main with shared/ beside it)
SHARED_DATA = REPO.parent / "shared" / "data"
DYNAMO_PROFILE_DIR = (
    SHARED_DATA / "profiles" / "dynamo_h200_llama3.1-8b-instruct-fp8_vllm_tp1p_tp1d"
)


@pytest.fixture(scope="session")
def shipped_perf() -> PerfModel:
    return PerfModel(load_profile(DEFAULT_PROFILE_DIR))


def shared(path: str) -> Path:
    """A file under ../shared/data, or skip with the reason if that folder is absent."""
    p = SHARED_DATA / path
    if not p.exists():
        pytest.skip(f"public data not found at {p}")
    return p
