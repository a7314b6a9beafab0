"""The service against a fake Prometheus (500s, slowness, NaN, no series) and a flaky
connector: it keeps ticking, holds replicas, reports the fault, and recovers."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator

import aiohttp
import pytest

from planner.core.types import Component, Reason
from planner.service.app import ServiceApp
from tests.integration.fake_prometheus import FakePrometheus, dynamo_values
from tests.integration.service_helpers import FlakyConnector, fast_settings, wait_ticks


@pytest.fixture
async def fake() -> AsyncIterator[FakePrometheus]:
    server = FakePrometheus(values=dynamo_values(requests=1500, isl=3000, osl=150))
    await server.start()
    yield server
    await server.stop()


async def _metrics(app: ServiceApp) -> str:
    assert app.http is not None
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"http://127.0.0.1:{app.http.port}/metrics") as r,
    ):
        return await r.text()


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


@pytest.mark.parametrize("mode", ["http500", "slow", "nan", "empty"])
async def test_prometheus_fault_holds_replicas_and_recovers(
    fake: FakePrometheus, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """During the fault every tick holds (held_no_data), is counted missing in /metrics,
    and is logged; once Prometheus answers again the planner scales from the data."""
    caplog.set_level(logging.INFO, logger="sla_planner.tick")
    settings = fast_settings(**{"metrics.source": "prometheus", "metrics.url": fake.url})
    app = ServiceApp(settings, emulate=True)
    stop = asyncio.Event()
    fake.mode = mode
    fake.delay_s = 1.0
    task = asyncio.create_task(app.run(stop, signals=False))
    await wait_ticks(app, 3)
    assert app.service is not None
    held = [r for r in app.service.telemetry.recent if r.decision is not None]
    assert held and all(r.observation is not None and r.observation.is_missing for r in held)
    for rec in held:
        assert rec.decision is not None
        for cd in rec.decision.components.values():
            assert cd.primary_reason == Reason.HELD_NO_DATA and cd.target == cd.current == 1
    text = await _metrics(app)
    assert _sample(text, "sla_planner_metrics_missing_total") >= 3
    assert math.isnan(_sample(text, "sla_planner_observed_requests_per_second"))
    assert "observed=missing" in caplog.text
    # recovery: 50 req/s of 3000 tokens (150k tok/s) needs several prefill workers
    fake.mode = "ok"
    n = app.service.telemetry.tick_count
    await wait_ticks(app, n + 2)
    stop.set()
    await task
    last = app.service.telemetry.recent[-1]
    assert last.observation is not None and not last.observation.is_missing
    assert last.decision is not None and last.decision.targets[Component.PREFILL] > 1


async def test_failed_apply_fails_the_tick_and_is_reapplied_whole(fake: FakePrometheus) -> None:
    """An apply that fails fails the tick (counted as a connector error; the service
    does not retry around the connector, which retries its own requests) and leaves the
    graph untouched; the next tick re-applies the same decision whole."""
    settings = fast_settings(**{"metrics.source": "prometheus", "metrics.url": fake.url})
    flaky: list[FlakyConnector] = []

    def wrap(inner):  # type: ignore[no-untyped-def]
        f = FlakyConnector(inner)
        f.fail_apply = 1  # the first apply fails
        flaky.append(f)
        return f

    app = ServiceApp(settings, emulate=True, wrap_connector=wrap)
    stop = asyncio.Event()
    task = asyncio.create_task(app.run(stop, signals=False))
    await wait_ticks(app, 1)
    assert app.service is not None and app.graph is not None
    first = app.service.telemetry.recent[0]
    assert first.error_kind == "connector" and first.applied is False
    assert app.service.pending is not None
    wanted = app.service.pending.targets
    # nothing half-written: the graph still has its initial replicas on every component
    assert app.graph.cluster.snapshot().desired_replicas == {
        Component.PREFILL: 1,
        Component.DECODE: 1,
    }
    await wait_ticks(app, 2)
    text = await _metrics(app)
    stop.set()
    await task
    assert app.service.pending is None
    assert flaky[0].apply_calls[1] == wanted  # the re-apply is the same whole decision
    # the graph holds the re-applied decision, or a later one the ticks applied whole
    expected = dict(wanted)
    for rec in list(app.service.telemetry.recent)[1:]:
        if rec.applied and rec.decision is not None:
            expected = rec.decision.targets
    await app.graph.sync()
    assert app.graph.cluster.snapshot().desired_replicas == expected
    assert _sample(text, 'sla_planner_connector_errors_total{kind="error"}') == 1


async def test_read_failure_is_a_counted_tick_error_and_not_fatal(fake: FakePrometheus) -> None:
    """A connector read that fails fails that tick only (one call: the service does not
    retry around the connector); ticking goes on."""
    settings = fast_settings(**{"metrics.source": "prometheus", "metrics.url": fake.url})
    holder: list[FlakyConnector] = []

    def wrap(inner):  # type: ignore[no-untyped-def]
        f = FlakyConnector(inner)
        f.fail_read = 1  # the first tick's read
        holder.append(f)
        return f

    app = ServiceApp(settings, emulate=True, wrap_connector=wrap)
    stop = asyncio.Event()
    task = asyncio.create_task(app.run(stop, signals=False))
    # the failed first tick pushes the second one interval later (backoff), so 3 ticks
    await wait_ticks(app, 2, timeout_s=30)
    stop.set()
    await task
    assert app.service is not None
    recs = list(app.service.telemetry.recent)
    assert recs[0].error_kind == "connector" and recs[0].decision is None
    assert recs[1].ok and recs[1].decision is not None
    assert app.service.telemetry.tick_errors.labels(kind="connector")._value.get() == 1


async def test_advisory_publishes_but_never_writes(fake: FakePrometheus) -> None:
    """--advisory: desired replicas go to /metrics; the graph keeps its replicas."""
    settings = fast_settings(
        **{"metrics.source": "prometheus", "metrics.url": fake.url, "service.advisory": True}
    )
    app = ServiceApp(settings, emulate=True)
    stop = asyncio.Event()
    task = asyncio.create_task(app.run(stop, signals=False))
    await wait_ticks(app, 2)
    text = await _metrics(app)
    stop.set()
    await task
    assert _sample(text, 'sla_planner_desired_replicas{component="prefill"}') > 1
    assert _sample(text, 'sla_planner_current_replicas{component="prefill"}') == 1
    assert _sample(text, "sla_planner_advisory") == 1
    assert app.graph is not None
    assert app.graph.cluster.snapshot().desired_replicas[Component.PREFILL] == 1


async def test_warm_start_feeds_history_to_the_forecaster(fake: FakePrometheus) -> None:
    """metrics.warm_start_s reads query_range history before the first tick, so the
    first forecast already reflects it; without a connector write (advisory) or graph."""
    fake.range_constant = {"dynamo_frontend_requests_total": 300.0}
    settings = fast_settings(
        **{
            "metrics.source": "prometheus",
            "metrics.url": fake.url,
            "metrics.warm_start_s": 120.0,
            "service.time_compression": 1.0,
            "service.advisory": True,
            "connector.virtual.directory": "/nonexistent-warm-start-test",
        }
    )
    app = ServiceApp(settings, emulate=False)
    stop = asyncio.Event()
    task = asyncio.create_task(app.run(stop, signals=False))
    await app.started.wait()
    await asyncio.sleep(0.3)
    stop.set()
    await task
    assert app.warm_points == 5
    assert any("[30000ms]" in q for q in fake.queries)
    assert app.service is not None
    first = app.service.planner.forecaster.forecast(horizon_s=30.0)
    assert first.request_rate_rps.point == pytest.approx(10.0)  # 300 per 30 s step


class _SlowReadOnce:
    """Wraps a connector; its ``at_read``-th read takes ``delay_s`` more wall time."""

    def __init__(self, inner, *, at_read: int, delay_s: float) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.reads = 0
        self.at_read = at_read
        self.delay_s = delay_s

    async def read(self):  # type: ignore[no-untyped-def]
        self.reads += 1
        if self.reads == self.at_read:
            await asyncio.sleep(self.delay_s)
        return await self.inner.read()

    async def apply(self, targets, *, decision_id):  # type: ignore[no-untyped-def]
        return await self.inner.apply(targets, decision_id=decision_id)

    async def close(self) -> None:
        await self.inner.close()


async def test_overrunning_tick_skips_grid_points_and_counts_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A tick that takes 1.2 s of a 0.5-s interval (a read that hangs) skips the grid
    points it overran (two; three if the loaded machine wakes the loop 0.3 s late): the
    loop does not make them up, logs one warning naming the count, and /metrics counts
    exactly that many in sla_planner_ticks_skipped_total; ticks on time skip none."""
    caplog.set_level(logging.WARNING, logger="sla_planner.tick")
    settings = fast_settings()
    slow: list[_SlowReadOnce] = []

    def wrap(inner):  # type: ignore[no-untyped-def]
        slow.append(_SlowReadOnce(inner, at_read=2, delay_s=1.2))
        return slow[0]

    app = ServiceApp(settings, emulate=True, wrap_connector=wrap)
    stop = asyncio.Event()
    task = asyncio.create_task(app.run(stop, signals=False))
    await wait_ticks(app, 4)
    assert app.service is not None
    text = await _metrics(app)
    stop.set()
    await task
    counted = _sample(text, "sla_planner_ticks_skipped_total")
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 1, skipped
    assert counted in (2, 3) and f"{counted:.0f} tick(s) of 0.50 s skipped" in skipped[0]


async def test_status_says_when_demand_falls_back_to_completed_requests(
    fake: FakePrometheus,
) -> None:
    """A frontend without the started counter: the service reads demand from the
    completed one, and GET /status says which counter it reads, that it is the fallback
    and why that under-reads under backpressure."""
    fake.values["dynamo_frontend_requests_started_total"] = None
    settings = fast_settings(**{"metrics.source": "prometheus", "metrics.url": fake.url})
    app = ServiceApp(settings, emulate=True)
    stop = asyncio.Event()
    task = asyncio.create_task(app.run(stop, signals=False))
    await wait_ticks(app, 1)
    assert app.http is not None
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"http://127.0.0.1:{app.http.port}/status") as r,
    ):
        body = await r.json()
    stop.set()
    await task
    demand = body["demand"]
    assert demand["counter"] == "dynamo_frontend_requests_total" and demand["fallback"]
    assert "backpressure" in demand["note"]
    assert body["decisions"][0]["observed"]["rps"] == 1500 / settings.interval_s
