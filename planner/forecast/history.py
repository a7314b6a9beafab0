"""Bounded, cleaned per-interval history of rate, ISL and OSL that every forecaster keeps.

Cleaning rule (the one place it is applied; docs/forecasting.md repeats it):

- ``time_s`` not finite, or not after the previous point's: the point is rejected
  (ignored and counted in ``rejected``).
- ``request_rate_rps`` None: a missing window (collection gap), stored as NaN.
- ``request_rate_rps`` NaN, inf or negative: cleaned to a missing window (counted in
  ``cleaned``); a bad rate is no evidence of idleness.
- ``request_rate_rps`` 0: an idle window; ISL and OSL are NaN (a mean over no requests
  is undefined) whatever the point carried.
- ISL/OSL None, NaN, inf or negative on a busy window: NaN for that series (counted in
  ``cleaned`` unless None); length forecasts carry on from the last known value.
- A point more than 1.5 intervals after the previous one: the skipped intervals are
  stored as missing, so indices stay one per interval.

The interval is the configured ``interval_s``, or else the median of recent spacings
between points (60 s until two points are seen).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
from numpy.typing import NDArray

from planner.core.types import LoadPoint

#: the three forecast series, in Forecast field order
SERIES = ("rate", "isl", "osl")
DEFAULT_INTERVAL_S = 60.0


class RingSeries:
    """The last ``capacity`` values of one series, addressable by absolute index."""

    def __init__(self, *, capacity: int) -> None:
        self.capacity = capacity
        self._buf = np.full(2 * capacity, np.nan)
        self._len = 0
        #: how many values were ever appended (absolute index of the next one)
        self.total = 0

    def append(self, value: float) -> None:
        if self._len == len(self._buf):
            self._buf[: self.capacity] = self._buf[self.capacity :]
            self._len = self.capacity
        self._buf[self._len] = value
        self._len += 1
        self.total += 1

    def values(self, last: int | None = None) -> NDArray[np.float64]:
        """A copy of the most recent ``last`` values (all kept ones by default), oldest first."""
        keep = min(self._len, self.capacity if last is None else min(last, self.capacity))
        return self._buf[self._len - keep : self._len].copy()

    def at(self, index: int) -> float:
        """The value at absolute ``index`` (NaN if it was never seen or has been dropped)."""
        offset = index - (self.total - self._len)
        if 0 <= offset < self._len and index >= self.total - self.capacity:
            return float(self._buf[offset])
        return math.nan


def _clean_length(value: float | None) -> tuple[float, bool]:
    if value is None:
        return math.nan, False
    if not math.isfinite(value) or value < 0:
        return math.nan, True
    return float(value), False


class LoadHistory:
    """Cleaned history, one entry per interval (NaN = missing, or no lengths when idle)."""

    def __init__(self, *, capacity: int = 4096, interval_s: float | None = None) -> None:
        if interval_s is not None and not (math.isfinite(interval_s) and interval_s > 0):
            raise ValueError(f"interval_s={interval_s!r}: expected a finite number > 0")
        self.series = {s: RingSeries(capacity=capacity) for s in SERIES}
        self._fixed_interval_s = interval_s
        self._spacings: deque[float] = deque(maxlen=16)
        self.last_time_s: float | None = None
        self.rejected = 0
        self.cleaned = 0
        self._last_valid: dict[str, float | None] = dict.fromkeys(SERIES)
        self._valid_count = dict.fromkeys(SERIES, 0)

    @property
    def interval_s(self) -> float:
        if self._fixed_interval_s is not None:
            return self._fixed_interval_s
        if not self._spacings:
            return DEFAULT_INTERVAL_S
        return float(np.median(self._spacings))

    @property
    def total(self) -> int:
        """Intervals stored so far (missing ones included); the next index."""
        return self.series["rate"].total

    def steps(self, horizon_s: float) -> int:
        """Horizon in intervals: ceil(horizon_s / interval_s), at least 1."""
        if not math.isfinite(horizon_s) or horizon_s < 0:
            raise ValueError(f"horizon_s={horizon_s!r}: expected a finite number >= 0")
        return max(1, math.ceil(horizon_s / self.interval_s - 1e-9))

    def last_valid(self, series: str) -> float | None:
        return self._last_valid[series]

    def valid_count(self, series: str) -> int:
        return self._valid_count[series]

    def add(self, point: LoadPoint) -> list[int]:
        """Store ``point`` (cleaned) and any skipped intervals; returns the new indices."""
        t = point.time_s
        if not math.isfinite(t) or (self.last_time_s is not None and t <= self.last_time_s):
            self.rejected += 1
            return []
        new: list[int] = []
        if self.last_time_s is not None:
            gap = t - self.last_time_s
            skipped = round(gap / self.interval_s) - 1 if gap > 1.5 * self.interval_s else 0
            if skipped == 0:
                self._spacings.append(gap)
            for _ in range(min(skipped, self.series["rate"].capacity)):
                new.append(self._append(math.nan, math.nan, math.nan))
        self.last_time_s = t
        rate = point.request_rate_rps
        if rate is None:
            new.append(self._append(math.nan, math.nan, math.nan))
        elif not math.isfinite(rate) or rate < 0:
            self.cleaned += 1
            new.append(self._append(math.nan, math.nan, math.nan))
        elif rate == 0:
            new.append(self._append(0.0, math.nan, math.nan))
        else:
            isl, bad_i = _clean_length(point.isl_tokens)
            osl, bad_o = _clean_length(point.osl_tokens)
            self.cleaned += int(bad_i) + int(bad_o)
            new.append(self._append(float(rate), isl, osl))
        return new

    def _append(self, rate: float, isl: float, osl: float) -> int:
        index = self.total
        for name, value in zip(SERIES, (rate, isl, osl), strict=True):
            self.series[name].append(value)
            if not math.isnan(value):
                self._last_valid[name] = value
                self._valid_count[name] += 1
        return index

    def values(self, series: str, last: int | None = None) -> NDArray[np.float64]:
        return self.series[series].values(last)

    def at(self, series: str, index: int) -> float:
        return self.series[series].at(index)
