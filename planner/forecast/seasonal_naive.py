"""The ``seasonal`` forecaster: the last value plus the typical change over the same
hours of the previous days (a seasonal-naive component, documented in
docs/forecasting.md).

y_(t+h) = y_t + median_k [ M(t + h - kP) - M(t - kP) ], k = 1..7 days with data (t - kP
not before the first stored interval), where P is intervals per day and M the
5-interval centred mean (``planner.forecast.seasonal``).
Without a previous day (or when the interval does not divide a day) it is ``constant``.
No fit: each forecast is a few dozen history lookups.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from planner.forecast.engine import ModelForecaster
from planner.forecast.seasonal import SEASONAL_DAYS, SMOOTH_HALF_WIDTH, period_steps


class SeasonalNaiveForecaster(ModelForecaster):
    """Last value + median same-hours change of the previous days."""

    name = "seasonal"
    fits = False

    def __init__(self, *, days: int = SEASONAL_DAYS, **kw: Any) -> None:
        super().__init__(**kw)
        self.days = days

    def _smoothed(self, series: str, centre: int) -> float:
        vals = [
            self.history.at(series, centre + j)
            for j in range(-SMOOTH_HALF_WIDTH, SMOOTH_HALF_WIDTH + 1)
        ]
        finite = [v for v in vals if math.isfinite(v)]
        return sum(finite) / len(finite) if finite else math.nan

    def _predict(self, series: str, steps: int) -> float | None:
        last = self.history.last_valid(series)
        period = period_steps(self.history.interval_s)
        if last is None or period is None or steps + SMOOTH_HALF_WIDTH > period:
            return last
        now = self.history.total - 1
        first = max(0, self.history.total - self.history.series[series].capacity)
        deltas = []
        for k in range(1, self.days + 1):
            if now - k * period < first:
                break  # that day's centre precedes the data: there is no such day
            then = self._smoothed(series, now - k * period)
            later = self._smoothed(series, now + steps - k * period)
            if math.isfinite(then) and math.isfinite(later):
                deltas.append(later - then)
        return last + float(np.median(deltas)) if deltas else last
