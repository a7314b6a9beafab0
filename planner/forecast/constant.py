"""The ``constant`` forecaster: the last observed value, with an empirical upper band."""

from __future__ import annotations

from collections import deque

import numpy as np

from planner.types import Forecast, LoadPoint, Quantity


class _LastValue:
    """Last finite non-negative value of one series plus recent step ratios."""

    def __init__(self, *, window: int) -> None:
        self.last: float | None = None
        self._ratios: deque[float] = deque(maxlen=window)

    def add(self, value: float | None) -> None:
        if value is None or not np.isfinite(value) or value < 0:
            return
        if self.last is not None and self.last > 0:
            self._ratios.append(value / self.last)
        self.last = float(value)

    def quantity(self, quantile: float) -> Quantity:
        point = self.last or 0.0
        # upper band: the quantile of recent step-to-step growth, never below 1x
        factor = float(np.quantile(self._ratios, quantile)) if self._ratios else 1.0
        return Quantity(point=point, upper=point * max(1.0, factor))


class ConstantForecaster:
    """Repeats the last value; idle windows set the rate to 0 but keep ISL/OSL."""

    name = "constant"

    def __init__(self, *, quantile: float = 0.9, window: int = 60) -> None:
        self.quantile = quantile
        self._rate = _LastValue(window=window)
        self._isl = _LastValue(window=window)
        self._osl = _LastValue(window=window)

    def observe(self, point: LoadPoint) -> None:
        if point.request_rate_rps is None:
            return  # missing window: a gap, not a zero
        self._rate.add(point.request_rate_rps)
        self._isl.add(point.isl_tokens)
        self._osl.add(point.osl_tokens)

    def forecast(self, *, horizon_s: float) -> Forecast:
        return Forecast(
            horizon_s=horizon_s,
            request_rate_rps=self._rate.quantity(self.quantile),
            isl_tokens=self._isl.quantity(self.quantile),
            osl_tokens=self._osl.quantity(self.quantile),
            quantile=self.quantile,
            predictor=self.name,
        )
