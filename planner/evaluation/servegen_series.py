"""Series built from ServeGen m-small's clients for the forecasting validation set:
client sums with resampled per-window mean lengths, day slices, time warps and 60-s
request expansions (the recipes ``planner.evaluation.forecast_sets`` applies)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from planner.workload.servegen import LENGTH_WINDOW_S, WINDOW_S, ServeGenData, expand_servegen
from planner.workload.trace import LoadSeries, bin_requests

DAY_WINDOWS = 144
#: above this many requests a window's mean length is drawn from its normal limit
EXACT_DRAWS_MAX = 2000


def gap_windows(data: ServeGenData) -> NDArray[np.bool_]:
    """Windows where every client is empty: collection gaps, not idle."""
    total = np.sum([c.rate_rps for c in data.clients], axis=0)
    return np.asarray(total <= 0)


def _window_mean(rng: np.random.Generator, dist: tuple[NDArray[np.float64], ...], n: int) -> float:
    values, probs = dist
    if n <= EXACT_DRAWS_MAX:
        return float(rng.choice(values, size=n, p=probs).mean())
    # the mean of n i.i.d. draws: normal with the distribution's mean and variance / n
    mu = float(values @ probs)
    variance = max(0.0, float(((values - mu) ** 2) @ probs))
    sd = float(np.sqrt(variance / n))
    return float(rng.normal(mu, sd))


def resampled_lengths(
    data: ServeGenData, client: str, *, seed: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-window mean ISL and OSL of one client: the mean of round(rate x 600) draws
    from its 6-h distribution (NaN when idle or when no distribution is published)."""
    c = next(c for c in data.clients if c.client == client)
    rng = np.random.default_rng(seed)
    isl, osl = np.full(c.rate_rps.size, np.nan), np.full(c.rate_rps.size, np.nan)
    for i in np.flatnonzero(c.rate_rps > 0):
        key = int(c.window_start_s[i] // LENGTH_WINDOW_S * LENGTH_WINDOW_S)
        if key in c.lengths:
            n = max(1, round(float(c.rate_rps[i]) * WINDOW_S))
            isl[i] = _window_mean(rng, c.lengths[key][0], n)
            osl[i] = _window_mean(rng, c.lengths[key][1], n)
    return isl, osl


def client_series(data: ServeGenData, clients: tuple[str, ...], *, name: str) -> LoadSeries:
    """The sum of ``clients``' rates with rate-weighted resampled mean lengths (each
    client's lengths drawn with its own number as the seed)."""
    gaps = gap_windows(data)
    rate = np.zeros(data.n_windows)
    isl_w, osl_w, w = np.zeros_like(rate), np.zeros_like(rate), np.zeros_like(rate)
    for cid in clients:
        c = next(c for c in data.clients if c.client == cid)
        isl, osl = resampled_lengths(data, cid, seed=int(cid))
        rate += c.rate_rps
        have = np.isfinite(isl)
        isl_w[have] += c.rate_rps[have] * isl[have]
        osl_w[have] += c.rate_rps[have] * osl[have]
        w[have] += c.rate_rps[have]
    with np.errstate(invalid="ignore", divide="ignore"):
        isl_mean = np.where(w > 0, isl_w / w, np.nan)
        osl_mean = np.where(w > 0, osl_w / w, np.nan)
    return LoadSeries(
        name=name,
        interval_s=WINDOW_S,
        start_s=0.0,
        rate_rps=np.where(gaps, 0.0, rate),
        isl_tokens=isl_mean,
        osl_tokens=osl_mean,
        missing=gaps,
    )


def day_slice(series: LoadSeries, day: int, *, name: str) -> LoadSeries:
    """Windows of day ``day`` (0-based) as a series of its own, starting at time 0."""
    cut = slice(day * DAY_WINDOWS, (day + 1) * DAY_WINDOWS)
    return replace(
        series,
        name=name,
        rate_rps=series.rate_rps[cut],
        isl_tokens=series.isl_tokens[cut],
        osl_tokens=series.osl_tokens[cut],
        missing=series.missing[cut],
    )


def time_warp(series: LoadSeries, factor: float, *, name: str, keep: int) -> LoadSeries:
    """Window j of the result is the series at fractional window j / ``factor`` (linear
    interpolation; missing where either neighbour is missing): a day lasts ``factor``
    days. The first ``keep`` windows are kept."""
    n = len(series)
    pos = np.arange(min(keep, int((n - 1) * factor))) / factor
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo

    def interp(y: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray((1 - frac) * y[lo] + frac * y[hi])

    return replace(
        series,
        name=name,
        rate_rps=interp(series.rate_rps),
        isl_tokens=interp(series.isl_tokens),
        osl_tokens=interp(series.osl_tokens),
        missing=np.asarray(series.missing[lo] | series.missing[hi]),
    )


def minute_series(
    data: ServeGenData,
    clients: tuple[str, ...],
    *,
    seed: int,
    start_s: float,
    hours: float,
    name: str,
) -> LoadSeries:
    """``hours`` of the clients' windows from ``start_s`` expanded to requests (each
    window's fitted Gamma or Weibull inter-arrivals, lengths drawn from its
    distribution, with ``seed``) and binned at 60 s."""
    sub = replace(data, clients=tuple(c for c in data.clients if c.client in clients))
    trace = expand_servegen(sub, seed=seed, start_s=start_s, hours=hours)
    series = bin_requests(trace, interval_s=60.0)
    keep = int(hours * 60)
    return replace(
        series,
        name=name,
        rate_rps=series.rate_rps[:keep],
        isl_tokens=series.isl_tokens[:keep],
        osl_tokens=series.osl_tokens[:keep],
        missing=series.missing[:keep],
    )
