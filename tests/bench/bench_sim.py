"""Simulator speed and memory: simulated requests per wall-clock second on one core, peak
RSS, and the wall time to simulate the Azure conversation trace (x30) under all five
policies (static at a fixed fleet; the static99 search is timed separately)."""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any

from planner.core.types import Component
from planner.perf.model import PerfModel
from planner.perf.profile import DEFAULT_PROFILE_DIR, load_profile
from planner.settings import load_settings
from planner.sim.controllers import StaticController
from planner.sim.experiment import Experiment
from planner.workload.readers import read_request_trace

TRACE = Path(__file__).resolve().parents[3] / "shared/data/traces/azure_llm_2023_conv.csv"
RATE_SCALE = 30.0


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run() -> dict[str, Any]:
    if not TRACE.exists():
        return {"skipped": f"trace not found at {TRACE}"}
    perf = PerfModel(load_profile(DEFAULT_PROFILE_DIR))
    trace = read_request_trace(TRACE, rate_scale=RATE_SCALE, seed=0)
    exp = Experiment(trace, load_settings(), perf, perf)
    rss0 = _rss_mib()
    fleet = {Component.PREFILL: 12, Component.DECODE: 3}
    t0 = time.perf_counter()
    exp.run(StaticController(fleet), initial=fleet)
    one = time.perf_counter() - t0
    rss1 = _rss_mib()
    t0 = time.perf_counter()
    exp.compare(static_fleet=fleet)
    five = time.perf_counter() - t0
    return {
        "trace": f"{TRACE.name} x{RATE_SCALE:g}",
        "requests": len(trace),
        "one_run_wall_s": round(one, 3),
        "simulated_requests_per_s": round(len(trace) / one),
        "five_policies_wall_s": round(five, 3),
        "peak_rss_mib": round(rss1, 1),
        "rss_growth_one_run_mib": round(rss1 - rss0, 1),
    }
