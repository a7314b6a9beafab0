"""The tick loop's schedule (drift-free grid, failure backoff), the clock mapping, and
the HTTP endpoints' contents."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from planner.clock import ServiceClock
from planner.core.types import Component
from planner.service.app import ServiceApp
from planner.service.loop import PlannerService
from tests.integration.service_helpers import fast_settings, wait_ticks


def _service(**overrides: object) -> PlannerService:
    settings = fast_settings(**overrides)
    clock = ServiceClock(compression=1.0, origin_s=0.0, loop_origin=0.0)
    return PlannerService(
        settings=settings,
        planner=None,  # type: ignore[arg-type]
        source=None,  # type: ignore[arg-type]
        connector=None,  # type: ignore[arg-type]
        telemetry=None,  # type: ignore[arg-type]
        clock=clock,
    )


def test_deadlines_stay_on_the_grid_without_drift() -> None:
    """Late ticks do not shift the schedule: the next deadline is the next grid point."""
    svc = _service(**{"service.time_compression": 1.0})
    assert svc.next_deadline(first=100.0, now=100.0) == 130.0
    assert svc.next_deadline(first=100.0, now=130.7) == 160.0  # tick ran 0.7 s late
    assert svc.next_deadline(first=100.0, now=195.0) == 220.0  # overran two intervals


def test_failures_back_off_exponentially_on_the_grid_and_cap() -> None:
    """After n consecutive failures the next tick waits interval x (2^(n-1) - 1) more."""
    svc = _service(**{"service.time_compression": 1.0, "service.max_backoff_s": 120.0})
    svc.consecutive_failures = 1
    assert svc.next_deadline(first=0.0, now=30.0) == 60.0
    svc.consecutive_failures = 2
    assert svc.next_deadline(first=0.0, now=30.0) == 90.0
    svc.consecutive_failures = 3
    assert svc.next_deadline(first=0.0, now=30.0) == 150.0
    svc.consecutive_failures = 10  # capped at 120 s
    assert svc.next_deadline(first=0.0, now=30.0) == 180.0


def test_compressed_clock_maps_both_ways() -> None:
    """At compression 20 a 60 s interval is 3 s of wall time."""
    clock = ServiceClock(compression=20.0, origin_s=1000.0, loop_origin=50.0)
    assert clock.wall_s(60.0) == 3.0
    assert clock.at(53.0) == 1060.0
    assert clock.loop_time_at(1060.0) == pytest.approx(53.0)


async def test_endpoints_health_ready_metrics_status() -> None:
    """/healthz is always ok; /readyz turns ready after an observation; /metrics has
    the fixed metric names; /status lists decisions newest first with reasons, and no
    cluster capacity for the virtual target."""
    app = ServiceApp(fast_settings(), emulate=True)
    stop = asyncio.Event()
    task = asyncio.create_task(app.run(stop, signals=False))
    await wait_ticks(app, 2)
    assert app.http is not None
    base = f"http://127.0.0.1:{app.http.port}"
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{base}/healthz") as r:
            assert r.status == 200
        async with s.get(f"{base}/readyz") as r:
            assert r.status == 200 and "ready" in await r.text()
        async with s.get(f"{base}/metrics") as r:
            assert r.headers["Content-Type"].startswith("text/plain")
            text = await r.text()
        async with s.get(f"{base}/status?n=1") as r:
            status = json.loads(await r.text())
        async with s.get(f"{base}/status?n=x") as r:
            assert r.status == 400
    stop.set()
    await task
    for name in (
        "sla_planner_ticks_total",
        'sla_planner_desired_replicas{component="prefill"}',
        'sla_planner_current_replicas{component="decode"}',
        'sla_planner_ready_replicas{component="decode"}',
        'sla_planner_decisions_total{component="prefill",reason=',
        "sla_planner_metrics_missing_total",
        "sla_planner_tick_duration_seconds_bucket",
        'sla_planner_correction_factor{phase="prefill"}',
        "sla_planner_prefill_pressure",
        "sla_planner_observed_requests_per_second",
        "sla_planner_observed_ttft_seconds",
        'sla_planner_forecast_requests_per_second{quantity="upper"}',
        "sla_planner_gpu_hours_total",
        "sla_planner_leader 1.0",
    ):
        assert name in text, name
    assert status["ready"] is True and status["metrics_source"] == "emulated"
    assert status["time_compression"] == 60.0
    assert len(status["decisions"]) == 1
    d = status["decisions"][0]
    assert d["tick"] >= 2 and set(d["reasons"]) == {"prefill", "decode"}
    assert d["observed"]["rps"] > 0
    # the emulated graph's virtual target reports no cluster capacity: the budget is
    # the setting's (unset here), shown as such
    assert status["capacity"] is None and d["budget_gpus"] is None
    assert "sla_planner_cluster_capacity_gpus NaN" in text


async def test_not_ready_before_any_successful_observation() -> None:
    """/readyz is 503 while every observation has been missing."""
    app = ServiceApp(
        fast_settings(**{"metrics.source": "prometheus", "metrics.url": "http://127.0.0.1:9"}),
        emulate=True,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(app.run(stop, signals=False))
    await wait_ticks(app, 1)
    assert app.http is not None
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"http://127.0.0.1:{app.http.port}/readyz") as r,
    ):
        assert r.status == 503 and "no successful observation" in await r.text()
    stop.set()
    await task


async def test_first_signal_finishes_the_tick_second_forces_exit() -> None:
    """Signal 1 sets stop (the run returns normally); signal 2 cancels the run."""
    app = ServiceApp(fast_settings(), emulate=True)
    stop = asyncio.Event()
    task = asyncio.create_task(app.run(stop, signals=False))
    await wait_ticks(app, 1)
    app._signal(task, stop, 15)
    result = await task
    assert result.ticks >= 1 and result.signalled
    app2 = ServiceApp(fast_settings(), emulate=True)
    stop2 = asyncio.Event()
    task2 = asyncio.create_task(app2.run(stop2, signals=False))
    await wait_ticks(app2, 1)
    app2.signalled = 1  # as if the first signal had come and the tick were stuck
    app2._signal(task2, stop2, 15)
    with pytest.raises(asyncio.CancelledError):
        await task2


async def test_gpu_count_disagreement_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """Settings of 2 GPUs per prefill worker against the profile's 1: start-up warns that
    the two disagree, the first tick that the cluster (2) does too, and neither is
    repeated on later ticks; the budget counts the emulated cluster's 2."""
    import logging

    caplog.set_level(logging.WARNING)
    app = ServiceApp(fast_settings(**{"prefill.gpus_per_worker": 2}), emulate=True)
    stop = asyncio.Event()
    task = asyncio.create_task(app.run(stop, signals=False))
    await wait_ticks(app, 3)
    stop.set()
    await task
    said = [r.getMessage() for r in caplog.records if "GPUs per worker disagree" in r.getMessage()]
    assert len(said) == len(set(said)) == 2
    assert "(profile 1, settings 2)" in said[0]
    assert "(cluster 2, profile 1, settings 2); the budget and sizing use 2" in said[1]
    assert app.service is not None
    last = app.service.telemetry.recent[-1].decision
    assert last is not None and last.components[Component.PREFILL].gpus_per_worker == 2
