"""Ablations of ``auto``'s switch rule and members: each variant replayed from the
members' recorded forecasts of one set (``planner.evaluation.forecast_replay``) and
scored against ``constant`` on every (series, variable, horizon) cell.

A cell's figure is the larger of auto's sMAPE and MAE ratios to constant's, minus 1
(the bar: at most +2 %). Per variant: the cells scored, those above +2 %, the worst,
those better by more than 2 % on both metrics, and the mean sMAPE ratio.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from planner.evaluation.forecast_replay import (
    BoardFactory,
    replay_auto,
    shipped,
    significance,
    significance_variant,
    with_minimum,
    without_long_run,
)
from planner.evaluation.significance_rule import SignificanceRule
from planner.forecast.auto import DEFAULT_MEMBERS
from planner.forecast.backtest import BASELINE, Run, score
from planner.forecast.history import SERIES
from planner.forecast.selection import SwitchRule

#: the members ``auto`` had before
LEGACY_MEMBERS = ("constant", "seasonal", "kalman", "arima", "prophet")
BAR = 0.02
Variant = tuple[str, tuple[str, ...], BoardFactory]


def variants() -> list[Variant]:
    """(name, members, rule) of every ablation; the first is ``auto`` as shipped."""
    d = DEFAULT_MEMBERS
    return [
        ("shipped", d, shipped()),
        ("old members (+ kalman, arima, prophet)", LEGACY_MEMBERS, shipped()),
        ("+ kalman", (*d, "kalman"), shipped()),
        ("+ arima", (*d, "arima"), shipped()),
        ("+ prophet", (*d, "prophet"), shipped()),
        ("+ prophet without its residual carry-over", (*d, "prophet_raw"), shipped()),
        ("no margin", d, shipped(SwitchRule(margin=0.0))),
        ("no long-run test", d, without_long_run()),
        ("no recency (window 2,000)", d, shipped(SwitchRule(window=2000))),
        ("minimum of 24 scores (the earlier rule's)", d, with_minimum()),
        ("significance test instead", d, significance()),
        ("significance test, old members", LEGACY_MEMBERS, significance()),
        ("significance test, bandwidth h-1 only", d, significance_variant(andrews=False)),
        ("significance test, no HLN factor", d, significance_variant(hln=False)),
        ("significance test, alpha 0.01", d, significance(SignificanceRule(alpha=0.01))),
        ("significance test, window 288", d, significance(SignificanceRule(window=288))),
        (
            "significance test, + kalman + arima, no Bonferroni",
            (*d, "kalman", "arima"),
            significance_variant(bonferroni=False),
        ),
        ("significance test, + kalman + arima", (*d, "kalman", "arima"), significance()),
    ]


def load_runs(path: Path) -> tuple[dict[str, Run], dict[str, NDArray[np.float64]]]:
    """The runs and actual values saved by ``planner.evaluation.backtests``."""
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    values = {s: arrays[f"actual|{s}"] for s in SERIES}
    runs: dict[str, Run] = {}
    for key, v in arrays.items():
        name, *rest = key.split("|")
        if name == "actual":
            continue
        h, s = int(rest[0]), rest[1]
        run = runs.setdefault(name, Run(name=name, steps=()))
        run.point[(h, s)] = v
        run.upper[(h, s)] = np.full(v.size, np.nan)
    for run in runs.values():
        run.steps = tuple(sorted({h for h, _ in run.point}))
    return runs, values


def cell_ratios(
    run: Run, runs: dict[str, Run], values: dict[str, NDArray[np.float64]]
) -> dict[tuple[int, str], tuple[float, float]]:
    """(sMAPE ratio - 1, MAE ratio - 1) against constant per (h, series) with targets."""
    out: dict[tuple[int, str], tuple[float, float]] = {}
    for h in run.steps:
        for s in SERIES:
            m = score(run, runs[BASELINE], values, h, s)
            c = score(runs[BASELINE], runs[BASELINE], values, h, s)
            if not m["n"]:
                continue
            out[(h, s)] = (_ratio(m["smape_pct"], c["smape_pct"]), _ratio(m["mae"], c["mae"]))
    return out


def _ratio(value: Any, base: Any) -> float:
    if base:
        return float(value) / float(base) - 1.0
    return 0.0 if not value else float("inf")


def summarise(cells: dict[str, tuple[float, float]]) -> dict[str, Any]:
    worst = max(cells.items(), key=lambda kv: max(kv[1]), default=(None, (0.0, 0.0)))
    return {
        "cells": len(cells),
        "over_bar": sum(max(r) > BAR for r in cells.values()),
        "worst_pct": 100 * max(worst[1]),
        "worst_cell": worst[0],
        "better": sum(max(r) < -BAR for r in cells.values()),
        "mean_smape_ratio_pct": 100 * float(np.mean([r[0] for r in cells.values()] or [0.0])),
        "over_cells": sorted(
            ([k, round(100 * max(r), 2)] for k, r in cells.items() if max(r) > BAR),
            key=lambda kv: -kv[1],
        ),
    }


def auto_cells(folder: Path) -> dict[str, dict[str, float]]:
    """max(sMAPE, MAE) ratio - 1 (%) of the recorded ``auto`` against ``constant`` per
    series and "h<steps> <series>" cell, for every .npz in ``folder``."""
    out: dict[str, dict[str, float]] = {}
    for path in sorted(folder.glob("*.npz")):
        runs, values = load_runs(path)
        ratios = cell_ratios(runs["auto"], runs, values)
        out[path.stem] = {f"h{h} {s}": 100 * max(r) for (h, s), r in ratios.items()}
    return out


def ablations(folder: Path, *, on_series: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every variant's summary over the runs in ``folder`` (one .npz per series), and
    whether the shipped rule's replay equals the recorded ``auto`` exactly."""
    cells: dict[str, dict[str, tuple[float, float]]] = {name: {} for name, _, _ in variants()}
    replay_matches = True
    for path in sorted(folder.glob("*.npz")):
        runs, values = load_runs(path)
        for name, members, factory in variants():
            if not all(m in runs for m in members):
                continue
            auto = replay_auto(runs, values, members=members, make_board=factory)
            if name == "shipped" and "auto" in runs:
                replay_matches &= all(
                    np.array_equal(auto.point[k], runs["auto"].point[k], equal_nan=True)
                    for k in auto.point
                )
            for (h, s), r in cell_ratios(auto, runs, values).items():
                cells[name][f"{path.stem} h{h} {s}"] = r
        if on_series is not None:
            on_series(path.stem)
    return {
        "replay_matches_auto": replay_matches,
        "variants": {name: summarise(c) for name, c in cells.items()},
    }
