"""Cold-start upper quantiles: the variogram rule for h steps ahead, and a model's own
early residuals against constant's."""

from __future__ import annotations

import math

import numpy as np
import pytest

from planner.core.types import LoadPoint
from planner.forecast.calibration import UpperCalibrator, spread_growth
from planner.forecast.history import LoadHistory

INTERVAL_S = 60.0


def _history(values: np.ndarray) -> LoadHistory:
    history = LoadHistory(interval_s=INTERVAL_S)
    for i, v in enumerate(values):
        history.add(LoadPoint(time_s=INTERVAL_S * (i + 1), request_rate_rps=float(v)))
    return history


def _cold_band(values: np.ndarray, steps: int) -> float:
    """upper - point of a fresh calibrator (no residuals of its own) ``steps`` ahead."""
    point = float(values[-1])
    upper, calibrated = UpperCalibrator(quantile=0.9).upper(
        "rate", steps, point=point, history=_history(values)
    )
    assert calibrated
    return upper - point


def test_mean_reverting_series_gets_no_sqrt_h_growth() -> None:
    """White noise around 100 (sd 5), 40 intervals, 30 steps ahead (no 30-step pairs):
    its spread has levelled off by lag 1, so the band stays near the q0.9 of what
    constant misses (~1.28 * sqrt(2) * 5 = 9), far below the one-step q0.9 x sqrt(30)
    that a random-walk extrapolation would give (~50)."""
    y = 100.0 + np.random.default_rng(3).normal(0.0, 5.0, 40)
    one_step_q = float(np.quantile(np.diff(y), 0.9, method="higher"))
    band = _cold_band(y, 30)
    assert band < 2.0 * one_step_q
    assert band < 0.4 * one_step_q * math.sqrt(30)
    assert spread_growth(y, 30) < 1.5


def test_random_walk_spread_grows_like_sqrt_h() -> None:
    """On random walks the extrapolated spread grows like sqrt(h): over 20 paths of 200
    intervals, 120 steps ahead, the median of S(h)/S(1) / sqrt(h) is within 30 % of 1,
    while on white noise and a short moving average of it the ratio stays under 0.2."""
    ratios: dict[str, list[float]] = {"rw": [], "white": [], "ma": []}
    for seed in range(20):
        e = np.random.default_rng(seed).normal(size=200)
        series = {"rw": np.cumsum(e), "white": e, "ma": np.convolve(e, [1.0, 0.5, 0.25], "same")}
        for kind, y in series.items():
            ratios[kind].append(spread_growth(100.0 + y, 120) / math.sqrt(120))
    assert 0.7 <= float(np.median(ratios["rw"])) <= 1.3
    assert max(ratios["white"]) < 0.2
    assert max(ratios["ma"]) < 0.2


def test_trend_spread_grows_linearly_and_covers_the_ramp() -> None:
    """A ramp of +2 per interval (small noise) has a spread proportional to the lag, so
    30 steps ahead the band grows ~30x the one-step change and covers the +60 the ramp
    will add (a sqrt(30) scaling would give ~11)."""
    y = 100.0 + 2.0 * np.arange(40) + np.random.default_rng(0).normal(0.0, 0.1, 40)
    assert spread_growth(y, 30) == pytest.approx(30.0, rel=0.1)
    assert _cold_band(y, 30) >= 60.0


def test_short_history_keeps_random_walk_scaling() -> None:
    """With 11 intervals only lags 1 and 2 are on the ladder (lag 4 has 7 pairs and
    needs 8): under two octaves growth is not judged, the factor is exactly sqrt(h)."""
    y = 100.0 + np.random.default_rng(1).normal(0.0, 5.0, 11)
    assert spread_growth(y, 30) == pytest.approx(math.sqrt(30))


def test_a_lag_on_the_period_does_not_hide_the_spread() -> None:
    """An alternating 10/12 series has zero changes at every even lag; the running
    maximum of the spread keeps the one-step spread (2), so 31 steps ahead (an odd lag:
    the change is +-2) the band is 2, not 0 and not 2 * sqrt(31)."""
    y = 10.0 + 2.0 * (np.arange(40) % 2)
    assert spread_growth(y, 31) == pytest.approx(1.0)
    assert _cold_band(y, 31) == pytest.approx(2.0)


def test_h_step_changes_are_used_once_there_are_two_h_of_them() -> None:
    """A period-3 series repeats every 3 steps, so its 3-step changes are all 0: with
    18 intervals (15 pairs >= 2 * 3) they are used and the band is 0; with 8 intervals
    (5 pairs, overlapping too much) the one-step changes scaled by sqrt(3) stand in."""
    pattern = np.array([10.0, 14.0, 12.0])
    assert _cold_band(np.tile(pattern, 6), 3) == 0.0
    short = np.tile(pattern, 3)[:8]
    one_step_q = float(np.quantile(np.diff(short), 0.9, method="higher"))
    assert _cold_band(short, 3) == pytest.approx(one_step_q * math.sqrt(3))


def test_model_with_larger_own_errors_does_not_borrow_constants_band() -> None:
    """A model that under-forecasts by 20 on a series alternating 100/101 gets
    constant's narrow band (+1) while it has fewer than 5 residuals of its own, and
    from its 5th residual on the larger quantile of its own errors (+20), before the
    12 that would make its own window the only source."""
    cal = UpperCalibrator(quantile=0.9)
    history = LoadHistory(interval_s=INTERVAL_S)
    bands: list[float] = []
    for i in range(12):
        history.add(LoadPoint(time_s=INTERVAL_S * (i + 1), request_rate_rps=100.0 + i % 2))
        cal.resolve("rate", i, history.at("rate", i))
        if i < 6:
            continue  # constant needs 5 one-step changes first
        point = 80.0 + i % 2
        upper, _ = cal.upper("rate", 1, point=point, history=history)
        cal.record("rate", 1, target=i + 1, point=point, upper=upper)
        bands.append(upper - point)
    # forecasts made at i = 6..11 have 0..5 residuals of their own when made
    assert bands[:5] == [pytest.approx(1.0)] * 5
    assert bands[5] >= 19.0
