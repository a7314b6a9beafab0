"""Markdown for the backtests (``planner.evaluation.backtests``): the block in
docs/forecasting.md (auto against constant per set, the members, the ablations, the
checks) and the full per-series tables written to out/backtests/<set>.md."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from planner.forecast.backtest import in_band_probability

SERIES = ("rate", "isl", "osl")
QUANTILE = 0.9
BAR_PCT = 2.0
#: series whose full table is in the docs too (every one's is in out/backtests/<set>.md)
IN_DOCS = ("azure_code", "azure_conv", "servegen_m_small")


def _cell(m: dict[str, Any], key: str, spec: str) -> str:
    v = m.get(key)
    return "n/a" if v is None else format(v, spec)


def _ci(m: dict[str, Any]) -> str:
    ci = m.get("coverage_ci95_pct")
    return "n/a" if ci is None else f"{ci[0]:.1f}–{ci[1]:.1f}"


def _ratio_pct(a: dict[str, Any], c: dict[str, Any]) -> float | None:
    """max(sMAPE, MAE) ratio of ``a`` to ``c`` minus 1, in %; None without targets."""
    if not a["n"]:
        return None
    out = -math.inf
    for key in ("smape_pct", "mae"):
        if c[key]:
            out = max(out, 100 * (a[key] / c[key] - 1))
        elif a[key]:
            out = math.inf
        else:
            out = max(out, 0.0)
    return out


def series_table(label: str, tr: dict[str, Any]) -> list[str]:
    """Every predictor, horizon and series of one backtested series."""
    lines = [
        f"#### {label} ({tr['group']}, {tr['interval_s']:g}-s intervals, {tr['intervals']} "
        f"intervals, {tr['missing']} missing, {tr['idle']} idle; backtest wall {tr['wall_s']} s)",
        "",
        "| horizon | series | predictor | sMAPE % | MASE | MAE | cover % (q0.9) | hits "
        "| cover 95 % CI | upper excess % | n |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    first = next(iter(tr["results"].values()))
    for hkey, hentry in first["horizons"].items():
        for s in SERIES:
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
    return [*lines, ""]


def _cells(entries: dict[str, Any], predictor: str) -> dict[tuple[str, int, str], list[Any]]:
    """(group, steps, series) -> [(ratio %, label, interval_s)] of ``predictor``."""
    out: dict[tuple[str, int, str], list[Any]] = defaultdict(list)
    for label, tr in entries.items():
        res = tr["results"]
        for hkey, c_h in res["constant"]["horizons"].items():
            for s in SERIES:
                r = _ratio_pct(res[predictor]["horizons"][hkey][s], c_h[s])
                if r is not None:
                    out[(tr["group"], c_h["steps"], s)].append((r, label, tr["interval_s"]))
    return out


def auto_table(entries: dict[str, Any], before: dict[str, dict[str, float]]) -> list[str]:
    """auto against constant per group, horizon and series: the workloads scored, the
    median and worst of max(sMAPE, MAE) ratio - 1, and how many are above +2 %; the
    same for ``before`` (auto at an earlier commit, by label and cell) when given."""
    extra = " before: median % | before: worst % | before: > +2 % |" if before else ""
    lines = [
        "| workloads | horizon | series | n | median % | worst % (workload) | > +2 % | < -2 % |"
        + extra,
        "|---|---|---|---:|---:|---:|---:|---:|" + ("---:|---:|---:|" if before else ""),
    ]
    cells = _cells(entries, "auto")
    for group, h, s in sorted(cells, key=lambda k: (k[0], k[1], SERIES.index(k[2]))):
        vals = cells[(group, h, s)]
        worst = max(vals)
        minutes = h * vals[0][2] / 60
        row = (
            f"| {group} | h={h} ({minutes:g} min) | {s} | {len(vals)} "
            f"| {np.median([v[0] for v in vals]):+.2f} | {worst[0]:+.2f} ({worst[1]}) "
            f"| {sum(v[0] > BAR_PCT for v in vals)} | {sum(v[0] < -BAR_PCT for v in vals)} |"
        )
        if before:
            old = [(before[v[1]][f"h{h} {s}"], v[1]) for v in vals if f"h{h} {s}" in before[v[1]]]
            if old:
                ow = max(old)
                row += (
                    f" {np.median([o[0] for o in old]):+.2f} | {ow[0]:+.2f} ({ow[1]}) "
                    f"| {sum(o[0] > BAR_PCT for o in old)} |"
                )
            else:
                row += " n/a | n/a | n/a |"
        lines.append(row)
    return lines


def members_table(everything: dict[str, Any], sets: list[str]) -> list[str]:
    """Each predictor against constant per set: the cells (workload x horizon x series)
    it is better or worse than constant by more than 2 % in, and the median."""
    head = "| predictor | " + " | ".join(f"{s}: median % | {s}: < -2 % | {s}: > +2 %" for s in sets)
    lines = [head + " |", "|---|" + "---:|---:|---:|" * len(sets)]
    names = next(iter(everything[sets[0]].values()))["results"]
    for name in names:
        if name == "constant":
            continue
        row = f"| {name} |"
        for set_name in sets:
            vals = [v[0] for vs in _cells(everything[set_name], name).values() for v in vs]
            row += (
                f" {np.median(vals):+.1f} | {sum(v < -BAR_PCT for v in vals)} "
                f"| {sum(v > BAR_PCT for v in vals)} of {len(vals)} |"
            )
        lines.append(row)
    return lines


def ablation_table(ablations: dict[str, Any], sets: list[str]) -> list[str]:
    head = "| variant | " + " | ".join(
        f"{s}: > +2 % | {s}: worst % | {s}: < -2 % | {s}: mean sMAPE %" for s in sets
    )
    lines = [head + " |", "|---|" + "---:|---:|---:|---:|" * len(sets)]
    first = ablations[sets[0]]["variants"]
    for name in first:
        row = f"| {name} |"
        for set_name in sets:
            v = ablations[set_name]["variants"][name]
            row += (
                f" {v['over_bar']} of {v['cells']} | {v['worst_pct']:+.2f} ({v['worst_cell']}) "
                f"| {v['better']} | {v['mean_smape_ratio_pct']:+.2f} |"
            )
        lines.append(row)
    return lines


def checks(everything: dict[str, Any], sets: list[str]) -> list[str]:
    lines = ["**Checks** (computed by the script from the numbers above):", ""]
    for set_name in sets:
        vals = [v for vs in _cells(everything[set_name], "auto").values() for v in vs]
        worst = max(vals)
        lines.append(
            f"- {set_name}: auto vs constant, worst cell over every workload, horizon and "
            f"series (max of the sMAPE and MAE ratios): {worst[0]:+.2f} % ({worst[1]}); "
            f"{sum(v[0] > BAR_PCT for v in vals)} of {len(vals)} cells above the +2 % bar."
        )
        old = everything.get("before", {}).get(set_name)
        if old:
            cells = [(r, f"{label} {c}") for label, cs in old.items() for c, r in cs.items()]
            ow = max(cells)
            lines.append(
                f"  - before: worst {ow[0]:+.2f} % ({ow[1]}); "
                f"{sum(r > BAR_PCT for r, _ in cells)} of {len(cells)} cells above the bar."
            )
    sg = everything.get("tuning", {}).get("servegen_m_small")
    if sg is not None:
        res = sg["results"]
        base = res["constant"]["horizons"]["3600s"]["rate"]["smape_pct"]
        best = min((r["horizons"]["3600s"]["rate"]["smape_pct"], n) for n, r in res.items())
        lines.append(
            f"- ServeGen 60 min request-rate sMAPE: best {best[1]} {best[0]:.2f} % vs "
            f"constant {base:.2f} % ({100 * (1 - best[0] / base):.1f} % better; the bar is 10 %)."
        )
    for set_name in sets:
        cov = [
            m
            for tr in everything[set_name].values()
            for name in ("constant", "auto")
            for h in tr["results"][name]["horizons"].values()
            for s in SERIES
            if (m := h[s])["coverage_pct"] is not None
        ]
        off = [m for m in cov if abs(m["coverage_pct"] - 100 * QUANTILE) > 5]
        chance = sum(1 - in_band_probability(m["n"], level=QUANTILE, band=5.0) for m in cov)
        excluded = [
            m
            for m in off
            if not m["coverage_ci95_pct"][0] <= 100 * QUANTILE <= m["coverage_ci95_pct"][1]
        ]
        lines.append(
            f"- {set_name}: q{QUANTILE:g} coverage of constant and auto within ±5 points of "
            f"{100 * QUANTILE:g} % in {len(cov) - len(off)} of {len(cov)} cells (independent "
            f"misses at exactly 10 % would leave {chance:.1f} outside by chance); "
            f"{len(excluded)} cells' 95 % Wilson interval excludes {100 * QUANTILE:g} %."
        )
    return lines


def render(everything: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """(the docs block, {set name: full per-series tables})."""
    sets: list[str] = [s for s in ("tuning", "validation") if s in everything]
    block: list[str] = []
    for set_name in sets:
        block += [
            f"#### auto against constant: {set_name} set",
            "",
            *auto_table(everything[set_name], everything.get("before", {}).get(set_name, {})),
            "",
        ]
    block += ["#### Every predictor against constant", "", *members_table(everything, sets), ""]
    if "ablations" in everything:
        abl = everything["ablations"]
        block += ["#### Ablations (replayed from the members' forecasts)", ""]
        block += [*ablation_table(abl, sets), ""]
        block += [
            "Replaying the shipped rule reproduces auto's recorded forecasts exactly: "
            + ", ".join(f"{s} {'yes' if abl[s]['replay_matches_auto'] else 'NO'}" for s in sets)
            + ".",
            "",
        ]
    block += checks(everything, sets)
    block += ["", "#### Every predictor on the public traces (tuning set)", ""]
    for label in IN_DOCS:
        if label in everything.get("tuning", {}):
            block += series_table(label, everything["tuning"][label])
    full = {
        s: "\n".join(
            line for label, tr in everything[s].items() for line in series_table(label, tr)
        )
        for s in sets
    }
    return "\n".join(block) + "\n", full
