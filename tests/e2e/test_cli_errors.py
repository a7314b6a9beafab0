"""The CLI as a user meets its errors and its output: every settings problem at once with
exit 2, broken profile files with exit 2 and no traceback, ``--version``, and JSON log
lines that carry a wall-clock time and a level."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from planner.perf.profile import DEFAULT_PROFILE_DIR
from tests.conftest import REPO


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "planner", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_version_prints_the_package_version() -> None:
    """--version exits 0 and prints the installed version."""
    from importlib.metadata import version

    r = cli("--version")
    assert r.returncode == 0
    assert r.stdout.strip() == f"sla-planner {version('sla-planner')}"


def test_all_settings_problems_are_printed_and_exit_is_2() -> None:
    """A typo'd PLANNER_ variable and two bad flags: exit 2, one line per problem, the
    variable with its 'did you mean', and no pydantic jargon or traceback."""
    r = cli(
        "plan", "--requests", "10", "--isl", "100", "--osl", "10",
        "--interval-s", "-5", "--itl-ms", "0",
        env={"PLANNER_TTFTMS": "100"},
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert "3 invalid settings:" in r.stderr
    assert "interval_s=-5.0: expected greater than 0" in r.stderr
    assert "itl_ms=0.0: expected greater than 0" in r.stderr
    assert "PLANNER_TTFTMS='100'" in r.stderr and "did you mean 'PLANNER_TTFT_MS'?" in r.stderr
    assert "Traceback" not in r.stderr and "Extra inputs" not in r.stderr


def _broken_dynamo_profile(tmp_path: Path, how: str) -> Path:
    d = tmp_path / "profile"
    shutil.copytree(DEFAULT_PROFILE_DIR / "dynamo", d)
    npz = d / "selected_prefill_interpolation" / "raw_data.npz"
    data = npz.read_bytes()
    npz.write_bytes(data[: len(data) // 2] if how == "truncated" else os.urandom(len(data)))
    return d


@pytest.mark.parametrize(("how", "says"), [("truncated", "truncated"), ("garbage", "not an npz")])
def test_broken_npz_exits_2_in_plain_words(tmp_path: Path, how: str, says: str) -> None:
    """profile validate and plan on a truncated or random-bytes npz: exit 2 with a
    one-line message naming the file; no traceback, no advice to use allow_pickle."""
    d = _broken_dynamo_profile(tmp_path, how)
    for args in (
        ("profile", "validate", str(d)),
        ("plan", "--requests", "10", "--isl", "100", "--osl", "10", "--profile", str(d)),
    ):
        r = cli(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith("sla-planner: error: bad profile "), r.stderr
        assert "raw_data.npz" in r.stderr and says in r.stderr
        assert "Traceback" not in r.stderr and "allow_pickle" not in r.stderr


@pytest.mark.slow
def test_run_with_a_broken_profile_exits_2(tmp_path: Path) -> None:
    """The service stops at start-up with exit 2 and the profile error."""
    d = _broken_dynamo_profile(tmp_path, "truncated")
    r = cli("run", "--port", "0", "--max-ticks", "1", "--profile", str(d))
    assert r.returncode == 2, r.stderr
    assert "bad profile" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_json_log_lines_carry_wall_clock_time_and_level() -> None:
    """--log-format json: every stdout and stderr line is one JSON object with an ISO
    8601 UTC 'time' within the run and a 'level'; tick lines keep the /status fields."""
    started = datetime.now(UTC)
    r = cli(
        "run", "--port", "0", "--max-ticks", "2", "--log-format", "json",
        "--time-compression", "120", "--duration-s", "600",
    )  # fmt: skip
    ended = datetime.now(UTC)
    assert r.returncode == 0, r.stderr
    ticks = [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith("{")]
    others = [json.loads(ln) for ln in r.stderr.splitlines() if ln.strip()]
    assert [t["tick"] for t in ticks] == [1, 2]
    assert others, "the service logs at least its listening address"
    for rec in ticks + others:
        when = datetime.fromisoformat(rec["time"])
        assert when.tzinfo is not None
        assert started - timedelta(seconds=1) <= when <= ended + timedelta(seconds=1)
        assert rec["level"] in ("INFO", "WARNING", "ERROR")
    assert all({"observed", "decision", "reasons"} <= set(t) for t in ticks)
    assert any("listening on" in o["message"] for o in others)
