"""Ablations of the sla policy's rules: each rule switched off in turn, the sla policy
alone on every scenario of a set, against the rule set as shipped.

    python -m planner.evaluation.policy_ablation --set validation --jobs 2
    python -m planner.evaluation.policy_ablation --set validation bursts sine   # some

A rule earns its place when switching it off costs attainment (below the objective) or
GPU-hours on the validation set; the table says, per scenario and variant, both numbers
and the difference to the shipped rules. Results go to out/ablation/<set>.json (a run
again replaces the entries it computed) and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from planner.evaluation.evaluate import OUT, experiment
from planner.evaluation.scenarios import SCENARIOS, scenarios_in
from planner.sim.parallel import Task, default_jobs, run_tasks

#: variant -> settings overrides; "shipped" is the policy as configured by default
VARIANTS: dict[str, dict[str, Any]] = {
    "shipped": {},
    "no TTFT pressure": {"sla": {"ttft_feedback": False}},
    "no ITL pressure": {"sla": {"itl_feedback": False}},
    "no burst memory": {"sla": {"max_scale_down_window_s": 0.0}},
    "no hysteresis": {"sla": {"scale_down_tolerance": 0.0}},
    "no step fraction": {"stabilization": {"max_scale_down_fraction": None}},
    "error budget spent": {"sla": {"spend_budget": True}},
}


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra``'s sections merged in (one level deep)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def tasks_for(names: list[str], variants: list[str]) -> list[Task]:
    """One sla task per (scenario, variant), the longest scenarios first."""
    tasks: list[Task] = []
    for name in names:
        sc = SCENARIOS[name]
        for v in variants:
            overrides = _merge(dict(sc.settings), VARIANTS[v])
            exp = experiment(replace(sc, settings=overrides))
            tasks.append(Task(key=f"{name}|{v}", experiment=exp, policy="sla"))
    return tasks


def table(results: dict[str, dict[str, Any]], names: list[str], variants: list[str]) -> str:
    """Markdown: per scenario and variant, attainment (both targets) and GPU-hours, with
    the difference to the shipped rules."""
    head = "| scenario | " + " | ".join(variants) + " |"
    rows = [head, "|---" * (len(variants) + 1) + "|"]
    for name in names:
        base = results.get(f"{name}|shipped")
        cells = []
        for v in variants:
            r = results.get(f"{name}|{v}")
            if r is None:
                cells.append("-")
                continue
            cell = f"{100 * r['attainment']:.2f}% {r['gpu_hours']:.2f}"
            if base is not None and v != "shipped":
                cell += f" ({r['gpu_hours'] - base['gpu_hours']:+.2f})"
            cells.append(cell)
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", help="scenarios (default: the whole set)")
    ap.add_argument("--set", default="validation", choices=("tuning", "validation"))
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--jobs", type=int, default=default_jobs())
    args = ap.parse_args(argv)
    names = args.names or [s.name for s in scenarios_in(args.set)]
    variants = ["shipped", *[v for v in args.variants if v != "shipped"]]
    path: Path = OUT.parent / "ablation" / f"{args.set}.json"
    results: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.exists() else {}

    def done(key: str) -> None:
        print(f"done {key}", flush=True)

    out = run_tasks(tasks_for(names, variants), jobs=args.jobs, on_done=done)
    for key, (summary, _run) in out.items():
        results[key] = {
            "attainment": float(summary["attainment"]["both"]),
            "gpu_hours": float(summary["gpu_hours"]),
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(table(results, names, variants))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
