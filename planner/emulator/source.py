"""EmulatedSource: the MetricsSource that reads the emulated graph in-process (no
Prometheus), from the same cumulative counters its /metrics exposes."""

from __future__ import annotations

from typing import Any

from planner.core.types import LoadPoint, Observation
from planner.emulator.graph import EmulatedGraph


class EmulatedSource:
    """Observations from the graph's snapshot timeline (frontend_observation, i.e.
    planner.sim's observation_between less what a frontend does not export)."""

    def __init__(self, graph: EmulatedGraph) -> None:
        self.graph = graph

    def status(self) -> dict[str, Any]:
        """For /status: demand is the graph's arrivals (what a started counter reads)."""
        return {"demand": {"counter": "arrivals (emulated graph, in-process)", "fallback": False}}

    async def observe(self, *, window_s: float) -> Observation:
        return await self.graph.observe(window_s=window_s)

    async def history(self, *, start_s: float, end_s: float, step_s: float) -> list[LoadPoint]:
        """Load per step over what the graph still keeps; older or future steps are gaps."""
        await self.graph.sync()
        m = self.graph.metrics
        points: list[LoadPoint] = []
        t = start_s
        while t <= end_s + 1e-9:
            if t - step_s < m.kept_from_s - 1e-9 or t > self.graph.now_s + 1e-9:
                points.append(LoadPoint(time_s=t, request_rate_rps=None))
            else:
                points.append(m.window(now_s=t, window_s=step_s).load_point(time_s=t))
            t += step_s
        return points

    async def close(self) -> None:
        return None
