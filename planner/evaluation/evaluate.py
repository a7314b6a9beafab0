"""Policy evaluation on the shared traces; writes docs/simulation.md (tables + method).

    python -m planner.evaluation.evaluate            # all scenarios (several minutes)
    python -m planner.evaluation.evaluate conv       # one scenario by name
    python -m planner.evaluation.evaluate --render   # only rewrite the doc from saved results

Per scenario it runs ``sla-planner simulate``'s engine (planner.sim.experiment) with the
shipped H200 profile, TTFT 500 ms, ITL 50 ms, 60 s interval, 180 s start-up, seed 0,
and writes summary.json + plots + report.html under out/evaluate/<scenario>/.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from planner.perf.model import PerfModel
from planner.perf.profile import DEFAULT_PROFILE_DIR, load_profile
from planner.settings import load_settings
from planner.sim.experiment import Experiment
from planner.sim.report import write_report
from planner.sim.truth import scaled_profile
from planner.workload.readers import read_request_trace

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "traces"
OUT = REPO / "out" / "evaluate"
DOC = REPO / "docs" / "simulation.md"

#: name -> (trace file, rate scale, ServeGen hours, true slowdown)
SCENARIOS: dict[str, tuple[str, float, float | None, float]] = {
    "conv": ("azure_llm_2023_conv.csv", 30.0, None, 1.0),
    "conv-slow": ("azure_llm_2023_conv.csv", 30.0, None, 1.2),
    "code": ("azure_llm_2023_code.csv", 15.0, None, 1.0),
    "code-slow": ("azure_llm_2023_code.csv", 15.0, None, 1.2),
    "servegen": ("servegen_language_m-small.tar.gz", 0.01, 24.0, 1.0),
    "servegen-slow": ("servegen_language_m-small.tar.gz", 0.01, 24.0, 1.2),
}


def command(name: str) -> str:
    f, scale, hours, slow = SCENARIOS[name]
    parts = [
        "sla-planner simulate",
        f"--trace ../shared/data/traces/{f}",
        f"--rate-scale {scale:g}",
        "--ttft-ms 500 --itl-ms 50 --interval-s 60 --startup-s 180 --seed 0",
    ]
    if hours is not None:
        parts.append(f"--hours {hours:g}")
    if slow != 1.0:
        parts.append(f"--true-slowdown {slow:g}")
    parts.append(f"--out out/evaluate/{name}")
    return " ".join(parts)


#: the settings every scenario runs with (the issue's targets and timings)
BASE_SETTINGS: dict[str, Any] = {"ttft_ms": 500, "itl_ms": 50, "interval_s": 60, "startup_s": 180}


def experiment(name: str, overrides: dict[str, Any] | None = None) -> Experiment:
    """Scenario ``name`` as an Experiment (seed 0), with settings ``overrides`` on top."""
    f, scale, hours, slow = SCENARIOS[name]
    profile = load_profile(DEFAULT_PROFILE_DIR)
    perf = PerfModel(profile)
    truth = perf if slow == 1.0 else PerfModel(scaled_profile(profile, slowdown=slow))
    trace = read_request_trace(DATA / f, rate_scale=scale, seed=0, servegen_hours=hours)
    settings = load_settings(overrides=BASE_SETTINGS | (overrides or {}))
    return Experiment(trace, settings, perf, truth)


def run_scenario(name: str) -> dict[str, Any]:
    f, scale, hours, slow = SCENARIOS[name]
    exp = experiment(name)
    trace = exp.trace
    t0 = time.perf_counter()
    summaries, runs = exp.compare()
    wall = time.perf_counter() - t0
    meta = {
        "scenario": name,
        "trace": f,
        "requests": len(trace),
        "span_min": round(trace.duration_s / 60, 1),
        "rate_scale": scale,
        "hours": hours,
        "true_slowdown": slow,
        "ttft_ms": 500,
        "itl_ms": 50,
        "initial_fleet": {c.value: n for c, n in exp.initial_fleet().items()},
        "wall_s": round(wall, 1),
        "command": command(name),
    }
    write_report(OUT / name, runs=runs, summaries=summaries, meta=meta)
    return {"meta": meta, "policies": summaries}


def _table(result: dict[str, Any]) -> str:
    pol = {p["policy"]: p for p in result["policies"]}
    static, oracle = pol["static"]["gpu_hours"], pol["oracle"]["gpu_hours"]
    goal = static - 0.5 * (static - oracle)
    lines = [
        "| policy | SLA att. | TTFT att. | ITL att. | GPU-h | TTFT p50/p90/p99 ms "
        "| ITL p50/p99 ms | goodput req/s | scale events | reversals | budget viol. |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in result["policies"]:
        a, t, i = p["attainment"], p["ttft_ms"], p["itl_ms"]
        name = p["policy"]
        if name == "static":
            name += f" {p.get('static_fleet')}"
        lines.append(
            f"| {name} | {100 * a['both']:.2f}% | {100 * a['ttft']:.2f}% | "
            f"{100 * a['itl']:.2f}% | {p['gpu_hours']:.2f} | "
            f"{t['p50']:.0f} / {t['p90']:.0f} / {t['p99']:.0f} | "
            f"{i['p50']:.1f} / {i['p99']:.1f} | {p['goodput_rps']:.1f} | "
            f"{sum(p['scale_events'].values())} | {sum(p['direction_reversals'].values())} | "
            f"{p['budget_violations']} |"
        )
    sla = pol["sla"]
    ok_att = sla["attainment"]["both"] >= 0.99
    ok_gpu = sla["gpu_hours"] <= goal
    lines.append("")
    lines.append(
        f"Goal for `sla`: attainment >= 99% ({'met' if ok_att else 'NOT met'}: "
        f"{100 * sla['attainment']['both']:.2f}%) and GPU-hours <= static99 - 0.5 x "
        f"(static99 - oracle) = {static:.2f} - 0.5 x ({static:.2f} - {oracle:.2f}) = "
        f"{goal:.2f} ({'met' if ok_gpu else 'NOT met'}: {sla['gpu_hours']:.2f})."
    )
    bound = pol["oracle"].get("startup_bound_gpu_hours")
    if bound is not None:
        lines.append(
            f"Perfect foresight with the real {result['meta'].get('startup_s', 180):g} s "
            f"start-up (the oracle's fleets, each held from start-up seconds before it is "
            f"needed): {bound:.2f} GPU-h; the oracle searched "
            f"{pol['oracle'].get('oracle_evaluations', 0)} candidate intervals."
        )
    return "\n".join(lines)


#: blocks other scripts write into the doc (kept when the doc is regenerated)
FEASIBILITY = ("<!-- feasibility:begin -->", "<!-- feasibility:end -->")


def _keep_block(new: str, doc: Path, markers: tuple[str, str]) -> str:
    """``new`` with the marked block's content taken from the current ``doc``."""
    begin, end = markers
    if not doc.exists() or begin not in new:
        return new
    old = doc.read_text()
    if begin not in old or end not in old:
        return new
    kept = old.split(begin, 1)[1].split(end, 1)[0]
    head, rest = new.split(begin, 1)
    return f"{head}{begin}{kept}{end}{rest.split(end, 1)[1]}"


