"""How far the GPU-hour goal is from what a causal policy can reach on the Azure traces.

    python -m planner.evaluation.feasibility            # Azure scenarios + ServeGen (~6 min)
    python -m planner.evaluation.feasibility conv       # one scenario (servegen: the ServeGen part)
    python -m planner.evaluation.feasibility --render   # rewrite the doc block from the JSON

Three measurements per scenario, written to out/feasibility/feasibility.json and into
the block between the ``feasibility`` markers of docs/simulation.md:

1. **Needed margin.** Capacity asked for at the end of interval t serves from t + L
   (L = ceil((interval + start-up) / interval) intervals later), so a policy that
   knows interval t must size for the work of interval t + L. The ratio
   work(t + L) / work(t) (prefill work = sum of ISL, decode work = sum of OSL, per
   interval) is the margin over the last interval that would have covered it; its
   quantiles are weighted by the requests of interval t + L (the ones that miss when
   it is not covered).
2. **Cost of a margin with perfect foresight.** GPU-hours of sizing every interval for
   its own actual load x (1 + m) with the sla sizing model on the true profile (no
   start-up, no correction, no holds): what a margin m costs even when it is applied to
   the right load at the right time.
3. **The sla policy's frontier.** The sla policy over a grid of its margin knobs
   (forecast quantile, scale-down tolerance, scale-down window): attainment and
   GPU-hours of each, and the fewest GPU-hours among those reaching 99%.
4. **Hindsight.** ``HindsightController`` (planner/sim/controllers.py) with the real
   start-up: told at each interval's end the exact fleet that interval needed (the
   oracle's own choice), it asks for ceil(margin x that fleet) plus the prefill
   workers that drain the queued prompts within an interval, and keeps each ask for
   ``hold`` decisions. For each hold in ``HINDSIGHT_HOLDS`` the margins are tried in
   ascending order up to the first that reaches 99% (its fleets, and so its GPU-hours,
   only grow with the margin, so that one is the cheapest at this hold). No forecaster
   beats ``constant`` four minutes ahead on these traces (docs/forecasting.md), and a
   policy that has to estimate the last interval's need knows less than this one, so
   its cheapest 99% point is what the goal asks beyond a constant forecast.
The goal (static99 - 0.5 x (static99 - oracle)) comes from the same run's static99 and
oracle searches.

ServeGen (``python -m planner.evaluation.feasibility servegen``, ~2 min): the sla policy with
ever longer scale-down holds, and where its misses fall: in the minutes from a new high
of the day's per-minute request count to ``lead`` intervals after it, capacity for a
level never seen before cannot be ready unless it was already held (the static fleet's
way). The goal comes from ``make evaluate``'s out/evaluate/results.json when present
(its static99 and oracle searches take ~15 min on this trace).
"""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from planner.core.types import Component
from planner.evaluation.evaluate import DOC, experiment
from planner.evaluation.feasibility_servegen import (
    SERVEGEN_POINTS,
    servegen_goal,
    servegen_markdown,
    servegen_point,
)
from planner.sim.experiment import lead_intervals
from planner.sim.foresight import hindsight_controller, oracle_needs

OUT = Path(__file__).resolve().parents[2] / "out" / "feasibility"
BEGIN, END = "<!-- feasibility:begin -->", "<!-- feasibility:end -->"
AZURE = ("conv", "conv-slow", "code", "code-slow")
MARGINS = (0.0, 0.2, 0.4)
#: part 4: margins over the last interval's exact need, and how many decisions an ask is
#: kept (4 = the lead: interval + start-up)
HINDSIGHT_MARGINS = (1.0, 1.05, 1.1, 1.15, 1.2, 1.3, 1.4, 1.6, 2.0)
HINDSIGHT_HOLDS = (4, 6, 8)
#: the sla knobs swept for the frontier (defaults: 0.9, 0.2, 300)
GRID = {
    "predictor.quantile": (0.75, 0.9, 0.95),
    "sla.scale_down_tolerance": (0.05, 0.2),
    "stabilization.scale_down_window_s": (180.0, 300.0),
}


#: the grid point that is the sla policy's default
DEFAULT_KNOBS = {
    "predictor.quantile": 0.9,
    "sla.scale_down_tolerance": 0.2,
    "stabilization.scale_down_window_s": 300.0,
}


