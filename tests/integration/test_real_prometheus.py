"""End to end with the real Prometheus: it scrapes the emulated graph, the planner
queries it (means and the TTFT histogram), scales up through the virtual connector
when load rises, holds while Prometheus is down, recovers when it is back, and scales
down to the minimum when the load stops (the idle case: zero requests is not missing
data). Under backpressure the demand counter reads the offered load where the completed
counter does not."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np
import pytest

from planner.core.types import Component, Reason
from planner.service.app import ServiceApp
from planner.settings import MetricsSettings
from tests.integration.prometheus_server import PrometheusProcess, free_port
from tests.integration.service_helpers import fast_settings, until

pytestmark = [pytest.mark.prometheus, pytest.mark.slow, pytest.mark.timeout(180)]

COMPRESSION = 40.0  # 30 s interval = 0.75 s wall; 60 s query window = 1.5 s wall
# Prometheus applies new scrape targets up to ~5 s (wall) after it starts, so each
# (re)start is followed by a few "no series" ticks; the phases leave room for that.
LOAD_START_S, LOAD_END_S, LAST_S = 60.0, 900.0, 1500.0


def _write_trace(path: Path) -> None:
    """Azure-format CSV: 3 req/s, then 60 req/s of 3000-token prompts, then nothing
    until one last request (which keeps the trace, and so the run, going)."""
    rng = np.random.default_rng(0)
    times = list(np.arange(0.0, LOAD_START_S, 1 / 3))
    n_load = int(60 * (LOAD_END_S - LOAD_START_S))
    times += list(np.sort(rng.uniform(LOAD_START_S, LOAD_END_S, n_load)))
    times.append(LAST_S)
    t0 = np.datetime64("2023-11-16T18:00:00.000000")
    lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    for t in times:
        stamp = str(t0 + np.timedelta64(int(t * 1e6), "us")).replace("T", " ")
        lines.append(f"{stamp},3000,150")
    path.write_text("\n".join(lines) + "\n")


async def test_scale_up_outage_recovery_and_scale_down_to_minimum(tmp_path: Path) -> None:
    """Scale-up happens through the virtual connector; a Prometheus outage holds
    replicas; after it, data flows again; idle ends at min replicas (reason idle)."""
    trace = tmp_path / "trace.csv"
    _write_trace(trace)
    emulator_port = free_port()
    prom = PrometheusProcess(
        workdir=tmp_path, targets=[f"127.0.0.1:{emulator_port}"], scrape_s=0.25
    )
    settings = fast_settings(
        **{
            "metrics.source": "prometheus",
            "metrics.url": prom.url,
            "metrics.window_s": 60.0,
            "metrics.timeout_s": 0.5,
            "service.time_compression": COMPRESSION,
            "emulator.port": emulator_port,
            "emulator.trace": str(trace),
            "stabilization.scale_down_window_s": 60.0,
            # the idle phase lasts a few compressed minutes: keep burst memory from
            # stretching the window past it (its own tests cover the stretching)
            "sla.max_scale_down_window_s": 60.0,
        }
    )
    app = ServiceApp(settings, emulate=True)
    stop = asyncio.Event()
    await asyncio.to_thread(prom.start)
    try:
        task = asyncio.create_task(app.run(stop, signals=False))
        await app.started.wait()
        assert app.service is not None and app.graph is not None
        # load phase: wait until the graph was scaled up through the virtual connector
        graph = app.graph
        await until(
            lambda: graph.cluster.snapshot().desired_replicas.get(Component.PREFILL, 1) >= 3,
            timeout_s=60,
        )
        # outage: stop Prometheus for about four intervals
        await asyncio.to_thread(prom.stop)
        before = app.service.telemetry.tick_count
        await asyncio.sleep(4 * 0.75)
        outage = [r for r in app.service.telemetry.recent if r.index > before]
        await asyncio.to_thread(prom.start)
        # idle phase, then the end of the trace stops the run
        await asyncio.wait_for(task, timeout=90)
    finally:
        stop.set()
        await asyncio.to_thread(prom.stop)
    recs = list(app.service.telemetry.recent)
    assert app.graph.summary().max_replicas["prefill"] >= 3
    missing = [r for r in outage if r.observation is not None and r.observation.is_missing]
    assert len(missing) >= 2, [r.observation for r in outage]
    for r in missing:
        assert r.decision is not None
        assert all(cd.target == cd.current for cd in r.decision.components.values())
        assert r.decision.components[Component.PREFILL].reasons[0] == Reason.HELD_NO_DATA
    after = [r for r in recs if r.index > max(m.index for m in missing) + 2]
    assert any(r.observation is not None and r.observation.requests > 0 for r in after)
    # the TTFT histogram (attainment feedback) comes through the real Prometheus too
    hists = [r.observation.ttft_buckets for r in after if r.observation and r.observation.requests]
    assert hists and all(h and math.isinf(h[-1][0]) and h[-1][1] > 0 for h in hists), hists
    idle = [r for r in recs if r.observation is not None and r.observation.is_idle]
    assert len(idle) >= 5, "the idle phase must be seen as idle, not missing"
    final = recs[-1]
    assert final.decision is not None
    tail = []
    for r in recs[-8:]:
        d = r.decision
        rate = d.forecast.request_rate_rps if d is not None and d.forecast else None
        req = r.observation.requests if r.observation is not None else None
        tail.append(f"tick {r.index}: requests={req} rate={rate} {d.reasons() if d else ''}")
    assert final.decision.targets == {Component.PREFILL: 1, Component.DECODE: 1}, "\n".join(tail)
    snap = app.graph.cluster.snapshot()
    assert snap.desired_replicas == {Component.PREFILL: 1, Component.DECODE: 1}
    assert app.service.telemetry.missing._value.get() >= len(missing)


async def test_started_counter_reads_the_offered_load_under_backpressure(
    tmp_path: Path,
) -> None:
    """An emulated graph held at one prefill worker while 25 req/s of 3000-token prompts
    arrive, scraped by the real Prometheus: the default demand counter (requests
    started) reads the arrivals of the window, the completed counter far fewer; a
    frontend without the started counter is read from the completed one, and the
    source's status says it fell back. The ITL/ISL/OSL histograms come through too."""
    from connectors.prometheus import PrometheusSource
    from connectors.virtual.environment import VirtualTarget
    from planner.clock import ServiceClock
    from planner.emulator.build import build_graph
    from planner.emulator.memory_transport import MemoryChannel
    from planner.emulator.server import serve_metrics
    from planner.settings import load_settings
    from planner.workload.synthetic import synthetic_trace

    compression = 40.0
    settings = load_settings(overrides={"interval_s": 60.0})
    trace = synthetic_trace("constant", duration_s=900, base_rps=25, isl_tokens=3000, seed=5)
    clock = ServiceClock.start(compression=compression)
    graph = build_graph(settings, clock=clock, target=VirtualTarget(MemoryChannel()), trace=trace)
    runner, port = await serve_metrics(graph, host="127.0.0.1", port=0)
    prom = PrometheusProcess(workdir=tmp_path, targets=[f"127.0.0.1:{port}"], scrape_s=0.25)
    stop = asyncio.Event()
    base = {"source": "prometheus", "url": prom.url, "timeout_s": 2.0}
    started = PrometheusSource(MetricsSettings(**base), time_compression=compression)
    completed = PrometheusSource(
        MetricsSettings(**base, requests="dynamo_frontend_requests_total", requests_fallback=""),
        time_compression=compression,
    )
    old_frontend = PrometheusSource(
        MetricsSettings(**base, requests="dynamo_frontend_requests_accepted_total"),
        time_compression=compression,
    )
    await asyncio.to_thread(prom.start)
    task = asyncio.create_task(graph.run(stop))
    try:
        await until(lambda: clock.now_s() > 500.0, timeout_s=60)
        a = await started.observe(window_s=120.0)
        b = await completed.observe(window_s=120.0)
        c = await old_frontend.observe(window_s=120.0)
    finally:
        stop.set()
        await task
        await runner.cleanup()
        for src in (started, completed, old_frontend):
            await src.close()
        await asyncio.to_thread(prom.stop)
    offered = 25.0
    assert not a.is_missing and 0.85 * offered < a.request_rate_rps < 1.15 * offered, a
    # the frontend's ITL, ISL and OSL histograms reach the planner bucket by bucket
    for hist in (a.itl_buckets, a.isl_buckets, a.osl_buckets):
        assert hist is not None and hist[-1][1] > 0, a
    assert a.isl_buckets is not None and a.isl_buckets[0][1] < a.isl_buckets[-1][1]
    assert not b.is_missing and b.request_rate_rps < 0.7 * a.request_rate_rps, (a, b)
    assert started.status()["demand"] == {
        "counter": "dynamo_frontend_requests_started_total",
        "fallback": False,
    }
    assert not c.is_missing and c.request_rate_rps < 0.7 * a.request_rate_rps
    assert old_frontend.status()["demand"]["counter"] == "dynamo_frontend_requests_total"
    assert old_frontend.status()["demand"]["fallback"] is True
