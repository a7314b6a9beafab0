"""Several graphs on one simulated GPU pool: each its own trace, profile, SLO and
cluster, advanced in lockstep, all planned each interval from one snapshot.

``simulate_pool`` takes a ``decide`` function: the shared pool (``PoolPlanner.step``,
arbitration included) or the baseline of separately budgeted pools (each graph's own
``Planner`` with its own ``budget.max_gpus``), so the two are measured on the same
clusters and traces. GPU-hours are billed over the longest trace's span, as
planner/sim/runner.py bills one graph.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from planner.core.types import Component, Decision, Observation
from planner.sim.cluster import Cluster
from planner.sim.experiment import Experiment
from planner.sim.runner import IntervalRecord, SimRun
from planner.sim.snapshot import observation_between

#: every graph's window in, every graph's decision out (all at ``now``)
Decide = Callable[[Mapping[str, Observation], float], Mapping[str, Decision]]


@dataclass
class PoolMember:
    """One graph of a simulated pool: its experiment (trace, settings, profiles) and the
    replicas it starts with."""

    name: str
    experiment: Experiment
    initial: dict[Component, int]


def simulate_pool(
    members: list[PoolMember],
    decide: Decide,
    *,
    label: str,
    drain_limit_s: float = 3600.0,
) -> dict[str, SimRun]:
    """Run every member's trace under ``decide``; one ``SimRun`` per graph."""
    intervals = {m.experiment.settings.interval_s for m in members}
    if len(intervals) != 1:
        raise ValueError(f"graphs of one pool tick together: one interval_s, got {intervals}")
    interval_s = intervals.pop()
    clusters: dict[str, Cluster] = {}
    for m in members:
        exp = m.experiment
        cluster = Cluster(exp.truth, exp.cluster_config(), initial=m.initial)
        cluster.submit(exp.trace.arrival_s, exp.trace.isl_tokens, exp.trace.osl_tokens)
        clusters[m.name] = cluster
    longest = max(m.experiment.trace.duration_s for m in members)
    n_intervals = max(1, math.ceil((longest + 1e-9) / interval_s))
    prev = {n: c.snapshot() for n, c in clusters.items()}
    peak = {n: s.gpus_held for n, s in prev.items()}
    records: dict[str, list[IntervalRecord]] = {n: [] for n in clusters}
    for k in range(1, n_intervals + 1):
        t = k * interval_s
        snaps = {}
        for n, c in clusters.items():
            c.advance_to(t)
            snaps[n] = c.snapshot()
            peak[n] = max(peak[n], snaps[n].gpus_held)
        obs = {n: observation_between(prev[n], snaps[n]) for n in clusters}
        decisions = decide(obs, t) if k < n_intervals else {}
        for m in members:
            n, snap = m.name, snaps[m.name]
            d = decisions.get(n)
            targets = d.targets if d is not None else {}
            records[n].append(
                IntervalRecord(
                    time_s=t,
                    requests=obs[n].requests,
                    targets=dict(targets),
                    desired={c: cd.desired for c, cd in d.components.items()} if d else {},
                    ready=dict(snap.ready_replicas),
                    gpus_held=snap.gpus_held,
                    target_gpus=d.total_gpus if d is not None else 0,
                    queued_prefill_tokens=snap.queued_prefill_tokens,
                    kv_usage=snap.kv_usage,
                )
            )
            if targets:
                clusters[n].set_targets(targets, now_s=t)
                peak[n] = max(peak[n], clusters[n].fleet.gpus_held(t))
        prev = snaps
    stop = n_intervals * interval_s + drain_limit_s
    for c in clusters.values():
        while c.now_s < stop and c.counters.finished_count < len(c.table):
            c.advance_to(c.now_s + interval_s)
    return {
        m.name: SimRun(
            policy=label,
            trace_name=m.experiment.trace.name,
            interval_s=interval_s,
            span_s=n_intervals * interval_s,
            outcomes=clusters[m.name].outcomes(),
            records=records[m.name],
            gpu_seconds=dict(prev[m.name].gpu_seconds),
            peak_gpus_held=peak[m.name],
        )
        for m in members
    }
