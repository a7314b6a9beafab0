"""With the real Prometheus: a window that straddles an outage of Prometheus itself is
missing ("metrics gap"), not read low, and whole windows after it read the true rate."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiohttp import web

from connectors.prometheus import PrometheusSource
from connectors.promql import interval_queries
from connectors.settings import MetricsSettings
from tests.integration.prometheus_server import PrometheusProcess, free_port

pytestmark = [pytest.mark.prometheus, pytest.mark.slow, pytest.mark.timeout(120)]

RATE_RPS = 20.0
WINDOW_S = 4.0
SCRAPE_S = 0.2


async def _counter_exporter(port: int, *, metric: str) -> web.AppRunner:
    """A frontend whose request counter ``metric`` grows at RATE_RPS from its start."""
    started = time.time()

    async def metrics(_: web.Request) -> web.Response:
        count = RATE_RPS * (time.time() - started)
        body = f'# TYPE {metric} counter\n{metric}{{model="m"}} {count:.3f}\n'
        return web.Response(text=body, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def _wait_for_whole_window(src: PrometheusSource, *, timeout_s: float) -> float:
    """Observe until a window is not missing; returns its rate (req/s)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        obs = await src.observe(window_s=WINDOW_S)
        if not obs.is_missing:
            return obs.request_rate_rps
        await asyncio.sleep(0.3)
    raise AssertionError(f"no whole window within {timeout_s} s")


@pytest.mark.parametrize(
    "counter", ["requests_started_total", "requests_total"], ids=["demand", "fallback"]
)
async def test_outage_window_is_held_not_read_low(tmp_path: Path, counter: str) -> None:
    """For the preset's demand counter and for its completed-requests fallback alike:
    before the outage a whole window reads the true 20 req/s. After Prometheus is
    stopped for 3 s and started again (same storage), windows that reach back into the
    outage are missing with a 'metrics gap' reason while plain increase() over them
    reads below 80% of the truth; no observation after the restart is low, and whole
    windows come back."""
    port = free_port()
    exporter = await _counter_exporter(port, metric=f"dynamo_frontend_{counter}")
    prom = PrometheusProcess(workdir=tmp_path, targets=[f"127.0.0.1:{port}"], scrape_s=SCRAPE_S)
    settings = MetricsSettings(url=prom.url, window_s=WINDOW_S, timeout_s=1.0, retries=0, model="m")
    src = PrometheusSource(settings)
    queries = interval_queries(settings, window_s=WINDOW_S)
    naive_query = (
        queries.requests if counter == "requests_started_total" else queries.requests_fallback
    )
    assert naive_query is not None
    records: list[tuple[bool, str, float, float | None]] = []
    try:
        await asyncio.to_thread(prom.start)
        before = await _wait_for_whole_window(src, timeout_s=30)
        assert before == pytest.approx(RATE_RPS, rel=0.15)
        await asyncio.to_thread(prom.stop)
        await asyncio.sleep(3.0)
        await asyncio.to_thread(prom.start)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            obs = await src.observe(window_s=WINDOW_S)
            naive = await src._scalar(naive_query)
            records.append((obs.is_missing, obs.missing_reason or "", obs.request_rate_rps, naive))
            if not obs.is_missing and len(records) > 3:
                break
            await asyncio.sleep(0.25)
    finally:
        await src.close()
        await asyncio.to_thread(prom.stop)
        await exporter.cleanup()
    gaps = [r for r in records if r[0] and "metrics gap" in r[1]]
    assert gaps, records
    truth = RATE_RPS * WINDOW_S
    assert any(naive is not None and naive < 0.8 * truth for *_, naive in gaps), records
    planned = [rate for missing, _, rate, _ in records if not missing]
    assert planned, f"no whole window after the restart: {records}"
    assert all(rate == pytest.approx(RATE_RPS, rel=0.15) for rate in planned), records
