"""Forecaster backtests for docs/forecasting.md: every predictor on the tuning and the
validation set (``planner.evaluation.forecast_sets``), at one interval, the planner's
lead (60 s + 180 s start-up), 30 and 60 minutes ahead, plus the ablations of ``auto``'s
switch rule replayed from the members' forecasts.

``python -m planner.evaluation.backtests [--workers N] [--sets tuning,validation]
[--only LABEL,...]`` (``make backtests``) writes out/backtests/backtests.json, each
series' point forecasts under out/backtests/runs/, the full per-series tables to
out/backtests/<set>.md, and rewrites the block between the markers in
docs/forecasting.md. ``--from-json`` re-renders from what is on disk.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import sys
import time
from typing import Any

import numpy as np

from planner.evaluation import REPO

OUT = REPO / "out" / "backtests"
DOC = REPO / "docs" / "forecasting.md"
BEGIN, END = "<!-- backtests:begin -->", "<!-- backtests:end -->"
PREDICTORS = ("constant", "seasonal", "kalman", "arima", "prophet", "auto")
#: one interval, the planner's default lead (interval 60 s + start-up 180 s), 30, 60 min
HORIZONS_S = (None, 240.0, 1800.0, 3600.0)
QUANTILE = 0.9
SETS = ("tuning", "validation")


def horizons_for(interval_s: float) -> list[float]:
    """The horizons in seconds, one per distinct number of steps."""
    steps = {max(1, int(np.ceil((h or interval_s) / interval_s - 1e-9))) for h in HORIZONS_S}
    return [h * interval_s for h in sorted(steps)]


def _one(set_name: str, label: str) -> tuple[dict[str, Any], dict[str, Any]]:
    from planner.evaluation.forecast_sets import series_by_label
    from planner.forecast.backtest import actuals, backtest, run_predictor, summarise_run

    named = series_by_label(set_name, label)
    series = named.series
    horizons = horizons_for(series.interval_s)
    t0 = time.perf_counter()
    results, runs = backtest(series, predictors=PREDICTORS, horizons_s=horizons, quantile=QUANTILE)
    # Prophet without the AR(1) on its residuals, for the ablation
    raw = run_predictor(
        series,
        "prophet",
        steps=runs["constant"].steps,
        quantile=QUANTILE,
        options={"ar_residuals": False},
    )
    raw.name = "prophet_raw"
    runs[raw.name] = raw
    values = actuals(series)
    results[raw.name] = summarise_run(raw, runs["constant"], values, horizons_s=horizons)
    entry = {
        "group": named.group,
        "interval_s": series.interval_s,
        "intervals": len(series),
        "missing": int(series.missing.sum()),
        "idle": int(((series.rate_rps <= 0) & ~series.missing).sum()),
        "wall_s": round(time.perf_counter() - t0, 1),
        "results": results,
    }
    arrays = {f"actual|{s}": v for s, v in values.items()}
    for name, run in runs.items():
        for (h, s), v in run.point.items():
            arrays[f"{name}|{h}|{s}"] = v
    return entry, arrays


def run_sets(
    sets: tuple[str, ...], *, workers: int, only: set[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Backtest every series of ``sets`` (or only those labelled in ``only``) in a
    process pool; their arrays go to OUT/runs."""
    from planner.evaluation.forecast_sets import labels

    jobs = [
        (set_name, label)
        for set_name in sets
        for label in labels(set_name)
        if only is None or label in only
    ]
    out: dict[str, dict[str, Any]] = {s: {} for s in sets}
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(_one, *job): job for job in jobs}
        for fut in concurrent.futures.as_completed(futures):
            set_name, label = futures[fut]
            entry, arrays = fut.result()
            out[set_name][label] = entry
            folder = OUT / "runs" / set_name
            folder.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(folder / f"{label}.npz", **arrays)
            print(f"{set_name}/{label}: {entry['wall_s']} s", file=sys.stderr, flush=True)
    for set_name in sets:  # in the sets' own order, not completion order
        out[set_name] = {k: out[set_name][k] for k in labels(set_name) if k in out[set_name]}
    return out


def main(argv: list[str]) -> int:
    from planner.evaluation.backtest_report import render
    from planner.evaluation.forecast_ablation import ablations, auto_cells

    parser = argparse.ArgumentParser(prog="python -m planner.evaluation.backtests")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--only", help="comma-separated series labels (a quick look)")
    parser.add_argument("--from-json", action="store_true")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    path = OUT / "backtests.json"
    if args.from_json:
        everything = json.loads(path.read_text())
    else:
        sets = tuple(s for s in args.sets.split(",") if s)
        unknown = set(sets) - set(SETS)
        if unknown:
            parser.error(f"--sets: unknown {sorted(unknown)}; expected some of {SETS}")
        only = set(args.only.split(",")) if args.only else None
        everything = json.loads(path.read_text()) if path.exists() else {}
        for set_name, entries in run_sets(sets, workers=args.workers, only=only).items():
            everything[set_name] = {**everything.get(set_name, {}), **entries} if only else entries
    runs = {s: OUT / "runs" / s for s in SETS if s in everything}
    everything["ablations"] = {s: ablations(path) for s, path in runs.items() if path.is_dir()}
    # auto as an earlier commit forecast it, when planner.evaluation.backtest_before ran
    everything["before"] = {
        s: auto_cells(OUT / "before" / s) for s in SETS if (OUT / "before" / s).is_dir()
    }
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(everything, indent=1) + "\n")
    doc_block, full = render(everything)
    for name, text in full.items():
        (OUT / f"{name}.md").write_text(text + "\n")
    if DOC.exists():
        text = DOC.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            DOC.write_text(f"{head}{BEGIN}\n{doc_block}\n{END}{tail}")
    print(doc_block)
    print(f"wrote {path} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
