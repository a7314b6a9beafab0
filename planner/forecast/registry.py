"""Forecasters by name, constructed lazily so heavy libraries load only when chosen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from planner.errors import ConfigError
from planner.forecast.base import Forecaster


def _constant(**kw: Any) -> Forecaster:
    from planner.forecast.constant import ConstantForecaster

    return ConstantForecaster(quantile=kw.get("quantile", 0.9))


_REGISTRY: dict[str, Callable[..., Forecaster]] = {"constant": _constant}


def available_forecasters() -> list[str]:
    return sorted(_REGISTRY)


def make_forecaster(name: str, **kwargs: Any) -> Forecaster:
    """Build a forecaster by name; raises ConfigError for an unknown name."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            "predictor.name", name, f"one of {', '.join(available_forecasters())}"
        ) from None
    return factory(**kwargs)
