"""The service's own Prometheus metrics (its own CollectorRegistry) and decision history.

Names are fixed: deploy/ alerts and dashboards use them. Undefined observed values (an
idle window's latency means, a missing window) are exported as NaN, never as 0. The
connector's series (sla_planner_connector_*, sla_planner_leader) are registered in the
same registry by connectors.instrumented.InstrumentedConnector.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from planner.core.attainment import share_within
from planner.core.capacity import ClusterCapacity
from planner.core.types import Component, Observation
from planner.service.pool_metrics import PoolMetrics
from planner.service.tick import TickRecord

_NAN = float("nan")
_OBSERVED = ("requests_per_second", "isl_tokens", "osl_tokens", "ttft_seconds", "itl_seconds")

#: tick durations are milliseconds normally; seconds when a forecaster refits inline
_TICK_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def _finite(value: float | None) -> float:
    return value if value is not None and math.isfinite(value) else _NAN


class Telemetry:
    """Metrics and the last decisions; fed one TickRecord per tick."""

    def __init__(
        self,
        *,
        keep_decisions: int = 50,
        ttft_target_ms: float | None = None,
        attainment_objective: float | None = None,
    ) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        p = "sla_planner_"
        self.ttft_target_ms = ttft_target_ms
        self.ticks = Counter(f"{p}ticks", "Ticks run (failed ones included)", registry=r)
        self.tick_errors = Counter(f"{p}tick_errors", "Failed ticks by kind", ["kind"], registry=r)
        self.ticks_skipped = Counter(
            f"{p}ticks_skipped",
            "Ticks skipped because the previous tick overran its interval or the loop was late",
            registry=r,
        )
        self.desired = Gauge(
            f"{p}desired_replicas", "Replicas the planner wants", ["component"], registry=r
        )
        self.current = Gauge(
            f"{p}current_replicas", "Replicas the graph is asked to run", ["component"], registry=r
        )
        self.ready = Gauge(f"{p}ready_replicas", "Replicas ready", ["component"], registry=r)
        self.decisions = Counter(
            f"{p}decisions", "Decision reasons, per component", ["component", "reason"], registry=r
        )
        self.missing = Counter(
            f"{p}metrics_missing", "Ticks whose metrics were missing", registry=r
        )
        self.tick_duration = Histogram(
            f"{p}tick_duration_seconds",
            "Wall time of one tick",
            buckets=_TICK_BUCKETS_S,
            registry=r,
        )
        self.correction = Gauge(f"{p}correction_factor", "Correction factor", ["phase"], registry=r)
        self.pressure = Gauge(
            f"{p}prefill_pressure",
            "Multiplier on the prefill demand from TTFT attainment feedback (1 = none)",
            registry=r,
        )
        self.observed = {
            name: Gauge(f"{p}observed_{name}", f"Observed {name} (NaN if undefined)", registry=r)
            for name in _OBSERVED
        }
        self.forecast = {
            name: Gauge(f"{p}forecast_{name}", f"Forecast {name}", ["quantity"], registry=r)
            for name in ("requests_per_second", "isl_tokens", "osl_tokens")
        }
        self.gpu_hours = Counter(
            f"{p}gpu_hours", "GPU-hours held by ready or starting workers", registry=r
        )
        self.advisory = Gauge(f"{p}advisory", "1 when replicas are not written", registry=r)
        # TTFT attainment, request-weighted, for alerts over any range: the two counters'
        # increases divide to the share of requests that met the TTFT target
        self.ttft_requests = Counter(
            f"{p}ttft_requests",
            "Requests in the observed windows' TTFT histograms (first tokens)",
            registry=r,
        )
        self.ttft_met = Counter(
            f"{p}ttft_within_target_requests",
            "Of those, requests whose TTFT may have met ttft_ms (read off the histogram: "
            "a bucket that straddles the target counts as met, so an alert on it fires "
            "only when the objective was certainly missed)",
            registry=r,
        )
        self.objective = Gauge(
            f"{p}attainment_objective",
            "Share of requests that should meet the TTFT and ITL targets (objective)",
            registry=r,
        )
        if attainment_objective is not None:
            self.objective.set(attainment_objective)
        self.budget = Gauge(
            f"{p}budget_gpus",
            "GPU budget the last decision planned in: budget.max_gpus, lowered to the "
            "cluster's capacity when that is less (NaN: unlimited)",
            registry=r,
        )
        self.capacity_gpus = Gauge(
            f"{p}cluster_capacity_gpus",
            "GPUs the cluster can hold for the graph, its own workers included (NaN: not "
            "read or unlimited)",
            registry=r,
        )
        self.capacity_limit = Gauge(
            f"{p}cluster_capacity_limit_gpus",
            "Each capacity limit read: nodes (allocatable or NodePool limits, minus other "
            "pods) and quota",
            ["source"],
            registry=r,
        )
        self.capacity_unread = Gauge(
            f"{p}cluster_capacity_unread",
            "Kinds of object the capacity reading could not read this tick (e.g. RBAC)",
            registry=r,
        )
        #: the last capacity reading, for /status (None: the connector reports none)
        self.last_capacity: ClusterCapacity | None = None
        #: several graphs in one GPU pool, and their dollars (planner/service/pool_loop.py)
        self.pool = PoolMetrics(r)
        self.recent: deque[TickRecord] = deque(maxlen=keep_decisions)
        self.last_error: TickRecord | None = None
        self.tick_count = 0
        self.error_count = 0
        self._gpus_at: tuple[float, float] | None = None

    def hold_gpus(self, *, now_s: float, gpus: float) -> None:
        """Integrate GPUs held since the last call (planner seconds) into GPU-hours."""
        if self._gpus_at is not None:
            then, held = self._gpus_at
            if now_s > then:
                self.gpu_hours.inc(held * (now_s - then) / 3600.0)
        self._gpus_at = (now_s, gpus)

    def replicas(self, *, current: Mapping[Component, int], ready: Mapping[Component, int]) -> None:
        for c, n in current.items():
            self.current.labels(component=c.value).set(n)
        for c, n in ready.items():
            self.ready.labels(component=c.value).set(n)

    def cluster_capacity(self, cap: ClusterCapacity | None) -> None:
        """This tick's capacity reading (None: the connector does not read one)."""
        self.last_capacity = cap
        self.capacity_gpus.set(_NAN if cap is None or cap.gpus is None else cap.gpus)
        self.capacity_unread.set(0 if cap is None else len(cap.unread))
        self.capacity_limit.clear()
        least: dict[str, int] = {}
        for lim in cap.limits if cap is not None else ():
            least[lim.source] = min(lim.gpus, least.get(lim.source, lim.gpus))
        for source, gpus in least.items():
            self.capacity_limit.labels(source=source).set(gpus)

    def capacity_status(self) -> dict[str, object] | None:
        """/status's ``capacity``: the cap, every limit with its numbers, what was not read."""
        cap = self.last_capacity
        if cap is None:
            return None
        binding = cap.binding
        return {
            "resource": cap.resource,
            "gpus": cap.gpus,
            "binding": None if binding is None else binding.source,
            "limits": [
                {"source": x.source, "gpus": x.gpus, "detail": x.detail} for x in cap.limits
            ],
            "unread": list(cap.unread),
            "message": cap.describe(),
        }

    def record(self, rec: TickRecord) -> None:
        self.ticks.inc()
        self.tick_count += 1
        self.tick_duration.observe(rec.duration_s)
        self.recent.append(rec)
        if rec.error_kind:
            self.error_count += 1
            self.tick_errors.labels(kind=rec.error_kind).inc()
            self.last_error = rec
        obs = rec.observation
        if obs is not None:
            if obs.is_missing:
                self.missing.inc()
                for g in self.observed.values():
                    g.set(_NAN)
            else:
                self._count_attainment(obs)
                self.observed["requests_per_second"].set(obs.request_rate_rps)
                self.observed["isl_tokens"].set(_finite(obs.isl_tokens))
                self.observed["osl_tokens"].set(_finite(obs.osl_tokens))
                self.observed["ttft_seconds"].set(_finite(obs.ttft_s))
                self.observed["itl_seconds"].set(_finite(obs.itl_s))
        d = rec.decision
        if d is None:
            return
        for c, cd in d.components.items():
            self.desired.labels(component=c.value).set(cd.target)
            for reason in cd.reasons:
                self.decisions.labels(component=c.value, reason=reason.value).inc()
        self.correction.labels(phase="prefill").set(d.correction.prefill)
        self.correction.labels(phase="decode").set(d.correction.decode)
        self.pressure.set(d.prefill_pressure)
        self.budget.set(_NAN if d.budget_gpus is None else d.budget_gpus)
        if d.forecast is not None:
            f = d.forecast
            for name, q in (
                ("requests_per_second", f.request_rate_rps),
                ("isl_tokens", f.isl_tokens),
                ("osl_tokens", f.osl_tokens),
            ):
                self.forecast[name].labels(quantity="point").set(q.point)
                self.forecast[name].labels(quantity="upper").set(q.upper)

    def _count_attainment(self, obs: Observation) -> None:
        if self.ttft_target_ms is None or not obs.ttft_buckets:
            return
        share = share_within(obs.ttft_buckets, self.ttft_target_ms / 1000.0)
        total = max(c for _, c in obs.ttft_buckets)
        if share is None or total <= 0:
            return
        self.ttft_requests.inc(total)
        self.ttft_met.inc(share.high * total)

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)
