"""Dynamo-named frontend metrics of the emulated graph: Prometheus histograms/counters in
their own registry (for scraping), plus an in-memory window of the same events (for the
in-process MetricsSource), so both paths see identical numbers.

Events: at arrival, the request counter and the input-length histogram; at completion,
TTFT, ITL (one observation per request: its mean inter-token latency), request duration
and output length. Times are trace seconds; latencies are model (trace) seconds.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from planner.emulator.cluster import FinishedRequest
from planner.types import Observation

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_ITL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 1)
_TOKEN_BUCKETS = (16, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)


@dataclass(frozen=True, slots=True)
class _Arrival:
    t_s: float
    isl: int


class FrontendMetrics:
    """The emulated frontend's counters; ``window`` answers like increase() over [W]."""

    def __init__(self, *, model: str, namespace: str, keep_s: float) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        labels = ["model", "dynamo_namespace"]
        p = "dynamo_frontend_"
        self.requests = Counter(f"{p}requests", "Requests received", labels, registry=r)
        self.ttft = Histogram(
            f"{p}time_to_first_token_seconds", "TTFT", labels, buckets=_LATENCY_BUCKETS, registry=r
        )
        self.itl = Histogram(
            f"{p}inter_token_latency_seconds", "ITL", labels, buckets=_ITL_BUCKETS, registry=r
        )
        self.duration = Histogram(
            f"{p}request_duration_seconds", "Duration", labels, buckets=_LATENCY_BUCKETS, registry=r
        )
        self.isl = Histogram(
            f"{p}input_sequence_tokens", "ISL", labels, buckets=_TOKEN_BUCKETS, registry=r
        )
        self.osl = Histogram(
            f"{p}output_sequence_tokens", "OSL", labels, buckets=_TOKEN_BUCKETS, registry=r
        )
        lv = {"model": model, "dynamo_namespace": namespace}
        self._requests = self.requests.labels(**lv)
        self._ttft, self._itl = self.ttft.labels(**lv), self.itl.labels(**lv)
        self._duration = self.duration.labels(**lv)
        self._isl, self._osl = self.isl.labels(**lv), self.osl.labels(**lv)
        self.keep_s = keep_s
        self._arrivals: deque[_Arrival] = deque()
        self._finished: deque[tuple[float, FinishedRequest]] = deque()

    def arrived(self, *, t_s: float, isl_tokens: int) -> None:
        self._requests.inc()
        self._isl.observe(isl_tokens)
        self._arrivals.append(_Arrival(t_s, isl_tokens))

    def finished(self, req: FinishedRequest, *, t_s: float) -> None:
        self._ttft.observe(req.ttft_s)
        self._itl.observe(req.itl_s)
        self._duration.observe(req.duration_s)
        self._osl.observe(req.osl_tokens)
        self._finished.append((t_s, req))

    def prune(self, *, now_s: float) -> None:
        cutoff = now_s - self.keep_s
        while self._arrivals and self._arrivals[0].t_s <= cutoff:
            self._arrivals.popleft()
        while self._finished and self._finished[0][0] <= cutoff:
            self._finished.popleft()

    def window(self, *, now_s: float, window_s: float) -> Observation:
        """Aggregates of (now - window, now]: the same sums and counts increase() gives."""
        lo = now_s - window_s
        n = 0
        isl_sum = 0.0
        for a in reversed(self._arrivals):
            if a.t_s <= lo:
                break
            if a.t_s <= now_s:
                n += 1
                isl_sum += a.isl
        if n == 0:
            return Observation(window_s=window_s, requests=0.0)
        done = [r for t, r in reversed(self._finished) if lo < t <= now_s]
        k = len(done)

        def mean(total: float) -> float | None:
            return total / k if k else None

        return Observation(
            window_s=window_s,
            requests=float(n),
            isl_tokens=isl_sum / n,
            osl_tokens=mean(sum(r.osl_tokens for r in done)),
            ttft_s=mean(sum(r.ttft_s for r in done)),
            itl_s=mean(sum(r.itl_s for r in done)),
            request_duration_s=mean(sum(r.duration_s for r in done)),
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
