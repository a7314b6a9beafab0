"""The Forecaster protocol: observe interval load points, forecast a horizon ahead."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from planner.types import Forecast, LoadPoint


@runtime_checkable
class Forecaster(Protocol):
    """Forecasts request rate (req/s), mean ISL and mean OSL (tokens).

    Contract: ``forecast`` returns finite, non-negative values with upper >= point;
    a missing point (rate None) is a gap, not a zero; an idle point (rate 0) has no
    ISL/OSL and must not drag the length forecasts to zero.
    """

    name: str

    def observe(self, point: LoadPoint) -> None: ...

    def forecast(self, *, horizon_s: float) -> Forecast: ...