def main(argv: list[str]) -> int:
    render_only = argv == ["--render"]
    names = [] if render_only else (argv or list(SCENARIOS))
    results_path = OUT / "results.json"
    results: dict[str, Any] = json.loads(results_path.read_text()) if results_path.exists() else {}
    for name in names:
        print(f"== {name}: {command(name)}", flush=True)
        results[name] = run_scenario(name)
        print(_table(results[name]), flush=True)
        OUT.mkdir(parents=True, exist_ok=True)
        results_path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    sections = []
    for name in SCENARIOS:
        if name not in results:
            continue
        m = results[name]["meta"]
        sections.append(
            f"### {name}\n\n{m['requests']} requests over {m['span_min']} min "
            f"(rate x{m['rate_scale']:g}, true profile {m['true_slowdown']:g}x slower than "
            f"the planner's); initial fleet {m['initial_fleet']}; all five policies "
            f"(including the static99 search) simulated in {m['wall_s']} s.\n\n"
            f"```\n{m['command']}\n```\n\n{_table(results[name])}\n"
        )
    template = (Path(__file__).parent / "simulation_template.md").read_text()
    DOC.write_text(
        _keep_block(template.replace("{{RESULTS}}", "\n".join(sections)), DOC, FEASIBILITY)
    )
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
