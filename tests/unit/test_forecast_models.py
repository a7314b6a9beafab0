"""Forecast building blocks: cleaned history, conformal upper band, seasonal base,
ARIMA state updates, auto's choice, trace loading for warm starts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from planner.core.types import LoadPoint
from planner.forecast import make_forecaster
from planner.forecast.history import LoadHistory
from planner.forecast.seasonal import seasonal_base, seasonal_base_at


def test_history_fills_skipped_intervals_and_infers_interval() -> None:
    """Points 3 intervals apart store 2 missing intervals between them; the interval
    is the median spacing."""
    h = LoadHistory()
    for t in (60.0, 120.0, 180.0, 360.0):
        h.add(LoadPoint(time_s=t, request_rate_rps=1.0, isl_tokens=1.0, osl_tokens=1.0))
    assert h.interval_s == 60.0
    assert h.total == 6
    rate = h.values("rate")
    assert np.isnan(rate[3:5]).all() and rate[5] == 1.0
    assert h.steps(61.0) == 2 and h.steps(60.0) == 1 and h.steps(0.0) == 1


def test_history_ring_keeps_the_last_capacity_values() -> None:
    """The ring keeps the newest values by absolute index and forgets older ones."""
    h = LoadHistory(capacity=8, interval_s=1.0)
    for i in range(30):
        h.add(LoadPoint(time_s=float(i + 1), request_rate_rps=float(i + 1)))
    assert h.values("rate").tolist() == [float(i) for i in range(23, 31)]
    assert h.at("rate", 29) == 30.0 and math.isnan(h.at("rate", 10))


def test_upper_band_covers_its_nominal_level_on_noise() -> None:
    """On 2,000 intervals of log-normal noise around a level the constant forecaster's
    q0.9 upper value covers 87-93 % of the actuals one step ahead."""
    rng = np.random.default_rng(0)
    f = make_forecaster("constant", quantile=0.9, interval_s=60.0)
    hits, n = 0, 0
    upper = None
    for i, v in enumerate(100 * rng.lognormal(0, 0.2, 2000)):
        if upper is not None and i > 50:
            hits += v <= upper
            n += 1
        f.observe(LoadPoint(time_s=60.0 * (i + 1), request_rate_rps=float(v)))
        upper = f.forecast(horizon_s=60.0).request_rate_rps.upper
    assert 0.87 <= hits / n <= 0.93


def test_seasonal_base_vectorised_matches_lookup() -> None:
    """The array form of the seasonal base equals the per-index lookup used per tick."""
    y = np.random.default_rng(1).random(1000)
    y[[3, 150, 151, 152, 153, 154, 400]] = np.nan
    arr = seasonal_base(y, period=144)
    one = [seasonal_base_at(lambda i: y[i] if 0 <= i < y.size else np.nan, t, period=144)
           for t in range(y.size)]  # fmt: skip
    np.testing.assert_allclose(arr, one, equal_nan=True)


def test_seasonal_beats_constant_on_a_daily_pattern() -> None:
    """On a noiseless daily sine (10-min intervals) the seasonal forecaster's 1-h-ahead
    forecast is near exact after 2 days, while constant lags the curve."""
    period = 144
    y = 100 + 50 * np.sin(2 * np.pi * np.arange(3 * period) / period)
    errs: dict[str, list[float]] = {"seasonal": [], "constant": []}
    for name in errs:
        f = make_forecaster(name, interval_s=600.0)
        for i, v in enumerate(y[:-6]):
            f.observe(LoadPoint(time_s=600.0 * (i + 1), request_rate_rps=float(v)))
            if i >= 2 * period:
                errs[name].append(abs(f.forecast(horizon_s=3600).request_rate_rps.point - y[i + 6]))
    assert np.mean(errs["seasonal"]) < 1.0 < np.mean(errs["constant"])


def test_cold_upper_band_uses_random_walk_spread() -> None:
    """With 10 points alternating 10/12 there are no 30-step pairs yet and only lags 1
    and 2 on the variogram ladder (too little to judge how the spread grows), so the
    30-step upper value is the point plus the q0.9 one-step change (2) times sqrt(30)."""
    f = make_forecaster("constant", quantile=0.9, interval_s=60.0)
    for i in range(10):
        f.observe(LoadPoint(time_s=60.0 * (i + 1), request_rate_rps=10.0 + 2 * (i % 2)))
    fc = f.forecast(horizon_s=1800.0)
    assert fc.request_rate_rps.point == 12.0
    assert fc.request_rate_rps.upper == pytest.approx(12.0 + 2.0 * math.sqrt(30))
    assert "uncalibrated" not in fc.note
    cold = make_forecaster("constant", quantile=0.9, interval_s=60.0)
    cold.observe(LoadPoint(time_s=60.0, request_rate_rps=8.0))
    fc = cold.forecast(horizon_s=60.0)
    assert fc.request_rate_rps.upper == pytest.approx(12.0)  # point + half the level
    assert "uncalibrated" in fc.note


def test_prophet_flat_trend_does_not_extrapolate_a_ramp_and_linear_does() -> None:
    """Prophet's default trend here is flat (a level): after a ramp 10 -> 50 req/s its
    table alone forecasts near the window's level and, with the AR(1) on its residuals,
    no further than the last value; growth="linear" extrapolates the slope; an unknown
    growth is a ConfigError naming the field."""
    from planner.errors import ConfigError

    ramp = [10.0 + i for i in range(41)]
    forecasts = {}
    for growth, ar in (("flat", True), ("flat", False), ("linear", True)):
        f = make_forecaster(
            "prophet", quantile=0.9, interval_s=60.0, growth=growth, ar_residuals=ar
        )
        for i, r in enumerate(ramp):
            f.observe(
                LoadPoint(
                    time_s=(i + 1) * 60.0, request_rate_rps=r, isl_tokens=1000.0, osl_tokens=200.0
                )
            )
        forecasts[(growth, ar)] = f.forecast(horizon_s=600.0).request_rate_rps.point
    # linear: ~ 50 + 10 steps x 1 req/s per step; flat: the level of the fit window
    assert forecasts[("linear", True)] > 55.0
    assert forecasts[("flat", False)] < 45.0
    assert forecasts[("flat", False)] < forecasts[("flat", True)] <= 50.0
    with pytest.raises(ConfigError, match=r"prophet\.growth"):
        make_forecaster("prophet", quantile=0.9, interval_s=60.0, growth="logistic")
