"""Workload generators for the validation scenarios: a day-shaped rate, short bursts on a
base load, long prompts or long outputs, and ServeGen days time-warped.

Every generator is seeded and pure (the same arguments give the same requests). Rates
are drawn as non-homogeneous Poisson processes (planner/workload/synthetic.py); lengths
are lognormal with a given mean and coefficient of variation unless stated.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from planner.errors import ConfigError
from planner.workload.servegen import ServeGenData, expand_servegen
from planner.workload.synthetic import lognormal_lengths, poisson_arrivals
from planner.workload.trace import RequestTrace

FloatArray = NDArray[np.float64]
Rate = Callable[[FloatArray], FloatArray]


def day_rate(*, trough_rps: float, peak_rps: float, peak_at_s: float = 14 * 3600.0) -> Rate:
    """A daily cycle: trough_rps + (peak - trough) x (1 + cos(2 pi (t - peak_at) / day)) / 2,
    highest at ``peak_at_s`` (default 14:00), lowest twelve hours away."""
    if not 0 <= trough_rps <= peak_rps:
        raise ConfigError("day_rate", (trough_rps, peak_rps), "0 <= trough_rps <= peak_rps")
    day = 86400.0

    def rate(t: FloatArray) -> FloatArray:
        phase = 2.0 * np.pi * (t - peak_at_s) / day
        out: FloatArray = trough_rps + (peak_rps - trough_rps) * 0.5 * (1.0 + np.cos(phase))
        return out

    return rate


def burst_rate(
    *,
    base_rps: float,
    burst_rps: float,
    duration_s: float,
    burst_s: tuple[float, float],
    gap_s: tuple[float, float],
    seed: int,
) -> Rate:
    """``base_rps`` with bursts to ``burst_rps``: each burst lasts uniform(burst_s) seconds
    and starts uniform(gap_s) seconds after the previous one ended (the first after one
    gap)."""
    if burst_rps < base_rps or base_rps < 0:
        raise ConfigError("burst_rate", (base_rps, burst_rps), "0 <= base_rps <= burst_rps")
    if not (0 < burst_s[0] <= burst_s[1] and 0 < gap_s[0] <= gap_s[1]):
        raise ConfigError("burst_rate", (burst_s, gap_s), "0 < low <= high for burst_s, gap_s")
    rng = np.random.default_rng(seed)
    starts, ends = [], []
    t = float(rng.uniform(*gap_s))
    while t < duration_s:
        length = float(rng.uniform(*burst_s))
        starts.append(t)
        ends.append(t + length)
        t += length + float(rng.uniform(*gap_s))
    s_arr, e_arr = np.array(starts), np.array(ends)

    def rate(t: FloatArray) -> FloatArray:
        k = np.searchsorted(s_arr, t, side="right") - 1
        inside = (k >= 0) & (t < e_arr[np.maximum(k, 0)]) if len(s_arr) else np.zeros_like(t, bool)
        out: FloatArray = np.where(inside, burst_rps, base_rps)
        return out

    return rate


def generated_trace(
    name: str,
    rate: Rate,
    *,
    duration_s: float,
    isl_mean: float,
    isl_cv: float,
    osl_mean: float,
    osl_cv: float,
    seed: int,
) -> RequestTrace:
    """Poisson arrivals at ``rate`` with lognormal input and output lengths."""
    if duration_s <= 0:
        raise ConfigError("duration_s", duration_s, "> 0")
    rng = np.random.default_rng(seed)
    arrival = poisson_arrivals(rate, duration_s=duration_s, rng=rng)
    n = len(arrival)
    return RequestTrace(
        name=name,
        arrival_s=arrival,
        isl_tokens=lognormal_lengths(rng, isl_mean, isl_cv, n),
        osl_tokens=lognormal_lengths(rng, osl_mean, osl_cv, n),
    )


def with_lengths(
    trace: RequestTrace,
    *,
    isl_mean: float,
    isl_cv: float,
    osl_mean: float,
    osl_cv: float,
    seed: int,
) -> RequestTrace:
    """``trace``'s arrivals with new lognormal lengths (e.g. a conversation service's
    timing carrying long prompts)."""
    rng = np.random.default_rng(seed)
    n = len(trace)
    return RequestTrace(
        name=f"{trace.name}-isl{isl_mean:g}-osl{osl_mean:g}",
        arrival_s=trace.arrival_s,
        isl_tokens=lognormal_lengths(rng, isl_mean, isl_cv, n),
        osl_tokens=lognormal_lengths(rng, osl_mean, osl_cv, n),
    )


def servegen_warped(
    data: ServeGenData,
    *,
    start_day: int,
    days: int,
    warp: float,
    rate_scale: float,
    seed: int,
) -> RequestTrace:
    """ServeGen's days [start_day, start_day + days) squeezed ``warp`` times into
    days / warp days: each request's time is divided by ``warp``, so the daily cycle and
    every surge run ``warp`` times faster, and the rate is ``rate_scale`` x warp x the
    published one. Lengths come from the published per-window (6-h) distributions of
    the original time, as expand_servegen draws them."""
    if warp <= 0:
        raise ConfigError("warp", warp, "> 0")
    trace = expand_servegen(
        data, rate_scale=rate_scale, seed=seed, start_s=start_day * 86400.0, hours=24.0 * days
    )
    return RequestTrace(
        name=f"{data.name}-day{start_day}+{days}-warp{warp:g}",
        arrival_s=trace.arrival_s / warp,
        isl_tokens=trace.isl_tokens,
        osl_tokens=trace.osl_tokens,
    )