def needed_margin(
    arrival_s: np.ndarray,
    work: np.ndarray,
    *,
    interval_s: float,
    lead: int,
    quantiles: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99),
) -> dict[str, float]:
    """Request-weighted quantiles of work(t + lead) / work(t) over full intervals.

    Intervals t with no work are skipped (a ratio over nothing is undefined); the
    trace's last, partial interval is dropped.
    """
    idx = (arrival_s // interval_s).astype(np.int64)
    n = int(idx.max()) if idx.size else 0  # the last (partial) interval is dropped
    per = np.bincount(idx, weights=work, minlength=n + 1)[:n]
    count = np.bincount(idx, minlength=n + 1)[:n].astype(float)
    t = np.arange(max(0, n - lead))
    t = t[per[t] > 0]
    if t.size == 0:
        return {}
    ratio = per[t + lead] / per[t]
    weight = count[t + lead]
    order = np.argsort(ratio, kind="stable")
    cum = np.cumsum(weight[order]) / max(weight.sum(), 1e-12)
    out = {}
    for q in quantiles:
        k = min(int(np.searchsorted(cum, q, side="left")), len(order) - 1)
        out[f"p{q * 100:g}"] = float(ratio[order][k])
    return out


def margin_cost(name: str) -> dict[str, Any]:
    """Parts 1 and 2 for one scenario, plus the goal (static99 and oracle searched)."""
    from planner.core.config import PolicyConfig
    from planner.sim.controllers import exact_forecast, size_for_load
    from planner.sim.metrics import summarize

    exp = experiment(name)
    s, tr = exp.settings, exp.trace
    lead = lead_intervals(interval_s=s.interval_s, startup_s=s.startup_s)
    need = {
        "prefill": needed_margin(tr.arrival_s, tr.isl_tokens, interval_s=s.interval_s, lead=lead),
        "decode": needed_margin(tr.arrival_s, tr.osl_tokens, interval_s=s.interval_s, lead=lead),
    }
    config = PolicyConfig(settings=s.model_copy(update={"policy": "sla"}), perf=exp.truth_perf)
    n = int(tr.duration_s // s.interval_s)
    cost: dict[str, float] = {}
    for m in MARGINS:
        gpu_intervals = 0
        for k in range(n):
            rate, isl, osl = exp._load(k * s.interval_s, (k + 1) * s.interval_s)
            if rate <= 0:
                gpu_intervals += len(exp.components)
                continue
            fleet = size_for_load(
                config, exact_forecast(rate * (1 + m), isl, osl, horizon_s=s.interval_s)
            )
            gpu_intervals += sum(fleet[c] * exp.gpus[c] for c in exp.components)
        cost[f"{m:g}"] = gpu_intervals * s.interval_s / 3600.0
    summaries, runs = exp.compare(("static", "oracle"))
    static = summaries[0]["gpu_hours"]
    oracle = summaries[1]["gpu_hours"]
    return {
        "lead_intervals": lead,
        "needed_margin": need,
        "exact_sizing_gpu_hours": cost,
        "static99_gpu_hours": static,
        "oracle_gpu_hours": oracle,
        "startup_bound_gpu_hours": runs["oracle"].extra.get("startup_bound_gpu_hours"),
        "goal_gpu_hours": static - 0.5 * (static - oracle),
        "static_fleet": runs["static"].extra.get("static_fleet"),
        "oracle_attainment": summarize(runs["oracle"], exp.targets)["attainment"]["both"],
        "hindsight": hindsight_points(exp, runs["oracle"]),
    }


def hindsight_points(exp: Any, oracle_run: Any) -> list[dict[str, Any]]:
    """Part 4 for one scenario: every (hold, margin) tried, in order."""
    from planner.sim.metrics import summarize

    initial = exp.initial_fleet()
    needs = oracle_needs(oracle_run, initial)
    out: list[dict[str, Any]] = []
    for hold in HINDSIGHT_HOLDS:
        for margin in HINDSIGHT_MARGINS:
            ctl = hindsight_controller(
                needs,
                margin=margin,
                hold=hold,
                truth_perf=exp.truth_perf,
                prefill_gpus=exp.gpus.get(Component.PREFILL, 1),
            )
            sm = summarize(exp.run(ctl, initial=initial), exp.targets)
            att = sm["attainment"]["both"]
            out.append(
                {"hold": hold, "margin": margin, "attainment": att, "gpu_hours": sm["gpu_hours"]}
            )
            if att >= exp.attainment_goal:
                break
    return out


def sla_point(job: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """Part 3: one sla configuration on one scenario."""
    from planner.sim.metrics import summarize

    name, extra = job
    exp = experiment(name, extra)
    run = exp.run(exp.controller("sla"), initial=exp.initial_fleet())
    sm = summarize(run, exp.targets)
    return {
        "scenario": name,
        "knobs": extra,
        "attainment": sm["attainment"]["both"],
        "gpu_hours": sm["gpu_hours"],
    }


def _common(results: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, float]]]:
    """Grid points that reach 99% on every scenario, with their GPU-hours."""
    by_knobs: dict[str, dict[str, dict[str, Any]]] = {}
    for name in AZURE:
        for p in results.get(name, {}).get("sla", []):
            by_knobs.setdefault(json.dumps(p["knobs"], sort_keys=True), {})[name] = p
    names = [n for n in AZURE if n in results]
    out = []
    for key, pts in by_knobs.items():
        if len(pts) == len(names) and all(pts[n]["attainment"] >= 0.99 for n in names):
            out.append((json.loads(key), {n: pts[n]["gpu_hours"] for n in names}))
    return out


def markdown(results: dict[str, Any]) -> str:
    keys = list(GRID)
    short = {
        "predictor.quantile": "q",
        "sla.scale_down_tolerance": "tol",
        "stabilization.scale_down_window_s": "window s",
    }
    lines = [
        "| scenario | lead | prefill work ratio p50 / p90 / p95 / p99 | decode p90 / p95 "
        "| exact sizing GPU-h at margin 0 / 0.2 / 0.4 | perfect foresight + start-up "
        "| goal | best sla >= 99% (GPU-h, att.) | default sla |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in AZURE:
        r = results.get(name)
        if r is None:
            continue
        pre, dec = r["needed_margin"]["prefill"], r["needed_margin"]["decode"]
        c = r["exact_sizing_gpu_hours"]
        pts = r["sla"]
        ok = [p for p in pts if p["attainment"] >= 0.99]
        best = min(ok, key=lambda p: p["gpu_hours"]) if ok else None
        default = next((p for p in pts if p["knobs"] == DEFAULT_KNOBS), None)
        best_s = "none reaches 99%"
        if best is not None:
            knobs = ", ".join(f"{short[k]} {best['knobs'][k]:g}" for k in keys)
            best_s = f"{best['gpu_hours']:.2f}, {100 * best['attainment']:.2f}% ({knobs})"

        default_s = (
            f"{default['gpu_hours']:.2f}, {100 * default['attainment']:.2f}%" if default else "n/a"
        )
        bound = r.get("startup_bound_gpu_hours") or float("nan")
        lines.append(
            f"| {name} | {r['lead_intervals']} | "
            + " / ".join(f"{pre[k]:.2f}" for k in ("p50", "p90", "p95", "p99"))
            + f" | {dec['p90']:.2f} / {dec['p95']:.2f} | "
            + " / ".join(f"{c[f'{m:g}']:.2f}" for m in MARGINS)
            + f" | {bound:.2f} | {r['goal_gpu_hours']:.2f} | {best_s} | {default_s} |"
        )
    common = _common(results)
    lines.append("")
    lines.append(
        "Grid points reaching 99% on all of "
        + ", ".join(n for n in AZURE if n in results)
        + ": "
        + (
            "; ".join(
                f"{', '.join(f'{short[k]} {v:g}' for k, v in knobs.items())} "
                f"({', '.join(f'{n} {g:.2f}' for n, g in hours.items())} GPU-h)"
                for knobs, hours in common
            )
            or "none"
        )
        + "."
    )
    lines += ["", *hindsight_markdown(results)]
    lines.append("")
    lines.append(
        "Frontier of the sla policy (every grid point: "
        + ", ".join(f"{short[k]} in {list(v)}" for k, v in GRID.items())
        + "):"
    )
    lines.append("")
    lines.append("| scenario | " + " | ".join(short[k] for k in keys) + " | att. | GPU-h |")
    lines.append("|---|" + "---|" * len(keys) + "---|---|")
    for name in AZURE:
        for p in sorted(results.get(name, {}).get("sla", []), key=lambda p: p["gpu_hours"]):
            lines.append(
                f"| {name} | "
                + " | ".join(f"{p['knobs'][k]:g}" for k in keys)
                + f" | {100 * p['attainment']:.2f}% | {p['gpu_hours']:.2f} |"
            )
    if "servegen" in results:
        lines += ["", servegen_markdown(results["servegen"])]
    return "\n".join(lines)


def _cheapest(points: list[dict[str, Any]], goal: float = 0.99) -> dict[str, Any] | None:
    ok = [p for p in points if p["attainment"] >= goal]
    return min(ok, key=lambda p: p["gpu_hours"]) if ok else None


def hindsight_markdown(results: dict[str, Any]) -> list[str]:
    """Part 4's table and what it says, from the numbers (no claim is fixed text)."""
    rows = [n for n in AZURE if results.get(n, {}).get("hindsight")]
    if not rows:
        return []
    lines = [
        "Hindsight (told each interval's exact need at its end, asks ceil(margin x need) "
        "plus what drains the queued prompts within an interval, keeps each ask for "
        "`hold` decisions, real start-up; margins tried upward to the first reaching "
        "99%):",
        "",
        "| scenario | hold | margins tried: att. / GPU-h | cheapest >= 99% | goal |",
        "|---|---|---|---|---|",
    ]
    above: list[str] = []
    beaten: list[str] = []
    for name in rows:
        r = results[name]
        pts = r["hindsight"]
        for hold in sorted({p["hold"] for p in pts}):
            tried = [p for p in pts if p["hold"] == hold]
            best = _cheapest(tried)
            lines.append(
                f"| {name} | {hold} | "
                + ", ".join(
                    f"{p['margin']:g}: {100 * p['attainment']:.2f}% / {p['gpu_hours']:.2f}"
                    for p in tried
                )
                + (f" | {best['gpu_hours']:.2f} " if best else " | none ")
                + f"| {r['goal_gpu_hours']:.2f} |"
            )
        best = _cheapest(pts)
        if best is None or best["gpu_hours"] > r["goal_gpu_hours"]:
            above.append(name)
        default = next((p for p in r.get("sla", []) if p["knobs"] == DEFAULT_KNOBS), None)
        if (
            default is not None
            and default["attainment"] >= 0.99
            and (best is None or default["gpu_hours"] < best["gpu_hours"])
        ):
            beaten.append(f"{name} ({default['gpu_hours']:.2f} GPU-h)")
    lines.append("")
    if len(above) == len(rows):
        lines.append(
            "No hindsight point reaching 99% is within the goal on any of " + ", ".join(rows) + "."
        )
    else:
        within = [n for n in rows if n not in above]
        lines.append("Hindsight reaches 99% within the goal on " + ", ".join(within) + ".")
    if beaten:
        lines[-1] += (
            " The default sla policy reaches 99% for fewer GPU-hours than every hindsight "
            "point that does on " + ", ".join(beaten) + "."
        )
    return lines


def render(results: dict[str, Any]) -> None:
    text = DOC.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{DOC}: no {BEGIN} ... {END} block")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{markdown(results)}\n{END}{tail}")


def main(argv: list[str]) -> int:
    if argv == ["--render"]:
        render(json.loads((OUT / "feasibility.json").read_text()))
        return 0
    names = [n for n in argv if n in AZURE] or ([] if argv == ["servegen"] else list(AZURE))
    path = OUT / "feasibility.json"
    results: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    t0 = time.perf_counter()
    grid = [dict(zip(GRID, v, strict=True)) for v in itertools.product(*GRID.values())]
    with concurrent.futures.ProcessPoolExecutor(max_workers=2) as pool:
        if not argv or "servegen" in argv:
            settings = experiment("servegen").settings
            results["servegen"] = {
                "lead_intervals": lead_intervals(
                    interval_s=settings.interval_s, startup_s=settings.startup_s
                ),
                "goal_gpu_hours": servegen_goal(),
                "points": list(pool.map(servegen_point, SERVEGEN_POINTS)),
            }
            goal = results["servegen"]["goal_gpu_hours"]
            met = [
                p
                for p in results["servegen"]["points"]
                if p["attainment"] >= 0.99 and (goal is None or p["gpu_hours"] <= goal)
            ]
            if met and min(met, key=lambda p: p["gpu_hours"])["knobs"]:
                knobs = min(met, key=lambda p: p["gpu_hours"])["knobs"]
                checks = pool.map(sla_point, [("conv", knobs), ("code", knobs)])
                results["servegen"]["azure_check"] = {c["scenario"]: c for c in checks}
            print(f"servegen: {json.dumps(results['servegen'])}")
        costs = {n: pool.submit(margin_cost, n) for n in names}
        points = list(pool.map(sla_point, [(n, g) for n in names for g in grid]))
        for n in names:
            results[n] = costs[n].result() | {"sla": [p for p in points if p["scenario"] == n]}
            print(f"{n}: {json.dumps({k: v for k, v in results[n].items() if k != 'sla'})}")
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")
    render(results)
    print(f"wrote {path} and {DOC} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
