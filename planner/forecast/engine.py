"""ModelForecaster: the shared tick logic of every forecaster (history, calibrated upper
quantiles, refit schedule, fallbacks); subclasses supply the point model."""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

from planner.core.types import Forecast, LoadPoint, Quantity
from planner.forecast.base import FitJob
from planner.forecast.calibration import UpperCalibrator, idle_run
from planner.forecast.history import SERIES, LoadHistory


def limit_blas_threads(job: FitJob, threads: int | None) -> FitJob:
    """``job`` run with at most ``threads`` BLAS threads (None: the library's default).
    The fits multiply matrices of a few rows, which BLAS threads cannot speed up; on a
    busy machine their spinning threads made a two-week ARIMA backtest several times
    slower (docs/forecasting.md, Cost)."""
    if threads is None:
        return job

    def run() -> Any:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=threads, user_api="blas"):
            return job()

    return run


class ModelForecaster:
    """Observe -> clean -> update model state; forecast -> point per series -> upper.

    Subclasses implement ``_predict(series, steps)`` (None while they have no model:
    the last value stands in and the forecast's note says so) and, if they fit,
    ``_make_fit_job()`` / ``_install(model)`` / ``_on_append(index)``. Fits are
    scheduled every ``refit_every`` intervals once ``warmup`` non-missing rate values
    have been seen; ``inline_refit`` runs them inside ``observe`` (simulator,
    backtest); the async service turns it off and uses ``AsyncRefitter``.
    """

    name = "model"
    #: whether this forecaster ever fits (False: needs_refit is always False)
    fits = True

    def __init__(
        self,
        *,
        quantile: float = 0.9,
        interval_s: float | None = None,
        capacity: int = 4096,
        refit_every: int = 24,
        warmup: int = 8,
        inline_refit: bool = True,
        calibration_window: int = 256,
        fit_threads: int | None = 1,
    ) -> None:
        if refit_every < 1 or warmup < 1:
            raise ValueError(f"refit_every={refit_every}, warmup={warmup}: expected >= 1")
        self.quantile = quantile
        self.history = LoadHistory(capacity=capacity, interval_s=interval_s)
        self.calibrator = UpperCalibrator(quantile=quantile, window=calibration_window)
        self.refit_every = refit_every
        self.warmup = warmup
        self.inline_refit = inline_refit
        #: BLAS threads a fit may use (None: the library's default)
        self.fit_threads = fit_threads
        #: wall seconds of the last inline fits (the async refitter keeps its own)
        self.fit_times_s: deque[float] = deque(maxlen=1000)
        self._last_fit_attempt: int | None = None
        self._has_model = False
        self._fit_note = ""

    # -- ticks -------------------------------------------------------------------------

    def observe(self, point: LoadPoint) -> None:
        for index in self.history.add(point):
            for s in SERIES:
                self.calibrator.resolve(s, index, self.history.at(s, index))
            self._on_append(index)
        if self.inline_refit and self.needs_refit():
            self._refit_inline()

    def forecast(self, *, horizon_s: float) -> Forecast:
        steps = self.history.steps(horizon_s)
        target = self.history.total - 1 + steps
        quantities: list[Quantity] = []
        fallback: list[str] = []
        uncalibrated = False
        run = idle_run(self.history)
        for s in SERIES:
            p = self._predict(s, steps)
            if p is None or not math.isfinite(p):
                if self.fits and self.history.valid_count(s) > 0:
                    fallback.append(s)
                p = self.history.last_valid(s) or 0.0
            p = max(0.0, float(p))
            upper, calibrated = self.calibrator.upper(s, steps, point=p, history=self.history)
            uncalibrated |= not calibrated
            self.calibrator.record(s, steps, target=target, point=p, upper=upper, idle_run=run)
            quantities.append(Quantity(point=p, upper=upper))
        notes = [self._fit_note] if self._fit_note else []
        if fallback:
            notes.append(f"{self.name}: no model yet for {'/'.join(fallback)}; using last value")
        if uncalibrated:
            notes.append(f"upper q{self.quantile:g} uncalibrated (too little history)")
        return Forecast(
            horizon_s=horizon_s,
            request_rate_rps=quantities[0],
            isl_tokens=quantities[1],
            osl_tokens=quantities[2],
            quantile=self.quantile,
            predictor=self.name,
            note="; ".join(notes),
        )

    # -- refits (see planner.forecast.base.Refittable) --------------------------------

    def needs_refit(self) -> bool:
        if not self.fits or self.history.valid_count("rate") < self.warmup:
            return False
        last = self._last_fit_attempt
        return last is None or self.history.total - last >= self.refit_every

    def fit_snapshot(self) -> FitJob:
        """Copy what the fit needs now (on the caller's thread); the job is pure and
        runs with at most ``fit_threads`` BLAS threads."""
        self._last_fit_attempt = self.history.total
        return limit_blas_threads(self._make_fit_job(), self.fit_threads)

    def install(self, model: Any) -> None:
        self._install(model)
        self._has_model = True
        self._fit_note = ""

    def fit_failed(self, reason: str) -> None:
        fallback = "using last good model" if self._has_model else "using last value"
        self._fit_note = f"{self.name}: {reason}; {fallback}"

    def _refit_inline(self) -> None:
        job = self.fit_snapshot()
        t0 = time.perf_counter()
        try:
            model = job()
        except Exception as exc:  # a failed fit must never stop the tick
            self.fit_failed(f"fit failed ({type(exc).__name__}: {exc})")
            return
        finally:
            self.fit_times_s.append(time.perf_counter() - t0)
        self.install(model)

    # -- subclass hooks ----------------------------------------------------------------

    def _predict(self, series: str, steps: int) -> float | None:
        raise NotImplementedError

    def _on_append(self, index: int) -> None:
        """Interval ``index`` was stored: cheap model state update (no refit)."""

    def _make_fit_job(self) -> FitJob:
        raise NotImplementedError

    def _install(self, model: Any) -> None:
        raise NotImplementedError
