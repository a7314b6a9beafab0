"""Frontend metrics of the emulated graph, read off the simulated cluster's cumulative
counters (planner.sim's ClusterSnapshot), for both ways the planner reads them.

The graph records one snapshot per step of trace time. ``/metrics`` exposes the latest
one's counters and histograms under Dynamo's or vLLM's names (planner.emulator.exposition
keeps each server's counting moments); the in-process MetricsSource takes two recorded
snapshots a window apart and applies ``observation_between``, i.e. mean X =
delta(X_sum) / delta(X_count) and requests = delta(requests arrived): the arithmetic of
PromQL's ``sum(increase(X_sum[W])) / sum(increase(X_count[W]))`` over the same
counters, with demand read from the started counter. Only what a frontend exports is
passed on (no replica, queue or KV gauges), and an idle window carries no means, as
PrometheusSource answers.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric

from planner.core.types import Observation
from planner.emulator.exposition import Flavor, Server, families
from planner.sim.snapshot import ClusterSnapshot, observation_between


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

    def __init__(
        self,
        first: ClusterSnapshot,
        *,
        model: str,
        namespace: str,
        keep_s: float,
        flavor: Flavor = "dynamo",
    ):
        self.model = model
        self.namespace = namespace
        self.flavor: Flavor = flavor
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
    def collect(self, server: Server = "all") -> Iterator[Metric]:
        """prometheus_client's collector hook: the latest snapshot's series (vLLM: as the
        ``server`` role exports them)."""
        return families(
            self.latest,
            flavor=self.flavor,
            model=self.model,
            namespace=self.namespace,
            server=server,
        )

    def exposition(self, server: Server = "all") -> bytes:
        if server == "all":
            return generate_latest(self.registry)
        view = CollectorRegistry(auto_describe=False)
        view.register(_View(self, server))
        return generate_latest(view)


class _View:
    """One server role's series, as a collector of its own registry."""

    def __init__(self, metrics: FrontendMetrics, server: Server) -> None:
        self.metrics = metrics
        self.server: Server = server

    def collect(self) -> Iterator[Metric]:
        return self.metrics.collect(self.server)
