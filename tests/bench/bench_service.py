"""Service overhead: wall time of one tick (loop, planner step with the constant
forecaster so no refits, virtual connector, telemetry, log line) with a metrics source
that costs nothing; Prometheus observe latency against a loopback fake; and the RSS of
the running embedded-default service."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from connectors.prometheus import PrometheusSource
from connectors.virtual.connector import VirtualConnector
from connectors.virtual.environment import VirtualTarget
from planner.clock import ServiceClock
from planner.core.types import Component, LoadPoint, Observation
from planner.emulator.memory_transport import MemoryChannel
from planner.planner import Planner
from planner.service.loop import PlannerService
from planner.service.telemetry import Telemetry
from planner.settings import MetricsSettings, load_settings
from tests.integration.fake_prometheus import FakePrometheus, dynamo_values

REPO = Path(__file__).resolve().parents[2]
TICKS = 400


class _CyclingSource:
    """Observations alternating between two load levels, so decisions change."""

    def __init__(self) -> None:
        self.n = 0

    async def observe(self, *, window_s: float) -> Observation:
        self.n += 1
        requests = 600.0 if (self.n // 10) % 2 else 3000.0
        return Observation(
            window_s=window_s,
            requests=requests,
            isl_tokens=2000.0,
            osl_tokens=200.0,
            ttft_s=0.2,
            itl_s=0.02,
            request_duration_s=4.0,
        )

    async def history(self, *, start_s: float, end_s: float, step_s: float) -> list[LoadPoint]:
        return []

    async def close(self) -> None:
        return None


def _pct(values: list[float]) -> dict[str, float]:
    a = np.array(values) * 1000.0
    return {
        "mean_ms": round(float(a.mean()), 4),
        "p50_ms": round(float(np.percentile(a, 50)), 4),
        "p95_ms": round(float(np.percentile(a, 95)), 4),
        "max_ms": round(float(a.max()), 4),
    }


async def _ticks() -> dict[str, Any]:
    logging.getLogger("sla_planner.tick").setLevel(logging.WARNING)
    settings = load_settings(overrides={"interval_s": 60.0})
    channel = MemoryChannel()
    env = VirtualTarget(channel)
    await env.report(decision_id=None, replicas={Component.PREFILL: 1, Component.DECODE: 1})
    clock = ServiceClock.start()
    svc = PlannerService(
        settings=settings,
        planner=Planner(settings),
        source=_CyclingSource(),
        connector=VirtualConnector(channel, clock=clock.now_s),
        telemetry=Telemetry(),
        clock=clock,
    )
    durations = []
    for _ in range(TICKS):
        rec = await svc.tick()
        durations.append(rec.duration_s)
        if channel.target is not None:  # the environment acts at once
            t = channel.target.targets
            await env.report(decision_id=channel.target.decision_id, replicas=t)
    return {"ticks": TICKS, **_pct(durations[10:])}


async def _prometheus_observe() -> dict[str, Any]:
    fake = FakePrometheus(values=dynamo_values(requests=100))
    await fake.start()
    src = PrometheusSource(MetricsSettings(url=fake.url))
    durations = []
    try:
        for _ in range(100):
            t0 = time.perf_counter()
            obs = await src.observe(window_s=60)
            durations.append(time.perf_counter() - t0)
            assert not obs.is_missing
    finally:
        await src.close()
        await fake.stop()
    return {"queries_per_observe": 11, **_pct(durations[5:])}


_RSS_SCRIPT = """
import asyncio, json, logging, resource
from planner.service.app import ServiceApp
from planner.settings import load_settings
logging.disable(logging.INFO)
s = load_settings(overrides={"service.port": 0, "service.max_ticks": 30,
    "service.time_compression": 120.0, "emulator.rate_scale": 4.0})
app = ServiceApp(s)
r = asyncio.run(app.run(signals=False))
rss = [l for l in open("/proc/self/status") if l.startswith(("VmRSS", "VmHWM"))]
print(json.dumps({"ticks": r.ticks, **{l.split(":")[0]: int(l.split()[1]) for l in rss}}))
"""


def _rss() -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT], cwd=REPO, capture_output=True, text=True, check=True
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "ticks": data["ticks"],
        "rss_mib": round(data["VmRSS"] / 1024, 1),
        "peak_rss_mib": round(data["VmHWM"] / 1024, 1),
        "note": "embedded default (emulated graph in the same process), 30 ticks at 4x rate",
    }


def run() -> dict[str, Any]:
    return {
        "tick_overhead": asyncio.run(_ticks()),
        "prometheus_observe_loopback": asyncio.run(_prometheus_observe()),
        "service_memory": _rss(),
    }
