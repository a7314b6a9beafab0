"""The forecasting tuning and validation sets: which series each holds, and the recipe
that builds every generated one.

The split was fixed before any forecaster was scored on the validation series and is
not to be moved: rules and knobs are tuned on ``tuning`` only; ``validation`` is only
measured. Both come from the public data under ../shared/data.

- **tuning** (what the backtests always used): Azure code and conv at 60-s bins, and
  the ServeGen m-small aggregate (sum over its 43 clients) at its 600-s windows, whole
  (``servegen_m_small``) and as its 14 days cut into day-long series (``sg_day<d>``:
  the same data, seen cold one day at a time).
- **validation** (never tuned on), from ServeGen m-small's individual clients. A client
  qualifies when it is busy (rate > 0) in at least a sixth of the windows that are not
  collection gaps (4 h a day on average: the rest are a few spikes, nothing to
  forecast) and carries under 10 % of the summed volume (clients 5, 17 and 38 carry
  30 %, 11 % and 22 %: the tuning aggregate largely *is* them). That leaves 21 clients.
  Windows where every client is empty are collection gaps (missing) as in the aggregate.
  Per-window mean lengths are sample means of round(rate x 600) requests drawn from the
  client's 6-h length distribution (``resampled_lengths``), as a metrics source would
  report them; clients without a published distribution have rate only.

  - ``day``: each client at list position i contributes two day-long series (144
    windows, no earlier history: unseen day-long aggregates): the first day at or
    after day i mod 14 (cyclically) on which it is busy in at least a sixth of the
    windows, and the first such day at or after (i + 7) mod 14 other than that one;
  - ``fortnight``: every third client (positions 0, 3, 6, ...) over all 14 days;
  - ``mix``: three sums of 5 clients drawn without replacement (seeds 1-3), 14 days;
  - ``warp``: mixes 1 and 2 time-warped by 0.8 and 1.25 (a day lasts 19.2 h or 30 h,
    so the 24-h period the seasonal members assume is wrong), cut to 2,016 windows;
  - ``minute``: three 6-h spans expanded to requests (each window's fitted Gamma or
    Weibull inter-arrivals, lengths from its distribution) and binned at 60 s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from planner.evaluation import SHARED_DATA
from planner.workload.servegen import (
    LENGTH_WINDOW_S,
    WINDOW_S,
    ServeGenData,
    expand_servegen,
    read_servegen,
)
from planner.workload.trace import LoadSeries, bin_requests

SetName = Literal["tuning", "validation"]
SERVEGEN = "traces/servegen_language_m-small.tar.gz"
DAY_WINDOWS = 144
MIN_BUSY_FRACTION = 1.0 / 6.0
MAX_VOLUME_SHARE = 0.10
#: above this many requests a window's mean length is drawn from its normal limit
EXACT_DRAWS_MAX = 2000
MIX_SIZE = 5
MIX_SEEDS = (1, 2, 3)
WARPS = ((1, 0.8), (2, 1.25))  # (mix seed, time factor)
MINUTE_SPANS = ((1, 2.0), (2, 8.0), (3, 14.0))  # (mix seed, start hour on day 3)
MINUTE_HOURS = 6.0


@dataclass(frozen=True)
class NamedSeries:
    """One backtested series: its label, its set and group, and the data."""

    label: str
    set_name: SetName
    group: str
    series: LoadSeries


@cache
def _servegen() -> ServeGenData:
    return read_servegen(SHARED_DATA / SERVEGEN)


def gap_windows(data: ServeGenData) -> NDArray[np.bool_]:
    """Windows where every client is empty: collection gaps, not idle."""
    total = np.sum([c.rate_rps for c in data.clients], axis=0)
    return np.asarray(total <= 0)


def validation_clients(data: ServeGenData) -> tuple[str, ...]:
    """Clients busy in >= 1/6 of the non-gap windows and under 10 % of the volume."""
    gaps = gap_windows(data)
    volume = float(sum(c.rate_rps.sum() for c in data.clients))
    return tuple(
        c.client
        for c in data.clients
        if np.mean(c.rate_rps[~gaps] > 0) >= MIN_BUSY_FRACTION
        and c.rate_rps.sum() / volume < MAX_VOLUME_SHARE
    )


def _window_mean(rng: np.random.Generator, dist: tuple[NDArray[np.float64], ...], n: int) -> float:
    values, probs = dist
    if n <= EXACT_DRAWS_MAX:
        return float(rng.choice(values, size=n, p=probs).mean())
    # the mean of n i.i.d. draws: normal with the distribution's mean and variance / n
    mu = float(values @ probs)
    sd = float(np.sqrt(max(0.0, ((values - mu) ** 2) @ probs) / n))
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


def mix_clients(data: ServeGenData, seed: int) -> tuple[str, ...]:
    """``MIX_SIZE`` validation clients with published lengths, drawn with ``seed``."""
    with_lengths = {c.client for c in data.clients if c.lengths}
    pool = [c for c in validation_clients(data) if c in with_lengths]
    rng = np.random.default_rng(seed)
    return tuple(sorted((str(c) for c in rng.choice(pool, size=MIX_SIZE, replace=False)), key=int))


def minute_series(data: ServeGenData, seed: int, start_h: float) -> LoadSeries:
    """A 6-h span of a client mix expanded to requests and binned at 60 s."""
    chosen = mix_clients(data, seed)
    sub = replace(data, clients=tuple(c for c in data.clients if c.client in chosen))
    start_s = 2 * 86400.0 + start_h * 3600.0
    trace = expand_servegen(sub, seed=seed, start_s=start_s, hours=MINUTE_HOURS)
    series = bin_requests(trace, interval_s=60.0)
    keep = int(MINUTE_HOURS * 60)
    return replace(
        series,
        name=f"minute{seed}",
        rate_rps=series.rate_rps[:keep],
        isl_tokens=series.isl_tokens[:keep],
        osl_tokens=series.osl_tokens[:keep],
        missing=series.missing[:keep],
    )


def tuning_set() -> list[NamedSeries]:
    """Azure code and conv (60-s bins), the ServeGen m-small aggregate (600 s) and its
    days as day-long series."""
    from planner.forecast.warm_start import load_series

    out = []
    for label, rel, interval_s in (
        ("azure_code", "traces/azure_llm_2023_code.csv", 60.0),
        ("azure_conv", "traces/azure_llm_2023_conv.csv", 60.0),
        ("servegen_m_small", SERVEGEN, 600.0),
    ):
        series = load_series(SHARED_DATA / rel, interval_s=interval_s)
        out.append(NamedSeries(label, "tuning", label.split("_")[0], series))
    whole = out[-1].series
    for day in range(len(whole) // DAY_WINDOWS):
        label = f"sg_day{day}"
        out.append(NamedSeries(label, "tuning", "sg_day", day_slice(whole, day, name=label)))
    return out


def busy_days(data: ServeGenData, client: str, *, start: int) -> tuple[int, ...]:
    """The first day at or after ``start`` mod 14 (cyclically) with the client busy in
    >= 1/6 of the windows, and the first such day at or after ``start`` + 7 besides."""
    rate = next(c for c in data.clients if c.client == client).rate_rps
    days = data.n_windows // DAY_WINDOWS
    busy = [
        np.mean(rate[d * DAY_WINDOWS : (d + 1) * DAY_WINDOWS] > 0) >= MIN_BUSY_FRACTION
        for d in range(days)
    ]
    chosen: list[int] = []
    for first in (start, start + 7):
        for k in range(days):
            d = (first + k) % days
            if busy[d] and d not in chosen:
                chosen.append(d)
                break
    return tuple(chosen)


@cache
def _clients(clients: tuple[str, ...], name: str) -> LoadSeries:
    return client_series(_servegen(), clients, name=name)


def validation_set(groups: tuple[str, ...] | None = None) -> list[NamedSeries]:
    """The validation series (module docstring), optionally only some groups."""
    data = _servegen()
    clients = validation_clients(data)
    recipes: list[tuple[str, str, Callable[[], LoadSeries]]] = []
    for i, cid in enumerate(clients):
        for day in busy_days(data, cid, start=i):
            label = f"c{cid}_d{day}"
            recipes.append(
                (
                    label,
                    "day",
                    lambda c=cid, d=day, n=label: day_slice(_clients((c,), f"c{c}"), d, name=n),
                )
            )
    for cid in clients[::3]:
        recipes.append((f"c{cid}_14d", "fortnight", lambda c=cid: _clients((c,), f"c{c}_14d")))
    for seed in MIX_SEEDS:
        mix = mix_clients(data, seed)
        recipes.append((f"mix{seed}", "mix", lambda m=mix, s=seed: _clients(m, f"mix{s}")))
    for seed, factor in WARPS:
        mix, label = mix_clients(data, seed), f"mix{seed}_warp{factor:g}"
        recipes.append(
            (
                label,
                "warp",
                lambda m=mix, s=seed, f=factor, n=label: time_warp(
                    _clients(m, f"mix{s}"), f, name=n, keep=data.n_windows
                ),
            )
        )
    for seed, start_h in MINUTE_SPANS:
        recipes.append(
            (f"minute{seed}", "minute", lambda s=seed, h=start_h: minute_series(data, s, h))
        )
    return [
        NamedSeries(label, "validation", group, make())
        for label, group, make in recipes
        if groups is None or group in groups
    ]
