"""The forecaster's settings section (``predictor``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from planner.core.settings import Section


class PredictorSettings(Section):
    #: a registered forecaster: constant, seasonal, kalman, arima, prophet or auto
    name: str = "constant"
    #: nominal level of the upper quantile the forecasters report
    quantile: float = Field(0.9, gt=0.5, lt=1.0)
    #: trace file to seed the forecaster from at start-up (see docs/forecasting.md)
    warm_start_trace: Path | None = None
    #: wall-clock budget of one background refit before it is abandoned
    refit_budget_s: float = Field(30.0, gt=0)

    @field_validator("name")
    @classmethod
    def _registered(cls, value: str) -> str:
        from planner.forecast.registry import available_forecasters

        if value not in available_forecasters():
            raise ValueError(f"one of {', '.join(available_forecasters())}")
        return value

    @field_validator("warm_start_trace")
    @classmethod
    def _exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.exists():
            raise ValueError("an existing trace file")
        return value
