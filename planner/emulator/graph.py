"""EmulatedGraph: replays a trace into a cluster model in (compressed) wall-clock time,
takes replica targets from the virtual connector's environment side, and keeps the
frontend metrics and the run's SLA/GPU summary.

Trace time is the shared ServiceClock's planner time: with compression c, one wall
second replays c trace seconds. Every reader (scrape, in-process observe, connector)
calls ``sync()`` first, so what it sees is current to the moment of the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from connectors.virtual.environment import VirtualTarget
from planner.emulator.cluster import ClusterModel, FinishedRequest
from planner.emulator.frontend import FrontendMetrics
from planner.errors import ConnectorError
from planner.service.clock import ServiceClock
from planner.trace import RequestTrace
from planner.types import Component, Observation

log = logging.getLogger("sla_planner.emulator")


@dataclass(frozen=True, slots=True)
class EmulationSummary:
    trace: str
    emulated_s: float
    requests_arrived: int
    requests_finished: int
    sla_attainment: float | None
    ttft_p50_ms: float | None
    ttft_p90_ms: float | None
    itl_p50_ms: float | None
    itl_p90_ms: float | None
    gpu_hours: float
    scale_events: int
    max_replicas: Mapping[str, int]

    def lines(self) -> list[str]:
        def ms(v: float | None) -> str:
            return "-" if v is None else f"{v:.1f}"

        att = "-" if self.sla_attainment is None else f"{100 * self.sla_attainment:.2f} %"
        peaks = ", ".join(f"{k} {v}" for k, v in self.max_replicas.items())
        return [
            f"trace            {self.trace} ({self.emulated_s / 60:.1f} min emulated)",
            f"requests         {self.requests_finished} finished of {self.requests_arrived}",
            f"SLA attainment   {att} (TTFT and ITL both within target)",
            f"TTFT p50/p90     {ms(self.ttft_p50_ms)} / {ms(self.ttft_p90_ms)} ms",
            f"ITL  p50/p90     {ms(self.itl_p50_ms)} / {ms(self.itl_p90_ms)} ms",
            f"GPU-hours        {self.gpu_hours:.3f}",
            f"scale events     {self.scale_events} (peak replicas: {peaks})",
        ]


class EmulatedGraph:
    """A simulated graph behind the virtual target, serving Dynamo frontend metrics."""

    def __init__(
        self,
        *,
        trace: RequestTrace,
        cluster: ClusterModel,
        clock: ServiceClock,
        target: VirtualTarget,
        ttft_ms: float,
        itl_ms: float,
        keep_s: float = 900.0,
        model: str = "emulated",
        namespace: str = "emulator",
    ) -> None:
        self.trace = trace
        self.cluster = cluster
        self.clock = clock
        self.target = target
        self.ttft_ms = ttft_ms
        self.itl_ms = itl_ms
        self.metrics = FrontendMetrics(model=model, namespace=namespace, keep_s=keep_s)
        self.done = asyncio.Event()
        self.end_s = trace.duration_s
        self.now_s = 0.0
        self.scale_events = 0
        self._next = 0
        self._lock = asyncio.Lock()
        self._reported: tuple[object, ...] | None = None
        self._decision: str | None = None
        self._ttft: list[float] = []
        self._itl: list[float] = []
        self._met = 0
        self._peak: dict[Component, int] = {}

    def _feed(self, t: float) -> None:
        arr = self.trace.arrival_s
        hi = int(np.searchsorted(arr, t, side="right"))
        for i in range(self._next, hi):
            isl, osl = int(self.trace.isl_tokens[i]), int(self.trace.osl_tokens[i])
            self.cluster.submit(arrival_s=float(arr[i]), isl_tokens=isl, osl_tokens=osl)
            self.metrics.arrived(t_s=float(arr[i]), isl_tokens=isl)
        self._next = max(self._next, hi)

    def _record(self, done: list[FinishedRequest]) -> None:
        for r in done:
            self.metrics.finished(r, t_s=r.end_s)
            self._ttft.append(r.ttft_s)
            self._itl.append(r.itl_s)
            if r.ttft_s * 1000 <= self.ttft_ms and r.itl_s * 1000 <= self.itl_ms:
                self._met += 1

    async def sync(self) -> None:
        """Bring the graph to the clock's now: take new targets, replay, acknowledge."""
        async with self._lock:
            t = self.clock.now_s()
            if t < self.now_s:
                return
            try:
                msg = await self.target.poll()
            except ConnectorError as exc:  # the planner's side is not reachable (yet)
                log.warning("emulated graph cannot fetch targets: %s", exc)
                msg = None
            self._feed(t)
            if msg is not None:
                before = self.cluster.snapshot().desired
                self.cluster.set_targets(msg.targets, t_s=t)
                self._decision = msg.decision_id
                if any(before.get(c) != n for c, n in msg.targets.items()):
                    self.scale_events += 1
            self._record(self.cluster.advance_to(t))
            self.metrics.prune(now_s=t)
            self.now_s = t
            snap = self.cluster.snapshot()
            for c, n in snap.desired.items():
                self._peak[c] = max(self._peak.get(c, 0), n)
            state = (self._decision, tuple(snap.desired.items()), tuple(snap.ready.items()))
            if state != self._reported:
                try:
                    await self.target.report(
                        decision_id=self._decision,
                        replicas=snap.desired,
                        ready=snap.ready,
                        message=f"emulated t={t:.0f}s",
                    )
                    self._reported = state
                except ConnectorError as exc:
                    log.warning("emulated graph cannot acknowledge: %s", exc)
            if t >= self.end_s and self._next >= len(self.trace):
                self.done.set()

    async def run(self, stop: asyncio.Event, *, every_wall_s: float = 0.1) -> None:
        """Advance in small steps (so work is spread out) until ``stop`` is set."""
        while not stop.is_set():
            await self.sync()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every_wall_s)

    async def observe(self, *, window_s: float) -> Observation:
        await self.sync()
        return self.metrics.window(now_s=self.now_s, window_s=window_s)

    def summary(self) -> EmulationSummary:
        snap = self.cluster.snapshot()

        def pct(values: list[float], q: float) -> float | None:
            return float(np.percentile(values, q)) * 1000 if values else None

        n = len(self._ttft)
        return EmulationSummary(
            trace=self.trace.name,
            emulated_s=self.now_s,
            requests_arrived=self._next,
            requests_finished=n,
            sla_attainment=self._met / n if n else None,
            ttft_p50_ms=pct(self._ttft, 50),
            ttft_p90_ms=pct(self._ttft, 90),
            itl_p50_ms=pct(self._itl, 50),
            itl_p90_ms=pct(self._itl, 90),
            gpu_hours=snap.gpu_seconds / 3600.0 if math.isfinite(snap.gpu_seconds) else 0.0,
            scale_events=self.scale_events,
            max_replicas={c.value: n for c, n in self._peak.items()},
        )
