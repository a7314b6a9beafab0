"""Upper quantiles from rolling out-of-sample residuals, per series and horizon.

Model intervals are not trusted. Every forecast (point p, horizon h) is remembered
until its target interval arrives; the residual r = actual - p (in the series' units)
joins a rolling window for that (series, h). The upper value is p + Q(level) over that
window (split-conformal style). Residuals normalised by the level (r / max(p, ...)) were
tried and gave the same coverage with wider bands on every trace in the backtests
(docs/forecasting.md), most of all on intermittent load. ``level`` starts at the
nominal quantile and is nudged after each resolved
forecast by adaptive conformal inference (Gibbs & Candès, 2021):
level += gamma * (miss - (1 - quantile)), so the long-run miss rate tracks the nominal
one under drift. Until a (series, h) pair has ``min_residuals`` residuals, the
h-step changes of the history (what ``constant`` would have missed) stand in, or with
fewer than 5 of those the one-step changes times sqrt(h) (random-walk spread); with
fewer than 5 of those either, the upper value is the point plus half the recent level
(max of the point and the recent mean) and the forecast says "uncalibrated".

Residuals are pooled separately for forecasts made from an idle level (point 0) and
from a busy one. Busy-time errors say nothing about what follows silence: pooled
together, a ramp's large residuals kept the upper value (and so the replicas) high long
after traffic stopped. An idle-origin residual also remembers how many intervals the
silence had lasted when the forecast was made, and a forecast after k idle intervals
uses only residuals from silences at least k long: "what followed a silence this
long". With fewer than 5 of those, its upper value is the point (0). So an intermittent
load (bursts after short lulls) keeps its burst band during short lulls, while after a
silence longer than any that was ever followed by a burst, the band is 0 and the graph
scales down to its minimum.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from planner.forecast.history import LoadHistory

COLD_UPPER_FACTOR = 1.5
MIN_NAIVE = 5


@dataclass(frozen=True, slots=True)
class _Pending:
    point: float
    upper: float
    #: consecutive idle intervals at the forecast's origin
    idle_run: int = 0


def idle_run(history: LoadHistory) -> int:
    """Consecutive most recent intervals without traffic (rate 0; missing ones are
    skipped over, they are not evidence either way)."""
    rates = history.values("rate", 512)
    run = 0
    for v in rates[::-1]:
        if v > 0:
            break
        if v == 0:
            run += 1
    return run


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
        #: (series, steps) -> residuals of busy-origin forecasts
        self._residuals: dict[tuple[str, int], deque[float]] = {}
        #: (series, steps) -> (idle run at the origin, residual) of idle-origin forecasts
        self._idle_residuals: dict[tuple[str, int], deque[tuple[int, float]]] = {}
        self._level: dict[tuple[str, int], float] = {}
        self._pending: dict[tuple[str, int], dict[int, _Pending]] = {}

    def record(
        self,
        series: str,
        steps: int,
        *,
        target: int,
        point: float,
        upper: float,
        idle_run: int = 0,
    ) -> None:
        """Remember a forecast for interval ``target`` (a repeat for it replaces it)."""
        self._pending.setdefault((series, steps), {})[target] = _Pending(point, upper, idle_run)

    def resolve(self, series: str, index: int, actual: float) -> None:
        """Interval ``index`` arrived with ``actual`` (NaN: missing; drops its forecasts)."""
        for key, pending in self._pending.items():
            if key[0] != series:
                continue
            for target in [t for t in pending if t <= index]:
                p = pending.pop(target)
                if target != index or not math.isfinite(actual):
                    continue
                if p.point <= 0.0:
                    idle = self._idle_residuals.setdefault(key, deque(maxlen=self.window))
                    idle.append((p.idle_run, actual - p.point))
                else:
                    res = self._residuals.setdefault(key, deque(maxlen=self.window))
                    res.append(actual - p.point)
                miss = 1.0 if actual > p.upper + 1e-12 else 0.0
                level = self._level.get(key, self.quantile)
                level += self.gamma * (miss - (1.0 - self.quantile))
                self._level[key] = min(1.0, max(0.5, level))

    def level(self, series: str, steps: int) -> float:
        return self._level.get((series, steps), self.quantile)

    def upper(
        self, series: str, steps: int, *, point: float, history: LoadHistory
    ) -> tuple[float, bool]:
        """(upper value, calibrated?) for a point forecast ``point`` ``steps`` ahead."""
        level = self.level(series, steps)
        if point <= 0.0:
            run = idle_run(history)
            pool = self._idle_residuals.get((series, steps), ())
            seen = [r for k, r in pool if k >= run]
            if len(seen) < MIN_NAIVE:
                return point, True  # no evidence of what follows a silence this long
            q = float(np.quantile(np.asarray(seen), level, method="higher"))
            return max(point, point + q), True
        res = self._residuals.get((series, steps))
        if res is not None and len(res) >= self.min_residuals:
            sample = np.fromiter(res, float, len(res))
        else:
            level = self.quantile
            sample = _naive_residuals(history, series, steps)
            if sample.size < MIN_NAIVE:
                # too short for h-step pairs: one-step changes spread out like a random
                # walk's (sqrt(h)); conservative on mean-reverting load, which is the
                # right side to err on while cold
                sample = _naive_residuals(history, series, 1) * math.sqrt(steps)
            if sample.size < MIN_NAIVE:
                if history.valid_count(series) == 0:
                    return point, True  # nothing seen: nothing to be uncertain about yet
                recent = history.values(series, 64)
                recent = recent[np.isfinite(recent)]
                level_now = max(point, float(recent.mean()) if recent.size else 0.0)
                return point + (COLD_UPPER_FACTOR - 1.0) * level_now, False
        q = float(np.quantile(sample, level, method="higher"))
        return max(point, point + q), True


def _naive_residuals(history: LoadHistory, series: str, steps: int) -> np.ndarray:
    """h-step changes of the recent history: what ``constant`` would have missed."""
    y = history.values(series, 512)
    if y.size <= steps:
        return np.empty(0)
    base, later = y[:-steps], y[steps:]
    ok = np.isfinite(base) & np.isfinite(later)
    changes: np.ndarray = later[ok] - base[ok]
    return changes
