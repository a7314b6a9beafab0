"""The ``kalman`` forecaster: a damped local-linear-trend Kalman filter (filterpy) per series.

State x = [level, trend]; x' = F x with F = [[1, 1], [0, phi]], observation y = level
+ noise. The noise ratio q/r and the damping phi are chosen on a schedule by one-step
squared error over the recent window (a small grid, numpy filter, off the tick path);
each tick is one filterpy predict/update (a missing value: predict only). The h-step
forecast is H F^h x, clamped at 0. Until ``warmup`` values are seen it forecasts the
last value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from planner.forecast.base import FitJob
from planner.forecast.engine import ModelForecaster
from planner.forecast.history import SERIES

#: (q/r ratio, trend damping phi) candidates
GRID = tuple((q, phi) for q in (0.01, 0.1, 1.0, 10.0) for phi in (0.5, 0.9))


@dataclass(frozen=True)
class KalmanParams:
    q_ratio: float
    phi: float
    r: float


@dataclass(frozen=True)
class KalmanModel:
    params: dict[str, KalmanParams | None]
    #: history.total when the data was copied
    fitted_through: int


def _matrices(p: KalmanParams) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    f = np.array([[1.0, 1.0], [0.0, p.phi]])
    q = p.r * p.q_ratio * np.diag([1.0, 0.1])
    return f, q


def _one_step_sse(y: NDArray[np.float64], p: KalmanParams) -> float:
    """Sum of squared one-step innovations of the filter over y (NaN: skipped)."""
    f, q = _matrices(p)
    first = y[np.isfinite(y)][0]
    x = np.array([first, 0.0])
    cov = np.eye(2) * p.r * 10
    sse = 0.0
    for v in y:
        x = f @ x
        cov = f @ cov @ f.T + q
        if not np.isfinite(v):
            continue
        innov = v - x[0]
        s = cov[0, 0] + p.r
        sse += innov * innov
        k = cov[:, 0] / s
        x = x + k * innov
        cov = cov - np.outer(k, cov[0, :])
    return sse


def fit_params(y: NDArray[np.float64]) -> KalmanParams | None:
    finite = y[np.isfinite(y)]
    if finite.size < 4:
        return None
    diffs = np.diff(finite)
    r = max(float(np.var(diffs)) / 2.0, 1e-9 * max(1.0, float(np.mean(finite)) ** 2), 1e-12)
    cands = [KalmanParams(q_ratio=q, phi=phi, r=r) for q, phi in GRID]
    return min(cands, key=lambda p: _one_step_sse(y, p))


class KalmanForecaster(ModelForecaster):
    """Damped local-level + trend Kalman filter per series."""

    name = "kalman"

    def __init__(self, *, fit_window: int = 288, **kw: Any) -> None:
        kw.setdefault("refit_every", 48)
        super().__init__(**kw)
        self.fit_window = fit_window
        self._filters: dict[str, Any] = {}

    def _make_fit_job(self) -> FitJob:
        data = {s: self.history.values(s, self.fit_window) for s in SERIES}
        through = self.history.total

        def job() -> KalmanModel:
            return KalmanModel({s: fit_params(y) for s, y in data.items()}, through)

        return job

    def _install(self, model: Any) -> None:
        from filterpy.kalman import KalmanFilter

        assert isinstance(model, KalmanModel)
        self._filters = {}
        for s, p in model.params.items():
            if p is None:
                continue
            y = self.history.values(s, self.fit_window)
            finite = y[np.isfinite(y)]
            if not finite.size:
                continue
            kf = KalmanFilter(dim_x=2, dim_z=1)
            kf.F, kf.Q = _matrices(p)
            kf.H = np.array([[1.0, 0.0]])
            kf.R = np.array([[p.r]])
            kf.x = np.array([[finite[0]], [0.0]])
            kf.P = np.eye(2) * p.r * 10
            for v in y:  # re-filter the window: brings the state up to now
                _step(kf, v)
            self._filters[s] = kf

    def _on_append(self, index: int) -> None:
        for s, kf in self._filters.items():
            _step(kf, self.history.at(s, index))

    def _predict(self, series: str, steps: int) -> float | None:
        kf = self._filters.get(series)
        if kf is None:
            return None
        x = np.linalg.matrix_power(kf.F, steps) @ kf.x
        return max(0.0, float(x[0, 0]))


def _step(kf: Any, value: float) -> None:
    kf.predict()
    if np.isfinite(value):
        kf.update(np.array([[value]]))
