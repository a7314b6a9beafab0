"""The ``dynamo`` compatibility policy: Dynamo's throughput-planner arithmetic.

prefill = ceil(num_req x ISL / interval x min(1, p_corr) / thpt_per_gpu(ISL) / gpus)
decode  = ceil(num_req x OSL / interval / best_thpt_per_gpu(ITL / d_corr, ISL + OSL/2)
               / gpus)
with p_corr = observed TTFT / TTFT(ISL) and d_corr = observed ITL / ITL(concurrency,
context) taken raw from the last window (no smoothing), concurrency = num_req /
decode workers x request duration / interval. Differences, on purpose: an idle or
missing window holds (Dynamo's NaN path also changes nothing); an infeasible ITL target
holds instead of falling back to the lowest-load throughput; the GPU budget is enforced
by our budget (Dynamo's proportional rounding can exceed it). No stabilisation.
"""

from __future__ import annotations

import math

from planner.core.config import PolicyConfig
from planner.core.correction import expected_itl_ms
from planner.core.sla import Sizing
from planner.core.types import Component, CorrectionFactors, Forecast, Observation, Reason


def dynamo_factors(obs: Observation, config: PolicyConfig) -> CorrectionFactors | None:
    """Dynamo's raw correction factors from the last window, or None if undefined."""
    if obs.is_missing or obs.is_idle or obs.isl_tokens is None or obs.osl_tokens is None:
        return None
    if obs.ttft_s is None or obs.itl_s is None or obs.request_duration_s is None:
        return None
    workers = obs.ready_replicas.get(config.decode_component, 0)
    if workers <= 0:
        return None
    p = obs.ttft_s * 1000.0 / config.perf.prefill.ttft_ms(obs.isl_tokens).value
    d = (
        obs.itl_s
        * 1000.0
        / expected_itl_ms(
            config,
            isl_tokens=obs.isl_tokens,
            osl_tokens=obs.osl_tokens,
            rate_rps=obs.request_rate_rps,
            duration_s=obs.request_duration_s,
            workers=workers,
        )
    )
    return CorrectionFactors(prefill=p, decode=d)


def size_dynamo(forecast: Forecast, factors: CorrectionFactors, config: PolicyConfig) -> Sizing:
    s = config.settings
    num_req = forecast.request_rate_rps.point * s.interval_s
    isl, osl = forecast.isl_tokens.point, forecast.osl_tokens.point
    out = Sizing()
    pc, dc = config.prefill_component, config.decode_component
    gp, gd = config.limits(pc).gpus_per_worker, config.limits(dc).gpus_per_worker
    thpt_p = config.perf.prefill.thpt_per_gpu(isl).value
    prefill = math.ceil(num_req * isl / s.interval_s * min(1.0, factors.prefill) / thpt_p / gp)
    op = config.perf.decode.best_throughput(
        itl_ms=s.itl_ms / factors.decode, context_tokens=isl + osl / 2.0
    )
    out.notes[pc] = f"num_req={num_req:.0f} isl={isl:.0f} thpt/gpu={thpt_p:.0f}"
    if not op.feasible:
        out.replicas[dc] = None
        out.flag(dc, Reason.TARGET_INFEASIBLE)
        out.notes[dc] = f"ITL target infeasible (profile minimum {op.min_itl_ms:.2f}ms)"
        decode: int | None = None
    else:
        decode = math.ceil(num_req * osl / s.interval_s / op.thpt_per_gpu / gd)
        out.notes[dc] = f"osl={osl:.0f} best thpt/gpu={op.thpt_per_gpu:.0f}"
    if s.mode == "agg":
        out.replicas[Component.AGG] = None if decode is None else max(prefill, decode)
    else:
        out.replicas[Component.PREFILL] = prefill
        out.replicas[Component.DECODE] = decode
    return out
