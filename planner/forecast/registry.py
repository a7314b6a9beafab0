"""Forecasters by name, constructed lazily so heavy libraries load only when chosen.

Every factory takes ``quantile`` and optional ``interval_s`` (None: inferred from the
points) plus its forecaster's own keyword options.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from planner.errors import ConfigError
from planner.forecast.base import Forecaster


def _constant(**kw: Any) -> Forecaster:
    from planner.forecast.constant import ConstantForecaster

    return ConstantForecaster(**kw)


def _kalman(**kw: Any) -> Forecaster:
    from planner.forecast.kalman import KalmanForecaster

    return KalmanForecaster(**kw)


def _arima(**kw: Any) -> Forecaster:
    from planner.forecast.arima import ArimaForecaster

    return ArimaForecaster(**kw)


def _prophet(**kw: Any) -> Forecaster:
    from planner.forecast.prophet import ProphetForecaster

    return ProphetForecaster(**kw)


def _seasonal(**kw: Any) -> Forecaster:
    from planner.forecast.seasonal_naive import SeasonalNaiveForecaster

    return SeasonalNaiveForecaster(**kw)


def _auto(**kw: Any) -> Forecaster:
    from planner.forecast.auto import AutoForecaster

    # the registry hands auto its own factory, so auto never imports the registry
    return AutoForecaster(make_member=make_forecaster, **kw)


_REGISTRY: dict[str, Callable[..., Forecaster]] = {
    "constant": _constant,
    "kalman": _kalman,
    "arima": _arima,
    "prophet": _prophet,
    "seasonal": _seasonal,
    "auto": _auto,
}


def available_forecasters() -> list[str]:
    return sorted(_REGISTRY)


def check_forecaster_name(name: str) -> str:
    """``name`` if it is registered; ConfigError naming predictor.name otherwise."""
    if name not in _REGISTRY:
        raise ConfigError("predictor.name", name, f"one of {', '.join(available_forecasters())}")
    return name


def make_forecaster(name: str, **kwargs: Any) -> Forecaster:
    """Build a forecaster by name; raises ConfigError for an unknown name."""
    return _REGISTRY[check_forecaster_name(name)](**kwargs)
