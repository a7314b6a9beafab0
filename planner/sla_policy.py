"""The default ``sla`` policy's sizing: replicas that meet TTFT/ITL for a forecast.

Prefill: a worker serves ISL tokens in S = TTFT(ISL) x prefill factor (ms). Treating it
as an M/D/1 queue, the mean wait is rho S / (2 (1 - rho)); requiring S + W <= TTFT target
T gives the highest safe utilisation rho* = 2 (T - S) / (2 T - S). Replicas =
ceil(demand / (capacity per worker x min(rho*, max_prefill_utilization))), where demand
(tokens/s) = rate x ISL plus any queued backlog / drain time.
Decode: the best throughput/GPU at context ISL + OSL/2 whose ITL meets the target
divided by the decode factor; replicas = ceil(rate x OSL / (that x GPUs per worker)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from planner.config import PolicyConfig
from planner.types import Component, CorrectionFactors, Forecast, Observation, Reason


@dataclass
class Sizing:
    """Per-component desired replicas; None means "cannot size, hold current"."""

    replicas: dict[Component, int | None] = field(default_factory=dict)
    reasons: dict[Component, list[Reason]] = field(default_factory=dict)
    notes: dict[Component, str] = field(default_factory=dict)

    def flag(self, component: Component, reason: Reason) -> None:
        self.reasons.setdefault(component, []).append(reason)


def prefill_utilization_cap(*, service_ms: float, target_ms: float, ceiling: float) -> float:
    """Highest utilisation at which the M/D/1 mean TTFT stays within the target."""
    if service_ms >= target_ms:
        return 0.0
    rho = 2.0 * (target_ms - service_ms) / (2.0 * target_ms - service_ms)
    return min(rho, ceiling)


@dataclass(frozen=True, slots=True)
class PhaseNeed:
    """Workers needed for one phase, as a real number (before rounding up)."""

    workers: float
    feasible: bool
    clamped: bool
    note: str


def prefill_need(
    config: PolicyConfig, *, rate_rps: float, isl_tokens: float, factor: float, backlog: float
) -> PhaseNeed:
    s = config.settings
    perf = config.perf.prefill
    gpus = config.limits(config.prefill_component).gpus_per_worker
    ttft = perf.ttft_ms(isl_tokens)
    thpt = perf.thpt_per_gpu(isl_tokens)
    service_ms = ttft.value * factor
    cap = prefill_utilization_cap(
        service_ms=service_ms, target_ms=s.ttft_ms, ceiling=s.sla.max_prefill_utilization
    )
    feasible = cap > 0
    if not feasible:
        # the target is below one request's service time: size for throughput only
        cap = s.sla.max_prefill_utilization
    drain_s = s.sla.backlog_drain_s or s.interval_s
    demand = rate_rps * isl_tokens + backlog / drain_s
    per_worker = thpt.value / factor * gpus * cap
    note = (
        f"{demand:.0f} tok/s over {per_worker:.0f} tok/s/worker "
        f"(S={service_ms:.1f}ms, rho<={cap:.2f})"
    )
    return PhaseNeed(demand / per_worker, feasible, ttft.clamped or thpt.clamped, note)


def decode_need(
    config: PolicyConfig, *, rate_rps: float, isl_tokens: float, osl_tokens: float, factor: float
) -> PhaseNeed:
    s = config.settings
    gpus = config.limits(config.decode_component).gpus_per_worker
    context = isl_tokens + osl_tokens / 2.0
    op = config.perf.decode.best_throughput(itl_ms=s.itl_ms / factor, context_tokens=context)
    if not op.feasible:
        note = (
            f"ITL target {s.itl_ms:g}ms / factor {factor:.2f} is below the profile's "
            f"minimum {op.min_itl_ms:.2f}ms at context {context:.0f}"
        )
        return PhaseNeed(0.0, False, op.clamped, note)
    per_worker = op.thpt_per_gpu * gpus * s.sla.max_decode_utilization
    demand = rate_rps * osl_tokens
    note = f"{demand:.0f} tok/s over {per_worker:.0f} tok/s/worker (kv {op.kv_usage:.2f})"
    return PhaseNeed(demand / per_worker, True, op.clamped, note)


def size_sla(
    obs: Observation, forecast: Forecast, factors: CorrectionFactors, config: PolicyConfig
) -> Sizing:
    s = config.settings
    rate = (
        forecast.request_rate_rps.upper
        if s.sla.use_upper_quantile
        else (forecast.request_rate_rps.point)
    )
    isl, osl = forecast.isl_tokens.point, forecast.osl_tokens.point
    out = Sizing()
    if rate <= 0 or isl <= 0:
        for c in config.components:
            out.replicas[c] = 0
            out.notes[c] = "no load forecast"
        return out
    backlog = obs.queued_prefill_tokens or 0.0
    pn = prefill_need(
        config, rate_rps=rate, isl_tokens=isl, factor=factors.prefill, backlog=backlog
    )
    dn = decode_need(
        config, rate_rps=rate, isl_tokens=isl, osl_tokens=max(osl, 1.0), factor=factors.decode
    )
    needs = (
        {Component.AGG: (pn, dn)}
        if s.mode == "agg"
        else {Component.PREFILL: (pn,), Component.DECODE: (dn,)}
    )
    for comp, parts in needs.items():
        if any(p.clamped for p in parts):
            out.flag(comp, Reason.OUT_OF_PROFILE_RANGE)
        out.notes[comp] = "; ".join(p.note for p in parts)
        if not all(p.feasible for p in parts):
            out.flag(comp, Reason.TARGET_INFEASIBLE)
        if any(not p.feasible and p.workers == 0.0 for p in parts):
            out.replicas[comp] = None  # cannot size at all: hold
            continue
        # a tiny epsilon keeps exact multiples (e.g. 2.0000000001) from rounding up
        out.replicas[comp] = math.ceil(sum(p.workers for p in parts) - 1e-9)
    return out
