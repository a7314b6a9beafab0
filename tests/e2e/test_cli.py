"""The CLI as a user runs it: help, plan, profile show/validate, and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from planner.perf.profile import DEFAULT_PROFILE_DIR, load_profile, profile_to_json

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "planner", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_help_lists_subcommands() -> None:
    """--help exits 0 and lists the plan and profile commands."""
    r = cli("--help")
    assert r.returncode == 0
    assert "plan" in r.stdout and "profile" in r.stdout


def test_plan_json_reproduces_dynamo_vector() -> None:
    """`plan --policy dynamo --json` on Dynamo's test vector prints 6 prefill, 2 decode."""
    r = cli(
        "plan", "--requests", "5000", "--interval-s", "60", "--isl", "3000", "--osl", "150",
        "--ttft-ms", "500", "--itl-ms", "50", "--policy", "dynamo", "--json",
        "--profile", str(DEFAULT_PROFILE_DIR),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["prefill_replicas"] == 6 and out["decode_replicas"] == 2
    assert out["reasons"]["prefill"] == ["scale_up"]


def test_plan_budget_flag_clamps_and_reports() -> None:
    """--max-gpus 4 keeps the total within 4 GPUs and says budget_clamped."""
    r = cli(
        "plan", "--requests", "5000", "--isl", "3000", "--osl", "150", "--max-gpus", "4", "--json"
    )
    out = json.loads(r.stdout)
    assert out["total_gpus"] <= 4
    assert "budget_clamped" in out["reasons"]["prefill"]


def test_invalid_setting_exits_2_naming_the_field() -> None:
    """A bad flag value stops with exit 2 and names field, value and expectation."""
    r = cli("plan", "--requests", "10", "--isl", "100", "--osl", "10", "--interval-s", "-5")
    assert r.returncode == 2
    assert "interval_s=-5.0" in r.stderr and "greater than 0" in r.stderr


def test_negative_load_number_exits_2() -> None:
    """--requests must be a finite non-negative number."""
    r = cli("plan", "--requests", "-1", "--isl", "100", "--osl", "10")
    assert r.returncode == 2 and "--requests=-1.0" in r.stderr


def test_profile_validate_ok_and_broken(tmp_path: Path) -> None:
    """validate exits 0 on the shipped profile and 2 with the problem on a broken one."""
    ok = cli("profile", "validate", str(DEFAULT_PROFILE_DIR))
    assert ok.returncode == 0 and ok.stdout.startswith("ok:")
    doc = profile_to_json(load_profile(DEFAULT_PROFILE_DIR))
    doc["prefill"]["ttft_ms"][3] = -2.0
    (tmp_path / "profile.json").write_text(json.dumps(doc))
    bad = cli("profile", "validate", str(tmp_path))
    assert bad.returncode == 2
    assert "ttft" in bad.stderr and "must be > 0" in bad.stderr


def test_profile_show_prints_summary_and_table() -> None:
    """show prints the model, the GPU and one row per measured ISL."""
    r = cli("profile", "show")
    assert r.returncode == 0
    assert "H200 SXM" in r.stdout and "Llama-3.1-8B" in r.stdout
    assert r.stdout.count("\n") > 17
