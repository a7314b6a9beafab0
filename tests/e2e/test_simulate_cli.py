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
            "--out", str(out), "--json", "--jobs", "1",
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
              "prefill=2,decode=1", "--interval-s", "60", "--no-plots", "--jobs", "1"]  # fmt: skip
    shown = _simulate_with_stderr_on_a_terminal(*common, "--out", str(tmp_path / "a"))
    for label in ("initial fleet", "sla", "static"):
        assert f"\r{label}" in shown and "100%|" in shown, shown[-400:]
    quiet = _simulate_with_stderr_on_a_terminal(*common, "--out", str(tmp_path / "b"), "--quiet")
    assert "%|" not in quiet
    assert main(["simulate", *common, "--out", str(tmp_path / "c")]) == 0
    assert "%|" not in capsys.readouterr().err


def test_help_states_every_default_and_they_are_the_settings_defaults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """simulate --help says "(default: ...)" for each settings flag, and each numeric or
    named default it states is the settings tree's own default."""
    from planner.cli.simulate import SETTINGS_FLAGS
    from planner.settings import PlannerSettings

    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert text.count("(default:") >= len(SETTINGS_FLAGS) + 6
    plain = PlannerSettings()
    for dest, (field, stated) in SETTINGS_FLAGS.items():
        assert f"(default: {stated})" in text, dest
        value: object = plain
        for part in field.split("."):
            value = getattr(value, part)
        if stated.startswith("none"):
            assert value is None, field
        elif stated[0].isdigit():
            assert float(stated) == value, field
        elif field == "mode":
            assert value == stated
        else:
            assert "h200" in str(value) and "llama3.1-8b" in str(value)


def _long_prompts_csv(path: Path) -> Path:
    rows = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    t0 = datetime(2023, 11, 16, 18, 0, 0)
    for k in range(120):
        isl = 40000 if k % 10 == 0 else 1000  # one prompt in ten far beyond 16,372
        rows.append(f"{(t0 + timedelta(seconds=k)).isoformat(sep=' ')},{isl},50")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_infeasible_and_out_of_range_requests_are_counted_and_warned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Twelve 40k-token prompts (beyond the profile, over 500 ms even alone): counted in
    summary.json as infeasible and out of range, warned about on stderr, and no policy
    reaches more than the 90% ceiling they leave."""
    trace = _long_prompts_csv(tmp_path / "long.csv")
    out = tmp_path / "o"
    code = main(["simulate", "--trace", str(trace), "--policy", "sla", "static",
                 "--static-replicas", "prefill=4,decode=2", "--out", str(out),
                 "--no-plots", "--jobs", "1", "--interval-s", "30"])  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert "12 of 120 requests (10.00%) cannot meet the targets" in err
    assert "outside the profile's measured range (ISL above 16372: 12" in err
    summary = json.loads((out / "summary.json").read_text())
    check = summary["meta"]["workload_check"]
    assert check["ttft_infeasible"] == check["isl_above_range"] == 12
    assert check["attainment_ceiling"] == pytest.approx(0.9)
    for p in summary["policies"]:
        assert p["attainment"]["both"] <= 0.9
    assert "cannot meet the targets" in (out / "report.html").read_text()


def test_a_multi_row_profile_needs_a_row_and_bills_its_tp(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shipped TP2/TP4/TP8 profile without --profile-row is exit 2 naming the rows;
    with tp=4 every worker is billed 4 GPUs; 'cheapest' picks a row and records it."""
    from planner.profiler.splitwise import SHIPPED_DIR

    trace = _azure_csv(tmp_path / "trace.csv")
    base = ["simulate", "--trace", str(trace), "--profile", str(SHIPPED_DIR), "--policy",
            "static", "--static-replicas", "prefill=1,decode=1", "--no-plots", "--jobs", "1",
            "--ttft-ms", "1000", "--itl-ms", "60"]  # fmt: skip
    assert main([*base, "--out", str(tmp_path / "a")]) == 2
    assert "3 rows (0 (tp=2" in capsys.readouterr().err
    assert main([*base, "--profile-row", "tp=4", "--out", str(tmp_path / "b")]) == 0
    meta = json.loads((tmp_path / "b" / "summary.json").read_text())["meta"]
    assert meta["gpus_per_worker"] == {"prefill": 4, "decode": 4}
    assert meta["engine_limits"]["max_num_seqs"] == 64
    assert meta["engine_limits"]["max_num_seqs_source"] == "profile"
    assert main([*base, "--profile-row", "cheapest", "--out", str(tmp_path / "c")]) == 0
    chosen = json.loads((tmp_path / "c" / "summary.json").read_text())["meta"]["profile_row"]
    assert chosen in {"0", "1", "2"}


def test_engine_limit_flags_reach_the_simulated_workers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--max-num-seqs 2 on one decode worker: summary.json records the limit and its
    source, and the capped run's TTFT tail is far above the uncapped one's."""
    trace = _azure_csv(tmp_path / "trace.csv")
    base = ["simulate", "--trace", str(trace), "--policy", "static", "--static-replicas",
            "prefill=2,decode=1", "--no-plots", "--jobs", "1", "--json"]  # fmt: skip
    assert main([*base, "--out", str(tmp_path / "free")]) == 0
    free = json.loads(capsys.readouterr().out)
    assert main([*base, "--max-num-seqs", "2", "--max-num-batched-tokens", "4096",
                 "--out", str(tmp_path / "capped")]) == 0  # fmt: skip
    capped = json.loads(capsys.readouterr().out)
    limits = capped["meta"]["engine_limits"]
    assert limits == {"max_num_seqs": 2, "max_num_seqs_source": "settings",
                      "max_num_batched_tokens": 4096,
                      "max_num_batched_tokens_source": "settings"}  # fmt: skip
    assert free["meta"]["engine_limits"]["max_num_seqs"] is None
    p99 = [r["policies"][0]["ttft_ms"]["p99"] for r in (free, capped)]
    assert p99[1] > 10 * p99[0]


def test_policy_given_twice_compares_both() -> None:
    """`--policy sla --policy static` asks for both (it used to keep only the last);
    no --policy leaves the choice to the default, all five."""
    from planner.cli.main import build_parser

    parser = build_parser()
    twice = parser.parse_args(
        ["simulate", "--trace", "t.csv", "--policy", "sla", "--policy", "static"]
    )
    assert twice.policy == ["sla", "static"]
    assert parser.parse_args(["simulate", "--trace", "t.csv"]).policy is None
