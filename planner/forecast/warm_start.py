"""Warm starts: seed a forecaster from history (a trace file, a history file from
``sla-planner history``, or a metrics range query through ``MetricsSource.history``) so
a restarted planner is not cold.

``load_series`` is the trace loading rule shared with the backtest: ServeGen aggregates
at their own windows (all-client-empty windows are missing), per-request traces binned
with ``bin_requests``, where the last interval is marked missing when the trace ends
before it does (its count / interval would understate the rate).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from planner.core.types import LoadPoint
from planner.errors import TraceError
from planner.forecast.base import Forecaster, Refittable
from planner.history.format import is_history_file
from planner.workload.readers import is_servegen, read_load_series, read_request_trace
from planner.workload.trace import LoadSeries, bin_requests


def load_series(path: str | Path, *, interval_s: float) -> LoadSeries:
    """A trace as a per-interval series, the trailing partial interval marked missing;
    a history file (``sla-planner history``) as its rows, unusable ones missing."""
    p = Path(path)
    if is_history_file(p):
        from planner.history.expand import history_series
        from planner.history.format import read_history

        history = read_history(p)
        if not math.isclose(history.meta.interval_s, interval_s):
            raise TraceError(
                f"{p}: interval_s={history.meta.interval_s:g} in the file: expected "
                f"{interval_s:g}, the planner's interval (pull the history at it)"
            )
        return history_series(history, name=p.stem)
    if is_servegen(p):
        return read_load_series(p, interval_s=interval_s)
    trace = read_request_trace(p)
    series = bin_requests(trace, interval_s=interval_s)
    covered_s = trace.duration_s - (len(series) - 1) * interval_s
    if covered_s < interval_s - 1e-9 and len(series) > 1:
        missing = series.missing.copy()
        missing[-1] = True
        series = dataclasses.replace(series, missing=np.asarray(missing))
    return series


def warm_start(forecaster: Forecaster, points: Iterable[LoadPoint]) -> int:
    """Observe ``points`` (oldest first) with scheduled refits held back, then fit once
    if a fit is due. Returns how many points were observed. A failed fit is reported
    through ``fit_failed`` like any other (the forecaster then uses the last value)."""
    if not isinstance(forecaster, Refittable):
        count = 0
        for point in points:
            forecaster.observe(point)
            count += 1
        return count
    refit: Refittable = forecaster
    inline = refit.inline_refit
    refit.inline_refit = False
    count = 0
    try:
        for point in points:
            forecaster.observe(point)
            count += 1
    finally:
        refit.inline_refit = inline
    if inline and refit.needs_refit():
        job = refit.fit_snapshot()
        try:
            model = job()
        except Exception as exc:  # a warm start must not stop the planner from starting
            refit.fit_failed(f"warm-start fit failed ({type(exc).__name__}: {exc})")
        else:
            refit.install(model)
    return count


def warm_start_from_trace(
    forecaster: Forecaster,
    path: str | Path,
    *,
    interval_s: float,
    end_time_s: float | None = None,
    last_s: float | None = None,
) -> int:
    """Warm start from a trace file. ``end_time_s`` re-times the series so its last
    interval ends there (use the time of the first live tick minus one interval);
    ``last_s`` keeps only the trace's final seconds."""
    series = load_series(path, interval_s=interval_s)
    points = series.points()
    if last_s is not None:
        keep = max(1, int(np.ceil(last_s / interval_s)))
        points = points[-keep:]
    if end_time_s is not None:
        points = retimed(points, end_time_s=end_time_s)
    return warm_start(forecaster, points)


def retimed(points: list[LoadPoint], *, end_time_s: float) -> list[LoadPoint]:
    """``points`` shifted in time so the last one ends at ``end_time_s``."""
    if not points:
        return points
    shift = end_time_s - points[-1].time_s
    return [dataclasses.replace(p, time_s=p.time_s + shift) for p in points]
