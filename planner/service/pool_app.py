"""Wires the pool service: one PoolPlanner, and per graph its metrics source and
connector, wired as the one-graph service wires them (``ServiceApp._wire``: an embedded
emulated graph through the virtual connector, or Prometheus and Kubernetes from the
graph's own ``metrics`` and ``connector`` settings); one HTTP endpoint, one tick loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import AsyncExitStack
from typing import Any

from prometheus_client import CollectorRegistry

from planner.clock import ServiceClock
from planner.pool.planner import PoolPlanner
from planner.pool.pricing import CostMeter, graph_price
from planner.service.app import EMBEDDED_COMPRESSION, RunResult, ServiceApp
from planner.service.http import ServiceHttp
from planner.service.pool_loop import GraphLink, PoolService
from planner.service.pool_metrics import GraphLabelled
from planner.service.telemetry import Telemetry
from planner.settings import PlannerSettings
from planner.settings.graphs import graph_configs

log = logging.getLogger("sla_planner.service")


class PoolApp:
    """One run of the pool service (``sla-planner run`` with ``graphs`` in its settings)."""

    def __init__(self, settings: PlannerSettings, *, emulate: bool | None = None) -> None:
        self.settings = settings
        self.graphs = graph_configs(settings)
        self.apps = {g.name: ServiceApp(g.settings, emulate=emulate) for g in self.graphs}
        self.emulate = any(a.emulate for a in self.apps.values())
        self.started = asyncio.Event()
        self.service: PoolService | None = None
        self.http: ServiceHttp | None = None

    @property
    def compression(self) -> float:
        c = self.settings.service.time_compression
        return EMBEDDED_COMPRESSION if self.emulate and c == 1.0 else c

    def _ready(self) -> tuple[bool, str]:
        if self.service is None or not self.service.observed_once:
            return False, "no successful observation yet"
        return True, "ready"

    def _summary(self) -> dict[str, Any]:
        last = self.service.last if self.service else None
        return {
            "pool_gpus": self.settings.pool.gpus,
            "graphs": {
                g.name: {
                    "priority": g.entry.priority,
                    "weight": g.entry.weight,
                    "floor_gpus": g.entry.floor_gpus,
                    "profile": str(g.settings.profile),
                    **({"grant": last.result.grants[g.name].message} if last is not None else {}),
                }
                for g in self.graphs
            },
            "time_compression": self.compression,
        }

    async def run(self, stop: asyncio.Event | None = None) -> RunResult:
        stop = stop or asyncio.Event()
        s = self.settings
        assert s.pool.gpus is not None  # graph_configs checked it
        async with AsyncExitStack() as stack:
            pool = await asyncio.to_thread(PoolPlanner, self.graphs, pool_gpus=s.pool.gpus)
            for warning in pool.warnings:
                log.warning("%s", warning)
            origin = 0.0 if self.emulate else time.time()
            clock = ServiceClock.start(compression=self.compression, origin_s=origin)
            telemetry = Telemetry(keep_decisions=s.service.keep_decisions)
            telemetry.advisory.set(1 if s.service.advisory else 0)
            links: dict[str, GraphLink] = {}
            # each graph's connector series in its own registry (the connector's series
            # carry no graph label), exported through one collector that adds it
            registries = {g.name: CollectorRegistry() for g in self.graphs}
            telemetry.registry.register(GraphLabelled(registries))
            for g in self.graphs:
                app = self.apps[g.name]
                source, connector = await app._wire(
                    stack, clock, pool.planners[g.name], registries[g.name]
                )
                price = graph_price(s.pool, g.entry) or 0.0
                links[g.name] = GraphLink(
                    source=source,
                    connector=connector,
                    cost=CostMeter(usd_per_gpu_hour=price),
                    ttft_ms=g.settings.ttft_ms,
                )
            self.service = PoolService(
                settings=s, pool=pool, links=links, telemetry=telemetry, clock=clock
            )
            self.http = ServiceHttp(telemetry=telemetry, ready=self._ready, summary=self._summary)
            await self.http.start(host=s.service.host, port=s.service.port)
            stack.push_async_callback(self.http.stop)
            log.info(
                "pool of %d GPUs, graphs %s; listening on http://%s:%d",
                s.pool.gpus,
                ", ".join(links),
                s.service.host,
                self.http.port,
            )
            self.started.set()
            await self.service.probe()
            emulated = [a.graph for a in self.apps.values() if a.graph is not None]
            async with asyncio.TaskGroup() as tg:
                for graph in emulated:
                    tg.create_task(graph.run(stop))
                if emulated:
                    tg.create_task(_stop_when_all_done(emulated, stop))
                await self.service.run(stop)
                stop.set()
            return RunResult(
                ticks=telemetry.tick_count,
                tick_errors=telemetry.error_count,
                summary={n: a.graph.summary() for n, a in self.apps.items() if a.graph},
                signalled=False,
            )


async def _stop_when_all_done(graphs: list[Any], stop: asyncio.Event) -> None:
    async def all_done() -> None:
        for g in graphs:
            await g.done.wait()

    done = asyncio.create_task(all_done())
    halt = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({done, halt}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (done, halt):
            t.cancel()
    stop.set()
