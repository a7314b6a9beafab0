"""The emulator's cluster model seam (ClusterModel) and a small per-request model of it.

QueueCluster is deliberately small and separable: once planner.sim's cluster model
lands, an adapter to it replaces this class and nothing else changes.

Model (times in trace seconds):
- prefill: FCFS over workers; a request starts when a worker is free and ready, and
  takes the profile's TTFT(ISL) (batch-1 service time, the same S the policy's M/D/1
  sizing uses).
- decode: the request joins the ready decode worker with the fewest active requests;
  its ITL is the profile's ITL at that worker's KV usage (concurrency x context /
  max KV tokens, context = ISL + OSL/2); above 100 % KV the ITL grows in proportion
  (requests wait for cache). Duration = decode start + OSL x ITL.
- workers asked for become ready ``startup_s`` later; removed workers finish the work
  already given to them. Starting workers are removed first, then the least busy.
- aggregated mode: one pool does both phases.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from planner.perf_model import PerfModel
from planner.types import Component


@dataclass(frozen=True, slots=True)
class FinishedRequest:
    arrival_s: float
    isl_tokens: int
    osl_tokens: int
    ttft_s: float
    itl_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.arrival_s


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    time_s: float
    desired: Mapping[Component, int]
    ready: Mapping[Component, int]
    gpu_seconds: float
    finished: int
    in_flight: int


class ClusterModel(Protocol):
    """An incrementally advanced cluster: submit requests, move time, change replicas."""

    def submit(self, *, arrival_s: float, isl_tokens: int, osl_tokens: int) -> None: ...

    def advance_to(self, t_s: float) -> list[FinishedRequest]: ...

    def set_targets(self, targets: Mapping[Component, int], *, t_s: float) -> None: ...

    def snapshot(self) -> ClusterSnapshot: ...


@dataclass
class _Worker:
    ready_at: float
    free_at: float
    #: end times of the decodes running on this worker (a min-heap)
    active: list[float] = field(default_factory=list)

    def load(self, t: float) -> int:
        while self.active and self.active[0] <= t:
            heapq.heappop(self.active)
        return len(self.active)


class QueueCluster:
    """A per-request queueing model of a prefill/decode (or aggregated) cluster."""

    def __init__(
        self,
        perf: PerfModel,
        *,
        initial: Mapping[Component, int],
        gpus_per_worker: Mapping[Component, int],
        startup_s: float,
    ) -> None:
        self.perf = perf
        self.startup_s = startup_s
        self.gpus_per_worker = dict(gpus_per_worker)
        self.agg = Component.AGG in initial
        # a target set before any time passed is ready at once (the graph was running)
        self.workers: dict[Component, list[_Worker]] = {
            c: [_Worker(ready_at=0.0, free_at=0.0) for _ in range(n)] for c, n in initial.items()
        }
        self.now = 0.0
        self.gpu_seconds = 0.0
        self.finished = 0
        self._arrivals: deque[tuple[float, int, int]] = deque()
        self._running: list[tuple[float, int, FinishedRequest]] = []
        self._seq = 0

    @property
    def _prefill(self) -> Component:
        return Component.AGG if self.agg else Component.PREFILL

    @property
    def _decode(self) -> Component:
        return Component.AGG if self.agg else Component.DECODE

    def submit(self, *, arrival_s: float, isl_tokens: int, osl_tokens: int) -> None:
        self._arrivals.append((arrival_s, isl_tokens, osl_tokens))

    def _schedule(self, arrival: float, isl: int, osl: int) -> bool:
        pre = self.workers.get(self._prefill, [])
        dec = self.workers.get(self._decode, [])
        if not pre or not dec:
            return False  # nobody to serve it yet: it waits in the queue
        w = min(pre, key=lambda x: max(x.free_at, x.ready_at))
        start = max(arrival, w.free_at, w.ready_at)
        prefill_end = start + self.perf.prefill.ttft_ms(isl).value / 1000.0
        w.free_at = prefill_end
        d = min(dec, key=lambda x: (max(x.ready_at, prefill_end), x.load(prefill_end)))
        begin = max(prefill_end, d.ready_at)
        context = isl + osl / 2.0
        decode = self.perf.decode
        kv = decode.kv_usage(concurrency=d.load(begin) + 1, context_tokens=context)
        itl_s = decode.itl_ms(kv_usage=min(kv, 1.0), context_tokens=context).value / 1000.0
        itl_s *= max(1.0, kv)
        end = begin + osl * itl_s
        heapq.heappush(d.active, end)
        req = FinishedRequest(arrival, isl, osl, begin + itl_s - arrival, itl_s, end)
        self._seq += 1
        heapq.heappush(self._running, (end, self._seq, req))
        return True

    def advance_to(self, t_s: float) -> list[FinishedRequest]:
        """Move time to ``t_s``; returns the requests that finished in (previous, t_s]."""
        if t_s < self.now:
            return []
        held = sum(len(ws) * self.gpus_per_worker.get(c, 1) for c, ws in self.workers.items())
        self.gpu_seconds += held * (t_s - self.now)
        self.now = t_s
        while self._arrivals and self._arrivals[0][0] <= t_s:
            arrival, isl, osl = self._arrivals[0]
            if not self._schedule(arrival, isl, osl):
                break
            self._arrivals.popleft()
        done: list[FinishedRequest] = []
        while self._running and self._running[0][0] <= t_s:
            done.append(heapq.heappop(self._running)[2])
        self.finished += len(done)
        return done

    def set_targets(self, targets: Mapping[Component, int], *, t_s: float) -> None:
        self.advance_to(t_s)
        for c, n in targets.items():
            ws = self.workers.setdefault(c, [])
            while len(ws) < n:
                ws.append(_Worker(ready_at=t_s + self.startup_s, free_at=t_s + self.startup_s))
            if len(ws) > n:
                # starting workers go first, then the least busy ready ones
                ws.sort(key=lambda w: (w.ready_at <= t_s, w.load(t_s), w.free_at))
                del ws[: len(ws) - n]

    def snapshot(self) -> ClusterSnapshot:
        t = self.now
        return ClusterSnapshot(
            time_s=t,
            desired={c: len(ws) for c, ws in self.workers.items()},
            ready={c: sum(1 for w in ws if w.ready_at <= t) for c, ws in self.workers.items()},
            gpu_seconds=self.gpu_seconds,
            finished=self.finished,
            in_flight=len(self._running) + len(self._arrivals),
        )
