"""The pool's own Prometheus series: per graph what it asked of the shared GPU pool,
what it got, its floor, why it was cut, and what it costs in dollars (docs/pool.md);
and each graph's connector series, re-exported with a ``graph`` label. Registered in
the service's registry (empty with one graph)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.metrics_core import Metric

from planner.core.arbitration import PoolResult


class PoolMetrics:
    """Series labelled by ``graph``; fed one PoolResult and each graph's cost per tick."""

    def __init__(self, registry: CollectorRegistry) -> None:
        p, r = "sla_planner_pool_", registry
        self.capacity = Gauge(f"{p}capacity_gpus", "GPUs the graphs share (pool.gpus)", registry=r)
        self.gpus = Gauge(
            f"{p}gpus",
            "GPUs per graph: asked of the pool, granted, and held by its floor",
            ["graph", "kind"],
            registry=r,
        )
        self.cut = Counter(
            f"{p}cuts",
            "Component decisions cut by the pool, per graph and reason (pool_clamped, "
            "preempted, budget_infeasible)",
            ["graph", "component", "reason"],
            registry=r,
        )
        self.preempted = Gauge(
            f"{p}preempted",
            "1 while the graph is cut in favour of the higher-priority graph ``by``",
            ["graph", "by"],
            registry=r,
        )
        self.usd_per_hour = Gauge(
            "sla_planner_cost_usd_per_hour",
            "Dollars per hour of the GPUs the graph holds now (pool.prices)",
            ["graph"],
            registry=r,
        )
        self.usd = Counter(
            "sla_planner_cost_usd", "Dollars spent on the graph's GPUs", ["graph"], registry=r
        )
        self.usd_per_1k = Gauge(
            "sla_planner_cost_usd_per_thousand_good_requests",
            "Dollars per 1,000 requests that met the TTFT target, since start-up (NaN "
            "before the first)",
            ["graph"],
            registry=r,
        )

    def arbitration(self, result: PoolResult) -> None:
        self.capacity.set(result.pool_gpus)
        for name, g in result.grants.items():
            self.gpus.labels(graph=name, kind="asked").set(g.asked_gpus)
            self.gpus.labels(graph=name, kind="granted").set(g.granted_gpus)
            self.gpus.labels(graph=name, kind="floor").set(g.floor_gpus)
            if g.reason is not None:
                for c in g.cut:
                    self.cut.labels(graph=name, component=c.value, reason=g.reason.value).inc()
            for other in result.grants:
                if other != name:
                    by = 1 if g.preempted_by == other else 0
                    self.preempted.labels(graph=name, by=other).set(by)

    def cost(self, graph: str, *, usd_per_hour: float, usd: float, per_1k: float | None) -> None:
        self.usd_per_hour.labels(graph=graph).set(usd_per_hour)
        if usd > 0:
            self.usd.labels(graph=graph).inc(usd)
        self.usd_per_1k.labels(graph=graph).set(float("nan") if per_1k is None else per_1k)


class GraphLabelled:
    """A collector that exports the series of one registry per graph (the connectors'
    ``sla_planner_connector_*`` and ``sla_planner_leader``, which carry no graph label
    of their own) with a ``graph`` label added; a family found in several registries
    is exported once, holding every graph's samples."""

    def __init__(self, registries: Mapping[str, CollectorRegistry]) -> None:
        self.registries = dict(registries)

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        for graph, registry in sorted(self.registries.items()):
            for family in registry.collect():
                out = families.get(family.name)
                if out is None:
                    out = families[family.name] = Metric(
                        family.name, family.documentation, family.type, family.unit
                    )
                for sample in family.samples:
                    labels = {**sample.labels, "graph": graph}
                    out.samples.append(sample._replace(labels=labels))
        yield from families.values()
