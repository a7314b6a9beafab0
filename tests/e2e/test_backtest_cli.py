"""``sla-planner backtest`` end to end on a real trace (short: Azure conv, 59 minutes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.cli.main import main
from planner.core.types import Observation
from planner.planner import Planner
from planner.settings import load_settings
from tests.conftest import shared


def test_backtest_json_scores_each_predictor(capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints an object keyed by predictor with per-horizon, per-series metrics;
    constant's MASE against itself is 1 and its one-step coverage is a percentage of
    its hits, inside its 95 % interval."""
    trace = shared("traces/azure_llm_2023_conv.csv")
    for name in ("constant", "kalman"):
        code = main(["backtest", "--trace", str(trace), "--interval-s", "60",
                     "--horizon-s", "60", "--horizon-s", "1800", "--predictor", name,
                     "--json"])  # fmt: skip
        assert code == 0
        out = json.loads(capsys.readouterr().out)
        assert list(out) == [name]
        h1 = out[name]["horizons"]["60s"]
        assert h1["steps"] == 1 and out[name]["horizons"]["1800s"]["steps"] == 30
        for s in ("rate", "isl", "osl"):
            assert h1[s]["n"] == 57  # 59 bins, the last one partial (missing), h = 1
            assert 0 < h1[s]["smape_pct"] < 100
            assert 0 <= h1[s]["coverage_pct"] <= 100
            assert h1[s]["coverage_pct"] == pytest.approx(100 * h1[s]["covered"] / 57)
            low, high = h1[s]["coverage_ci95_pct"]
            assert 0 <= low <= h1[s]["coverage_pct"] <= high <= 100
        if name == "constant":
            assert h1["rate"]["mase"] == pytest.approx(1.0)
        assert out[name]["tick"]["count"] == 59


def test_backtest_table_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The text table lists the predictor's rows and --plot writes a PNG."""
    trace = shared("traces/azure_llm_2023_code.csv")
    png = tmp_path / "bt.png"
    code = main(["backtest", "--trace", str(trace), "--interval-s", "60",
                 "--predictor", "seasonal", "--plot", str(png)])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "seasonal        60s rate" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_backtest_rejects_bad_flags(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown predictor or a non-positive horizon exits 2 naming the field."""
    trace = shared("traces/azure_llm_2023_code.csv")
    assert main(["backtest", "--trace", str(trace), "--interval-s", "60",
                 "--predictor", "oracle"]) == 2  # fmt: skip
    assert "predictor.name='oracle'" in capsys.readouterr().err
    assert main(["backtest", "--trace", str(trace), "--interval-s", "60",
                 "--horizon-s", "-5"]) == 2  # fmt: skip
    assert "--horizon-s=-5.0" in capsys.readouterr().err


def test_planner_warm_starts_from_settings() -> None:
    """predictor.warm_start_trace seeds the Planner's forecaster at its first step, so
    the first forecast is calibrated (the live point follows the trace's last one)."""
    trace = shared("traces/azure_llm_2023_conv.csv")
    settings = load_settings(
        overrides={"predictor.warm_start_trace": str(trace), "interval_s": 60.0}
    )
    planner = Planner(settings)
    obs = Observation(window_s=60.0, requests=300.0, isl_tokens=1000.0, osl_tokens=200.0)
    decision = planner.step(obs, now=10_000.0)
    assert decision.forecast is not None
    assert "uncalibrated" not in decision.forecast.note
    assert planner.forecaster.history.total == 60  # type: ignore[attr-defined]
