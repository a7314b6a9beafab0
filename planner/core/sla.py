"""The default ``sla`` policy's sizing: replicas that meet TTFT/ITL for a forecast.

Prefill: a worker serves ISL tokens in S = TTFT(ISL) x prefill factor (ms). The pool is
an M/D/c queue with offered load a = demand / capacity per worker (in workers), where
demand (tokens/s) = rate x ISL plus the backlog expected when new capacity is ready
(queued tokens now + the observed demand's excess over the ready workers' capacity,
accumulated over the start-up time) / drain time.
Replicas = the smallest c >= a / max_prefill_utilization whose TTFT tail meets the
target for ``ttft_quantile`` of requests: P(W > T - S) <= 1 - q, with (Allen-Cunneen
approximation, deterministic service halves the M/M/c wait) P(W > x) = ErlangC(c, a) x
exp(-2 c (1 - a/c) x / S). With ``ttft_quantile`` unset the older mean-TTFT rule is
used: the M/D/1 mean wait rho S / (2 (1 - rho)) gives rho* = 2 (T - S) / (2 T - S).
Decode: the best operating point at context ISL + OSL/2 whose ITL meets the target x
``itl_headroom`` divided by the decode factor f; a worker there makes thpt(kv) / f
tokens/s (the profile's throughput at that load, slowed by f: the same concurrency at an
f times longer ITL), times ``max_decode_utilization``; replicas = ceil(rate x OSL / that).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from planner.core.config import PolicyConfig
from planner.core.types import Component, CorrectionFactors, Forecast, Observation, Reason


@dataclass
class Sizing:
    """Per-component desired replicas; None means "cannot size, hold current"."""

    replicas: dict[Component, int | None] = field(default_factory=dict)
    #: replicas for the planned load x (1 + scale_down_tolerance): the floor of a
    #: scale-down (hysteresis); absent means no floor
    hold: dict[Component, int] = field(default_factory=dict)
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


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival waits in an M/M/c queue (1.0 when overloaded)."""
    if offered <= 0:
        return 0.0
    if offered >= servers:
        return 1.0
    b = 1.0  # Erlang B, built up one server at a time
    for k in range(1, servers + 1):
        b = offered * b / (k + offered * b)
    return servers * b / (servers - offered * (1.0 - b))


def tail_workers(*, offered: float, service_ms: float, slack_ms: float, tail: float) -> int:
    """Smallest c with ErlangC(c, a) exp(-2 c (1 - a/c) slack / S) <= tail (M/D/c)."""
    c = max(1, math.floor(offered) + 1)
    while c < offered * 100 + 1000:
        wait_p = erlang_c(c, offered)
        if wait_p * math.exp(-2.0 * (c - offered) * slack_ms / service_ms) <= tail:
            return c
        c += 1
    return c


def prefill_need(
    config: PolicyConfig,
    *,
    rate_rps: float,
    isl_tokens: float,
    factor: float,
    backlog: float,
    ready_workers: int | None = None,
    observed_load: float | None = None,
    pressure: float = 1.0,
) -> PhaseNeed:
    s = config.settings
    perf = config.perf.prefill
    gpus = config.limits(config.prefill_component).gpus_per_worker
    ttft = perf.ttft_ms(isl_tokens)
    thpt = perf.thpt_per_gpu(isl_tokens)
    service_ms = ttft.value * factor
    capacity = thpt.value / factor * gpus  # tokens/s one worker prefills
    cap = prefill_utilization_cap(
        service_ms=service_ms, target_ms=s.ttft_ms, ceiling=s.sla.max_prefill_utilization
    )
    feasible = cap > 0
    if not feasible:
        # the target is below one request's service time: size for throughput only
        cap = s.sla.max_prefill_utilization
    drain_s = s.sla.backlog_drain_s or s.interval_s
    load = rate_rps * isl_tokens
    if ready_workers is not None and s.sla.project_backlog and observed_load is not None:
        # backlog when new capacity is ready: the ready fleet's current deficit (observed
        # demand over its capacity) piles up for the start-up time
        backlog += max(0.0, observed_load - ready_workers * capacity) * s.startup_s
    # pressure (>= 1, planner/core/attainment.py): the observed TTFT attainment fell short of
    # what this queueing model promised (bursts inside the interval), so ask for more
    demand = (load + backlog / drain_s) * pressure
    offered = demand / capacity
    q = s.sla.ttft_quantile
    if q is not None and feasible:
        workers = float(
            max(
                tail_workers(
                    offered=offered,
                    service_ms=service_ms,
                    slack_ms=s.ttft_ms - service_ms,
                    tail=1.0 - q,
                ),
                math.ceil(offered / s.sla.max_prefill_utilization - 1e-9),
            )
        )
        rule = f"p{q * 100:g} TTFT, M/D/c"
    else:
        workers = offered / cap
        rule = f"rho<={cap:.2f}"
    note = (
        f"{demand:.0f} tok/s over {capacity:.0f} tok/s/worker "
        f"(S={service_ms:.1f}ms, {rule}, backlog {backlog:.0f} tok"
        + (f", TTFT pressure x{pressure:.2f})" if pressure != 1.0 else ")")
    )
    return PhaseNeed(workers, feasible, ttft.clamped or thpt.clamped, note)


