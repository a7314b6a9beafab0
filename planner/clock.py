"""Planner time vs wall time: one clock shared by the tick loop and the emulated graph.

planner_s = origin_s + (loop.time() - loop_origin) x compression. With compression 20 a
60 s adjustment interval is 3 s of wall time; everything the planner reasons about
(intervals, start-up delays, stabilisation windows, GPU-hours) stays in planner seconds.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServiceClock:
    """Maps the event loop's monotonic clock to planner seconds."""

    compression: float
    origin_s: float
    loop_origin: float

    @classmethod
    def start(cls, *, compression: float = 1.0, origin_s: float = 0.0) -> ServiceClock:
        """A clock reading ``origin_s`` now (call inside a running loop)."""
        if compression <= 0:
            raise ValueError(f"compression must be > 0, got {compression}")
        loop = asyncio.get_running_loop()
        return cls(compression=compression, origin_s=origin_s, loop_origin=loop.time())

    def now_s(self) -> float:
        """Planner seconds now."""
        return self.at(asyncio.get_running_loop().time())

    def at(self, loop_time: float) -> float:
        """Planner seconds at a loop.time() value."""
        return self.origin_s + (loop_time - self.loop_origin) * self.compression

    def loop_time_at(self, planner_s: float) -> float:
        """The loop.time() value at which planner time reaches ``planner_s``."""
        return self.loop_origin + (planner_s - self.origin_s) / self.compression

    def wall_s(self, planner_s: float) -> float:
        """A planner duration in wall seconds."""
        return planner_s / self.compression
