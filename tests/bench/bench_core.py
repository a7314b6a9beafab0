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
    tracemalloc.start()
    PerfModel(profile)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out["perf_model_build_peak_mib"] = peak / 2**20
    return out
