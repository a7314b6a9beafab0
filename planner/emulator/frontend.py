"""Dynamo-named frontend metrics of the emulated graph, read off the simulated cluster's
cumulative counters (planner.sim's ClusterSnapshot), for both ways the planner reads them.

The graph records one snapshot per step of trace time. ``/metrics`` exposes the latest
one's counters and histograms; the in-process MetricsSource takes two recorded
snapshots a window apart and applies ``observation_between``, i.e. mean X =
delta(X_sum) / delta(X_count) and requests = delta(requests_total): the arithmetic of
PromQL's ``sum(increase(X_sum[W])) / sum(increase(X_count[W]))`` over the same
counters. Only what a frontend exports is passed on (no replica, queue or KV gauges), and
an idle window carries no means, as PrometheusSource answers.

Series (labels ``model``, ``dynamo_namespace``): ``dynamo_frontend_requests_total``
(at arrival), ``..._input_sequence_tokens`` (at arrival), ``..._time_to_first_token_seconds``
(at the first token), ``..._inter_token_latency_seconds`` (per token gap),
``..._request_duration_seconds`` and ``..._output_sequence_tokens`` (at completion).
Times are trace (planner) seconds.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

from planner.core.types import Observation
from planner.sim.snapshot import Buckets, ClusterSnapshot, observation_between

PREFIX = "dynamo_frontend_"


def frontend_observation(prev: ClusterSnapshot, cur: ClusterSnapshot) -> Observation:
    """What the frontend's counters say about (prev.time_s, cur.time_s]."""
    obs = observation_between(prev, cur)
    if obs.requests <= 0:
        return Observation(window_s=obs.window_s, requests=0.0)
    return Observation(
        window_s=obs.window_s,
        requests=obs.requests,
        isl_tokens=obs.isl_tokens,
        osl_tokens=obs.osl_tokens,
        ttft_s=obs.ttft_s,
        itl_s=obs.itl_s,
        request_duration_s=obs.request_duration_s,
        ttft_buckets=obs.ttft_buckets,
    )


class FrontendMetrics:
    """A timeline of cluster snapshots (kept ``keep_s``) and its Prometheus exposition."""

    def __init__(self, first: ClusterSnapshot, *, model: str, namespace: str, keep_s: float):
        self.labels = {"model": model, "dynamo_namespace": namespace}
        self.keep_s = keep_s
        self._times: list[float] = [first.time_s]
        self._snaps: list[ClusterSnapshot] = [first]
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    @property
    def latest(self) -> ClusterSnapshot:
        return self._snaps[-1]

    @property
    def kept_from_s(self) -> float:
        """The oldest recorded time still kept."""
        return self._times[0]

    def record(self, snap: ClusterSnapshot) -> None:
        """Append ``snap`` (not older than the latest); drop what is past ``keep_s``, keeping
        one snapshot at or before the cutoff so a full window can still be answered."""
        if snap.time_s < self._times[-1]:
            raise ValueError(f"snapshot at {snap.time_s}s is older than {self._times[-1]}s")
        self._times.append(snap.time_s)
        self._snaps.append(snap)
        drop = bisect_right(self._times, snap.time_s - self.keep_s) - 1
        if drop > 256:  # trim in blocks: list deletion from the front is O(n)
            del self._times[:drop]
            del self._snaps[:drop]

    def at(self, t_s: float) -> ClusterSnapshot | None:
        """The latest snapshot recorded at or before ``t_s`` (None if all are later)."""
        i = bisect_right(self._times, t_s + 1e-9)
        return self._snaps[i - 1] if i else None

    def window(self, *, now_s: float, window_s: float) -> Observation:
        """The frontend's view of (now - window, now]; a window reaching before the first
        kept snapshot is shortened to start there (its ``window_s`` says so)."""
        cur = self.at(now_s) or self._snaps[0]
        prev = self.at(now_s - window_s) or self._snaps[0]
        return frontend_observation(prev, cur)

    # ------------------------------------------------------------ exposition
    def collect(self) -> Iterator[Metric]:
        """prometheus_client's collector hook: the latest snapshot's counters."""
        s = self.latest
        names, values = list(self.labels), list(self.labels.values())
        requests = CounterMetricFamily(
            f"{PREFIX}requests", "Requests received by the frontend", labels=names
        )
        requests.add_metric(values, float(s.requests_total))
        yield requests
        for name, doc, buckets, total in (
            ("time_to_first_token_seconds", "Time to first token", s.ttft_buckets, s.ttft_sum_s),
            ("inter_token_latency_seconds", "Inter-token latency", s.itl_buckets, s.itl_sum_s),
            ("request_duration_seconds", "Request duration", s.duration_buckets, s.duration_sum_s),
            ("input_sequence_tokens", "Input sequence length", s.isl_buckets, s.isl_sum),
            ("output_sequence_tokens", "Output sequence length", s.osl_buckets, s.osl_sum),
        ):
            fam = HistogramMetricFamily(f"{PREFIX}{name}", doc, labels=names)
            fam.add_metric(values, buckets=_le(buckets), sum_value=float(total))
            yield fam

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _le(buckets: Buckets) -> list[tuple[str, float]]:
    """Bucket bounds as exposition ``le`` labels ("0.25", "1024.0", "+Inf")."""
    return [("+Inf" if math.isinf(le) else repr(float(le)), float(n)) for le, n in buckets]
