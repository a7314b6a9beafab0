"""Rolling-origin backtests: forecast every interval from the past only, then score.

At the end of interval t the forecaster has observed intervals 0..t and forecasts
h = ceil(horizon_s / interval_s) intervals ahead: the forecast targets interval t + h.
A target is scored when it is not missing, its value is defined (ISL/OSL of idle
intervals are not) and the series had a value at or before t. Every predictor is
scored on the same targets, so MASE is MAE / MAE(constant) on identical intervals.

Per predictor, horizon and series: MAE, sMAPE (%, mean of 2|F-A| / (|F| + |A|), 0 when
both are 0), MASE against ``constant``, coverage of the upper quantile (% of targets
with actual <= upper; the count of those hits and its 95 % Wilson score interval, since
a few dozen targets leave coverage uncertain by several points) and the upper value's
mean excess over the actual (absolute, and % of the mean actual). Per predictor: wall
time per tick (observe + all horizons' forecasts, inline refits included; median and
p99) and the inline fit times.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from planner.forecast.history import SERIES
from planner.forecast.registry import make_forecaster
from planner.workload.trace import LoadSeries

FIELDS = {"rate": "request_rate_rps", "isl": "isl_tokens", "osl": "osl_tokens"}
BASELINE = "constant"
#: two-sided 95 % standard normal quantile
Z95 = 1.959964


def wilson_interval(hits: int, n: int, *, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``hits / n`` (fractions, 0..1):
    (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)."""
    if n <= 0 or not 0 <= hits <= n:
        raise ValueError(f"hits={hits}, n={n}: expected 0 <= hits <= n and n > 0")
    p = hits / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def in_band_probability(n: int, *, level: float, band: float) -> float:
    """P(|100 X / n - 100 level| <= band) for X ~ Binomial(n, level): how often a
    forecaster whose misses are independent events of probability exactly 1 - level
    lands within ``band`` points of its nominal coverage on ``n`` targets."""
    if n <= 0 or not 0.0 < level < 1.0:
        raise ValueError(f"n={n}, level={level}: expected n > 0 and 0 < level < 1")
    # in log space: C(n, k) overflows a float from n ~ 1,030
    log_p, log_q, log_n = math.log(level), math.log1p(-level), math.lgamma(n + 1)
    return sum(
        math.exp(log_n - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q)
        for k in range(n + 1)
        if abs(100.0 * k / n - 100.0 * level) <= band + 1e-9
    )


@dataclass
class Run:
    """One predictor's forecasts over a series: arrays indexed by target interval."""

    name: str
    steps: tuple[int, ...]
    point: dict[tuple[int, str], NDArray[np.float64]] = field(default_factory=dict)
    upper: dict[tuple[int, str], NDArray[np.float64]] = field(default_factory=dict)
    tick_s: list[float] = field(default_factory=list)
    fit_s: list[float] = field(default_factory=list)
    last_note: str = ""


def actuals(series: LoadSeries) -> dict[str, NDArray[np.float64]]:
    """Scored values per series: NaN where missing (and ISL/OSL where idle)."""
    rate = np.where(series.missing, np.nan, series.rate_rps)
    idle = ~(rate > 0)
    return {
        "rate": rate,
        "isl": np.where(idle, np.nan, series.isl_tokens),
        "osl": np.where(idle, np.nan, series.osl_tokens),
    }


def run_predictor(
    series: LoadSeries,
    name: str,
    *,
    steps: Sequence[int],
    quantile: float,
    options: dict[str, Any] | None = None,
) -> Run:
    """Feed ``series`` to a fresh ``name`` forecaster, forecasting every horizon each tick."""
    forecaster = make_forecaster(
        name, quantile=quantile, interval_s=series.interval_s, **(options or {})
    )
    n = len(series)
    run = Run(name=name, steps=tuple(steps))
    for h in run.steps:
        for s in SERIES:
            run.point[(h, s)] = np.full(n, np.nan)
            run.upper[(h, s)] = np.full(n, np.nan)
    for t in range(n):
        t0 = time.perf_counter()
        forecaster.observe(series.point(t))
        forecasts = [forecaster.forecast(horizon_s=h * series.interval_s) for h in run.steps]
        run.tick_s.append(time.perf_counter() - t0)
        for h, fc in zip(run.steps, forecasts, strict=True):
            if t + h < n:
                for s in SERIES:
                    q = getattr(fc, FIELDS[s])
                    run.point[(h, s)][t + h] = q.point
                    run.upper[(h, s)][t + h] = q.upper
        run.last_note = forecasts[-1].note if forecasts else ""
    run.fit_s = list(getattr(forecaster, "fit_times_s", []))
    return run


