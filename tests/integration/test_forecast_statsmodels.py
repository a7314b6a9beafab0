"""Our ARIMA state update against statsmodels itself (slow: statsmodels fits)."""

from __future__ import annotations

import numpy as np
import pytest

from planner.forecast.arima import _kalman_step, fit_series

pytestmark = pytest.mark.slow


def test_arima_state_update_matches_statsmodels_filter() -> None:
    """The per-tick numpy Kalman update gives the forecast statsmodels gives after
    extending the fitted results with the same new values (no refit)."""
    pytest.importorskip("statsmodels")
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    rng = np.random.default_rng(2)
    y = np.cumsum(rng.normal(0, 1, 300)) + 50
    m = fit_series(y[:250], fit_window=250, period=None, previous=None, select=True)
    assert m is not None
    for v in y[250:]:
        m = _kalman_step(m, v - m.mean)
    mine = float(m.design @ m.state) + m.obs_intercept + m.mean
    res = SARIMAX(y[:250] - m.mean, order=m.order, trend="n").filter(
        SARIMAX(y[:250] - m.mean, order=m.order, trend="n").fit(disp=False).params
    )
    theirs = float(res.extend(y[250:] - m.mean).forecast(1)[0]) + m.mean
    assert mine == pytest.approx(theirs, rel=1e-3)
