"""Synthetic request workloads (constant, step, ramp, sine, spike) for tests and demos.

Arrivals are a non-homogeneous Poisson process with rate r(t), drawn by time rescaling:
unit-rate Poisson points u_k are mapped through the inverse of the cumulative rate
R(t) = integral of r (tabulated every 0.1 s). Lengths are fixed, or lognormal with the
given mean and coefficient of variation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from planner.errors import ConfigError
from planner.workload.trace import RequestTrace

FloatArray = NDArray[np.float64]
PATTERNS = ("constant", "step", "ramp", "sine", "spike")


def rate_function(
    pattern: str,
    *,
    base_rps: float,
    peak_rps: float,
    duration_s: float,
    at_s: float | None = None,
    width_s: float = 60.0,
    period_s: float = 600.0,
) -> Callable[[FloatArray], FloatArray]:
    """r(t) in req/s for one of PATTERNS (``at_s`` defaults to a third of the span)."""
    if pattern not in PATTERNS:
        raise ConfigError("pattern", pattern, f"one of {', '.join(PATTERNS)}")
    if base_rps < 0 or peak_rps < 0:
        raise ConfigError("rate", (base_rps, peak_rps), "rates >= 0 req/s")
    at = duration_s / 3.0 if at_s is None else at_s
    lo, hi = base_rps, peak_rps

    def rate(t: FloatArray) -> FloatArray:
        if pattern == "constant":
            return np.full_like(t, lo)
        if pattern == "step":
            return np.where(t < at, lo, hi)
        if pattern == "ramp":
            return lo + (hi - lo) * np.clip(t / max(duration_s, 1e-9), 0.0, 1.0)
        if pattern == "sine":
            return lo + (hi - lo) * 0.5 * (1.0 - np.cos(2.0 * np.pi * t / period_s))
        return np.where((t >= at) & (t < at + width_s), hi, lo)

    return rate


def lognormal_lengths(
    rng: np.random.Generator, mean: float, cv: float, n: int
) -> NDArray[np.int64]:
    """``n`` token counts, lognormal with this mean and coefficient of variation (fixed
    at ``mean`` when cv <= 0), at least 1."""
    if mean < 1:
        raise ConfigError("length", mean, "a mean of >= 1 token")
    if cv <= 0:
        return np.full(n, round(mean), dtype=np.int64)
    sigma2 = np.log1p(cv * cv)
    vals = rng.lognormal(np.log(mean) - sigma2 / 2.0, np.sqrt(sigma2), n)
    return np.maximum(np.rint(vals), 1).astype(np.int64)


def synthetic_trace(
    pattern: str,
    *,
    duration_s: float,
    base_rps: float,
    peak_rps: float | None = None,
    isl_tokens: float = 1000.0,
    osl_tokens: float = 150.0,
    length_cv: float = 0.0,
    seed: int = 0,
    at_s: float | None = None,
    width_s: float = 60.0,
    period_s: float = 600.0,
) -> RequestTrace:
    """A seeded synthetic trace; the same arguments always give the same requests."""
    if duration_s <= 0:
        raise ConfigError("duration_s", duration_s, "> 0")
    rate = rate_function(
        pattern,
        base_rps=base_rps,
        peak_rps=base_rps if peak_rps is None else peak_rps,
        duration_s=duration_s,
        at_s=at_s,
        width_s=width_s,
        period_s=period_s,
    )
    rng = np.random.default_rng(seed)
    arrival = poisson_arrivals(rate, duration_s=duration_s, rng=rng)
    n = len(arrival)
    return RequestTrace(
        name=f"{pattern}-{base_rps:g}-{peak_rps if peak_rps is not None else base_rps:g}rps",
        arrival_s=arrival,
        isl_tokens=lognormal_lengths(rng, isl_tokens, length_cv, n),
        osl_tokens=lognormal_lengths(rng, osl_tokens, length_cv, n),
    )


def poisson_arrivals(
    rate: Callable[[FloatArray], FloatArray], *, duration_s: float, rng: np.random.Generator
) -> FloatArray:
    """Arrival times (s, sorted) of a Poisson process with rate ``rate(t)`` req/s on
    [0, duration_s], by time rescaling (the module docstring)."""
    grid = np.arange(0.0, duration_s + 0.1, 0.1)
    r = rate(grid)
    cum = np.concatenate(([0.0], np.cumsum((r[1:] + r[:-1]) * 0.05)))
    total = float(cum[-1])
    n = int(rng.poisson(total)) if total > 0 else 0
    u = np.sort(rng.uniform(0.0, total, n))
    arrival: FloatArray = np.interp(u, cum, grid)
    return arrival
