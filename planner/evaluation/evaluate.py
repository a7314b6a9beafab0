"""Policy evaluation on the tuning and validation sets; writes docs/simulation.md.

    python -m planner.evaluation.evaluate                     # both sets
    python -m planner.evaluation.evaluate --set validation    # one set
    python -m planner.evaluation.evaluate conv sine           # named scenarios
    python -m planner.evaluation.evaluate --render            # only rewrite the doc
    python -m planner.evaluation.evaluate --jobs 4            # processes (default: CPUs)

Each scenario (planner/evaluation/scenarios.py) runs ``sla-planner simulate``'s engine
(planner.sim.experiment) with its recipe, SLO, profile, worker speed and settings, a 60 s
interval and a 180 s start-up; every (scenario, policy) pair is one task in a pool of
processes, the slowest first. It writes summary.json, plots and report.html under
out/evaluate/<scenario>/, keeps every result in out/evaluate/results.json (a scenario
run again replaces its entry) and renders the doc from all of them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from planner.evaluation.render import render_doc
from planner.evaluation.scenario import PROFILES, Scenario
from planner.evaluation.scenarios import SCENARIOS, scenarios_in
from planner.perf.model import PerfModel
from planner.perf.profile import DEFAULT_PROFILE_DIR, load_profile
from planner.profiler.splitwise import SHIPPED_DIR
from planner.settings import load_settings
from planner.sim.experiment import POLICIES, Experiment
from planner.sim.parallel import Task, default_jobs, run_tasks
from planner.sim.report import write_report
from planner.sim.truth import scaled_profile

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "traces"
OUT = REPO / "out" / "evaluate"
DOC = REPO / "docs" / "simulation.md"
PROFILE_DIRS = {PROFILES[0]: DEFAULT_PROFILE_DIR, PROFILES[1]: SHIPPED_DIR}

#: the settings every scenario runs with, under its own targets
BASE_SETTINGS: dict[str, Any] = {"interval_s": 60, "startup_s": 180}
#: relative cost of a policy's task (the static search runs several simulations, the
#: oracle many short ones): start the long ones first
_COST = {"static": 6.0, "oracle": 5.0}


def experiment(name: str | Scenario, overrides: dict[str, Any] | None = None) -> Experiment:
    """Scenario ``name`` as an Experiment, with settings ``overrides`` on top."""
    sc = SCENARIOS[name] if isinstance(name, str) else name
    profile = load_profile(PROFILE_DIRS[sc.profile], row=sc.profile_row)
    perf = PerfModel(profile)
    truth = perf if sc.slowdown == 1.0 else PerfModel(scaled_profile(profile, slowdown=sc.slowdown))
    settings = load_settings(
        overrides=BASE_SETTINGS
        | {"ttft_ms": sc.ttft_ms, "itl_ms": sc.itl_ms, "profile": PROFILE_DIRS[sc.profile]}
        | ({"profile_row": sc.profile_row} if sc.profile_row else {})
        | dict(sc.settings)
        | (overrides or {})
    )
    return Experiment(sc.build(DATA), settings, perf, truth)


def command(sc: Scenario) -> str:
    """How to run the scenario alone (its ``sla-planner simulate`` twin when it has one)."""
    if sc.simulate_args is None:
        return f"python -m planner.evaluation.evaluate {sc.name}"
    slow = f" --true-slowdown {sc.slowdown:g}" if sc.slowdown != 1.0 else ""
    return (
        f"sla-planner simulate {sc.simulate_args} --ttft-ms {sc.ttft_ms:g} --itl-ms "
        f"{sc.itl_ms:g} --interval-s 60 --startup-s 180 --seed {sc.seed}{slow} "
        f"--out out/evaluate/{sc.name}"
    )


def _meta(sc: Scenario, exp: Experiment) -> dict[str, Any]:
    tr = exp.trace
    return {
        "scenario": sc.name,
        "set": sc.set,
        "trace": tr.name,
        "recipe": sc.recipe,
        "seed": sc.seed,
        "requests": len(tr),
        "span_min": round(tr.duration_s / 60, 1),
        "mean_isl": round(float(tr.isl_tokens.mean()), 1),
        "mean_osl": round(float(tr.osl_tokens.mean()), 1),
        "profile": sc.profile,
        "profile_row": sc.profile_row,
        "true_slowdown": sc.slowdown,
        "ttft_ms": sc.ttft_ms,
        "itl_ms": sc.itl_ms,
        "settings": dict(sc.settings),
        "diurnal": sc.diurnal,
        "gpus_per_worker": {c.value: n for c, n in exp.gpus.items()},
        "engine_limits": exp.limits.describe(),
        "workload_check": exp.workload_check().as_dict(),
        "initial_fleet": {c.value: n for c, n in exp.initial_fleet().items()},
        "command": command(sc),
    }


def run_scenarios(
    names: list[str],
    *,
    jobs: int,
    policies: tuple[str, ...] = POLICIES,
    previous: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Every policy on every named scenario, in one pool; reports written per scenario.
    With ``policies`` a subset, only those run and the others' summaries are taken from
    ``previous`` (an earlier results.json); the per-scenario reports are then left as
    they were (their plots need every policy's run)."""
    if set(policies) != set(POLICIES):
        earlier = previous or {}
        others = set(POLICIES) - set(policies)
        missing = [
            n
            for n in names
            if n not in earlier or not others <= {x["policy"] for x in earlier[n]["policies"]}
        ]
        if missing:
            raise ValueError(f"no earlier results of every other policy for {missing}")
    exps: dict[str, Experiment] = {}
    metas: dict[str, dict[str, Any]] = {}
    for name in names:
        t0 = time.perf_counter()
        exps[name] = experiment(name)
        metas[name] = _meta(SCENARIOS[name], exps[name])  # includes the initial-fleet search
        metas[name]["setup_s"] = round(time.perf_counter() - t0, 1)
        print(f"== {name}: {len(exps[name].trace)} requests; {metas[name]['command']}", flush=True)
    tasks = [Task(f"{n}/{p}", exps[n], p) for n in names for p in policies]
    tasks.sort(key=lambda t: -_COST.get(t.policy, 1.0) * t.experiment.trace.duration_s)
    t0 = time.perf_counter()
    done = run_tasks(tasks, jobs=jobs, on_done=lambda key: print(f"   done {key}", flush=True))
    wall = round(time.perf_counter() - t0, 1)
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        before_meta = (previous or {}).get(name, {}).get("meta", {})
        before = {x["policy"]: x for x in (previous or {}).get(name, {}).get("policies", [])}
        summaries = [done[f"{name}/{p}"][0] if p in policies else before[p] for p in POLICIES]
        runs = {p: done[f"{name}/{p}"][1] for p in policies}
        walls = dict(before_meta.get("task_wall_s", {}))
        walls |= {p: r.extra_timing.get("task_wall_s") for p, r in runs.items()}
        metas[name]["task_wall_s"] = walls
        metas[name]["pool_wall_s"] = wall
        metas[name]["jobs"] = jobs
        metas[name]["warnings"] = exps[name].workload_check().warnings()
        if "static" in runs:
            reached = runs["static"].extra.get("static_reached_goal")
        else:  # the earlier run's verdict, carried in its warnings
            reached = not any("no static99" in w for w in before_meta.get("warnings", []))
        if reached is False:
            metas[name]["warnings"].append("no fixed fleet tried reached 99%: no static99")
        results[name] = {"meta": metas[name], "policies": summaries}
    if set(policies) != set(POLICIES):
        return results
    for name in names:  # after every result is in hand: plots take a while
        runs = {p: done[f"{name}/{p}"][1] for p in POLICIES}
        write_report(OUT / name, runs=runs, summaries=results[name]["policies"],
                     meta=metas[name])  # fmt: skip
    return results


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m planner.evaluation.evaluate")
    ap.add_argument("names", nargs="*", help="scenarios to run (default: the chosen sets)")
    ap.add_argument("--set", choices=["tuning", "validation"], help="run only this set")
    ap.add_argument("--render", action="store_true", help="only rewrite the doc")
    ap.add_argument("--jobs", type=int, help="processes (default: the CPUs available)")
    ap.add_argument(
        "--policy",
        nargs="+",
        choices=POLICIES,
        help="re-run only these policies (e.g. sla after a policy change), keeping the "
        "others' results from out/evaluate/results.json; the per-scenario reports are "
        "not rewritten",
    )
    args = ap.parse_args(argv)
    unknown = [n for n in args.names if n not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s) {unknown}; known: {', '.join(SCENARIOS)}")
    names = [] if args.render else (args.names or [s.name for s in scenarios_in(args.set)])
    results_path = OUT / "results.json"
    results: dict[str, Any] = json.loads(results_path.read_text()) if results_path.exists() else {}
    if names:
        policies = tuple(args.policy) if args.policy else POLICIES
        try:
            fresh = run_scenarios(
                names, jobs=args.jobs or default_jobs(), policies=policies, previous=results
            )
        except ValueError as exc:
            ap.error(str(exc))
        results.update(fresh)
        OUT.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    DOC.write_text(render_doc(results, doc=DOC))
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
