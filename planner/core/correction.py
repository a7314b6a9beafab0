"""Correction factors: how much slower (>1) or faster (<1) the graph is than its profile.

prefill factor = observed mean TTFT / expected TTFT, where expected TTFT is the profile's
service time S = TTFT(ISL) plus the M/D/c mean queueing wait of the ready pool (the same
queue the sla sizing assumes): offered load a = (req/s x ISL) / (tokens/s per worker),
W = ErlangC(c, a) x S / (2 (c - a)), with a capped at 0.95 c. (An M/D/1 wait at the
pool's utilisation overstated the wait of a pooled queue several-fold, so a correct
profile read as "faster" and the policy under-provisioned.)
decode: each window adds a sample (running requests per worker, mean context, observed
mean ITL) to the decode fit (planner/core/decode_fit.py: a speed factor f and a KV
scale k over the profile's ITL surface); running requests per worker by Little's law:
req/s x mean time in decode (s) / ready decode workers, where time in decode = mean
request duration - mean TTFT (queueing before the first token holds no decode slot;
counting it inflated the expected ITL and pulled the factor down). The decode factor
reported is f.
The prefill sample is the slowdown that explains the observed mean TTFT under that
queue (solved, not a plain ratio: see implied_prefill_factor).
A prefill sample is skipped when the window was overloaded (rho >= 1): its TTFT is
backlog, which the queueing model cannot express, not a slower profile. With TTFT
attainment feedback on, it is also skipped when the window's TTFT histogram shows fewer
than ``objective`` of the requests within the target: a queue built (a load
step, a burst) and the mean TTFT is mostly that queue. Read as slowness, one such
window's sample hits ``max_factor`` (3) and the EWMA moves the factor from 1.08 to 1.66
at once (Azure conv minutes 15-60, a 25 % step); the pressure (planner/core/attainment.py)
is what answers misses. When the factor does rise, the policy divides the pressure by
the rise, so the two never multiply the same shortfall.

The decode sample has the same guard: it is skipped when requests waited for decode
admission at the window's end, or when the running requests per worker (Little's law)
reach what a worker can hold (KV at the residents' final contexts, or max_num_seqs):
the engine then caps concurrency, the few running requests see a low ITL, and read as
a faster profile that factor under-sizes decode exactly when it is the bottleneck.

Samples are skipped (factor kept) when the window is missing or idle, has too few
requests, has no ready worker, or the component was mid-change (ready != current,
i.e. cold-start samples). Accepted samples are clamped and smoothed with an EWMA.
Per-worker capacities count the GPUs each worker really holds (the tick's reading).
"""

from __future__ import annotations

from collections.abc import Mapping

from planner.core.attainment import share_within
from planner.core.config import PolicyConfig
from planner.core.decode import (
    DEFAULT_SPREAD,
    kv_tokens_per_worker,
    max_requests_per_worker,
    osl_spread,
)
from planner.core.decode_fit import DecodeFit, Sample
from planner.core.queueing import erlang_c, mean_wait_ms
from planner.core.types import Component, CorrectionFactors, Observation

#: utilisation at which the queueing term is capped, so a saturated window stays finite
_RHO_CAP = 0.95


def expected_ttft_ms(
    config: PolicyConfig, *, isl_tokens: float, rate_rps: float, workers: int, gpus: int
) -> float:
    perf = config.perf.prefill
    service_ms = perf.ttft_ms(isl_tokens).value
    per_worker = perf.thpt_per_gpu(isl_tokens).value * gpus
    c = max(workers, 1)
    offered = min(rate_rps * isl_tokens / per_worker, _RHO_CAP * c)
    return service_ms + mean_wait_ms(servers=c, offered=offered, service_ms=service_ms)


def decode_kv_usage(
    config: PolicyConfig,
    *,
    isl_tokens: float,
    osl_tokens: float,
    rate_rps: float,
    duration_s: float,
    workers: int,
) -> float:
    """KV usage per decode worker by Little's law: req/s x time in decode / workers
    requests of mean context ISL + OSL/2."""
    concurrency = rate_rps * duration_s / max(workers, 1)
    context = isl_tokens + osl_tokens / 2.0
    return config.perf.decode.kv_usage(concurrency=concurrency, context_tokens=context)


def expected_itl_ms(
    config: PolicyConfig,
    *,
    isl_tokens: float,
    osl_tokens: float,
    rate_rps: float,
    duration_s: float,
    workers: int,
) -> float:
    kv = decode_kv_usage(
        config,
        isl_tokens=isl_tokens,
        osl_tokens=osl_tokens,
        rate_rps=rate_rps,
        duration_s=duration_s,
        workers=workers,
    )
    context = isl_tokens + osl_tokens / 2.0
    return config.perf.decode.itl_ms(kv_usage=kv, context_tokens=context).value


def implied_prefill_factor(
    config: PolicyConfig,
    *,
    observed_ms: float,
    isl_tokens: float,
    rate_rps: float,
    workers: int,
    gpus: int,
) -> float:
    """The service slowdown f that makes the model's mean TTFT equal the observed one.

    A slower service also means a busier pool and a longer queue, so f is solved from
    TTFT(f) = f S + ErlangC(c, f a) f S / (2 (c - f a)) (monotonic in f) by bisection,
    rather than taken as the plain ratio observed / expected, which charged all of the
    queueing the model cannot see (bursts) to the service time and over-corrected.
    """
    perf = config.perf.prefill
    service_ms = perf.ttft_ms(isl_tokens).value
    offered = rate_rps * isl_tokens / (perf.thpt_per_gpu(isl_tokens).value * gpus)
    c = max(workers, 1)

    def ttft(f: float) -> float:
        a = min(offered * f, _RHO_CAP * c)
        return f * service_ms * (1.0 + erlang_c(c, a) / (2.0 * (c - a)))

    lo, hi = 0.0, config.settings.correction.max_factor
    if ttft(hi) <= observed_ms:
        return hi
    for _ in range(40):
        mid = (lo + hi) / 2.0
        if ttft(mid) < observed_ms:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def _smooth(previous: float, sample: float, config: PolicyConfig) -> float:
    c = config.settings.correction
    clamped = min(max(sample, c.min_factor), c.max_factor)
    return (1.0 - c.smoothing) * previous + c.smoothing * clamped


