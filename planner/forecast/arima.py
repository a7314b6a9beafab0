"""The ``arima`` forecaster: statsmodels SARIMAX per series, order chosen by AIC (or BIC)
over a small grid, optionally on top of a seasonal-naive daily base.

Per series, on a schedule (every ``refit_every`` intervals, off the tick path):

- the transformed series z = y - S - m over the last ``fit_window`` intervals, where S is
  the seasonal-naive base (``planner.forecast.seasonal``: median of the same time on the
  last 3 days; only once the history covers 2 days) or 0, and m the window mean for
  d = 0 models (0 for d = 1);
- every ``select_every``-th fit re-selects the order from ``ORDERS`` x {with, without S}
  by the information criterion (both variants model y_t given the past over the same
  intervals, so their likelihoods compare); other fits re-estimate the chosen order;
- the fitted state-space matrices (Z, d, T, c, RQR', H) and the final predicted state
  are kept. Each tick then runs one numpy Kalman update with the new value (no refit,
  tens of microseconds); a missing value is a predict-only step.

The h-step forecast is Z T^(h-1) a + d + m + S_(t+h), clamped at 0 by the engine.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from planner.forecast.base import FitJob
from planner.forecast.engine import ModelForecaster
from planner.forecast.history import SERIES
from planner.forecast.seasonal import SEASONAL_DAYS, period_steps, seasonal_base, seasonal_base_at

ORDERS: tuple[tuple[int, int, int], ...] = ((1, 0, 0), (1, 0, 1), (0, 1, 1), (1, 1, 1))
MIN_POINTS = 16


@dataclass(frozen=True)
class ArimaSeries:
    """One series' fitted model and its Kalman state (predicted for the next interval)."""

    order: tuple[int, int, int]
    seasonal: bool
    mean: float
    ic: float
    design: NDArray[np.float64]
    obs_intercept: float
    transition: NDArray[np.float64]
    state_intercept: NDArray[np.float64]
    state_cov: NDArray[np.float64]  # R Q R'
    obs_cov: float
    state: NDArray[np.float64]
    state_var: NDArray[np.float64]


@dataclass(frozen=True)
class ArimaModel:
    series: dict[str, ArimaSeries | None]
    fitted_through: int
    selected: bool


def _fit_one(
    z: NDArray[np.float64],
    order: tuple[int, int, int],
    *,
    seasonal: bool,
    mean: float,
    concentrate_scale: bool = True,
) -> ArimaSeries:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    with warnings.catch_warnings():
        # convergence chatter from a grid of small fits is expected; the IC judges them
        warnings.simplefilter("ignore")
        # the innovation variance concentrated out of the likelihood: the same maximum,
        # one parameter fewer for the numerical gradient (about half the fit time)
        model = SARIMAX(z, order=order, trend="n", concentrate_scale=concentrate_scale)
        res = model.fit(disp=False, cov_type="none")
    fr = res.filter_results
    if not np.isfinite(res.llf):
        raise ValueError(f"ARIMA{order}: non-finite likelihood")
    sel = fr.selection[:, :, 0]
    return ArimaSeries(
        order=order,
        seasonal=seasonal,
        mean=mean,
        ic=float(res.aic),
        design=np.asarray(fr.design[0, :, 0], float),
        obs_intercept=float(fr.obs_intercept[0, 0]),
        transition=np.asarray(fr.transition[:, :, 0], float),
        state_intercept=np.asarray(fr.state_intercept[:, 0], float),
        state_cov=sel @ fr.state_cov[:, :, 0] @ sel.T,
        obs_cov=float(fr.obs_cov[0, 0, 0]),
        state=np.asarray(res.predicted_state[:, -1], float),
        state_var=np.asarray(res.predicted_state_cov[:, :, -1], float),
    )


def _random_walk(last: float) -> ArimaSeries:
    """ARIMA(0,1,0) at ``last`` with a tiny innovation variance (for flat series)."""
    eye = np.eye(1)
    return ArimaSeries(
        order=(0, 1, 0),
        seasonal=False,
        mean=0.0,
        ic=0.0,
        design=np.ones(1),
        obs_intercept=0.0,
        transition=eye.copy(),
        state_intercept=np.zeros(1),
        state_cov=eye * 1e-12,
        obs_cov=0.0,
        state=np.array([last]),
        state_var=eye * 1e-12,
    )


def _variant(
    y: NDArray[np.float64], base: NDArray[np.float64] | None, order: tuple[int, int, int]
) -> tuple[NDArray[np.float64], float]:
    e = y - base if base is not None else y.copy()
    mean = float(np.nanmean(e)) if order[1] == 0 else 0.0
    return e - mean, mean


