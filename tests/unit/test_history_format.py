"""The history file format: what is written is read back unchanged (empty cells stay
unknown, never zero), and a broken file is an error naming the line and the column."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from planner.errors import TraceError
from planner.history.format import (
    HistoryFile,
    HistoryMeta,
    HistoryRow,
    is_history_file,
    read_history,
    write_history,
)

INF = math.inf


def sample_history() -> HistoryFile:
    meta = HistoryMeta(
        interval_s=60.0,
        time_compression=1.0,
        start_unix_s=1_700_000_000.0,
        end_unix_s=1_700_000_240.0,
        preset="dynamo",
        demand_counter="dynamo_frontend_requests_started_total",
        components=("prefill", "decode"),
        gpus_per_worker={"prefill": 1, "decode": 2},
        replicas_source="planner",
        ttft_bounds_s=(0.1, 0.5, INF),
        itl_bounds_s=(0.02, INF),
        extra={"prometheus_url": "http://127.0.0.1:9090"},
    )
    t0 = meta.start_unix_s
    rows = (
        HistoryRow(
            end_unix_s=t0 + 60,
            status="ok",
            requests=120.0,
            rate_rps=2.0,
            isl_mean_tokens=3000.0,
            osl_mean_tokens=150.0,
            ttft_mean_s=0.08,
            itl_mean_s=0.012,
            ttft_buckets=((0.1, 100.0), (0.5, 119.0), (INF, 120.0)),
            itl_buckets=((0.02, 17000.0), (INF, 17880.0)),
            replicas={"prefill": 2.0, "decode": 1.5},
        ),
        HistoryRow(
            end_unix_s=t0 + 120,
            status="idle",
            reason="zero requests",
            requests=0.0,
            rate_rps=0.0,
            replicas={"prefill": 1.0, "decode": 1.0},
        ),
        HistoryRow(end_unix_s=t0 + 180, status="gap", reason="no samples of x"),
        HistoryRow(
            end_unix_s=t0 + 240,
            status="reset",
            reason="1 counter reset(s) of x: counted across",
            requests=60.0,
            rate_rps=1.0,
            isl_mean_tokens=2000.0,
            osl_mean_tokens=100.0,
            replicas={"prefill": 1.0},
            counter_resets=1,
        ),
    )
    return HistoryFile(meta=meta, rows=rows)


def test_round_trip_keeps_rows_meta_and_unknowns(tmp_path: Path) -> None:
    """Rows, statuses, reasons, histograms, replicas (an empty one stays unknown) and the
    metadata come back equal; the file is recognised by its first line."""
    h = sample_history()
    path = write_history(tmp_path / "h.csv", h)
    assert is_history_file(path)
    back = read_history(path)
    assert back.meta == h.meta
    assert back.rows == h.rows
    assert back.rows[3].replicas.get("decode") is None
    assert back.rows[1].isl_mean_tokens is None  # idle: undefined, not zero


def test_columns_carry_units_and_the_header_documents_the_range(tmp_path: Path) -> None:
    """The header line names units (_s, _tokens, _rps) and the bucket bounds; the meta
    line carries the interval, the preset and the Prometheus step."""
    path = write_history(tmp_path / "h.csv", sample_history())
    lines = path.read_text().splitlines()
    assert lines[0] == "# sla-planner history v1"
    assert '"interval_s": 60.0' in lines[1] and '"preset": "dynamo"' in lines[1]
    assert '"step_prom_s": 60.0' in lines[1]
    header = lines[2].split(",")
    for col in ("end_unix_s", "rate_rps", "isl_mean_tokens", "ttft_le_0.5_s", "ttft_le_inf_s"):
        assert col in header
    assert "prefill_replicas" in header and "counter_resets" in header


def test_a_trace_is_not_a_history_file(tmp_path: Path) -> None:
    """An Azure CSV is not taken for a history file, and reading it says why."""
    p = tmp_path / "trace.csv"
    p.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n")
    assert not is_history_file(p)
    with pytest.raises(TraceError, match="not a history file"):
        read_history(p)


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        (",ok,", ",fine,", r"status='fine'"),
        (",2,3000,", ",2,-5,", r"isl_mean_tokens='-5'"),
        (",120,2,", ",nan,2,", r"requests='nan'"),
    ],
)
def test_bad_cells_name_line_and_column(tmp_path: Path, old: str, new: str, match: str) -> None:
    """A bad status, a negative or a NaN number is a TraceError naming line and column."""
    path = write_history(tmp_path / "h.csv", sample_history())
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(TraceError, match=match):
        read_history(path)


def test_bad_meta_line_is_an_error(tmp_path: Path) -> None:
    """A meta line without the interval names the problem."""
    path = write_history(tmp_path / "h.csv", sample_history())
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace('"interval_s"', '"intervals"')
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TraceError, match="interval_s"):
        read_history(path)
