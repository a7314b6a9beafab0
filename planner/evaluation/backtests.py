"""Backtest table for docs/forecasting.md: every predictor on the three public traces at
one interval, 30 and 60 minutes ahead.

``python -m planner.evaluation.backtests [WORKERS]`` (or ``make backtests``) writes
out/backtests/backtests.json and rewrites the block between the markers in
docs/forecasting.md; ``--from-json`` re-renders the markdown from that JSON.
Azure code/conv are binned at 60 s; ServeGen m-small is summed over
clients at its 600-s windows (all-client-empty windows are missing and not scored).
"""

from __future__ import annotations

import concurrent.futures
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from planner.evaluation import SHARED_DATA
from planner.forecast.backtest import in_band_probability

OUT = Path("out/backtests")
DOC = Path("docs/forecasting.md")
BEGIN, END = "<!-- backtests:begin -->", "<!-- backtests:end -->"
TRACES = (
    ("azure_code", "traces/azure_llm_2023_code.csv", 60.0),
    ("azure_conv", "traces/azure_llm_2023_conv.csv", 60.0),
    ("servegen_m_small", "traces/servegen_language_m-small.tar.gz", 600.0),
)
PREDICTORS = ("constant", "seasonal", "kalman", "arima", "prophet", "auto")
HORIZONS_MIN = (None, 30, 60)  # None: one interval
QUANTILE = 0.9


def _one(label: str, rel: str, interval_s: float) -> dict[str, Any]:
    from planner.forecast.backtest import backtest
    from planner.forecast.warm_start import load_series

    series = load_series(SHARED_DATA / rel, interval_s=interval_s)
    horizons = [interval_s if m is None else m * 60.0 for m in HORIZONS_MIN]
    t0 = time.perf_counter()
    results, _ = backtest(series, predictors=PREDICTORS, horizons_s=horizons, quantile=QUANTILE)
    return {
        "trace": rel,
        "interval_s": interval_s,
        "intervals": len(series),
        "missing": int(series.missing.sum()),
        "idle": int(((series.rate_rps <= 0) & ~series.missing).sum()),
        "wall_s": round(time.perf_counter() - t0, 1),
        "results": results,
    }


def _cell(m: dict[str, Any], key: str, spec: str) -> str:
    v = m.get(key)
    return "n/a" if v is None else format(v, spec)


def _ci(m: dict[str, Any]) -> str:
    ci = m.get("coverage_ci95_pct")
    return "n/a" if ci is None else f"{ci[0]:.1f}–{ci[1]:.1f}"


