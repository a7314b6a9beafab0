"""EmulatedGraph: drives planner.sim's cluster model in (compressed) wall-clock time with a
trace, takes replica targets from the virtual connector's environment side, and keeps
the frontend metrics and the run's SLA/GPU summary.

Trace time is the shared ServiceClock's planner time: with compression c, one wall
second replays c trace seconds. Every reader (scrape, in-process observe, connector)
calls ``sync()`` first, which moves the cluster to the clock's now, rounded down to the
graph's step (1 trace second): arrivals up to each step point are submitted, the
cluster advanced to it and a snapshot recorded, so windows of whole seconds are
answered exactly. Targets take effect at the step point reached (startup delay, drain
and billing are the sim fleet's). When the trace has ended the graph runs on until the
last request finishes (at most ``tail_s``), then sets ``done``.
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
from planner.clock import ServiceClock
from planner.core.types import Component, Observation
from planner.emulator.exposition import Flavor
from planner.emulator.frontend import FrontendMetrics
from planner.errors import ConnectorError, PlannerError
from planner.sim.cluster import Cluster
from planner.sim.metrics import score_requests
from planner.workload.trace import RequestTrace

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
            f"SLA attainment   {att} (TTFT and ITL both within target; unfinished = missed)",
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
        cluster: Cluster,
        clock: ServiceClock,
        target: VirtualTarget,
        ttft_ms: float,
        itl_ms: float,
        keep_s: float = 900.0,
        step_s: float = 1.0,
        tail_s: float = 300.0,
        model: str = "emulated",
        namespace: str = "emulator",
        flavor: Flavor = "dynamo",
    ) -> None:
        self.trace = trace
        self.cluster = cluster
        self.clock = clock
        self.target = target
        self.ttft_ms = ttft_ms
        self.itl_ms = itl_ms
        self.step_s = step_s
        self.origin_s = cluster.now_s
        first = cluster.snapshot()
        self.metrics = FrontendMetrics(
            first, model=model, namespace=namespace, keep_s=keep_s, flavor=flavor
        )
        self.done = asyncio.Event()
        self.end_s = trace.duration_s
        self.tail_s = tail_s
        self.now_s = cluster.now_s
        self._next = 0
        self._lock = asyncio.Lock()
        self._reported: tuple[object, ...] | None = None
        self._decision: str | None = None
        self._peak: dict[Component, int] = dict(first.desired_replicas)

    def _feed(self, t: float) -> None:
        """Submit the trace's requests arriving up to ``t`` (as a frontend receives them)."""
        hi = int(np.searchsorted(self.trace.arrival_s, t, side="right"))
        if hi > self._next:
            sl = slice(self._next, hi)
            tr = self.trace
            self.cluster.submit(tr.arrival_s[sl], tr.isl_tokens[sl], tr.osl_tokens[sl])
            self._next = hi

    def _advance(self, t: float) -> None:
        """Step the cluster to ``t`` (a step point), recording a snapshot at each one."""
        k = round((self.now_s - self.origin_s) / self.step_s)
        while (p := self.origin_s + (k + 1) * self.step_s) <= t + 1e-9:
            self._feed(p)
            self.cluster.advance_to(p)
            snap = self.cluster.snapshot()
            self.metrics.record(snap)
            self._track_peak(snap.desired_replicas)
            self.now_s = p
            k += 1

    def _track_peak(self, desired: Mapping[Component, int]) -> None:
        for c, n in desired.items():
            self._peak[c] = max(self._peak.get(c, 0), n)

    def _apply(self, targets: Mapping[Component, int]) -> None:
        try:
            self.cluster.set_targets(targets, now_s=self.now_s)
        except PlannerError as exc:  # e.g. a component this graph does not run
            log.warning("emulated graph ignores targets %s: %s", dict(targets), exc)
            return
        self._track_peak({c: self.cluster.fleet.desired(c) for c in targets})

    async def sync(self) -> None:
        """Bring the graph to the clock's now: replay, take new targets, acknowledge."""
        async with self._lock:
            steps = math.floor((self.clock.now_s() - self.origin_s) / self.step_s + 1e-9)
            t = self.origin_s + steps * self.step_s
            if t < self.now_s:
                return
            try:
                msg = await self.target.poll()
            except ConnectorError as exc:  # the planner's side is not reachable (yet)
                log.warning("emulated graph cannot fetch targets: %s", exc)
                msg = None
            self._advance(t)
            if msg is not None:
                self._apply(msg.targets)
                self._decision = msg.decision_id
            await self._report()
            if self._finished():
                self.done.set()

    async def _report(self) -> None:
        fleet, now = self.cluster.fleet, self.now_s
        comps = self.cluster.config.components
        desired = {c: fleet.desired(c) for c in comps}
        ready = {c: fleet.ready(c, now) for c in comps}
        state = (self._decision, tuple(desired.items()), tuple(ready.items()))
        if state == self._reported:
            return
        try:
            await self.target.report(
                decision_id=self._decision,
                replicas=desired,
                ready=ready,
                message=f"emulated t={now:.0f}s",
            )
            self._reported = state
        except ConnectorError as exc:
            log.warning("emulated graph cannot acknowledge: %s", exc)

    def _finished(self) -> bool:
        if self.now_s < self.end_s or self._next < len(self.trace):
            return False
        all_done = self.metrics.latest.requests_finished >= len(self.trace)
        return all_done or self.now_s >= self.end_s + self.tail_s

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
        """SLA attainment and latency percentiles over every request that arrived (scored
        by planner.sim.metrics; unfinished ones count as missed), GPU-hours billed by the
        sim fleet up to now, and the fleet's scale events."""
        span = self.now_s - self.origin_s
        scored = score_requests(
            self.cluster.outcomes(), ttft_ms=self.ttft_ms, itl_ms=self.itl_ms, span_s=span
        )
        n = int(scored["requests"])
        snap = self.cluster.snapshot()
        return EmulationSummary(
            trace=self.trace.name,
            emulated_s=span,
            requests_arrived=n,
            requests_finished=n - int(scored["unfinished"]),
            sla_attainment=scored["attainment"]["both"] if n else None,
            ttft_p50_ms=scored["ttft_ms"]["p50"],
            ttft_p90_ms=scored["ttft_ms"]["p90"],
            itl_p50_ms=scored["itl_ms"]["p50"],
            itl_p90_ms=scored["itl_ms"]["p90"],
            gpu_hours=snap.gpu_hours,
            scale_events=sum(self.cluster.fleet.scale_events.values()),
            max_replicas={c.value: n for c, n in self._peak.items()},
        )
