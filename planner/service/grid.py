"""Ticks on a drift-free grid of absolute deadlines (first + k x interval), with the
failure backoff and the count of skipped grid points: the loop shared by the one-graph
service and the pool service."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from planner.clock import ServiceClock
from planner.service.telemetry import Telemetry
from planner.settings import PlannerSettings

log = logging.getLogger("sla_planner.tick")


class GridLoop:
    """Schedules ``tick()`` on the grid; subclasses set the attributes and ``tick``."""

    settings: PlannerSettings
    clock: ServiceClock
    telemetry: Telemetry
    consecutive_failures: int
    _index: int

    async def tick(self) -> Any:
        raise NotImplementedError

    def next_deadline(self, *, first: float, now: float) -> float:
        """The next grid point first + k x interval after ``now`` (loop seconds),
        pushed back by the failure backoff: interval x (2^(failures-1) - 1), capped."""
        period = self.clock.wall_s(self.settings.interval_s)
        delay = 0.0
        if self.consecutive_failures > 0:
            backoff_s = self.settings.interval_s * (2 ** (self.consecutive_failures - 1) - 1)
            delay = self.clock.wall_s(min(backoff_s, self.settings.service.max_backoff_s))
        earliest = now + delay
        k = max(1, int((earliest - first) // period) + 1)
        return first + k * period

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until ``stop`` is set (the current tick always finishes) or max_ticks."""
        loop = asyncio.get_running_loop()
        first = loop.time()
        deadline = self.next_deadline(first=first, now=first)
        max_ticks = self.settings.service.max_ticks
        ticks = 0
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, deadline - loop.time()))
                break
            except TimeoutError:
                pass
            await self.tick()
            ticks += 1
            if max_ticks is not None and ticks >= max_ticks:
                break
            now = loop.time()
            self._count_skipped(deadline=deadline, now=now)
            deadline = self.next_deadline(first=first, now=now)

    def _count_skipped(self, *, deadline: float, now: float) -> None:
        """Grid points that passed while the tick ran late or long (the loop was blocked,
        a tick overran its interval) are skipped, not made up: log and count them. The
        failure backoff's pauses are deliberate and not counted."""
        period = self.clock.wall_s(self.settings.interval_s)
        skipped = int((now - deadline) // period)
        if skipped <= 0:
            return
        self.telemetry.ticks_skipped.inc(skipped)
        log.warning(
            "tick %d ended %.2f s (wall) after its deadline: %d tick(s) of %.2f s skipped",
            self._index,
            now - deadline,
            skipped,
            period,
        )
