"""Workers a phase needs for a load at the SLO, from the perf model (the ``sla``
strategy's arithmetic; planner/core/sla.py decides which load and backlog, and
planner/core/decode.py sizes decode).

Prefill: a worker serves a prompt of ISL tokens in S = TTFT(ISL) x factor (ms) and
prefills thpt(ISL) x gpus / factor tokens/s. The pool is an M/D/c queue with offered
load a = demand / capacity (in workers); replicas = the smallest c >= a /
``max_prefill_utilization`` whose TTFT tail meets the target for ``objective`` of
requests (planner/core/queueing.py). A target below one prompt's service time is
infeasible: throughput alone is sized and the decision says ``target_infeasible``.

Aggregated workers do both on the same GPUs: a worker whose share d/c of time goes to
decode prefills with service S / (1 - d/c) at offered load a / (1 - d/c); replicas = the
smallest c whose prefill tail still meets the target that way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.core.config import PolicyConfig
from planner.core.queueing import smallest, tail_workers, wait_tail


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
    feasible = w.service_ms < s.ttft_ms
    offered = demand_tokens_per_s / w.tokens_per_s
    q = s.objective
    if not feasible:
        # the target is below one prompt's service time: size for throughput only
        workers = offered / ceiling
        rule = f"throughput only: S={w.service_ms:.1f}ms > target"
    else:
        c = tail_workers(
            offered=offered,
            service_ms=w.service_ms,
            slack_ms=s.ttft_ms - w.service_ms,
            tail=1.0 - q,
        )
        workers = float(max(c, math.ceil(offered / ceiling - 1e-9)))
        rule = f"p{q * 100:g} TTFT, M/D/c"
    text = (
        f"{demand_tokens_per_s:.0f} tok/s over {w.tokens_per_s:.0f} tok/s/worker "
        f"(S={w.service_ms:.1f}ms, {rule}{', ' + note if note else ''})"
    )
    return PhaseNeed(workers, feasible, w.clamped, text, offered, w.service_ms)


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
    slack = s.ttft_ms - service
    tail = wait_tail(servers=workers, offered=offered, service_ms=service, slack_ms=slack)
    return tail <= 1.0 - s.objective


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
