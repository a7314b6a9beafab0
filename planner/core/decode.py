"""Decode workers a load needs at the ITL target (the ``sla`` strategy's decode sizing).

A worker running N requests at mean context c = ISL + OSL/2 has, by the fitted model of
planner/core/decode_fit.py, ITL(N) = f x ITL_profile(k N c / KV, c), where KV is its KV
cache (the profile's, scaled by the GPUs a worker holds against those profiled). The
requests it may run are the fewest of three bounds:

- ITL: the highest load whose ITL meets the target x headroom; beyond the load
  range the profile measured at c the ITL is continued on its last measured slope
  (``DecodeModel.itl_extrapolated``) and the message says so;
- KV: requests whose final contexts fit, KV / (ISL + s x OSL). Residents are
  length-biased (long outputs stay longest), so their mean final context is
  E[(ISL + O) O] / E[O] = ISL + s x mean OSL with s = E[O^2] / E[O]^2 = 1 + CV^2,
  measured from the window's output-length histogram (``osl_spread``; 2, an exponential
  spread, without one);
- ``engine.max_num_seqs``, else the limit the profile was measured under (its metadata).

The headroom covers the fitted model's own error: exp(-z x s) for the fit's residual
spread s and z the normal quantile of ``objective`` (``DecodeFit.headroom``), or
``sla.itl_headroom`` until the fit has seen enough windows. A worker's ITL is shared by
all its requests, so a plan at the target would miss for nearly all of them at once.
A worker there makes N x 1000 / ITL(N) tokens/s, times ``max_decode_utilization``;
replicas = demand / that. Requests waiting for decode admission add a backlog.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from planner.core.config import PolicyConfig
from planner.core.decode_fit import DecodeFit
from planner.core.sizing import PhaseNeed

#: points along the measured load range searched for the ITL bound
_STEPS = 200
#: E[O^2] / E[O]^2 of an exponential output length (CV = 1)
DEFAULT_SPREAD = 2.0


def osl_spread(buckets: Sequence[tuple[float, float]] | None) -> float | None:
    """E[O^2] / E[O]^2 of the window's output lengths from their histogram (each bucket
    at its midpoint, the +inf bucket at twice its lower bound), at least 1; None without
    a histogram or requests."""
    if not buckets:
        return None
    lo, prev, m1, m2, n = 0.0, 0.0, 0.0, 0.0, 0.0
    for le, count in buckets:
        c = max(0.0, count - prev)
        prev = max(prev, count)
        mid = 2.0 * lo if math.isinf(le) else (lo + le) / 2.0
        m1 += c * mid
        m2 += c * mid * mid
        n += c
        lo = le if not math.isinf(le) else lo
    if n <= 0 or m1 <= 0:
        return None
    return max(1.0, (m2 / n) / (m1 / n) ** 2)


def kv_tokens_per_worker(config: PolicyConfig, *, gpus: int) -> float:
    """A decode worker's KV cache (tokens): the profile's, scaled by GPUs held/profiled."""
    profiled = config.profile_gpus(config.decode_component) or gpus
    return config.perf.decode.max_kv_tokens * gpus / profiled


def max_requests_per_worker(
    config: PolicyConfig, *, isl_tokens: float, osl_tokens: float, spread: float, gpus: int
) -> tuple[float, str]:
    """Requests one decode worker can hold, and what bounds it (KV or max_num_seqs)."""
    final_context = isl_tokens + spread * osl_tokens
    kv = kv_tokens_per_worker(config, gpus=gpus) / final_context
    seqs = config.max_num_seqs
    if seqs is not None and seqs < kv:
        return float(seqs), f"max_num_seqs {seqs}"
    return kv, f"KV at final context {final_context:.0f}"


def decode_need(
    config: PolicyConfig,
    *,
    rate_rps: float,
    isl_tokens: float,
    osl_tokens: float,
    fit: DecodeFit,
    gpus: int,
    spread: float = DEFAULT_SPREAD,
    backlog_tokens_per_s: float = 0.0,
) -> PhaseNeed:
    """Decode workers for ``rate_rps`` requests of ``isl_tokens`` / ``osl_tokens`` (plus
    a backlog to drain, tokens/s), see the module docstring."""
    s = config.settings
    model = config.perf.decode
    context = isl_tokens + osl_tokens / 2.0
    kv_tokens = kv_tokens_per_worker(config, gpus=gpus)
    headroom = fit.headroom(s.objective, default=s.sla.itl_headroom)
    target = s.itl_ms * headroom
    measured = model.measured_kv(context)
    kvs = np.linspace(1.0 / _STEPS, 1.0, _STEPS)
    itls = model.itl_extrapolated(kvs, context) * fit.factor
    ok = np.flatnonzero(itls <= target)
    clamped = not (model.min_context <= context <= model.max_context)
    if ok.size == 0:
        low = float(itls[0])
        note = (
            f"ITL plan {target:.2f}ms (target x headroom) is below the {low:.2f}ms the "
            f"workers reach at context {context:.0f} (factor {fit.factor:.2f})"
        )
        return PhaseNeed(0.0, False, clamped, note)
    top = int(ok[-1])
    by_itl = float(kvs[top]) * kv_tokens / (fit.kv_scale * context)
    by_fit, fit_bound = max_requests_per_worker(
        config, isl_tokens=isl_tokens, osl_tokens=osl_tokens, spread=spread, gpus=gpus
    )
    if by_itl <= by_fit:
        running, bound = by_itl, "ITL"
    else:
        running, bound = by_fit, fit_bound
    kv = fit.kv_scale * running * context / kv_tokens
    if kv > measured:
        bound += f", extrapolated past the measured KV {measured:.2f}"
    itl = float(model.itl_extrapolated(np.array([kv]), context)[0]) * fit.factor
    per_worker = running * 1000.0 / itl * s.sla.max_decode_utilization
    demand = rate_rps * osl_tokens + backlog_tokens_per_s
    note = (
        f"{demand:.0f} tok/s over {per_worker:.0f} tok/s/worker ({running:.0f} running at "
        f"ITL {itl:.1f}ms, bound: {bound}; f={fit.factor:.2f} k={fit.kv_scale:.2f}, "
        f"plan at {100 * headroom:.0f}% of the target)"
    )
    return PhaseNeed(demand / per_worker, True, clamped, note)
