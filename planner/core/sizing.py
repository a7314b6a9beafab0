"""Workers one phase needs for a load at the SLO, from the perf model (the ``sla``
strategy's arithmetic; planner/core/sla.py decides which load and backlog).

Prefill: a worker serves a prompt of ISL tokens in S = TTFT(ISL) x factor (ms) and
prefills thpt(ISL) x gpus / factor tokens/s. The pool is an M/D/c queue with offered
load a = demand / capacity (in workers); replicas = the smallest c >= a /
``max_prefill_utilization`` whose TTFT tail meets the target for ``ttft_quantile`` of
requests (planner/core/queueing.py). With ``ttft_quantile`` unset, the M/D/1 mean rule
(rho <= 2 (T - S) / (2 T - S)) is used instead. A target below one prompt's service time
is infeasible: throughput alone is sized and the decision says ``target_infeasible``.

Decode: the best operating point at context ISL + OSL/2 whose ITL meets target x
``itl_headroom`` / factor (within the load range the profile measured); a worker there
makes the profile's tokens/s x gpus x ``max_decode_utilization`` / factor, capped by
what its KV cache sustains when each request holds its final context (ISL +
``resident_osl_factor`` x OSL): max_kv / that x 1000 / ITL tokens/s.

Aggregated workers do both on the same GPUs: a worker whose share d/c of time goes to
decode prefills with service S / (1 - d/c) at offered load a / (1 - d/c); replicas = the
smallest c whose prefill tail still meets the target that way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.core.config import PolicyConfig
from planner.core.queueing import mean_latency_utilization, smallest, tail_workers, wait_tail


@dataclass(frozen=True, slots=True)
class PhaseNeed:
    """Workers needed for one phase, as a real number (before rounding up)."""

    workers: float
    feasible: bool
    clamped: bool
    note: str
    #: prefill only: offered load (workers) and service time (ms), for aggregation
    offered: float = 0.0
    service_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class PrefillWorker:
    """One prefill worker at an ISL: service time (ms) and tokens/s."""

    service_ms: float
    tokens_per_s: float
    clamped: bool


def prefill_worker(
    config: PolicyConfig, *, isl_tokens: float, factor: float, gpus: int
) -> PrefillWorker:
    perf = config.perf.prefill
    ttft = perf.ttft_ms(isl_tokens)
    thpt = perf.thpt_per_gpu(isl_tokens)
    return PrefillWorker(
        service_ms=ttft.value * factor,
        tokens_per_s=thpt.value / factor * gpus,
        clamped=ttft.clamped or thpt.clamped,
    )


def prefill_need(
    config: PolicyConfig,
    *,
    demand_tokens_per_s: float,
    isl_tokens: float,
    factor: float,
    gpus: int,
    note: str = "",
) -> PhaseNeed:
    """Workers for ``demand_tokens_per_s`` of prompts of ``isl_tokens`` (backlog and
    pressure already folded into the demand by the caller)."""
    s = config.settings
    w = prefill_worker(config, isl_tokens=isl_tokens, factor=factor, gpus=gpus)
    ceiling = s.sla.max_prefill_utilization
    cap = mean_latency_utilization(service_ms=w.service_ms, target_ms=s.ttft_ms, ceiling=ceiling)
    feasible = cap > 0
    offered = demand_tokens_per_s / w.tokens_per_s
    q = s.sla.ttft_quantile
    if not feasible:
        # the target is below one prompt's service time: size for throughput only
        workers = offered / ceiling
        rule = f"throughput only: S={w.service_ms:.1f}ms > target"
    elif q is not None:
        c = tail_workers(
            offered=offered,
            service_ms=w.service_ms,
            slack_ms=s.ttft_ms - w.service_ms,
            tail=1.0 - q,
        )
        workers = float(max(c, math.ceil(offered / ceiling - 1e-9)))
        rule = f"p{q * 100:g} TTFT, M/D/c"
    else:
        workers = offered / cap
        rule = f"rho<={cap:.2f}"
    text = (
        f"{demand_tokens_per_s:.0f} tok/s over {w.tokens_per_s:.0f} tok/s/worker "
        f"(S={w.service_ms:.1f}ms, {rule}{', ' + note if note else ''})"
    )
    return PhaseNeed(workers, feasible, w.clamped, text, offered, w.service_ms)


def decode_need(
    config: PolicyConfig,
    *,
    rate_rps: float,
    isl_tokens: float,
    osl_tokens: float,
    factor: float,
    gpus: int,
) -> PhaseNeed:
    s = config.settings
    context = isl_tokens + osl_tokens / 2.0
    # plan below the target: the measured ITL surface has a plateau (about 42.6 ms on the
    # shipped H200 profile) so a factor a few % low would otherwise flip the plan to full KV
    itl_plan_ms = s.itl_ms * s.sla.itl_headroom / factor
    op = config.perf.decode.best_throughput(itl_ms=itl_plan_ms, context_tokens=context)
    if not op.feasible:
        note = (
            f"ITL plan {itl_plan_ms:.2f}ms (target x headroom / factor {factor:.2f}) is "
            f"below the profile's minimum {op.min_itl_ms:.2f}ms at context {context:.0f}"
        )
        return PhaseNeed(0.0, False, op.clamped, note)
    util = s.sla.max_decode_utilization
    resident = isl_tokens + s.sla.resident_osl_factor * osl_tokens
    # requests whose final contexts fit the KV cache, each making 1000 / ITL tokens/s;
    # max_decode_utilization is the ITL margin, the KV bound has its own (length-biased
    # resident contexts): not both. A slower worker (factor f) makes the same concurrency
    # at an f times longer ITL: f times fewer tokens/s.
    kv_bound = config.perf.decode.max_kv_tokens / resident * 1000.0 / op.itl_ms
    per_worker = min(op.thpt_per_gpu * gpus * util, kv_bound) / factor
    if per_worker <= 0:
        return PhaseNeed(0.0, False, op.clamped, f"no decode throughput at context {context:.0f}")
    demand = rate_rps * osl_tokens
    edge = ", the profile's highest measured load" if op.at_measured_edge else ""
    note = f"{demand:.0f} tok/s over {per_worker:.0f} tok/s/worker (kv {op.kv_usage:.2f}{edge})"
    return PhaseNeed(demand / per_worker, True, op.clamped, note)


def _prefill_fits(config: PolicyConfig, *, workers: int, need: PhaseNeed, share: float) -> bool:
    """Whether ``workers`` aggregated workers, each prefilling ``share`` of its time,
    meet the prefill target for ``need`` (its offered load and service time)."""
    s = config.settings
    ceiling = s.sla.max_prefill_utilization
    offered = need.offered / share
    service = need.service_ms / share
    if offered > ceiling * workers:
        return False
    if not need.feasible:
        return True  # throughput only, as prefill_need sizes it
    q = s.sla.ttft_quantile
    slack = s.ttft_ms - service
    if q is None:
        cap = mean_latency_utilization(service_ms=service, target_ms=s.ttft_ms, ceiling=ceiling)
        return offered <= cap * workers
    tail = wait_tail(servers=workers, offered=offered, service_ms=service, slack_ms=slack)
    return tail <= 1.0 - q


def agg_workers(config: PolicyConfig, *, prefill: PhaseNeed, decode: PhaseNeed) -> int:
    """Aggregated workers that give decode its share and still meet the prefill target
    (see the module docstring); at least 1. More workers only help (a larger share for
    prefill, a shorter stretched service), so the search is monotone."""
    ceiling = config.settings.sla.max_prefill_utilization
    d = decode.workers

    def fits(c: int) -> bool:
        share = 1.0 - d / c
        return share > 0 and _prefill_fits(config, workers=c, need=prefill, share=share)

    low = max(1, math.ceil(d + prefill.offered / ceiling - 1e-9))
    # past d + 1000 more workers the decode share is under a thousandth: stop there
    return smallest(low, fits, limit=low + 1000)
