"""Cost of the pure decision core per tick, once the profile is loaded."""

from __future__ import annotations

import statistics
import time
import tracemalloc
from typing import Any

from planner.core.config import PolicyConfig
from planner.core.pipeline import PlannerState, plan
from planner.core.types import Component, Forecast, Observation, Quantity
from planner.perf.model import PerfModel
from planner.perf.profile import DEFAULT_PROFILE_DIR, load_profile
from planner.settings import load_settings

P, D = Component.PREFILL, Component.DECODE


def _time_per_call_us(fn: Any, *, repeats: int = 7, number: int = 400) -> dict[str, float]:
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number * 1e6)
    return {"median_us": statistics.median(samples), "min_us": min(samples)}


def _tick_sequence_ms(perf: PerfModel, *, policy: str, ticks: int = 1440) -> dict[str, float]:
    """Each plan() of a day of 60 s ticks timed alone, the state carried from tick to tick
    (its histories and fits grow as a running planner's do), under a load that swings
    from 10 to 150 req/s and back every two hours: the per-tick decision time's tail."""
    import math

    cfg = PolicyConfig(
        settings=load_settings(overrides={"policy": policy, "budget.max_gpus": 64}), perf=perf
    )
    state = PlannerState()
    current = {P: 2, D: 2}
    samples = []
    for i in range(ticks):
        rate = 80.0 + 70.0 * math.sin(2 * math.pi * i / 120)
        buckets = ((0.25, 0.97 * rate * 60), (0.5, 0.995 * rate * 60), (math.inf, rate * 60))
        obs = Observation(
            window_s=60,
            requests=rate * 60,
            isl_tokens=3000,
            osl_tokens=150,
            ttft_s=0.09,
            itl_s=0.02,
            request_duration_s=3.2,
            current_replicas=current,
            ready_replicas=current,
            ttft_buckets=buckets,
            itl_buckets=((0.05, rate * 60), (math.inf, rate * 60)),
        )
        forecast = Forecast(
            horizon_s=240,
            request_rate_rps=Quantity(rate, rate * 1.2),
            isl_tokens=Quantity.exact(3000),
            osl_tokens=Quantity.exact(150),
        )
        t0 = time.perf_counter()
        decision, state = plan(obs, forecast, state, cfg, now=60.0 * i)
        samples.append((time.perf_counter() - t0) * 1e3)
        current = dict(decision.targets)
    samples.sort()
    return {
        "ticks": ticks,
        "p50_ms": samples[len(samples) // 2],
        "p99_ms": samples[int(0.99 * (len(samples) - 1))],
        "max_ms": samples[-1],
    }


def run() -> dict[str, Any]:
    t0 = time.perf_counter()
    profile = load_profile(DEFAULT_PROFILE_DIR)
    perf = PerfModel(profile)
    load_s = time.perf_counter() - t0
    out: dict[str, Any] = {"profile_load_and_interpolate_s": load_s}
    forecast = Forecast(
        horizon_s=240,
        request_rate_rps=Quantity(80.0, 95.0),
        isl_tokens=Quantity.exact(3000),
        osl_tokens=Quantity.exact(150),
    )
    obs = Observation(
        window_s=60,
        requests=4800,
        isl_tokens=3000,
        osl_tokens=150,
        ttft_s=0.09,
        itl_s=0.02,
        request_duration_s=3.2,
        current_replicas={P: 6, D: 2},
        ready_replicas={P: 6, D: 2},
    )
    for policy in ("sla", "dynamo"):
        cfg = PolicyConfig(
            settings=load_settings(overrides={"policy": policy, "budget.max_gpus": 16}), perf=perf
        )
        state = PlannerState()
        # warm the stabilisation history like a running planner
        for i in range(10):
            _, state = plan(obs, forecast, state, cfg, now=60.0 * i)
        out[f"plan_{policy}"] = _time_per_call_us(
            lambda cfg=cfg, state=state: plan(obs, forecast, state, cfg, now=600.0)
        )
    for policy in ("sla", "dynamo"):
        out[f"tick_{policy}"] = _tick_sequence_ms(perf, policy=policy)
    tracemalloc.start()
    PerfModel(profile)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out["perf_model_build_peak_mib"] = peak / 2**20
    return out
