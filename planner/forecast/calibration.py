"""Upper quantiles from rolling out-of-sample residuals, per series and horizon.

Model intervals are not trusted. Every forecast (point p, horizon h) is remembered
until its target interval arrives; the normalised residual r = (actual - p) / s, with
s = max(p, 10% of the recent mean) (``LoadHistory.scale``), joins a rolling window for
that (series, h). The upper value is p + s * Q(level) over that window (split-conformal
style). ``level`` starts at the nominal quantile and is nudged after each resolved
forecast by adaptive conformal inference (Gibbs & Candès, 2021):
level += gamma * (miss - (1 - quantile)), so the long-run miss rate tracks the nominal
one under drift. Until a (series, h) pair has ``min_residuals`` residuals, the
residuals of the naive h-step change over the history stand in; with fewer than 5 of
those either, the upper value is 1.5 x the point and the forecast says "uncalibrated".
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from planner.forecast.history import LoadHistory

COLD_UPPER_FACTOR = 1.5


@dataclass(frozen=True, slots=True)
class _Pending:
    point: float
    upper: float
    scale: float


class UpperCalibrator:
    """Conformal upper quantile per (series, horizon steps)."""

    def __init__(
        self,
        *,
        quantile: float,
        window: int = 256,
        gamma: float = 0.02,
        min_residuals: int = 12,
    ) -> None:
        if not 0.5 <= quantile < 1.0:
            raise ValueError(f"quantile={quantile!r}: expected 0.5 <= quantile < 1")
        self.quantile = quantile
        self.window = window
        self.gamma = gamma
        self.min_residuals = min_residuals
        self._residuals: dict[tuple[str, int], deque[float]] = {}
        self._level: dict[tuple[str, int], float] = {}
        self._pending: dict[tuple[str, int], dict[int, _Pending]] = {}

    def record(
        self, series: str, steps: int, *, target: int, point: float, upper: float, scale: float
    ) -> None:
        """Remember a forecast for interval ``target`` (a repeat for it replaces it)."""
        self._pending.setdefault((series, steps), {})[target] = _Pending(point, upper, scale)

    def resolve(self, series: str, index: int, actual: float) -> None:
        """Interval ``index`` arrived with ``actual`` (NaN: missing; drops its forecasts)."""
        for key, pending in self._pending.items():
            if key[0] != series:
                continue
            for target in [t for t in pending if t <= index]:
                p = pending.pop(target)
                if target != index or not math.isfinite(actual):
                    continue
                res = self._residuals.setdefault(key, deque(maxlen=self.window))
                res.append((actual - p.point) / p.scale)
                miss = 1.0 if actual > p.upper + 1e-12 else 0.0
                level = self._level.get(key, self.quantile)
                level += self.gamma * (miss - (1.0 - self.quantile))
                self._level[key] = min(1.0, max(0.5, level))

    def level(self, series: str, steps: int) -> float:
        return self._level.get((series, steps), self.quantile)

    def upper(
        self, series: str, steps: int, *, point: float, scale: float, history: LoadHistory
    ) -> tuple[float, bool]:
        """(upper value, calibrated?) for a point forecast ``point`` ``steps`` ahead."""
        res = self._residuals.get((series, steps))
        level = self.level(series, steps)
        if res is not None and len(res) >= self.min_residuals:
            sample = np.fromiter(res, float, len(res))
        else:
            sample = _naive_residuals(history, series, steps)
            level = self.quantile
            if sample.size < 5:
                return point * COLD_UPPER_FACTOR, False
        q = float(np.quantile(sample, level, method="higher"))
        return max(point, point + scale * q), True


def _naive_residuals(history: LoadHistory, series: str, steps: int) -> np.ndarray:
    """Normalised h-step changes of the recent history: what ``constant`` would have missed."""
    y = history.values(series, 512)
    if y.size <= steps:
        return np.empty(0)
    base, later = y[:-steps], y[steps:]
    ok = np.isfinite(base) & np.isfinite(later)
    base, later = base[ok], later[ok]
    if not base.size:
        return np.empty(0)
    finite = y[np.isfinite(y)]
    floor = max(0.1 * float(finite.mean()), 1e-6)
    return (later - base) / np.maximum(base, floor)
