"""AsyncRefitter: fits run in a worker thread with a budget; the event loop keeps
ticking; failures and overruns fall back and say so."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from planner.core.types import LoadPoint
from planner.forecast.base import FitJob
from planner.forecast.engine import ModelForecaster
from planner.forecast.refit import AsyncRefitter


class _SlowMean(ModelForecaster):
    """Test forecaster: its fit burns CPU for ``fit_s`` then returns the window mean."""

    name = "slowmean"

    def __init__(self, *, fit_s: float, fail: bool = False, **kw: Any) -> None:
        super().__init__(warmup=3, refit_every=1000, **kw)
        self.fit_s, self.fail = fit_s, fail
        self.model: float | None = None

    def _make_fit_job(self) -> FitJob:
        data = self.history.values("rate")
        fit_s, fail = self.fit_s, self.fail

        def job() -> float:
            end = time.perf_counter() + fit_s
            x = 0
            while time.perf_counter() < end:  # CPU-bound, holds the GIL between switches
                x += 1
            if fail:
                raise RuntimeError("bad fit")
            return float(data.mean())

        return job

    def _install(self, model: Any) -> None:
        self.model = float(model)

    def _predict(self, series: str, steps: int) -> float | None:
        return self.model if series == "rate" else None


def _feed(f: ModelForecaster, n: int) -> None:
    for i in range(n):
        f.observe(LoadPoint(time_s=60.0 * (i + 1), request_rate_rps=10.0 + i))


async def _heartbeats(period_s: float, stop: asyncio.Event, gaps: list[float]) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(period_s)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now


async def test_slow_fit_does_not_block_the_loop() -> None:
    """While a 0.6-s CPU-bound fit runs through the refitter, a 20-ms heartbeat keeps
    beating (no gap near the fit's length) and the model is installed afterwards."""
    f = _SlowMean(fit_s=0.6, interval_s=60.0)
    refitter = AsyncRefitter(f, budget_s=10.0)
    assert f.inline_refit is False
    _feed(f, 5)
    assert f.model is None  # no inline fit happened in observe
    stop, gaps = asyncio.Event(), []
    async with asyncio.TaskGroup() as tg:
        tg.create_task(_heartbeats(0.02, stop, gaps))
        assert refitter.tick() is True
        assert refitter.tick() is False  # one fit at a time
        await refitter.wait_idle()
        stop.set()
    await refitter.aclose(wait_thread=True)
    assert f.model == 12.0
    assert refitter.history[-1].outcome == "installed"
    fit_s = refitter.history[-1].seconds
    assert fit_s >= 0.6  # the job spins that long by construction
    assert len(gaps) >= 10
    # a blocked loop would show one gap as long as the fit: compare, do not time
    assert max(gaps) < 0.5 * fit_s


async def test_overrun_keeps_last_model_and_says_so() -> None:
    """A fit that overruns its budget is abandoned: the forecaster keeps its previous
    model (here the last value) and the forecast note says the refit overran."""
    f = _SlowMean(fit_s=0.5, interval_s=60.0)
    refitter = AsyncRefitter(f, budget_s=0.05)
    _feed(f, 5)
    assert refitter.tick()
    await refitter.wait_idle()
    fc = f.forecast(horizon_s=60.0)
    assert "overran its 0.05 s budget" in fc.note
    assert "using last value" in fc.note
    assert fc.request_rate_rps.point == 14.0  # last value, not the mean model
    assert refitter.busy  # the thread still runs; no second fit starts meanwhile
    assert refitter.tick() is False
    await refitter.aclose(wait_thread=True)
    assert f.model is None


async def test_failed_fit_falls_back_and_says_so() -> None:
    """A fit that raises is reported in the note and the last value is used."""
    f = _SlowMean(fit_s=0.0, fail=True, interval_s=60.0)
    refitter = AsyncRefitter(f, budget_s=5.0)
    _feed(f, 5)
    assert refitter.tick()
    await refitter.wait_idle()
    fc = f.forecast(horizon_s=60.0)
    assert "fit failed (RuntimeError: bad fit)" in fc.note
    assert fc.request_rate_rps.point == 14.0
    await refitter.aclose(wait_thread=True)


def test_inline_fit_failure_falls_back() -> None:
    """In the synchronous path a failing fit is caught inside observe and noted."""
    f = _SlowMean(fit_s=0.0, fail=True, interval_s=60.0)
    _feed(f, 5)
    fc = f.forecast(horizon_s=60.0)
    assert "fit failed" in fc.note
    assert fc.request_rate_rps.point == 14.0
    assert len(f.fit_times_s) == 1
