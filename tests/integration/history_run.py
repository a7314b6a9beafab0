"""One recorded run for the history path: the emulated graph under the planner, both
scraped by the real Prometheus (frontend metrics and the planner's own gauges), with
what the emulator billed and the map from Prometheus (wall) time to planner time.
Shared by tests/integration/test_history_replay.py and scripts/history_demo.py."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from planner.emulator.graph import EmulatedGraph
from planner.service.app import ServiceApp
from planner.settings import PlannerSettings
from tests.integration.prometheus_server import PrometheusProcess, ScrapeJob, free_port
from tests.integration.service_helpers import fast_settings

COMPRESSION = 40.0  # a 60-s interval is 1.5 s of wall time
INTERVAL_S = 60.0
STARTUP_S = 60.0
SCRAPE_S = 0.1  # 4 planner seconds
#: (start s, end s, requests/s) of 3000-token prompts with 150-token answers
PHASES = ((0.0, 360.0, 4.0), (360.0, 960.0, 20.0), (960.0, 1500.0, 4.0))


def write_trace(path: Path, *, seed: int = 0) -> None:
    """An Azure-format CSV of the phases (Poisson arrivals)."""
    rng = np.random.default_rng(seed)
    times: list[float] = []
    for start, end, rps in PHASES:
        n = rng.poisson(rps * (end - start))
        times += list(rng.uniform(start, end, n))
    times.sort()
    t0 = np.datetime64("2024-06-03T09:00:00.000000")
    lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    for t in times:
        stamp = str(t0 + np.timedelta64(int(t * 1e6), "us")).replace("T", " ")
        lines.append(f"{stamp},3000,150")
    path.write_text("\n".join(lines) + "\n")


@dataclass
class RecordedRun:
    prometheus: PrometheusProcess
    settings: PlannerSettings
    graph: EmulatedGraph
    #: wall (Prometheus) time at planner time 0
    wall_at_zero_s: float

    def planner_s(self, wall_s: float) -> float:
        return (wall_s - self.wall_at_zero_s) * COMPRESSION

    def billed_gpu_hours(self, *, start_s: float, end_s: float) -> float:
        """GPU-hours the emulated fleet billed in [start_s, end_s] (planner seconds):
        every worker from its request to its release, as the simulator bills."""
        total = 0.0
        for w in self.graph.cluster.fleet.workers:
            released = w.released_s if w.released_s is not None else end_s
            overlap = min(released, end_s) - max(w.requested_s, start_s)
            total += max(0.0, overlap) * w.gpus
        return total / 3600.0


async def record_run(workdir: Path) -> RecordedRun:
    """Run the phases under the planner (sla policy) with Prometheus scraping; returns
    with Prometheus still running (the caller stops it)."""
    trace = workdir / "trace.csv"
    write_trace(trace)
    emulator_port, service_port = free_port(), free_port()
    prom = PrometheusProcess(
        workdir=workdir,
        scrape_s=SCRAPE_S,
        jobs=[
            ScrapeJob("frontend", {f"127.0.0.1:{emulator_port}": {}}),
            ScrapeJob("sla-planner", {f"127.0.0.1:{service_port}": {}}),
        ],
    )
    settings = fast_settings(
        **{
            "interval_s": INTERVAL_S,
            "startup_s": STARTUP_S,
            "metrics.source": "prometheus",
            "metrics.url": prom.url,
            "metrics.window_s": INTERVAL_S,
            "metrics.timeout_s": 1.0,
            "service.port": service_port,
            "service.time_compression": COMPRESSION,
            "emulator.port": emulator_port,
            "emulator.trace": str(trace),
            "stabilization.scale_down_window_s": 120.0,
        }
    )
    await asyncio.to_thread(prom.start)
    await asyncio.sleep(2.0)  # Prometheus applies its scrape targets a moment after start
    app = ServiceApp(settings, emulate=True)
    try:
        task = asyncio.create_task(app.run(asyncio.Event(), signals=False))
        await app.started.wait()
        assert app.service is not None and app.graph is not None
        clock = app.service.clock
        wall_at_zero = time.time() - clock.now_s() / COMPRESSION
        await asyncio.wait_for(task, timeout=90)
    except BaseException:
        await asyncio.to_thread(prom.stop)
        raise
    await asyncio.sleep(3 * SCRAPE_S)  # the last scrapes land
    return RecordedRun(
        prometheus=prom, settings=settings, graph=app.graph, wall_at_zero_s=wall_at_zero
    )
