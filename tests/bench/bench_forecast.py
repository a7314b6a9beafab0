"""Forecaster cost: per-tick observe + forecast (state updates only, no refit) and the
refit times, on the ServeGen m-small series (600-s intervals) warm-started with 4 days;
and the two-week ARIMA backtest (2,016 intervals, 1, 3 and 6 steps ahead, fits
inline) before and after its speed-ups.

A tick here is observe(point) + forecast(horizon_s=3600); refits are off during the
timed ticks (as under AsyncRefitter, where they run in a worker thread) and timed
separately by running the forecaster's own fit job. The ARIMA backtest runs as it
used to (BLAS threads as the library starts them, the innovation variance estimated as
a parameter), with one BLAS thread per fit, and as shipped (one thread, variance
concentrated out); the machine's load average is recorded beside it, because how much
BLAS threads cost depends on what else runs. The before and shipped runs are repeated
with one busy-looping process per core beside them (``busy``), the busy machine the
slow backtests were seen on.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from planner.forecast import make_forecaster
from planner.forecast.backtest import run_predictor
from planner.forecast.engine import ModelForecaster
from planner.forecast.warm_start import load_series, warm_start
from tests.conftest import SHARED_DATA

WARM = 576  # 4 days of 600-s intervals
TICKS = 200
FITS = 6  # arima re-selects its orders every 6th fit: one selection, five re-estimates
ARIMA_VARIANTS = {
    "before": {"fit_threads": None, "concentrate_scale": False},
    "one_blas_thread": {"fit_threads": 1, "concentrate_scale": False},
    "shipped": {"fit_threads": 1, "concentrate_scale": True},
}


def _ms(samples: list[float]) -> dict[str, float]:
    x = np.asarray(samples) * 1000
    return {
        "median_ms": round(float(np.median(x)), 4),
        "p99_ms": round(float(np.quantile(x, 0.99)), 4),
        "max_ms": round(float(x.max()), 4),
    }


def _spin(stop: Any) -> None:
    while not stop.is_set():
        pass


@contextlib.contextmanager
def _busy_cores() -> Iterator[None]:
    """One busy-looping process per core for the duration."""
    stop = multiprocessing.Event()
    cores = os.cpu_count() or 1
    procs = [multiprocessing.Process(target=_spin, args=(stop,)) for _ in range(cores)]
    for p in procs:
        p.start()
    try:
        yield
    finally:
        stop.set()
        for p in procs:
            p.join()


def _arima_run(series: Any, options: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    run = run_predictor(series, "arima", steps=(1, 3, 6), quantile=0.9, options=options)
    wall_s = round(time.perf_counter() - t0, 2)
    return {"wall_s": wall_s, "fits": len(run.fit_s), "fit": _ms(run.fit_s)}


def arima_backtest(series: Any) -> dict[str, Any]:
    """The two-week ARIMA backtest under each variant: wall time and fit times."""
    make_forecaster("arima", interval_s=600.0)  # import statsmodels outside the timing
    from statsmodels.tsa.statespace.sarimax import SARIMAX  # noqa: F401

    out: dict[str, Any] = {"load_average_1min": round(os.getloadavg()[0], 2)}
    for name, options in ARIMA_VARIANTS.items():
        out[name] = _arima_run(series, options)
    out["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    out["speedup_x"] = round(out["before"]["wall_s"] / out["shipped"]["wall_s"], 2)
    with _busy_cores():
        for name in ("before", "shipped"):
            out[f"busy_{name}"] = _arima_run(series, ARIMA_VARIANTS[name])
    out["busy_speedup_x"] = round(out["busy_before"]["wall_s"] / out["busy_shipped"]["wall_s"], 2)
    return out


def run() -> dict[str, Any]:
    series = load_series(SHARED_DATA / "traces/servegen_language_m-small.tar.gz", interval_s=600.0)
    points = series.points()
    out: dict[str, Any] = {"ticks": TICKS, "warm_intervals": WARM}
    for name in ("constant", "seasonal", "kalman", "arima", "prophet", "auto"):
        f = make_forecaster(name, quantile=0.9, interval_s=600.0)
        assert isinstance(f, ModelForecaster)
        warm_start(f, points[:WARM])  # fits once at the end
        f.inline_refit = False
        ticks = []
        for p in points[WARM : WARM + TICKS]:
            t0 = time.perf_counter()
            f.observe(p)
            f.forecast(horizon_s=3600.0)
            ticks.append(time.perf_counter() - t0)
        entry: dict[str, Any] = {"tick": _ms(ticks)}
        if f.fits and name != "auto":  # auto's fits are its members' fits, timed above
            fits: dict[str, list[float]] = {}
            for _ in range(FITS):
                job = f.fit_snapshot()
                t0 = time.perf_counter()
                model = job()
                f.install(model)
                kind = "refit_select" if getattr(model, "selected", False) else "refit"
                fits.setdefault(kind, []).append(time.perf_counter() - t0)
            entry.update({kind: _ms(v) for kind, v in fits.items()})
        out[name] = entry
    out["arima_backtest_two_weeks"] = arima_backtest(series)
    return out