def decode_need(
    config: PolicyConfig, *, rate_rps: float, isl_tokens: float, osl_tokens: float, factor: float
) -> PhaseNeed:
    s = config.settings
    gpus = config.limits(config.decode_component).gpus_per_worker
    context = isl_tokens + osl_tokens / 2.0
    # plan below the target: the measured ITL surface has a plateau (about 42.6 ms on the
    # shipped H200 profile) so a factor a few % low would otherwise flip the plan to full KV
    itl_plan_ms = s.itl_ms * s.sla.itl_headroom / factor
    op = config.perf.decode.best_throughput(itl_ms=itl_plan_ms, context_tokens=context)
    if not op.feasible:
        note = (
            f"ITL plan {itl_plan_ms:.2f}ms (target x headroom / factor {factor:.2f}) is "
            "below the profile's "
            f"minimum {op.min_itl_ms:.2f}ms at context {context:.0f}"
        )
        return PhaseNeed(0.0, False, op.clamped, note)
    # tokens/s of one worker: the profile's throughput at the operating point, but no
    # more than the KV cache sustains when every request's final context (ISL + OSL)
    # must fit (the engine needs that room before a request ends: the simulator reserves
    # it at admission, vLLM preempts without it): max_kv / (ISL + k OSL) requests at the
    # operating point's ITL, k = resident_osl_factor because long outputs stay longest
    # in the batch (length-biased). A slower worker (factor
    # f) makes the same concurrency at an f times longer ITL: f times fewer tokens/s.
    util = s.sla.max_decode_utilization
    resident = isl_tokens + s.sla.resident_osl_factor * osl_tokens
    kv_bound = config.perf.decode.max_kv_tokens / resident * 1000.0 / op.itl_ms
    # max_decode_utilization is the ITL margin (per-worker concurrency fluctuates around
    # its mean); the KV bound has its own (length-biased resident contexts): not both
    per_worker = min(op.thpt_per_gpu * gpus * util, kv_bound) / factor
    kv = op.kv_usage
    demand = rate_rps * osl_tokens
    note = f"{demand:.0f} tok/s over {per_worker:.0f} tok/s/worker (kv {kv:.2f})"
    return PhaseNeed(demand / per_worker, True, op.clamped, note)


def size_sla(
    obs: Observation,
    forecast: Forecast,
    factors: CorrectionFactors,
    config: PolicyConfig,
    *,
    prefill_pressure: float = 1.0,
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
    tol = s.sla.scale_down_tolerance
    p = prefill_pressure
    sized = _size_at(obs, factors, config, rate=rate, isl=isl, osl=osl, out=out, pressure=p)
    held = (
        _size_at(
            obs,
            factors,
            config,
            rate=rate * (1.0 + tol),
            isl=isl,
            osl=osl,
            out=Sizing(),
            pressure=p,
        )
        if tol > 0
        else sized
    )
    for comp, n in sized.items():
        out.replicas[comp] = n
        h = held.get(comp)
        if n is not None and h is not None:
            out.hold[comp] = h
    return out


def _size_at(
    obs: Observation,
    factors: CorrectionFactors,
    config: PolicyConfig,
    *,
    rate: float,
    isl: float,
    osl: float,
    out: Sizing,
    pressure: float = 1.0,
) -> dict[Component, int | None]:
    """Replicas per component for ``rate``; reasons and notes go to ``out``."""
    s = config.settings
    replicas: dict[Component, int | None] = {}
    backlog = obs.queued_prefill_tokens or 0.0
    pn = prefill_need(
        config,
        rate_rps=rate,
        isl_tokens=isl,
        factor=factors.prefill,
        backlog=backlog,
        ready_workers=obs.ready_replicas.get(config.prefill_component),
        observed_load=obs.request_rate_rps * obs.isl_tokens if obs.isl_tokens else None,
        pressure=pressure,
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
            replicas[comp] = None  # cannot size at all: hold
            continue
        # a tiny epsilon keeps exact multiples (e.g. 2.0000000001) from rounding up
        replicas[comp] = math.ceil(sum(p.workers for p in parts) - 1e-9)
    return replicas
