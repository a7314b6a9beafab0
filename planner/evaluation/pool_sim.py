"""The shared-pool measurement (``make pool-sim``): the graphs of a multi-graph settings
file, each replaying its own trace (its ``emulator.trace``, ``rate_scale`` and
``duration_s``) on its own profile, run twice on the simulated cluster:

- **separate pools**: each graph planned alone (its own ``Planner``, no shared cap); a
  dedicated pool for a graph must hold its peak, so its reserved size is the peak GPUs
  it held;
- **shared pool**: one ``PoolPlanner`` over ``pool.gpus``, arbitration included.

Writes ``out/pool-sim/summary.json`` and prints the table docs/pool.md records: per
graph its SLA attainment, requests that met the SLO, GPU-hours held and dollars in both
runs; for the pool, the GPU-hours and dollars reserved (pool size x span) and held.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from planner.core.arbitration import ComponentAsk, GraphAsk, arbitrate
from planner.core.config import PolicyConfig
from planner.core.types import Decision, Observation
from planner.emulator.build import load_emulator_trace
from planner.perf.model import PerfModel
from planner.perf.profile import load_profile
from planner.planner import Planner
from planner.pool.planner import PoolPlanner
from planner.pool.pricing import graph_price
from planner.settings import PlannerSettings, load_settings
from planner.settings.graphs import GraphConfig, graph_configs
from planner.sim.experiment import Experiment
from planner.sim.metrics import summarize
from planner.sim.pool import PoolMember, simulate_pool
from planner.sim.report import write_pool_report
from planner.sim.runner import SimRun

DEFAULT_CONFIG = Path("deploy/examples/pool.yaml")


def _experiment(g: GraphConfig) -> Experiment:
    s = g.settings
    trace = load_emulator_trace(s)
    perf = PerfModel(load_profile(s.profile, row=s.profile_row))
    return Experiment(trace, s, perf, perf)


def _members(graphs: tuple[GraphConfig, ...]) -> list[PoolMember]:
    """Each graph starts warm with the fleet ``simulate`` starts it with (the fewest
    replicas that serve the first interval + start-up, searched: Experiment)."""
    out = []
    for g in graphs:
        exp = _experiment(g)
        out.append(PoolMember(name=g.name, experiment=exp, initial=exp.initial_fleet()))
    return out


def _in_pool(
    graphs: tuple[GraphConfig, ...], members: list[PoolMember], *, pool_gpus: int
) -> list[PoolMember]:
    """The initial fleets cut to the pool by the same arbitration (higher priority first)."""
    asks = [
        GraphAsk(
            name=m.name,
            components={
                c: ComponentAsk(
                    requested=n,
                    minimum=PolicyConfig(settings=g.settings, perf=m.experiment.planner_perf)
                    .limits(c)
                    .min_replicas,
                    gpus_per_worker=m.experiment.gpus[c],
                )
                for c, n in m.initial.items()
            },
            priority=g.entry.priority,
            weight=g.entry.weight,
            floor_gpus=g.entry.floor_gpus,
        )
        for g, m in zip(graphs, members, strict=True)
    ]
    grants = arbitrate(asks, pool_gpus=pool_gpus).grants
    return [
        PoolMember(name=m.name, experiment=m.experiment, initial=dict(grants[m.name].targets))
        for m in members
    ]


def run_separate(graphs: tuple[GraphConfig, ...], members: list[PoolMember]) -> dict[str, SimRun]:
    planners = {
        m.name: Planner(g.settings, perf=m.experiment.planner_perf)
        for g, m in zip(graphs, members, strict=True)
    }

    def decide(obs: Mapping[str, Observation], now: float) -> dict[str, Decision]:
        return {n: p.step(obs[n], now=now) for n, p in planners.items()}

    return simulate_pool(members, decide, label="separate")


def run_shared(
    graphs: tuple[GraphConfig, ...], members: list[PoolMember], *, pool_gpus: int
) -> tuple[dict[str, SimRun], dict[str, int]]:
    perfs = {m.name: m.experiment.planner_perf for m in members}
    pool = PoolPlanner(graphs, pool_gpus=pool_gpus, perfs=perfs)
    members = _in_pool(graphs, members, pool_gpus=pool_gpus)
    cuts = {g.name: 0 for g in graphs}

    def decide(obs: Mapping[str, Observation], now: float) -> Mapping[str, Decision]:
        out = pool.step(obs, now=now)
        for n, grant in out.result.grants.items():
            cuts[n] += grant.reason is not None
        return out.decisions

    return simulate_pool(members, decide, label="shared"), cuts


def measure(settings: PlannerSettings) -> dict[str, Any]:
    graphs = graph_configs(settings)
    assert settings.pool.gpus is not None  # graph_configs checked it
    members = _members(graphs)
    t0 = time.perf_counter()
    separate = run_separate(graphs, members)
    shared, cuts = run_shared(graphs, members, pool_gpus=settings.pool.gpus)
    wall = time.perf_counter() - t0
    span_h = max(r.span_s for r in shared.values()) / 3600.0
    rows = []
    for g, m in zip(graphs, members, strict=True):
        price = graph_price(settings.pool, g.entry) or 0.0
        row: dict[str, Any] = {
            "graph": g.name,
            "priority": g.entry.priority,
            "usd_per_gpu_hour": price,
            "requests": len(m.experiment.trace),
            "intervals_cut": cuts[g.name],
        }
        for label, runs in (("separate", separate), ("shared", shared)):
            s = summarize(runs[g.name], m.experiment.targets)
            good = s["attainment"]["both"] * s["requests"]
            usd = s["gpu_hours"] * price
            row[label] = {
                "attainment": s["attainment"]["both"],
                "good_requests": round(good),
                "gpu_hours": s["gpu_hours"],
                "peak_gpus": s["peak_gpus_held"],
                "usd": usd,
                "usd_per_1k_good": usd / good * 1000.0 if good else None,
            }
        rows.append(row)
    reserved_sep = sum(r["separate"]["peak_gpus"] for r in rows)
    usd_reserved_sep = sum(r["separate"]["peak_gpus"] * r["usd_per_gpu_hour"] for r in rows)
    # the shared pool's GPUs are priced at the graphs' mean price, weighted by the
    # GPUs each held at its peak in the separate runs (the mix the pool replaces)
    mean_price = usd_reserved_sep / reserved_sep if reserved_sep else 0.0
    return {
        "pool_gpus": settings.pool.gpus,
        "span_h": span_h,
        "wall_s": round(wall, 1),
        "graphs": rows,
        "pools": {
            "separate": {
                "reserved_gpus": reserved_sep,
                "reserved_gpu_hours": reserved_sep * span_h,
                "reserved_usd": usd_reserved_sep * span_h,
                "held_gpu_hours": sum(r["separate"]["gpu_hours"] for r in rows),
                "held_usd": sum(r["separate"]["usd"] for r in rows),
            },
            "shared": {
                "reserved_gpus": settings.pool.gpus,
                "reserved_gpu_hours": settings.pool.gpus * span_h,
                "reserved_usd": settings.pool.gpus * mean_price * span_h,
                "held_gpu_hours": sum(r["shared"]["gpu_hours"] for r in rows),
                "held_usd": sum(r["shared"]["usd"] for r in rows),
            },
        },
    }


def table(result: dict[str, Any]) -> str:
    """The measurement as the markdown table docs/pool.md records."""
    lines = [
        "| graph | priority | run | SLA attainment | requests met SLO | peak GPUs | GPU-h held "
        "| $ held | $ / 1k met | intervals cut |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["graphs"]:
        for label in ("separate", "shared"):
            x = r[label]
            per_k = "-" if x["usd_per_1k_good"] is None else f"{x['usd_per_1k_good']:.3f}"
            lines.append(
                f"| {r['graph']} | {r['priority']} | {label} | {100 * x['attainment']:.2f}% "
                f"| {x['good_requests']:,} | {x['peak_gpus']} | {x['gpu_hours']:.2f} "
                f"| {x['usd']:.2f} | {per_k} | {r['intervals_cut'] if label == 'shared' else 0} |"
            )
    lines += ["", "| pools | GPUs reserved | GPU-h reserved | $ reserved | GPU-h held | $ held |"]
    lines.append("|---|---|---|---|---|---|")
    for label, p in result["pools"].items():
        lines.append(
            f"| {label} | {p['reserved_gpus']} | {p['reserved_gpu_hours']:.2f} "
            f"| {p['reserved_usd']:.2f} | {p['held_gpu_hours']:.2f} | {p['held_usd']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m planner.evaluation.pool_sim")
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help="multi-graph settings file")
    p.add_argument("--pool-gpus", type=int, help="override pool.gpus")
    p.add_argument("--out", default="out/pool-sim", help="output folder")
    args = p.parse_args(argv)
    overrides = {"pool.gpus": args.pool_gpus} if args.pool_gpus else None
    settings = load_settings(config_file=args.config, overrides=overrides)
    result = measure(settings)
    written = write_pool_report(Path(args.out), result=result, table=table(result))
    print(table(result))
    print(f"simulated in {result['wall_s']} s; wrote {written['report']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