def markdown(all_results: dict[str, Any]) -> str:
    lines: list[str] = []
    for label, tr in all_results.items():
        lines += [
            f"#### {label} ({tr['trace']}, {tr['interval_s']:g}-s intervals, "
            f"{tr['intervals']} intervals, {tr['missing']} missing, {tr['idle']} idle; "
            f"backtest wall {tr['wall_s']} s)",
            "",
            "| horizon | series | predictor | sMAPE % | MASE | MAE | cover % (q0.9) "
            "| hits | cover 95 % CI | upper excess % | n |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        first = next(iter(tr["results"].values()))
        for hkey, hentry in first["horizons"].items():
            for s in ("rate", "isl", "osl"):
                for name, res in tr["results"].items():
                    m = res["horizons"][hkey][s]
                    lines.append(
                        f"| {hkey} (h={hentry['steps']}) | {s} | {name} "
                        f"| {_cell(m, 'smape_pct', '.2f')} | {_cell(m, 'mase', '.3f')} "
                        f"| {_cell(m, 'mae', '.4g')} | {_cell(m, 'coverage_pct', '.1f')} "
                        f"| {_cell(m, 'covered', 'd')} | {_ci(m)} "
                        f"| {_cell(m, 'upper_excess_pct', '.1f')} | {m['n']} |"
                    )
        lines += ["", "| predictor | tick median ms | tick p99 ms | fits | fit median ms "
                  "| fit max ms |", "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
        for name, res in tr["results"].items():
            t, f = res["tick"], res["fit"]
            lines.append(
                f"| {name} | {_cell(t, 'median_ms', '.3f')} | {_cell(t, 'p99_ms', '.1f')} "
                f"| {f['count']} | {_cell(f, 'median_ms', '.0f')} | {_cell(f, 'max_ms', '.0f')} |"
            )
        lines.append("")
    return "\n".join(lines)


def _holds(m: dict[str, Any], nominal_pct: float) -> bool:
    low, high = m["coverage_ci95_pct"]
    return bool(low <= nominal_pct <= high)


def checks(all_results: dict[str, Any]) -> str:
    """The acceptance checks, computed from the results (never asserted here)."""
    lines = ["**Checks** (computed by the script from the numbers above):", ""]
    worst: tuple[float, str] = (-math.inf, "")
    for label, tr in all_results.items():
        res = tr["results"]
        for hkey in res["constant"]["horizons"]:
            for s in ("rate", "isl", "osl"):
                a, c = res["auto"]["horizons"][hkey][s], res["constant"]["horizons"][hkey][s]
                if a["smape_pct"] is None or not c["smape_pct"]:
                    continue
                for metric in ("smape_pct", "mae"):
                    ratio = a[metric] / c[metric] - 1 if c[metric] else 0.0
                    if ratio > worst[0]:
                        worst = (ratio, f"{label} {hkey} {s} {metric}")
    lines.append(
        f"- auto vs constant, worst case over every trace, horizon, series and metric "
        f"(sMAPE, MAE): {100 * worst[0]:+.2f} % ({worst[1]}); the bar is +2 %."
    )
    sg = all_results.get("servegen_m_small")
    if sg is not None:
        res = sg["results"]
        base = res["constant"]["horizons"]["3600s"]["rate"]["smape_pct"]
        best = min(
            (r["horizons"]["3600s"]["rate"]["smape_pct"], n)
            for n, r in res.items()
            if n != "constant"
        )
        lines.append(
            f"- ServeGen 60 min request-rate sMAPE: best {best[1]} {best[0]:.2f} % vs "
            f"constant {base:.2f} % ({100 * (1 - best[0] / base):.1f} % better; the bar is 10 %)."
        )
    nominal = 100 * QUANTILE
    cov = [
        (m, f"{label} {n} {h} {s}")
        for label, tr in all_results.items()
        for n, r in tr["results"].items()
        for h in r["horizons"]
        for s in ("rate", "isl", "osl")
        if (m := r["horizons"][h][s])["coverage_pct"] is not None
    ]
    off = [(m, name) for m, name in cov if abs(m["coverage_pct"] - nominal) > 5]
    holds = [name for m, name in off if _holds(m, nominal)]
    lines.append(
        f"- q{QUANTILE:g} coverage within ±5 points of {nominal:g} %: "
        f"{len(cov) - len(off)} of {len(cov)} cells; outside: {len(off)}"
        + (
            f"; {nominal:g} % lies inside the 95 % Wilson interval of {len(holds)} of "
            f"them (too few targets to tell those from {nominal:g} %)."
            if off
            else "."
        )
    )
    chance = sum(1.0 - in_band_probability(m["n"], level=QUANTILE, band=5.0) for m, _ in cov)
    lines.append(
        f"  - Chance alone: a forecaster whose misses are independent events of probability "
        f"exactly {100 - nominal:g} % would leave {chance:.1f} of these {len(cov)} cells "
        f"outside ±5 points in expectation, given each cell's number of targets."
    )
    for m, name in off:
        verdict = "holds" if _holds(m, nominal) else "excludes"
        lines.append(
            f"  - {name}: {m['coverage_pct']:.1f} % ({m['covered']}/{m['n']}; 95 % CI "
            f"{_ci(m)}, {verdict} {nominal:g} %; upper excess "
            f"{_cell(m, 'upper_excess_pct', '.1f')} % of the mean actual)"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    t0 = time.perf_counter()
    if argv and argv[0] == "--from-json":
        all_results = json.loads((OUT / "backtests.json").read_text())
    else:
        workers = int(argv[0]) if argv else 2
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {label: pool.submit(_one, label, rel, iv) for label, rel, iv in TRACES}
            all_results = {label: fut.result() for label, fut in futures.items()}
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "backtests.json").write_text(json.dumps(all_results, indent=2) + "\n")
    table = markdown(all_results) + "\n" + checks(all_results) + "\n"
    (OUT / "backtests.md").write_text(table + "\n")
    if DOC.exists():
        text = DOC.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            DOC.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")
    print(table)
    print(f"wrote {OUT / 'backtests.json'} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
