"""A point-in-time view of the simulated cluster, and the Observation between two views.

``observation_between`` applies the metrics source's arithmetic to two snapshots:
mean X over the window = increase(X_sum) / increase(X_count), request count = increase
of requests arrived, replicas and queue/KV gauges as of the window's end. So the
simulator hands the planner exactly what Prometheus would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from planner.core.types import Component, Observation

Buckets = tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    time_s: float
    #: requests arrived so far (frontend requests_total) and their ISL sum
    requests_total: int
    isl_sum: float
    requests_finished: int
    osl_sum: float
    ttft_sum_s: float
    ttft_count: int
    #: inter-token gaps: sum of gap seconds and number of gaps
    itl_sum_s: float
    itl_count: float
    duration_sum_s: float
    ttft_buckets: Buckets
    itl_buckets: Buckets
    duration_buckets: Buckets
    #: replicas asked for (live, not draining) and ready, per component
    desired_replicas: Mapping[Component, int]
    ready_replicas: Mapping[Component, int]
    #: workers still finishing in-flight work after a scale-down
    draining_replicas: Mapping[Component, int]
    queued_prefill_tokens: float
    queued_prefill_requests: int
    decode_waiting: int
    decode_active: int
    #: mean KV usage (0..1) over ready decode (or agg) workers
    kv_usage: float
    #: GPU-seconds billed so far, per component (from request to release)
    gpu_seconds: Mapping[Component, float]
    #: GPU-seconds spent prefilling so far (prefill utilisation numerator)
    prefill_busy_gpu_s: float
    gpus_held: int
    #: cumulative ISL (arrived requests) and OSL (finished requests) buckets, in tokens
    isl_buckets: Buckets = ()
    osl_buckets: Buckets = ()
    #: GPUs each worker holds, per component (what a connector would read)
    gpus_per_worker: Mapping[Component, int] = field(default_factory=dict)

    @property
    def gpu_hours(self) -> float:
        return sum(self.gpu_seconds.values()) / 3600.0


def _mean(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def observation_between(prev: ClusterSnapshot, cur: ClusterSnapshot) -> Observation:
    """The Observation for the window (prev.time_s, cur.time_s]."""
    window = cur.time_s - prev.time_s
    requests = cur.requests_total - prev.requests_total
    finished = cur.requests_finished - prev.requests_finished
    return Observation(
        window_s=window,
        requests=float(requests),
        isl_tokens=_mean(cur.isl_sum - prev.isl_sum, requests) if requests > 0 else None,
        osl_tokens=_mean(cur.osl_sum - prev.osl_sum, finished) if requests > 0 else None,
        ttft_s=_mean(cur.ttft_sum_s - prev.ttft_sum_s, cur.ttft_count - prev.ttft_count),
        itl_s=_mean(cur.itl_sum_s - prev.itl_sum_s, cur.itl_count - prev.itl_count),
        request_duration_s=_mean(cur.duration_sum_s - prev.duration_sum_s, finished),
        current_replicas=dict(cur.desired_replicas),
        ready_replicas=dict(cur.ready_replicas),
        queued_prefill_tokens=cur.queued_prefill_tokens,
        kv_usage=cur.kv_usage,
        ttft_buckets=window_buckets(prev.ttft_buckets, cur.ttft_buckets),
        itl_buckets=window_buckets(prev.itl_buckets, cur.itl_buckets),
        isl_buckets=window_buckets(prev.isl_buckets, cur.isl_buckets),
        osl_buckets=window_buckets(prev.osl_buckets, cur.osl_buckets),
        gpus_per_worker=dict(cur.gpus_per_worker),
        decode_waiting=float(cur.decode_waiting),
        decode_running=float(cur.decode_active),
    )


def window_buckets(prev: Buckets, cur: Buckets) -> Buckets | None:
    """The window's cumulative histogram: cur - prev per bound (PromQL's increase of each
    ``_bucket`` series); None when either is empty or the bounds differ."""
    if not prev or not cur or [le for le, _ in prev] != [le for le, _ in cur]:
        return None
    return tuple((le, c - p) for (le, c), (_, p) in zip(cur, prev, strict=True))
