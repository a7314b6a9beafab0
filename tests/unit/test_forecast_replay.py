"""The evaluation's replay of auto's rule (planner/evaluation/forecast_replay.py) gives
auto's own forecasts, so the ablations score what auto would have done; and the
pieces the ablations and fits rely on behave as stated."""

from __future__ import annotations

import numpy as np
import pytest

from planner.evaluation.forecast_ablation import summarise
from planner.evaluation.forecast_replay import replay_auto, shipped
from planner.forecast.backtest import actuals, run_predictor
from planner.forecast.engine import limit_blas_threads
from planner.forecast.prophet import residual_carry
from planner.forecast.selection import SwitchRule
from planner.workload.trace import LoadSeries


def _series(n: int = 300) -> LoadSeries:
    """A daily sine at 10-min bins (period 144) with noise, two idle and one missing
    window, and step-like lengths."""
    rng = np.random.default_rng(5)
    t = np.arange(n)
    rate = 50 + 30 * np.sin(2 * np.pi * t / 144) + rng.normal(0, 2, n)
    rate[[40, 41]] = 0.0
    missing = np.zeros(n, bool)
    missing[100] = True
    isl = 1000 + 200 * (t // 36 % 2) + rng.normal(0, 10, n)
    osl = 200 + rng.normal(0, 5, n)
    return LoadSeries("synthetic", 600.0, 0.0, rate, isl, osl, missing)


def test_replaying_the_shipped_rule_gives_autos_forecasts() -> None:
    """auto (constant + seasonal, a short window so that it does switch) and the replay
    of the same rule over its members' recorded forecasts agree on every target."""
    series = _series()
    steps = (1, 3, 6)
    rule = SwitchRule(window=12)
    runs = {
        name: run_predictor(series, name, steps=steps, quantile=0.9)
        for name in ("constant", "seasonal")
    }
    auto = run_predictor(
        series,
        "auto",
        steps=steps,
        quantile=0.9,
        options={"members": ("constant", "seasonal"), "rule": rule},
    )
    replayed = replay_auto(
        runs, actuals(series), members=("constant", "seasonal"), make_board=shipped(rule)
    )
    switched = 0
    for key, points in auto.point.items():
        np.testing.assert_array_equal(replayed.point[key], points)
        switched += int(np.sum(points != runs["constant"].point[key]))
    assert switched > 0  # the comparison covered forecasts where auto left constant


def test_summarise_counts_cells_over_the_bar() -> None:
    """A cell counts as over the bar when either ratio exceeds +2 %; the worst is the
    largest of either ratio; better means both ratios below -2 %."""
    cells = {"x": (0.03, 0.0), "y": (-0.05, -0.03), "z": (0.0, 0.01)}
    out = summarise(cells)
    assert out["over_bar"] == 1
    assert out["worst_cell"] == "x"
    assert out["worst_pct"] == pytest.approx(3.0)
    assert out["better"] == 1


def test_residual_carry_is_the_lagged_least_squares_coefficient() -> None:
    """residual_carry(e, k) = sum(e_i e_(i+k)) / sum(e_i^2) over finite pairs, clipped to
    [0, 0.999]: about 0.9^k for an AR(1) with coefficient 0.9, 0 for alternating signs."""
    rng = np.random.default_rng(2)
    e = np.zeros(20000)
    for i in range(1, e.size):
        e[i] = 0.9 * e[i - 1] + rng.normal()
    assert residual_carry(e, 1) == pytest.approx(0.9, abs=0.02)
    assert residual_carry(e, 5) == pytest.approx(0.9**5, abs=0.04)
    assert residual_carry(np.array([1.0, -1.0] * 10), 1) == 0.0
    gappy = e[:200].copy()
    gappy[::7] = np.nan
    a, b = gappy[:-1], gappy[1:]
    ok = np.isfinite(a) & np.isfinite(b)
    assert residual_carry(gappy, 1) == pytest.approx((a[ok] @ b[ok]) / (a[ok] @ a[ok]))


def test_fits_run_with_the_blas_threads_asked_for() -> None:
    """A fit job wrapped by limit_blas_threads sees at most that many BLAS threads; None
    leaves the job as it is."""
    from threadpoolctl import threadpool_info

    def job() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    assert all(n == 1 for n in limit_blas_threads(job, 1)())
    assert limit_blas_threads(job, None) is job
