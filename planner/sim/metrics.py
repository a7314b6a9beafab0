"""Scoring a simulation: SLA attainment, latency percentiles, goodput, GPU-hours, churn.

Definitions: a request's TTFT = first token - arrival; its ITL = its mean inter-token
gap (finish - first token) / (OSL - 1); a request with OSL = 1 has no gap and meets the
ITL target. TTFT attainment = share of requests with TTFT <= target; ITL attainment =
share with ITL <= target; SLA attainment = share meeting both. A request that never
finished counts as missing both. Goodput = requests meeting both per second of span.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from planner.core.types import Component
from planner.sim.runner import SimRun

FloatArray = NDArray[np.float64]


def request_latencies(outcomes: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    """Per-request TTFT (s) and mean ITL (s; 0 for OSL = 1, NaN if unfinished)."""
    ttft = outcomes["first_token_s"] - outcomes["arrival_s"]
    gaps = outcomes["osl"] - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        itl = np.where(gaps > 0, (outcomes["finish_s"] - outcomes["first_token_s"]) / gaps, 0.0)
    itl = np.where(np.isnan(outcomes["finish_s"]), np.nan, itl)
    return ttft, itl


def _pct(x: FloatArray, q: float) -> float | None:
    x = x[np.isfinite(x)]
    return float(np.percentile(x, q)) if x.size else None


def scale_churn(run: SimRun) -> tuple[dict[str, int], dict[str, int]]:
    """Scale events (target changes) and direction reversals, per component."""
    events: dict[str, int] = {}
    reversals: dict[str, int] = {}
    comps = {c for r in run.records for c in r.targets}
    for c in sorted(comps):
        last_dir = 0
        ev = rev = 0
        for r in run.records:
            if c not in r.targets:
                continue
            cur = r.desired.get(c, 0)
            new = r.targets[c]
            if new != cur:
                ev += 1
                d = 1 if new > cur else -1
                if last_dir and d != last_dir:
                    rev += 1
                last_dir = d
        events[c.value] = ev
        reversals[c.value] = rev
    return events, reversals


@dataclass(frozen=True)
class Targets:
    ttft_ms: float
    itl_ms: float
    max_gpus: int | None = None


def score_requests(
    outcomes: dict[str, FloatArray], *, ttft_ms: float, itl_ms: float, span_s: float
) -> dict[str, Any]:
    """Per-request scoring (see the module docstring) of any run's ``outcomes``: the
    simulator's and the emulated graph's."""
    ttft, itl = request_latencies(outcomes)
    n = len(ttft)
    ok_t = np.nan_to_num(ttft, nan=np.inf) <= ttft_ms / 1000.0
    ok_i = np.nan_to_num(itl, nan=np.inf) <= itl_ms / 1000.0
    both = ok_t & ok_i
    multi = outcomes["osl"] > 1
    return {
        "requests": n,
        "unfinished": int(np.isnan(outcomes["finish_s"]).sum()),
        "attainment": {
            "ttft": float(ok_t.mean()) if n else 1.0,
            "itl": float(ok_i.mean()) if n else 1.0,
            "both": float(both.mean()) if n else 1.0,
        },
        "goodput_rps": float(both.sum()) / span_s if span_s > 0 else 0.0,
        "ttft_ms": {f"p{q}": _ms(_pct(ttft, q)) for q in (50, 90, 99)},
        "itl_ms": {f"p{q}": _ms(_pct(itl[multi], q)) for q in (50, 90, 99)},
    }


def summarize(run: SimRun, targets: Targets) -> dict[str, Any]:
    scored = score_requests(
        run.outcomes, ttft_ms=targets.ttft_ms, itl_ms=targets.itl_ms, span_s=run.span_s
    )
    events, reversals = scale_churn(run)
    violations = (
        sum(1 for r in run.records if r.target_gpus > targets.max_gpus)
        if targets.max_gpus is not None
        else 0
    )
    held_over = (
        sum(1 for r in run.records if r.gpus_held > targets.max_gpus)
        if targets.max_gpus is not None
        else 0
    )
    return {
        "policy": run.policy,
        **scored,
        "gpu_hours": run.gpu_hours,
        "gpu_hours_by_component": {c.value: s / 3600.0 for c, s in run.gpu_seconds.items()},
        "peak_gpus_held": run.peak_gpus_held,
        "scale_events": events,
        "direction_reversals": reversals,
        "budget_violations": violations,
        "intervals_held_over_budget_incl_draining": held_over,
        **({k: v for k, v in run.extra.items()}),
    }


def _ms(v: float | None) -> float | None:
    return None if v is None else v * 1000.0


def windowed_percentiles(
    run: SimRun, *, qs: tuple[float, ...] = (50, 90, 99)
) -> dict[str, FloatArray]:
    """TTFT (by first-token time) and ITL (by finish time) percentiles per interval (ms)."""
    ttft, itl = request_latencies(run.outcomes)
    n = len(run.records)
    out: dict[str, FloatArray] = {}
    for name, values, times in (
        ("ttft", ttft, run.outcomes["first_token_s"]),
        ("itl", itl, run.outcomes["finish_s"]),
    ):
        ok = np.isfinite(values) & np.isfinite(times)
        if name == "itl":
            ok &= run.outcomes["osl"] > 1
        idx = np.minimum((times[ok] // run.interval_s).astype(int), n - 1)
        order = np.argsort(idx, kind="stable")
        idx_s, vals = idx[order], values[ok][order]
        bounds = np.searchsorted(idx_s, np.arange(n + 1))
        for q in qs:
            col = np.full(n, np.nan)
            for i in range(n):
                seg = vals[bounds[i] : bounds[i + 1]]
                if seg.size:
                    col[i] = np.percentile(seg, q) * 1000.0
            out[f"{name}_p{q:g}"] = col
    return out


COMPONENT_ORDER = (Component.PREFILL, Component.DECODE, Component.AGG)