def _settled(obs: Observation, component: Component) -> bool:
    ready = obs.ready_replicas.get(component, 0)
    current = obs.current_replicas.get(component, ready)
    return ready > 0 and ready == current


def _overloaded(config: PolicyConfig, obs: Observation, *, workers: int, gpus: int) -> bool:
    """True when the window's prefill demand met or exceeded the model's capacity."""
    perf = config.perf.prefill
    isl = obs.isl_tokens or 0.0
    capacity = workers * perf.thpt_per_gpu(isl).value * gpus
    return capacity <= 0 or obs.request_rate_rps * isl >= capacity


def _ttft_short(obs: Observation, config: PolicyConfig) -> str | None:
    """Why the window's TTFT says nothing about service time, or None: with attainment
    feedback on, a window whose TTFT histogram shows the objective missed queued, and
    its mean TTFT is mostly that queue."""
    s = config.settings
    if not s.sla.ttft_feedback or obs.ttft_buckets is None:
        return None
    share = share_within(obs.ttft_buckets, s.ttft_ms / 1000.0)
    if share is None or not share.missed(s.objective):
        return None
    return f"prefill factor held: {share.text()} within TTFT target (queued)"


def _decode_sample(
    config: PolicyConfig, obs: Observation, *, gpus: int
) -> tuple[Sample | None, str]:
    """The window's decode sample (running per worker, context, ITL ms), or why not."""
    dc = config.decode_component
    if obs.itl_s is None or obs.itl_s <= 0 or obs.request_duration_s is None:
        return None, "decode fit held"
    if not _settled(obs, dc) or obs.isl_tokens is None or obs.osl_tokens is None:
        return None, "decode fit held"
    if obs.decode_waiting:
        return None, f"decode fit held: {obs.decode_waiting:g} requests waiting for decode"
    in_decode_s = max(obs.request_duration_s - (obs.ttft_s or 0.0), 0.0)
    running = obs.request_rate_rps * in_decode_s / obs.ready_replicas[dc]
    spread = osl_spread(obs.osl_buckets) or DEFAULT_SPREAD
    most, bound = max_requests_per_worker(
        config, isl_tokens=obs.isl_tokens, osl_tokens=obs.osl_tokens, spread=spread, gpus=gpus
    )
    if running >= most or running <= 0:
        return None, f"decode fit held: {running:.0f} running per worker ({bound} bound)"
    context = obs.isl_tokens + obs.osl_tokens / 2.0
    note = f"decode sample: {running:.0f} running per worker at ITL {obs.itl_s * 1000:.2f}ms"
    return (running, context, obs.itl_s * 1000.0), note


def update_correction(
    previous: CorrectionFactors,
    obs: Observation,
    config: PolicyConfig,
    *,
    gpus: Mapping[Component, int],
    decode_fit: DecodeFit | None = None,
) -> tuple[CorrectionFactors, DecodeFit, str]:
    """New factors, the new decode fit, and a note saying what was updated or why not.
    The decode factor reported is the fit's f."""
    c = config.settings.correction
    fit = decode_fit or DecodeFit(factor=previous.decode)
    if not c.enabled:
        return previous, fit, "correction disabled"
    if obs.is_missing:
        return previous, fit, "correction held: no data"
    if obs.requests < c.min_requests or obs.isl_tokens is None or obs.osl_tokens is None:
        return previous, fit, f"correction held: {obs.requests:g} requests < {c.min_requests}"
    prefill = previous.prefill
    notes: list[str] = []
    pc, dc = config.prefill_component, config.decode_component
    rate = obs.request_rate_rps
    short = _ttft_short(obs, config)
    if short is not None:
        notes.append(short)
    elif (
        obs.ttft_s is not None
        and obs.ttft_s > 0
        and _settled(obs, pc)
        and not _overloaded(config, obs, workers=obs.ready_replicas[pc], gpus=gpus[pc])
    ):
        exp = expected_ttft_ms(
            config,
            isl_tokens=obs.isl_tokens,
            rate_rps=rate,
            workers=obs.ready_replicas[pc],
            gpus=gpus[pc],
        )
        sample = implied_prefill_factor(
            config,
            observed_ms=obs.ttft_s * 1000.0,
            isl_tokens=obs.isl_tokens,
            rate_rps=rate,
            workers=obs.ready_replicas[pc],
            gpus=gpus[pc],
        )
        prefill = _smooth(prefill, sample, config)
        notes.append(f"ttft {obs.ttft_s * 1000:.1f}ms vs {exp:.1f}ms expected")
    else:
        notes.append("prefill factor held")
    decode_sample, decode_note = _decode_sample(config, obs, gpus=gpus[dc])
    if decode_sample is not None:
        fit = fit.with_sample(
            decode_sample, config.perf.decode, kv_tokens=kv_tokens_per_worker(config, gpus=gpus[dc])
        )
        decode_note = f"{decode_note}: f={fit.factor:.2f} k={fit.kv_scale:.2f}"
    notes.append(decode_note)
    clamped = min(max(fit.factor, c.min_factor), c.max_factor)
    return CorrectionFactors(prefill=prefill, decode=clamped), fit, "; ".join(notes)
