"""AsyncRefitter: runs a forecaster's fits in a worker thread with a time budget, so a
refit never blocks the event loop; the tick path stays synchronous.

Each ``tick()`` (call it once per planner interval, after ``observe``) starts a fit when
the forecaster says one is due and none is in flight: ``fit_snapshot()`` copies the
history on the loop, the returned job runs in a single-thread executor, and when it
finishes ``install(model)`` runs back on the loop. A job that raises, or that has not
finished ``budget_s`` after it started, is reported with ``fit_failed(reason)`` (the
forecaster keeps its last good model, or the last value, and its next Forecast.note
says so). A thread cannot be killed: an overrunning job keeps its thread until it
returns, its result is dropped, and no new fit starts until it has.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
from collections import deque
from dataclasses import dataclass

from planner.forecast.base import Refittable


@dataclass(frozen=True, slots=True)
class FitRecord:
    """One finished (or abandoned) fit."""

    started_s: float
    seconds: float
    outcome: str  # "installed", "failed: ...", "overran"


class AsyncRefitter:
    """Schedules ``forecaster``'s fits off the event loop."""

    def __init__(self, forecaster: Refittable, *, budget_s: float = 30.0) -> None:
        if budget_s <= 0:
            raise ValueError(f"budget_s={budget_s!r}: expected > 0")
        self.forecaster = forecaster
        self.budget_s = budget_s
        forecaster.inline_refit = False
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"refit-{forecaster.name}"
        )
        self._future: concurrent.futures.Future[object] | None = None
        self._task: asyncio.Task[None] | None = None
        self.history: deque[FitRecord] = deque(maxlen=256)

    @property
    def busy(self) -> bool:
        return self._future is not None and not self._future.done()

    def tick(self) -> bool:
        """Start a fit if one is due and the worker is free; True if one started."""
        if self.busy or (self._task is not None and not self._task.done()):
            return False
        if not self.forecaster.needs_refit():
            return False
        job = self.forecaster.fit_snapshot()
        start = time.perf_counter()
        self._future = self._executor.submit(job)
        self._task = asyncio.get_running_loop().create_task(self._await(self._future, start))
        return True

    async def _await(self, future: concurrent.futures.Future[object], start: float) -> None:
        wrapped = asyncio.wrap_future(future)
        remaining = self.budget_s - (time.perf_counter() - start)
        done, _ = await asyncio.wait({wrapped}, timeout=max(0.0, remaining))
        seconds = time.perf_counter() - start
        if not done:
            # the thread keeps running; drop its result when it ends (no retrieval error)
            wrapped.add_done_callback(lambda f: f.cancelled() or f.exception())
            self.forecaster.fit_failed(f"refit overran its {self.budget_s:g} s budget")
            self.history.append(FitRecord(start, seconds, "overran"))
            return
        exc = wrapped.exception()
        if exc is not None:
            reason = f"fit failed ({type(exc).__name__}: {exc})"
            self.forecaster.fit_failed(reason)
            self.history.append(FitRecord(start, seconds, reason))
            return
        self.forecaster.install(wrapped.result())
        self.history.append(FitRecord(start, seconds, "installed"))

    async def wait_idle(self) -> None:
        """Wait for the current fit's bookkeeping (not for an overrunning thread)."""
        if self._task is not None:
            await self._task

    async def aclose(self, *, wait_thread: bool = False) -> None:
        """Stop: cancel the bookkeeping task; with ``wait_thread`` also wait (in a thread)
        for a running fit to return, else let it finish on its own."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if wait_thread:
            await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
        else:
            self._executor.shutdown(wait=False, cancel_futures=True)
