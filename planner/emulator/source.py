"""EmulatedSource: the MetricsSource that reads the emulated graph in-process (no
Prometheus), from the same events its /metrics exposes."""

from __future__ import annotations

from planner.emulator.graph import EmulatedGraph
from planner.types import LoadPoint, Observation


class EmulatedSource:
    """Observations straight from the emulated graph's frontend event window."""

    def __init__(self, graph: EmulatedGraph) -> None:
        self.graph = graph

    async def observe(self, *, window_s: float) -> Observation:
        return await self.graph.observe(window_s=window_s)

    async def history(self, *, start_s: float, end_s: float, step_s: float) -> list[LoadPoint]:
        """Load per step over what the graph still keeps; older steps are gaps (None)."""
        await self.graph.sync()
        m = self.graph.metrics
        kept_from = self.graph.now_s - m.keep_s
        points: list[LoadPoint] = []
        t = start_s
        while t <= end_s + 1e-9:
            if t - step_s < kept_from or t > self.graph.now_s:
                points.append(LoadPoint(time_s=t, request_rate_rps=None))
            else:
                points.append(m.window(now_s=t, window_s=step_s).load_point(time_s=t))
            t += step_s
        return points

    async def close(self) -> None:
        return None
