"""Run one controller over one trace on the simulated cluster, one interval at a time.

Each interval: advance the cluster to the decision time, build the Observation the
metrics source would (``observation_between``), ask the controller, apply its targets
(new workers ready after ``startup_s``). Decisions stop at the end of the trace span;
the cluster then runs on until every request has finished. GPU-hours are billed over
the trace span [0, n_intervals x interval_s] so that every policy pays for the same
time (the in-flight tail after the span is not billed to anyone).

With a ``MissBudget`` the run stops at the first interval end at which more requests
have certainly missed a target than the budget allows (misses only grow, so the run
could not have met it); such a run is marked ``aborted_at_s`` and only says "failed".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from planner.core.types import Component
from planner.sim.cluster import Cluster, ClusterConfig
from planner.sim.controllers import Controller
from planner.sim.snapshot import ClusterSnapshot, observation_between
from planner.sim.truth import TruePerf
from planner.workload.trace import RequestTrace

FloatArray = NDArray[np.float64]


@dataclass
class IntervalRecord:
    time_s: float
    requests: float
    targets: dict[Component, int]
    desired: dict[Component, int]
    ready: dict[Component, int]
    gpus_held: int
    target_gpus: int
    queued_prefill_tokens: float
    kv_usage: float


@dataclass(frozen=True, slots=True)
class MissBudget:
    """Stop a run once more than ``misses`` requests certainly missed a target."""

    ttft_ms: float
    itl_ms: float
    misses: float


@dataclass
class SimRun:
    policy: str
    trace_name: str
    interval_s: float
    span_s: float
    outcomes: dict[str, FloatArray]
    records: list[IntervalRecord]
    gpu_seconds: dict[Component, float]
    peak_gpus_held: int
    extra: dict[str, object] = field(default_factory=dict)
    #: how long producing the run took (s, by whoever ran it); not part of its summary
    extra_timing: dict[str, float] = field(default_factory=dict)

    @property
    def gpu_hours(self) -> float:
        return sum(self.gpu_seconds.values()) / 3600.0

    @property
    def aborted(self) -> bool:
        """Stopped by its miss budget: it failed the goal, nothing more is measured."""
        return "aborted_at_s" in self.extra


def simulate(
    trace: RequestTrace,
    controller: Controller,
    *,
    truth: TruePerf,
    interval_s: float,
    cluster_config: ClusterConfig,
    initial: Mapping[Component, int],
    gpus_per_worker: Mapping[Component, int] | None = None,
    drain_limit_s: float = 3600.0,
    progress: Callable[[float], None] | None = None,
    budget: MissBudget | None = None,
) -> SimRun:
    """Simulate ``trace`` under ``controller``; see the module docstring."""
    cluster = Cluster(truth, cluster_config, initial=initial)
    cluster.submit(trace.arrival_s, trace.isl_tokens, trace.osl_tokens)
    if budget is not None:
        cluster.counters.track_misses(
            ttft_target_s=budget.ttft_ms / 1000.0, itl_target_s=budget.itl_ms / 1000.0
        )
    aborted_at: float | None = None
    attach = getattr(controller, "attach", None)
    if attach is not None:  # a controller that searches on clones of the run (the oracle)
        attach(cluster)
    n_intervals = max(1, math.ceil((trace.duration_s + 1e-9) / interval_s))
    span = n_intervals * interval_s
    gpus = dict(gpus_per_worker or cluster.fleet.gpus_per_worker)
    prev = cluster.snapshot()
    records: list[IntervalRecord] = []
    peak = prev.gpus_held
    end_snap: ClusterSnapshot = prev
    for k in range(1, n_intervals + 1):
        t = k * interval_s
        cluster.advance_to(t)
        if budget is not None and cluster.certain_misses() > budget.misses:
            aborted_at = t
            break
        snap = cluster.snapshot()
        peak = max(peak, snap.gpus_held)
        obs = observation_between(prev, snap)
        targets = dict(controller.decide(obs, snap, now_s=t)) if k < n_intervals else {}
        records.append(
            IntervalRecord(
                time_s=t,
                requests=obs.requests,
                targets=targets,
                desired=dict(snap.desired_replicas),
                ready=dict(snap.ready_replicas),
                gpus_held=snap.gpus_held,
                target_gpus=sum(n * gpus.get(c, 1) for c, n in targets.items()),
                queued_prefill_tokens=snap.queued_prefill_tokens,
                kv_usage=snap.kv_usage,
            )
        )
        if targets:
            cluster.set_targets(targets, now_s=t)
            peak = max(peak, cluster.fleet.gpus_held(t))
        prev = end_snap = snap
        if progress is not None:
            progress(k / n_intervals)
    # finish the in-flight work (not billed: see the module docstring)
    stop = span + drain_limit_s
    while (
        aborted_at is None
        and cluster.now_s < stop
        and cluster.counters.finished_count < len(cluster.table)
    ):
        cluster.advance_to(cluster.now_s + interval_s)
        if budget is not None and cluster.certain_misses() > budget.misses:
            aborted_at = cluster.now_s
    run = SimRun(
        policy=controller.name,
        trace_name=trace.name,
        interval_s=interval_s,
        span_s=span,
        outcomes=cluster.outcomes(),
        records=records,
        gpu_seconds=dict(end_snap.gpu_seconds),
        peak_gpus_held=peak,
    )
    if aborted_at is not None:
        run.extra["aborted_at_s"] = aborted_at
    return run
