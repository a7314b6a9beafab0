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
from dataclasses import dataclass
from functools import cache, partial
from typing import Literal

import numpy as np

from planner.evaluation import SHARED_DATA
from planner.evaluation.servegen_series import (
    DAY_WINDOWS,
    client_series,
    day_slice,
    gap_windows,
    minute_series,
    time_warp,
)
from planner.workload.servegen import ServeGenData, read_servegen
from planner.workload.trace import LoadSeries

SetName = Literal["tuning", "validation"]
SERVEGEN = "traces/servegen_language_m-small.tar.gz"
MIN_BUSY_FRACTION = 1.0 / 6.0
MAX_VOLUME_SHARE = 0.10
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


def mix_clients(data: ServeGenData, seed: int) -> tuple[str, ...]:
    """``MIX_SIZE`` validation clients with published lengths, drawn with ``seed``."""
    with_lengths = {c.client for c in data.clients if c.lengths}
    pool = [c for c in validation_clients(data) if c in with_lengths]
    rng = np.random.default_rng(seed)
    return tuple(sorted((str(c) for c in rng.choice(pool, size=MIX_SIZE, replace=False)), key=int))


Recipe = tuple[str, Callable[[], LoadSeries]]  # (group, builder)


@cache
def _trace(rel: str, interval_s: float) -> LoadSeries:
    # read once: the fourteen day slices of the ServeGen aggregate share one read (5 s
    # each otherwise); the arrays are frozen because the slices are views of them
    from planner.forecast.warm_start import load_series

    series = load_series(SHARED_DATA / rel, interval_s=interval_s)
    for arr in (series.rate_rps, series.isl_tokens, series.osl_tokens, series.missing):
        arr.setflags(write=False)
    return series


def _aggregate_day(day: int, label: str) -> LoadSeries:
    return day_slice(_trace(SERVEGEN, 600.0), day, name=label)


def _tuning_recipes() -> dict[str, Recipe]:
    out: dict[str, Recipe] = {}
    for label, rel, interval_s in (
        ("azure_code", "traces/azure_llm_2023_code.csv", 60.0),
        ("azure_conv", "traces/azure_llm_2023_conv.csv", 60.0),
        ("servegen_m_small", SERVEGEN, 600.0),
    ):
        out[label] = (label.split("_")[0], partial(_trace, rel, interval_s))
    for day in range(_servegen().n_windows // DAY_WINDOWS):
        out[f"sg_day{day}"] = ("sg_day", partial(_aggregate_day, day, f"sg_day{day}"))
    return out


@cache
def _clients(clients: tuple[str, ...], name: str) -> LoadSeries:
    return client_series(_servegen(), clients, name=name)


def _client_day(client: str, day: int, label: str) -> LoadSeries:
    return day_slice(_clients((client,), f"c{client}"), day, name=label)


def _warp(clients: tuple[str, ...], seed: int, factor: float, label: str) -> LoadSeries:
    mix = _clients(clients, f"mix{seed}")
    return time_warp(mix, factor, name=label, keep=_servegen().n_windows)


def _minute(clients: tuple[str, ...], seed: int, start_h: float) -> LoadSeries:
    start_s = 2 * 86400.0 + start_h * 3600.0  # on day 3
    return minute_series(
        _servegen(), clients, seed=seed, start_s=start_s, hours=MINUTE_HOURS, name=f"minute{seed}"
    )


def _validation_recipes() -> dict[str, Recipe]:
    data = _servegen()
    clients = validation_clients(data)
    out: dict[str, Recipe] = {}
    for i, cid in enumerate(clients):
        for day in busy_days(data, cid, start=i):
            out[f"c{cid}_d{day}"] = ("day", partial(_client_day, cid, day, f"c{cid}_d{day}"))
    for cid in clients[::3]:
        out[f"c{cid}_14d"] = ("fortnight", partial(_clients, (cid,), f"c{cid}_14d"))
    mixes = {seed: mix_clients(data, seed) for seed in MIX_SEEDS}
    for seed, mix in mixes.items():
        out[f"mix{seed}"] = ("mix", partial(_clients, mix, f"mix{seed}"))
    for seed, factor in WARPS:
        label = f"mix{seed}_warp{factor:g}"
        out[label] = ("warp", partial(_warp, mixes[seed], seed, factor, label))
    for seed, start_h in MINUTE_SPANS:
        out[f"minute{seed}"] = ("minute", partial(_minute, mixes[seed], seed, start_h))
    return out


def _recipes(set_name: str) -> dict[str, Recipe]:
    if set_name == "tuning":
        return _tuning_recipes()
    if set_name == "validation":
        return _validation_recipes()
    raise ValueError(f"set {set_name!r}: expected 'tuning' or 'validation'")


def labels(set_name: str) -> list[str]:
    """The labels of a set's series, in order (nothing is built)."""
    return list(_recipes(set_name))


def series_by_label(set_name: str, label: str) -> NamedSeries:
    """One series of a set, built from its recipe."""
    group, make = _recipes(set_name)[label]
    return NamedSeries(label, "tuning" if set_name == "tuning" else "validation", group, make())


def tuning_set() -> list[NamedSeries]:
    """Azure code and conv (60-s bins), the ServeGen m-small aggregate (600 s) and its
    days as day-long series."""
    return [series_by_label("tuning", label) for label in labels("tuning")]


def validation_set(groups: tuple[str, ...] | None = None) -> list[NamedSeries]:
    """The validation series (module docstring), optionally only some groups."""
    recipes = _validation_recipes()
    return [
        series_by_label("validation", label)
        for label, (group, _) in recipes.items()
        if groups is None or group in groups
    ]