def fit_series(
    y: NDArray[np.float64],
    *,
    fit_window: int,
    period: int | None,
    previous: ArimaSeries | None,
    select: bool,
    criterion: Literal["aic", "bic"] = "aic",
    concentrate_scale: bool = True,
) -> ArimaSeries | None:
    """Fit one series. ``y`` is its history (oldest first) including the seasonal lead-in."""
    base_full = seasonal_base(y, period=period) if period is not None else None
    window = y[-fit_window:].copy()
    base = base_full[-fit_window:] if base_full is not None else None
    can_season = (
        period is not None
        and y.size >= 2 * period
        and base is not None
        and bool(np.isfinite(base).mean() > 0.9)
    )
    if can_season and base is not None:
        window[~np.isfinite(base)] = np.nan  # same intervals for both variants
    finite = window[np.isfinite(window)]
    if finite.size < MIN_POINTS:
        return None
    if np.ptp(finite) <= 1e-9 * max(1.0, abs(float(finite.mean()))):
        return _random_walk(float(finite[-1]))  # a flat series: nothing to estimate
    if select or previous is None:
        candidates = [(o, s) for o in ORDERS for s in ((False, True) if can_season else (False,))]
    else:
        candidates = [(previous.order, previous.seasonal and can_season)]
    best: ArimaSeries | None = None
    for order, seasonal in candidates:
        z, mean = _variant(window, base if seasonal else None, order)
        try:
            fit = _fit_one(
                z, order, seasonal=seasonal, mean=mean, concentrate_scale=concentrate_scale
            )
        except Exception:  # one candidate failing is expected; the others compete
            continue
        if criterion == "bic":
            k = sum(order) + 1
            n = int(np.isfinite(z).sum())
            fit = replace(fit, ic=fit.ic - 2 * k + k * math.log(max(n, 2)))
        if best is None or fit.ic < best.ic:
            best = fit
    return best


class ArimaForecaster(ModelForecaster):
    """ARIMA per series with cheap per-tick Kalman updates between scheduled refits."""

    name = "arima"

    def __init__(
        self,
        *,
        fit_window: int = 576,
        select_every: int = 6,
        criterion: Literal["aic", "bic"] = "aic",
        seasonal: bool = True,
        concentrate_scale: bool = True,
        **kw: Any,
    ) -> None:
        kw.setdefault("refit_every", 48)
        kw.setdefault("warmup", MIN_POINTS)
        super().__init__(**kw)
        self.fit_window = fit_window
        self.select_every = select_every
        self.criterion = criterion
        self.seasonal = seasonal
        #: False estimates the innovation variance as a parameter (slower, same fit)
        self.concentrate_scale = concentrate_scale
        self._models: dict[str, ArimaSeries] = {}
        self._fits = 0

    def _period(self) -> int | None:
        return period_steps(self.history.interval_s) if self.seasonal else None

    def _make_fit_job(self) -> FitJob:
        period = self._period()
        lead = (SEASONAL_DAYS * period) if period is not None else 0
        data = {s: self.history.values(s, self.fit_window + lead) for s in SERIES}
        previous = dict(self._models)
        select = self._fits % self.select_every == 0
        self._fits += 1
        through = self.history.total
        fit_window, criterion = self.fit_window, self.criterion
        concentrate = self.concentrate_scale

        def job() -> ArimaModel:
            out = {
                s: fit_series(
                    y,
                    fit_window=fit_window,
                    period=period,
                    previous=previous.get(s),
                    select=select,
                    criterion=criterion,
                    concentrate_scale=concentrate,
                )
                for s, y in data.items()
            }
            return ArimaModel(out, through, select)

        return job

    def _install(self, model: Any) -> None:
        assert isinstance(model, ArimaModel)
        models = {s: m for s, m in model.series.items() if m is not None}
        self._models = models
        for index in range(model.fitted_through, self.history.total):
            self._on_append(index)  # catch up with what arrived during the fit

    def describe(self) -> dict[str, str]:
        return {
            s: f"ARIMA{m.order}{'+daily' if m.seasonal else ''}" for s, m in self._models.items()
        }

    def _base(self, series: str, index: int) -> float:
        period = self._period()
        if period is None:
            return math.nan
        return seasonal_base_at(lambda i: self.history.at(series, i), index, period=period)

    def _on_append(self, index: int) -> None:
        for s, m in list(self._models.items()):
            y = self.history.at(s, index)
            z = y - (self._base(s, index) if m.seasonal else 0.0) - m.mean
            self._models[s] = _kalman_step(m, z)

    def _predict(self, series: str, steps: int) -> float | None:
        m = self._models.get(series)
        if m is None:
            return None
        a = m.state
        for _ in range(steps - 1):
            a = m.transition @ a + m.state_intercept
        value = float(m.design @ a) + m.obs_intercept + m.mean
        if m.seasonal:
            base = self._base(series, self.history.total - 1 + steps)
            if not math.isfinite(base):
                return None
            value += base
        return value if math.isfinite(value) else None


def _kalman_step(m: ArimaSeries, z: float) -> ArimaSeries:
    """Filter one value into the predicted state, then predict the next interval."""
    a, p = m.state, m.state_var
    if math.isfinite(z):
        zp = p @ m.design
        f = float(m.design @ zp) + m.obs_cov
        if f > 0:
            gain = zp / f
            a = a + gain * (z - float(m.design @ a) - m.obs_intercept)
            p = p - np.outer(gain, zp)
    a = m.transition @ a + m.state_intercept
    p = m.transition @ p @ m.transition.T + m.state_cov
    return replace(m, state=a, state_var=p)