def _mask(actual: NDArray[np.float64], point: NDArray[np.float64], h: int) -> NDArray[np.bool_]:
    ok = np.isfinite(actual) & np.isfinite(point)
    seen = np.isfinite(actual)
    first = int(np.argmax(seen)) if seen.any() else actual.size
    ok[: first + h] = False  # the series must have had a value when the forecast was made
    return ok


def score(
    run: Run, baseline: Run, values: dict[str, NDArray[np.float64]], h: int, s: str
) -> dict[str, float | int | list[float] | None]:
    """Metrics of ``run`` for series ``s`` at ``h`` steps (None when nothing to score)."""
    actual = values[s]
    point, upper = run.point[(h, s)], run.upper[(h, s)]
    base = baseline.point[(h, s)]
    m = _mask(actual, point, h) & np.isfinite(base)
    n = int(m.sum())
    if n == 0:
        return {"n": 0, "mae": None, "smape_pct": None, "mase": None, "coverage_pct": None,
                "covered": None, "coverage_ci95_pct": None,
                "upper_excess": None, "upper_excess_pct": None}  # fmt: skip
    a, f, u, b = actual[m], point[m], upper[m], base[m]
    err = np.abs(f - a)
    denom = np.abs(f) + np.abs(a)
    smape = np.where(denom > 0, 2 * err / np.where(denom > 0, denom, 1), 0.0)
    mae, mae_base = float(err.mean()), float(np.abs(b - a).mean())
    excess = float((u - a).mean())
    mean_a = float(a.mean())
    hits = int((a <= u + 1e-9).sum())
    low, high = wilson_interval(hits, n)
    return {
        "n": n,
        "mae": mae,
        "smape_pct": 100 * float(smape.mean()),
        "mase": mae / mae_base if mae_base > 0 else None,
        "coverage_pct": 100 * hits / n,
        "covered": hits,
        "coverage_ci95_pct": [100 * low, 100 * high],
        "upper_excess": excess,
        "upper_excess_pct": 100 * excess / mean_a if mean_a > 0 else None,
    }


def _stats_ms(samples: Sequence[float]) -> dict[str, float | int | None]:
    if not samples:
        return {"count": 0, "median_ms": None, "p99_ms": None, "max_ms": None}
    x = np.asarray(samples) * 1000
    return {
        "count": len(samples),
        "median_ms": float(np.median(x)),
        "p99_ms": float(np.quantile(x, 0.99)),
        "max_ms": float(x.max()),
    }


def horizon_key(horizon_s: float) -> str:
    return f"{horizon_s:g}s"


def backtest(
    series: LoadSeries,
    *,
    predictors: Sequence[str],
    horizons_s: Sequence[float],
    quantile: float = 0.9,
    options: dict[str, dict[str, Any]] | None = None,
    on_run: Callable[[Run], None] | None = None,
) -> tuple[dict[str, Any], dict[str, Run]]:
    """Backtest ``predictors`` on ``series``; returns (JSON-ready results, runs by name).

    Results: {predictor: {"horizons": {"600s": {"steps": h, "rate": {...}, ...}},
    "tick": {...}, "fit": {...}, "last_note": str}}.
    """
    steps = [max(1, int(np.ceil(hs / series.interval_s - 1e-9))) for hs in horizons_s]
    names = list(dict.fromkeys([BASELINE, *predictors]))
    values = actuals(series)
    runs: dict[str, Run] = {}
    for name in names:
        runs[name] = run_predictor(
            series, name, steps=steps, quantile=quantile, options=(options or {}).get(name)
        )
        if on_run is not None:
            on_run(runs[name])
    results = {
        name: summarise_run(runs[name], runs[BASELINE], values, horizons_s=horizons_s)
        for name in dict.fromkeys(predictors)
    }
    return results, runs


def summarise_run(
    run: Run,
    baseline: Run,
    values: dict[str, NDArray[np.float64]],
    *,
    horizons_s: Sequence[float],
) -> dict[str, Any]:
    """One predictor's scores per horizon and series, its tick and fit times."""
    horizons: dict[str, Any] = {}
    for hs, h in zip(horizons_s, run.steps, strict=True):
        entry: dict[str, Any] = {"steps": h}
        for s in SERIES:
            entry[s] = score(run, baseline, values, h, s)
        horizons[horizon_key(hs)] = entry
    return {
        "horizons": horizons,
        "tick": _stats_ms(run.tick_s),
        "fit": _stats_ms(run.fit_s),
        "last_note": run.last_note,
    }
