"""The ``constant`` forecaster: the last observed value, with a calibrated upper band."""

from __future__ import annotations

from typing import Any

from planner.forecast.engine import ModelForecaster


class ConstantForecaster(ModelForecaster):
    """Repeats the last non-missing value of each series.

    Idle windows set the rate to 0 and keep the last ISL/OSL; missing windows change
    nothing. The upper value comes from the rolling h-step residuals of this very
    forecast (``planner.forecast.calibration``), so it is honest per horizon.
    """

    name = "constant"
    fits = False

    def __init__(self, *, quantile: float = 0.9, window: int = 256, **kw: Any) -> None:
        super().__init__(quantile=quantile, calibration_window=window, **kw)

    def _predict(self, series: str, steps: int) -> float | None:
        return self.history.last_valid(series)
