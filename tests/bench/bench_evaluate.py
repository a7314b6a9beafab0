"""What the evaluation's speed-ups buy, measured: the static99 search on the Azure
conversation trace x30 (candidates simulated, how many stopped early by the miss budget,
wall time), and all five policies (static99 searched, oracle included) one by one in
this process against in a pool of processes (``jobs``). The results of both are the
same by construction (tests/integration/test_sim_policies.py checks it); this records
the time."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from planner.perf.model import PerfModel
from planner.perf.profile import DEFAULT_PROFILE_DIR, load_profile
from planner.settings import load_settings
from planner.sim.experiment import Experiment
from planner.sim.parallel import default_jobs
from planner.workload.readers import read_request_trace

TRACE = Path(__file__).resolve().parents[3] / "shared/data/traces/azure_llm_2023_conv.csv"
RATE_SCALE = 30.0


def _experiment(perf: PerfModel) -> Experiment:
    trace = read_request_trace(TRACE, rate_scale=RATE_SCALE, seed=0)
    settings = load_settings(overrides={"interval_s": 60, "startup_s": 180})
    exp = Experiment(trace, settings, perf, perf)
    exp.initial_fleet()
    return exp


def run() -> dict[str, Any]:
    if not TRACE.exists():
        return {"skipped": f"trace not found at {TRACE}"}
    perf = PerfModel(load_profile(DEFAULT_PROFILE_DIR))
    exp = _experiment(perf)
    t0 = time.perf_counter()
    found = exp.static99()
    search_s = time.perf_counter() - t0
    stopped = [t for t in found.tried if t["stopped_at_s"] is not None]
    out: dict[str, Any] = {
        "trace": f"{TRACE.name} x{RATE_SCALE:g}",
        "requests": len(exp.trace),
        "static99_fleet": {c.value: n for c, n in found.fleet.items()},
        "static99_candidates": len(found.tried),
        "static99_stopped_early": len(stopped),
        "static99_search_wall_s": round(search_s, 2),
    }
    t0 = time.perf_counter()
    _experiment(perf).compare(jobs=1)
    out["five_policies_jobs1_wall_s"] = round(time.perf_counter() - t0, 2)
    jobs = min(5, default_jobs())
    t0 = time.perf_counter()
    _experiment(perf).compare(jobs=jobs)
    out[f"five_policies_jobs{jobs}_wall_s"] = round(time.perf_counter() - t0, 2)
    out["jobs"] = jobs
    return out
