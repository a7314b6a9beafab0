"""The ``dynamo`` compatibility strategy: Dynamo's throughput-planner arithmetic.

prefill = ceil(num_req x ISL / interval x min(1, p_corr) / thpt_per_gpu(ISL) / gpus)
decode  = ceil(num_req x OSL / interval / best_thpt_per_gpu(ITL / d_corr, ISL + OSL/2)
               / gpus)
with p_corr = observed TTFT / TTFT(ISL) and d_corr = observed ITL / ITL(concurrency,
context) taken raw from the last window (no smoothing), concurrency = num_req /
decode workers x request duration / interval. Differences, on purpose: an idle or
missing window holds (Dynamo's NaN path also changes nothing); a window whose observed
TTFT or ITL is 0 leaves the factors undefined (Dynamo would divide by zero); an
infeasible ITL target holds instead of falling back to the lowest-load throughput; the
GPU budget is enforced by the pipeline (Dynamo's proportional rounding can exceed it);
an aggregated worker is sized as the larger of the two phases. No stabilisation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from planner.core.config import PolicyConfig
from planner.core.correction import expected_itl_ms
from planner.core.settings import PolicySettings
from planner.core.state import FeedbackState
from planner.core.strategy import Ask, Learned
from planner.core.tick import Tick
from planner.core.types import Component, CorrectionFactors, Observation, Reason


def dynamo_factors(obs: Observation, config: PolicyConfig) -> CorrectionFactors | None:
    """Dynamo's raw correction factors from the last window, or None if undefined."""
    if obs.is_missing or obs.is_idle or obs.isl_tokens is None or obs.osl_tokens is None:
        return None
    if not obs.ttft_s or not obs.itl_s or obs.request_duration_s is None:
        return None  # a zero latency gives a zero factor, and ITL / 0 downstream
    workers = obs.ready_replicas.get(config.decode_component, 0)
    if workers <= 0:
        return None
    p = obs.ttft_s * 1000.0 / config.perf.prefill.ttft_ms(obs.isl_tokens).value
    expected = expected_itl_ms(
        config,
        isl_tokens=obs.isl_tokens,
        osl_tokens=obs.osl_tokens,
        rate_rps=obs.request_rate_rps,
        duration_s=obs.request_duration_s,
        workers=workers,
    )
    d = obs.itl_s * 1000.0 / expected
    if not (math.isfinite(p) and math.isfinite(d) and p > 0 and d > 0):
        return None
    return CorrectionFactors(prefill=p, decode=d)


class DynamoStrategy:
    """Dynamo's planner arithmetic, for comparison and migration."""

    name = "dynamo"
    stabilises = False

    def horizon_s(self, settings: PolicySettings) -> float:
        return settings.interval_s

    def learn(self, tick: Tick) -> Learned:
        raw = dynamo_factors(tick.observation, tick.config)
        prev = tick.state.feedback
        if raw is None:
            return Learned(state=prev, note="dynamo factors undefined")
        state = FeedbackState(
            correction=raw,
            prefill_pressure=prev.prefill_pressure,
            ttft_windows=prev.ttft_windows,
            prefill_settled=prev.prefill_settled,
        )
        return Learned(state=state, note="dynamo factors")

    def size(self, tick: Tick, learned: Learned) -> Mapping[Component, Ask]:
        obs, config = tick.observation, tick.config
        if obs.is_idle or obs.is_missing:
            note = "dynamo holds on an idle or missing window (its means are undefined)"
            return {
                c: Ask(None, reasons=(Reason.HELD_NO_DATA,), note=note) for c in config.components
            }
        s = config.settings
        factors = learned.state.correction
        f = tick.forecast
        num_req = f.request_rate_rps.point * s.interval_s
        isl, osl = f.isl_tokens.point, f.osl_tokens.point
        pc, dc = config.prefill_component, config.decode_component
        thpt_p = config.perf.prefill.thpt_per_gpu(isl).value
        prefill = math.ceil(
            num_req * isl / s.interval_s * min(1.0, factors.prefill) / thpt_p / tick.gpus[pc]
        )
        p_note = f"num_req={num_req:.0f} isl={isl:.0f} thpt/gpu={thpt_p:.0f}"
        op = config.perf.decode.best_throughput(
            itl_ms=s.itl_ms / factors.decode, context_tokens=isl + osl / 2.0
        )
        if not op.feasible:
            d_note = f"ITL target infeasible (profile minimum {op.min_itl_ms:.2f}ms)"
            decode_ask = Ask(None, reasons=(Reason.TARGET_INFEASIBLE,), note=d_note)
        else:
            decode = math.ceil(num_req * osl / s.interval_s / op.thpt_per_gpu / tick.gpus[dc])
            decode_ask = Ask(decode, note=f"osl={osl:.0f} best thpt/gpu={op.thpt_per_gpu:.0f}")
        if s.mode == "agg":
            n = None if decode_ask.replicas is None else max(prefill, decode_ask.replicas)
            return {
                Component.AGG: Ask(
                    n, reasons=decode_ask.reasons, note=f"{p_note}; {decode_ask.note}"
                )
            }
        return {Component.PREFILL: Ask(prefill, note=p_note), Component.DECODE: decode_ask}
