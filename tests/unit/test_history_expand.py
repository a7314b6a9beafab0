"""A history file as load and as what ran: expansion into requests (counts kept, lengths
filled from the last known, unusable rows left empty and counted), the series the
forecasters read (gaps missing, not idle), the measured fleet's GPU-hours and schedule,
the attainment read off histograms, and the CLI's use of the file."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from planner.cli.main import main
from planner.core.types import Component
from planner.errors import TraceError
from planner.forecast.warm_start import load_series
from planner.history.expand import expand_history, history_series
from planner.history.format import HistoryFile, HistoryRow, write_history
from planner.sim.actual import (
    ScheduleController,
    measured_attainment,
    measured_gpu_hours,
    predicted_attainment,
    schedule,
    sim_error,
)
from tests.unit.test_history_format import sample_history


def test_expansion_keeps_counts_lengths_and_skips_unusable_rows() -> None:
    """Row 0 (120 requests) and row 3 (60) are expanded inside their own intervals with
    their mean lengths; the idle row has none; the gap row has none and is counted."""
    h = sample_history()
    trace, note = expand_history(h, seed=1)
    a = trace.arrival_s
    assert np.all(np.diff(a) >= 0)
    assert int(((a >= 0) & (a < 60)).sum()) == 120
    assert int(((a >= 60) & (a < 180)).sum()) == 0
    assert int(((a >= 180) & (a < 240)).sum()) == 60
    assert set(trace.isl_tokens[a < 60].tolist()) == {3000}
    assert set(trace.osl_tokens[a >= 180].tolist()) == {100}
    assert note.unusable_rows == 1 and note.requests_expanded == 180


def test_fractional_counts_are_kept_on_average_and_lengths_filled() -> None:
    """2.5 requests per row gives 2 or 3 (about 250 over 100 rows); a row without
    lengths takes the last known ones and is counted as filled."""
    h = sample_history()
    base = h.rows[0]
    rows = [
        dataclasses.replace(base, end_unix_s=base.end_unix_s + 60 * i, requests=2.5)
        for i in range(100)
    ]
    rows[50] = dataclasses.replace(rows[50], isl_mean_tokens=None, status="partial")
    trace, note = expand_history(HistoryFile(meta=h.meta, rows=tuple(rows)), seed=3)
    assert 220 <= len(trace) <= 280
    assert note.filled_length_rows == 1
    assert set(trace.isl_tokens.tolist()) == {3000}


def test_a_file_without_usable_rows_cannot_be_replayed() -> None:
    """Only gaps: a TraceError that points at the reason column."""
    h = sample_history()
    gaps = tuple(HistoryRow(end_unix_s=r.end_unix_s, status="gap") for r in h.rows)
    with pytest.raises(TraceError, match="reason column"):
        expand_history(HistoryFile(meta=h.meta, rows=gaps))


def test_series_marks_gaps_missing_and_idle_as_zero() -> None:
    """The forecasters see the gap as missing, the idle interval as rate 0."""
    s = history_series(sample_history())
    assert s.interval_s == 60.0
    assert s.missing.tolist() == [False, False, True, False]
    assert s.rate_rps.tolist() == [2.0, 0.0, 0.0, 1.0]
    assert math.isnan(s.isl_tokens[1]) and s.point(2).request_rate_rps is None


def test_warm_start_and_backtest_read_the_file_at_its_interval(tmp_path: Path) -> None:
    """load_series (the warm start's and the backtest's reader) takes a history file,
    and refuses one pulled at another interval than the planner's."""
    path = write_history(tmp_path / "h.csv", sample_history())
    assert len(load_series(path, interval_s=60.0)) == 4
    with pytest.raises(TraceError, match="interval_s=60 in the file"):
        load_series(path, interval_s=30.0)


def test_backtest_cli_runs_over_a_history_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`backtest --history FILE` scores a forecaster over the file's rate series at the
    file's interval (no --interval-s needed)."""
    h = sample_history()
    rows = [
        dataclasses.replace(
            h.rows[0], end_unix_s=h.rows[0].end_unix_s + 60 * i, rate_rps=2.0 + (i % 5)
        )
        for i in range(40)
    ]
    path = write_history(tmp_path / "h.csv", HistoryFile(meta=h.meta, rows=tuple(rows)))
    assert main(["backtest", "--history", str(path), "--predictor", "constant"]) == 0
    out = capsys.readouterr().out
    assert "h: 40 intervals" in out and "constant" in out


def test_measured_gpu_hours_and_schedule() -> None:
    """GPU-hours = replicas x GPUs per worker x interval over rows with replicas (the
    decode-less last row and the gap are not covered); the schedule rounds and holds."""
    h = sample_history()
    got = measured_gpu_hours(h)
    # row 0: 2 x 1 + 1.5 x 2 = 5 GPUs; row 1: 1 + 2 = 3 GPUs; 60 s each
    assert got["gpu_hours"] == pytest.approx((5 + 3) * 60 / 3600)
    assert (got["covered_intervals"], got["intervals"]) == (2, 4)
    fleet = schedule(h)
    assert fleet[0] == {Component.PREFILL: 2, Component.DECODE: 2}
    assert fleet[2] == fleet[1] == {Component.PREFILL: 1, Component.DECODE: 1}
    ctl = ScheduleController(fleet)
    assert [ctl.decide(None, None, now_s=0.0) for _ in range(4)] == [  # type: ignore[arg-type]
        fleet[1],
        fleet[2],
        fleet[3],
        fleet[3],
    ]


def test_attainment_from_histograms_and_from_simulated_outcomes() -> None:
    """Measured: 100 of 120 requests under 0.1 s (a 100-ms target sits on a bound);
    predicted: the simulated requests binned on the same bounds; the error is the
    difference in percentage points. An unfinished request counts above every bound."""
    h = sample_history()
    m = measured_attainment(h, ttft_ms=100.0, itl_ms=20.0)
    assert m["ttft"]["low"] == pytest.approx(100 / 120)
    assert m["itl"]["low"] == pytest.approx(17000 / 17880)
    arrival = np.zeros(4)
    outcomes = {
        "arrival_s": arrival,
        "first_token_s": np.array([0.05, 0.05, 0.3, np.nan]),
        "finish_s": np.array([1.05, 1.05, 1.3, np.nan]),
        "osl": np.array([101.0, 101.0, 101.0, 101.0]),
        "isl": np.full(4, 3000.0),
        "prefill_done_s": np.zeros(4),
    }
    p = predicted_attainment(outcomes, h, ttft_ms=100.0, itl_ms=20.0)
    assert p["ttft"]["low"] == pytest.approx(0.5)
    assert p["itl"]["low"] == pytest.approx(0.75)  # gaps of 10 ms for 3 of 4 requests
    err = sim_error(m, p)
    assert err["ttft"]["low"] == pytest.approx(100 * (0.5 - 100 / 120))


def test_planner_warm_starts_from_a_history_file(tmp_path: Path) -> None:
    """``predictor.warm_start_trace`` may be a history file: the Planner keeps its rows
    as warm points (the gap row as a missing point), fed at its first step."""
    from planner.planner import Planner
    from planner.settings import load_settings

    path = write_history(tmp_path / "h.csv", sample_history())
    planner = Planner(load_settings(overrides={"predictor.warm_start_trace": str(path)}))
    rates = [p.request_rate_rps for p in planner._warm_points]
    assert rates == [2.0, 0.0, None, 1.0]
