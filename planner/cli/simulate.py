"""``sla-planner simulate``: run policies over a trace on the simulated cluster and report."""

from __future__ import annotations

import argparse
from typing import Any

POLICY_NAMES = ("sla", "dynamo", "static", "threshold", "oracle")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "simulate",
        help="simulate policies on a request trace: SLA attainment vs GPU-hours",
        description="Discrete-event simulation of prefill/decode workers driven by a trace, "
        "with each policy in the loop. Writes summary.json, PNG plots and report.html.",
    )
    p.add_argument("--trace", required=True, help="Azure CSV, Mooncake JSONL or ServeGen tar.gz")
    p.add_argument(
        "--policy",
        nargs="+",
        choices=POLICY_NAMES,
        default=list(POLICY_NAMES),
        help="policies to compare (default: all five)",
    )
    p.add_argument("--true-profile", help="profile the simulated workers really follow")
    p.add_argument(
        "--true-slowdown",
        type=float,
        help="simulated workers are X times slower than the (true) profile",
    )
    p.add_argument("--rate-scale", type=float, default=1.0, help="multiply the trace's rate")
    p.add_argument("--seed", type=int, default=0, help="seed for rate scaling / expansion")
    p.add_argument("--hours", type=float, help="ServeGen: hours of the workload to expand")
    p.add_argument(
        "--static-replicas",
        help="fixed fleet for 'static', e.g. prefill=4,decode=2 (default: search "
        "the smallest fleet reaching 99%% attainment)",
    )
    p.add_argument("--decode-step-s", type=float, default=0.2, help="decode tick (s)")
    p.add_argument("--out", help="output directory (default out/sim/<trace>)")
    p.add_argument("--no-plots", action="store_true", help="skip PNG plots")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument(
        "--quiet", action="store_true", help="no progress bars (they show only on a terminal)"
    )
    g = p.add_argument_group("planner settings")
    g.add_argument("--config", help="YAML settings file")
    g.add_argument("--profile", help="the planner's profile directory")
    g.add_argument("--mode", choices=["disagg", "agg"])
    g.add_argument("--ttft-ms", type=float, help="TTFT target (ms)")
    g.add_argument("--itl-ms", type=float, help="ITL target (ms)")
    g.add_argument("--interval-s", type=float, help="adjustment interval (s)")
    g.add_argument("--startup-s", type=float, help="worker start-up time (s)")
    g.add_argument("--max-gpus", type=int, help="GPU budget")
    p.set_defaults(handler=run)


_FIELDS = {
    "profile": "profile",
    "mode": "mode",
    "ttft_ms": "ttft_ms",
    "itl_ms": "itl_ms",
    "interval_s": "interval_s",
    "startup_s": "startup_s",
    "max_gpus": "budget.max_gpus",
}


def _parse_fleet(text: str) -> dict[Any, int]:
    from planner.core.types import Component
    from planner.errors import ConfigError

    out: dict[Any, int] = {}
    for part in text.split(","):
        name, _, num = part.partition("=")
        try:
            out[Component(name.strip())] = int(num)
        except ValueError as exc:
            raise ConfigError("--static-replicas", text, "e.g. prefill=4,decode=2") from exc
    return out


def run(args: argparse.Namespace) -> int:
    import json
    import time
    from pathlib import Path

    from planner.cli.progress import RunBars, bars_wanted
    from planner.errors import ConfigError
    from planner.perf.model import PerfModel
    from planner.perf.profile import load_profile
    from planner.settings import load_settings
    from planner.sim.experiment import Experiment
    from planner.sim.report import write_report
    from planner.sim.truth import scaled_profile
    from planner.workload.readers import read_request_trace

    overrides = {f: getattr(args, d) for d, f in _FIELDS.items() if getattr(args, d) is not None}
    settings = load_settings(config_file=args.config, overrides=overrides)
    if args.rate_scale <= 0:
        raise ConfigError("--rate-scale", args.rate_scale, "> 0")
    non_monotonic = settings.profile_non_monotonic
    profile = load_profile(settings.profile, non_monotonic=non_monotonic)
    planner_perf = PerfModel(profile)
    true_profile = (
        load_profile(args.true_profile, non_monotonic=non_monotonic)
        if args.true_profile
        else profile
    )
    if args.true_slowdown is not None:
        true_profile = scaled_profile(true_profile, slowdown=args.true_slowdown)
    truth_perf = planner_perf if true_profile is profile else PerfModel(true_profile)
    trace = read_request_trace(
        args.trace, rate_scale=args.rate_scale, seed=args.seed, servegen_hours=args.hours
    )
    bars = RunBars(enabled=bars_wanted(quiet=args.quiet))
    exp = Experiment(
        trace,
        settings,
        planner_perf,
        truth_perf,
        decode_step_s=args.decode_step_s,
        progress=bars,
    )
    t0 = time.perf_counter()
    try:
        bars("initial fleet", 0.0)  # a search that can take a while; compare() reuses it
        exp.initial_fleet()
        bars("initial fleet", 1.0)
        summaries, runs = exp.compare(
            args.policy,
            static_fleet=_parse_fleet(args.static_replicas) if args.static_replicas else None,
        )
    finally:
        bars.close()
    wall = time.perf_counter() - t0
    meta = {
        "trace": str(args.trace),
        "requests": len(trace),
        "span_s": trace.duration_s,
        "rate_scale": args.rate_scale,
        "seed": args.seed,
        "hours": args.hours,
        "profile": str(settings.profile),
        "true_profile": args.true_profile or str(settings.profile),
        "true_slowdown": args.true_slowdown or 1.0,
        "ttft_ms": settings.ttft_ms,
        "itl_ms": settings.itl_ms,
        "interval_s": settings.interval_s,
        "startup_s": settings.startup_s,
        "mode": settings.mode,
        "initial_fleet": {c.value: n for c, n in exp.initial_fleet().items()},
        "wall_s": round(wall, 2),
    }
    out = Path(args.out) if args.out else Path("out/sim") / Path(args.trace).name.split(".")[0]
    written = write_report(
        out,
        runs=runs,
        summaries=summaries,
        meta=meta,
        plots=not args.no_plots,
        goal=exp.attainment_goal,
    )
    if args.json:
        print(json.dumps({"meta": meta, "policies": summaries}, indent=2, default=str))
        return 0
    print(f"{len(trace)} requests, {trace.duration_s / 60:.1f} min, simulated in {wall:.1f} s")
    print(
        f"{'policy':<10} {'SLA%':>7} {'TTFT%':>7} {'ITL%':>7} {'GPU-h':>8} "
        f"{'TTFTp99':>9} {'ITLp99':>8} {'events':>7} {'revs':>5}"
    )
    for s in summaries:
        a = s["attainment"]
        print(
            f"{s['policy']:<10} {100 * a['both']:7.2f} {100 * a['ttft']:7.2f} "
            f"{100 * a['itl']:7.2f} {s['gpu_hours']:8.2f} {s['ttft_ms']['p99'] or 0:9.0f} "
            f"{s['itl_ms']['p99'] or 0:8.1f} {sum(s['scale_events'].values()):7d} "
            f"{sum(s['direction_reversals'].values()):5d}"
        )
    print(f"wrote {written['summary']} and {written['report']}")
    return 0
