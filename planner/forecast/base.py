"""The Forecaster protocol (observe interval load points, forecast a horizon ahead) and
the Refittable seam that splits a model fit from the tick that uses it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from planner.core.types import Forecast, LoadPoint

#: a pure, self-contained fit over a copy of the history; returns a model for install()
FitJob = Callable[[], Any]


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


@runtime_checkable
class Refittable(Protocol):
    """A forecaster whose expensive fit can run elsewhere (a thread) than its ticks.

    Synchronous users (simulator, backtest) leave ``inline_refit`` True and ``observe``
    fits inline. The async service sets it False and drives fits itself through
    ``planner.forecast.refit.AsyncRefitter``: ``needs_refit()`` on the loop,
    ``fit_snapshot()`` on the loop (copies the history, cheap), the returned job in a
    worker thread, then ``install(model)`` or ``fit_failed(reason)`` back on the loop.
    """

    name: str
    inline_refit: bool

    def needs_refit(self) -> bool: ...

    def fit_snapshot(self) -> FitJob: ...

    def install(self, model: Any) -> None: ...

    def fit_failed(self, reason: str) -> None: ...
