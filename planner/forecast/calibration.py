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
one under drift.

Cold start. Until a (series, h) pair has ``min_residuals`` residuals of its own, what
``constant`` would have missed stands in (``naive_sample``), at the nominal level:

- the h-step changes y[i + h] - y[i] of the history, when there are at least
  max(5, 2h) of them (fewer overlap too much to show their spread);
- otherwise the one-step changes rescaled to the h-step spread read off the history's
  variogram. With s(L) = sqrt(mean_i (y[i + L] - y[i])^2) over the ladder of lags
  L = 1, 2, 4, ... < h that have at least max(5, 2L) pairs, its running maximum
  S(L) = max_{l <= L} s(l) and L* the longest such lag, the one-step changes are scaled
  by S(L*) / S(1) * (h / L*)^beta. The growth exponent beta is the larger of
  log2(S(L*) / S(L*/2)) (the last octave) and the least-squares slope of log S on
  log L over the ladder, capped at 1. With fewer than three lags on the ladder (under
  two octaves) growth is not judged: the one-step changes are scaled by sqrt(h). So the
  spread is extrapolated only as far as it still grows with the lag: a mean-reverting
  series whose spread has levelled off by L* (beta ~ 0) keeps it, a random walk grows
  like sqrt(h) (beta ~ 1/2), a trend like h (beta ~ 1); with no evidence the random
  walk's sqrt(h) is assumed, the conservative side. The running maximum keeps a lag
  that happens to fall on a period (changes ~ 0) from hiding the spread.
- Once the model has ``MIN_NAIVE`` (5) residuals of its own, its upper value is the
  larger of the two quantiles, so a model much worse than ``constant`` does not borrow
  ``constant``'s narrower band.

With fewer than 5 one-step changes, the upper value is the point plus half the recent
level (max of the point and the recent mean) and the forecast says "uncalibrated".

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
#: a lag L's changes show its spread once there are PAIRS_PER_LAG * L of them
PAIRS_PER_LAG = 2


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
        own = np.fromiter(res, float, len(res)) if res is not None else np.empty(0)
        if own.size >= self.min_residuals:
            q = float(np.quantile(own, level, method="higher"))
            return max(point, point + q), True
        sample = naive_sample(history, series, steps)
        if own.size >= MIN_NAIVE:
            # the model's own early errors, when wider, win over constant's
            sample = own if sample.size < MIN_NAIVE else sample
            q = max(_quantile(sample, self.quantile), _quantile(own, self.quantile))
            return max(point, point + q), True
        if sample.size < MIN_NAIVE:
            if history.valid_count(series) == 0:
                return point, True  # nothing seen: nothing to be uncertain about yet
            recent = history.values(series, 64)
            recent = recent[np.isfinite(recent)]
            level_now = max(point, float(recent.mean()) if recent.size else 0.0)
            return point + (COLD_UPPER_FACTOR - 1.0) * level_now, False
        return max(point, point + _quantile(sample, self.quantile)), True


def _quantile(sample: np.ndarray, level: float) -> float:
    return float(np.quantile(sample, level, method="higher"))


def naive_sample(history: LoadHistory, series: str, steps: int) -> np.ndarray:
    """Cold-start stand-in for the residuals of (series, ``steps``): what ``constant``
    would have missed ``steps`` intervals ahead (module docstring). Fewer than
    ``MIN_NAIVE`` values: too little history to say."""
    y = history.values(series, 512)
    direct = _changes(y, steps)
    if direct.size >= max(MIN_NAIVE, PAIRS_PER_LAG * steps):
        return direct
    one = _changes(y, 1)
    if one.size < MIN_NAIVE:
        return one
    return one * spread_growth(y, steps)


def spread_growth(y: np.ndarray, steps: int) -> float:
    """S(h) / S(1) extrapolated from the variogram of ``y`` (needs >= 5 one-step pairs):
    S(L*) / S(1) * (h / L*)^beta, the rule in the module docstring."""
    lags: list[int] = []
    spreads: list[float] = []
    lag, running = 1, 0.0
    while lag < steps:
        d = _changes(y, lag)
        if d.size < max(MIN_NAIVE, PAIRS_PER_LAG * lag):
            break
        running = max(running, float(np.sqrt(np.mean(d * d))))
        lags.append(lag)
        spreads.append(running)
        lag *= 2
    if len(lags) < 3 or spreads[0] <= 0.0:
        # under two octaves is no evidence on how the spread grows (or there is no
        # spread to scale): a random walk's sqrt(h), the conservative side
        return math.sqrt(steps)
    # S(L) ~ L^beta: the larger of the growth exponent over the last octave (L*/2 ->
    # L*) and the least-squares slope of log S on log L over the ladder, so noise in
    # one octave does not stop a random walk's growth
    log_l, log_s = np.log(lags), np.log(spreads)
    slope = float(np.polyfit(log_l, log_s, 1)[0])
    last_octave = float(log_s[-1] - log_s[-2]) / math.log(2.0)
    beta = min(1.0, max(0.0, slope, last_octave))
    return float(spreads[-1] / spreads[0] * (steps / lags[-1]) ** beta)


def _changes(y: np.ndarray, steps: int) -> np.ndarray:
    """The finite ``steps``-step changes y[i + steps] - y[i]."""
    if y.size <= steps:
        return np.empty(0)
    base, later = y[:-steps], y[steps:]
    ok = np.isfinite(base) & np.isfinite(later)
    changes: np.ndarray = later[ok] - base[ok]
    return changes
