"""The history commands from the command line: ``simulate --history`` puts what actually
ran beside the policies (summary, printed block, plot), bad input exits 2 naming the
flag, and ``history`` reads its time flags as documented."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from planner.cli.history import parse_time
from planner.cli.main import main
from planner.errors import ConfigError
from planner.history.format import HistoryFile, write_history
from tests.unit.test_history_format import sample_history


def steady_file(tmp_path: Path, *, rows: int = 12) -> Path:
    """``rows`` minutes of 2 req/s on one prefill and one decode worker."""
    h = sample_history()
    base = dataclasses.replace(h.rows[0], replicas={"prefill": 1.0, "decode": 1.0})
    out = [dataclasses.replace(base, end_unix_s=base.end_unix_s + 60 * i) for i in range(rows)]
    meta = dataclasses.replace(h.meta, gpus_per_worker={"prefill": 1, "decode": 1})
    return write_history(tmp_path / "steady.csv", HistoryFile(meta=meta, rows=tuple(out)))


@pytest.mark.slow
def test_simulate_history_reports_what_actually_ran(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The summary has the policy and the replayed real fleet ('actual'); the report
    block has measured GPU-hours (12 min x 2 GPUs = 0.4), the replayed ones and the
    simulator's error; the first plot is written."""
    path = steady_file(tmp_path)
    out = tmp_path / "sim"
    args = ["simulate", "--history", str(path), "--policy", "sla", "--jobs", "1", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "what actually ran" in text and "simulator error" in text
    summary = json.loads((out / "summary.json").read_text())
    assert [p["policy"] for p in summary["policies"]] == ["sla", "actual"]
    hist = summary["meta"]["history"]
    assert hist["measured"]["gpu_hours"] == pytest.approx(12 * 60 * 2 / 3600)
    assert hist["replayed"]["gpu_hours"] == pytest.approx(0.4, rel=0.1)
    assert hist["measured"]["attainment"]["ttft"]["low"] == pytest.approx(119 / 120)  # 500 ms
    assert (out / "history.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("extra", "flag"),
    [(["--interval-s", "30"], "--interval-s"), (["--rate-scale", "2"], "--rate-scale")],
)
def test_simulate_history_refuses_a_different_interval_or_rate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], flag: str
) -> None:
    """The rows are counts per interval of the real load: another interval or a rate
    scale is a configuration error (exit 2) naming the flag."""
    path = steady_file(tmp_path)
    assert main(["simulate", "--history", str(path), "--quiet", *extra]) == 2
    assert flag in capsys.readouterr().err


def test_history_time_flags() -> None:
    """now, now-90m, Unix seconds and ISO 8601 (UTC without a zone); anything else is a
    ConfigError naming the flag."""
    now = 1_700_000_000.0
    assert parse_time("--from", "now", now_s=now) == now
    assert parse_time("--from", "now-90m", now_s=now) == now - 5400
    assert parse_time("--from", "now-2h", now_s=now) == now - 7200
    assert parse_time("--from", "1699990000.5", now_s=now) == 1699990000.5
    assert parse_time("--to", "2023-11-14T22:13:20", now_s=now) == now
    assert parse_time("--to", "2023-11-14T23:13:20+01:00", now_s=now) == now
    with pytest.raises(ConfigError, match="--from"):
        parse_time("--from", "yesterday", now_s=now)


def test_history_command_exits_2_on_a_bad_time(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad --from stops before any query, with exit code 2."""
    args = ["history", "--from", "soon", "--out", "x.csv", "--url", "http://127.0.0.1:1"]
    assert main(args) == 2
    assert "--from" in capsys.readouterr().err


def test_history_command_exits_2_on_a_range_shorter_than_an_interval(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--to before --from (or less than one interval after it) is bad input: exit 2,
    naming --to, before any query is sent."""
    args = ["history", "--from", "now-30s", "--to", "now", "--out", "x.csv"]
    assert main([*args, "--url", "http://127.0.0.1:1", "--interval-s", "60"]) == 2
    assert "--to" in capsys.readouterr().err


def test_simulate_history_without_replica_columns_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file pulled with ``metrics.replicas.source: none`` has no fleet to replay: the
    policies run, the measured attainment is reported, and the report says why no
    'actual' run is there."""
    h = sample_history()
    meta = dataclasses.replace(h.meta, replicas_source="none")
    base = dataclasses.replace(h.rows[0], replicas={})
    rows = tuple(dataclasses.replace(base, end_unix_s=base.end_unix_s + 60 * i) for i in range(6))
    path = write_history(tmp_path / "nofleet.csv", HistoryFile(meta=meta, rows=rows))
    out = tmp_path / "sim"
    args = ["simulate", "--history", str(path), "--policy", "dynamo", "--jobs", "1"]
    assert main([*args, "--quiet", "--no-plots", "--out", str(out)]) == 0
    assert "the real fleet is not replayed" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert [p["policy"] for p in summary["policies"]] == ["dynamo"]
    assert summary["meta"]["history"]["replayed"] is None
