"""Seasonal-naive base: the same time of day on the last few days, smoothed.

S_t = mean over k = 1..``SEASONAL_DAYS`` (the finite ones) of M(t - kP), where P is the
period in intervals (one day) and M(i) the mean of the finite values y[i - 2 .. i + 2]
(a 5-interval centred smoother; it only reaches 2 intervals past i, so S_t uses data at
least P - 2 intervals old). S depends only on the past, so a model of y_t - S_t is still
a forecast of y_t from the past only, and its likelihood is comparable with a model of
y_t itself. With ARIMA(0,1,0) on y - S the h-step forecast is y_t + S_(t+h) - S_t: the
last value plus the average change over the same hours of the previous days.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

DAY_S = 86400.0
SEASONAL_DAYS = 7
SMOOTH_HALF_WIDTH = 2


def period_steps(interval_s: float, *, period_s: float = DAY_S) -> int | None:
    """Intervals per period, or None when the interval does not divide it evenly."""
    steps = round(period_s / interval_s)
    if steps < 2 * SMOOTH_HALF_WIDTH + 2 or abs(steps * interval_s - period_s) > 1e-6 * period_s:
        return None
    return steps


def seasonal_base_at(
    value_at: Callable[[int], float], index: int, *, period: int, days: int = SEASONAL_DAYS
) -> float:
    """S at absolute ``index`` from a lookup of past values (NaN where none is known)."""
    means: list[float] = []
    for k in range(1, days + 1):
        centre = index - k * period
        vals = [value_at(centre + j) for j in range(-SMOOTH_HALF_WIDTH, SMOOTH_HALF_WIDTH + 1)]
        finite = [v for v in vals if math.isfinite(v)]
        if finite:
            means.append(sum(finite) / len(finite))
    return sum(means) / len(means) if means else math.nan


def seasonal_base(
    y: NDArray[np.float64], *, period: int, days: int = SEASONAL_DAYS
) -> NDArray[np.float64]:
    """S for every position of ``y`` (NaN where no earlier day is in ``y``)."""
    n = y.size
    w = SMOOTH_HALF_WIDTH
    # smoothed values for centres -w .. n-1 (a centre just before y still sees y[0..])
    padded = np.concatenate([np.full(2 * w, np.nan), y, np.full(w, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * w + 1)
    finite = np.isfinite(windows)
    count = finite.sum(axis=1)
    sums = np.where(finite, windows, 0.0).sum(axis=1)
    smooth = np.where(count > 0, sums / np.maximum(count, 1), np.nan)  # smooth[c + w]
    lags = np.full((days, n), np.nan)
    for k in range(1, days + 1):
        first = max(0, k * period - w)  # first position whose centre t - kP >= -w
        if first < n:
            lags[k - 1, first:] = smooth[first - k * period + w : n - k * period + w]
    have = np.isfinite(lags)
    total = np.where(have, lags, 0.0).sum(axis=0)
    num = have.sum(axis=0)
    out: NDArray[np.float64] = np.where(num > 0, total / np.maximum(num, 1), np.nan)
    return out
