"""PoolPlanner: several graphs planned from one snapshot, then arbitrated in one pool.

Each tick every graph's ``Planner`` decides on its own window (its own profile, SLO,
limits and budget); the asks are cut to the pool by the pure arbitration
(planner/core/arbitration.py); each cut decision carries the pool's reason and numbers,
and each graph's state is settled on what it was granted. Like ``Planner`` it reads no
clock and does no I/O after construction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from planner.core.arbitration import ComponentAsk, GraphAsk, PoolResult, arbitrate, floor_problems
from planner.core.invariants import ensure_pool
from planner.core.pool_stage import apply_grant, graph_ask, settle
from planner.core.types import Decision, Observation
from planner.errors import ConfigError
from planner.perf.model import PerfModel
from planner.planner import Planner
from planner.settings.graphs import GraphConfig
from planner.settings.pool import GraphSettings


@dataclass(frozen=True)
class PoolDecision:
    """One tick of the pool: each graph's decision after the cut, and the arbitration."""

    time_s: float
    decisions: Mapping[str, Decision]
    result: PoolResult


class PoolPlanner:
    """Feed it one observation per graph per interval, get every graph's decision."""

    def __init__(
        self,
        graphs: Sequence[GraphConfig],
        *,
        pool_gpus: int,
        perfs: Mapping[str, PerfModel] | None = None,
    ) -> None:
        self.pool_gpus = pool_gpus
        self.entries: dict[str, GraphSettings] = {g.name: g.entry for g in graphs}
        self.planners: dict[str, Planner] = {
            g.name: Planner(g.settings, perf=(perfs or {}).get(g.name)) for g in graphs
        }
        self.warnings = tuple(w for p in self.planners.values() for w in p.warnings)
        problems = floor_problems(self.floor_asks(), pool_gpus=pool_gpus)
        if problems:
            raise ConfigError(
                "pool.gpus",
                pool_gpus,
                f"room for every graph's floor ({problems[0]}, GPUs per worker as the "
                "profiles say); raise pool.gpus or lower the floors or min_replicas",
            )

    def floor_asks(self) -> list[GraphAsk]:
        """Each graph at its minimum replicas, GPUs per worker as its profile says."""
        out = []
        for name, planner in self.planners.items():
            c = planner.config
            comps = {}
            for comp in c.components:
                n = c.limits(comp).min_replicas
                comps[comp] = ComponentAsk(
                    requested=n, minimum=n, gpus_per_worker=c.gpus_per_worker(comp).gpus
                )
            e = self.entries[name]
            out.append(GraphAsk(name=name, components=comps, floor_gpus=e.floor_gpus))
        return out

    def step(
        self,
        observations: Mapping[str, Observation],
        *,
        now: float,
        cap_gpus: int | None = None,
    ) -> PoolDecision:
        """Record each graph's window (all ending at ``now``) and decide for the pool.
        ``cap_gpus``: what the cluster can hold this tick (e.g. from its nodes and
        quotas); the pool is ``min(pool_gpus, cap_gpus)``."""
        decisions = {n: p.step(observations[n], now=now) for n, p in self.planners.items()}
        return self.arbitrate(decisions, now=now, cap_gpus=cap_gpus)

    def arbitrate(
        self, decisions: Mapping[str, Decision], *, now: float, cap_gpus: int | None = None
    ) -> PoolDecision:
        """Cut the graphs' own ``decisions`` to the pool and settle each graph's state."""
        asks = [
            graph_ask(
                n,
                d,
                self.planners[n].config,
                priority=self.entries[n].priority,
                weight=self.entries[n].weight,
                floor_gpus=self.entries[n].floor_gpus,
            )
            for n, d in decisions.items()
        ]
        pool_gpus = self.pool_gpus if cap_gpus is None else min(self.pool_gpus, cap_gpus)
        result = arbitrate(asks, pool_gpus=max(0, pool_gpus))
        ensure_pool(result, asks)
        out: dict[str, Decision] = {}
        for n, d in decisions.items():
            out[n] = apply_grant(d, result.grants[n])
            planner = self.planners[n]
            planner.state = settle(planner.state, out[n])
        return PoolDecision(time_s=now, decisions=out, result=result)
