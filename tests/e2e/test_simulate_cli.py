"""`sla-planner simulate` end to end on a small trace file: summary, plots, HTML report."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from planner.cli.main import main
from planner.workload.synthetic import synthetic_trace


def _azure_csv(path: Path) -> Path:
    tr = synthetic_trace("ramp", duration_s=600, base_rps=5, peak_rps=30, length_cv=0.5, seed=1)
    t0 = datetime(2023, 11, 16, 18, 0, 0)
    rows = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    for a, i, o in zip(tr.arrival_s, tr.isl_tokens, tr.osl_tokens, strict=True):
        rows.append(f"{(t0 + timedelta(seconds=float(a))).isoformat(sep=' ')},{i},{o}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_simulate_writes_summary_plots_and_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two policies + a fixed static fleet: summary.json per policy, PNGs, report.html
    with embedded images, and zero budget violations under a budget."""
    trace = _azure_csv(tmp_path / "trace.csv")
    out = tmp_path / "out"
    code = main(
        [
            "simulate", "--trace", str(trace), "--policy", "sla", "static",
            "--static-replicas", "prefill=2,decode=1", "--interval-s", "60",
            "--startup-s", "60", "--max-gpus", "8", "--true-slowdown", "1.2",
            "--out", str(out), "--json",
        ]
    )  # fmt: skip
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    summary = json.loads((out / "summary.json").read_text())
    assert [p["policy"] for p in summary["policies"]] == ["sla", "static"]
    assert printed["policies"] == summary["policies"]
    for p in summary["policies"]:
        assert p["requests"] > 1000 and p["unfinished"] == 0
        assert p["budget_violations"] == 0
        assert 0 <= p["attainment"]["both"] <= 1
    assert summary["meta"]["true_slowdown"] == 1.2
    assert (out / "policy_sla.png").stat().st_size > 1000
    assert (out / "comparison.png").exists()
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html


def test_simulate_rejects_bad_static_fleet(tmp_path: Path) -> None:
    """A malformed --static-replicas is a config error (exit 2) naming the flag."""
    trace = _azure_csv(tmp_path / "trace.csv")
    code = main(["simulate", "--trace", str(trace), "--policy", "static",
                 "--static-replicas", "prefill=x", "--out", str(tmp_path / "o")])  # fmt: skip
    assert code == 2


def _simulate_with_stderr_on_a_terminal(*args: str) -> str:
    """Run simulate with stderr on a pseudo-terminal (as a person's shell has it) and
    return what it wrote there."""
    import os
    import pty
    import select
    import subprocess
    import sys
    import time

    from tests.conftest import REPO

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "planner", "simulate", *args],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
    assert proc.returncode == 0
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.slow
def test_progress_bars_only_on_a_terminal_and_not_with_quiet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a terminal simulate draws a bar for the initial-fleet search and for each run;
    with --quiet, or with stderr not a terminal, it draws none."""
    trace = _azure_csv(tmp_path / "trace.csv")
    common = ["--trace", str(trace), "--policy", "sla", "static", "--static-replicas",
              "prefill=2,decode=1", "--interval-s", "60", "--no-plots"]  # fmt: skip
    shown = _simulate_with_stderr_on_a_terminal(*common, "--out", str(tmp_path / "a"))
    for label in ("initial fleet", "sla", "static"):
        assert f"\r{label}" in shown and "100%|" in shown, shown[-400:]
    quiet = _simulate_with_stderr_on_a_terminal(*common, "--out", str(tmp_path / "b"), "--quiet")
    assert "%|" not in quiet
    assert main(["simulate", *common, "--out", str(tmp_path / "c")]) == 0
    assert "%|" not in capsys.readouterr().err
