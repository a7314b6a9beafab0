"""``sla-planner simulate``: run policies over a trace on the simulated cluster and report."""

from __future__ import annotations

import argparse
import sys
from typing import Any

POLICY_NAMES = ("sla", "dynamo", "static", "threshold", "oracle")

#: settings flags: dest -> (settings field, the settings' default as --help states it;
#: tests/e2e/test_simulate_cli.py checks these against the settings' real defaults)
SETTINGS_FLAGS: dict[str, tuple[str, str]] = {
    "profile": ("profile", "the shipped H200 / Llama-3.1-8B-FP8 profile"),
    "profile_row": ("profile_row", "none: the profile must have one row"),
    "mode": ("mode", "disagg"),
    "ttft_ms": ("ttft_ms", "500"),
    "itl_ms": ("itl_ms", "50"),
    "interval_s": ("interval_s", "60"),
    "startup_s": ("startup_s", "180"),
    "max_gpus": ("budget.max_gpus", "none: unlimited"),
    "max_num_seqs": ("engine.max_num_seqs", "none: the true profile's, else no cap"),
    "max_num_batched_tokens": (
        "engine.max_num_batched_tokens",
        "none: the true profile's, else 16384 prompt tokens per prefill batch",
    ),
}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "simulate",
        help="simulate policies on a request trace: SLA attainment vs GPU-hours",
        description="Discrete-event simulation of prefill/decode workers driven by a trace, "
        "with each policy in the loop. Writes summary.json, PNG plots and report.html. "
        "Requests no fleet can serve within the targets, and requests outside the "
        "profile's measured range, are counted and reported (and warned about on stderr).",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--trace",
        help="Azure CSV, Mooncake JSONL or ServeGen tar.gz (one of --trace, "
        "--history or --graphs is required)",
    )
    src.add_argument(
        "--history",
        metavar="FILE",
        help="a file from `sla-planner history`: its load replayed, and what actually ran "
        "reported beside the policies (docs/history.md)",
    )
    p.add_argument(
        "--graphs",
        action="store_true",
        help="simulate the graphs of --config (each its own emulator.trace and profile) on "
        "one shared pool (pool.gpus) against separately budgeted pools (docs/pool.md)",
    )
    p.add_argument(
        "--usd-per-gpu-hour",
        type=float,
        help="price one GPU-hour: the report adds dollars and dollars per 1,000 requests "
        "that met the SLO (with --graphs: pool.prices)",
    )
    p.add_argument(
        "--policy",
        nargs="+",
        action="extend",
        choices=POLICY_NAMES,
        help="policies to compare; may be given more than once (default: all five)",
    )
    p.add_argument(
        "--true-profile", help="profile the simulated workers really follow (default: --profile)"
    )
    p.add_argument(
        "--true-profile-row",
        help="row of a multi-row --true-profile (default: --profile-row)",
    )
    p.add_argument(
        "--true-slowdown",
        type=float,
        help="simulated workers are X times slower than the (true) profile (default: 1)",
    )
    p.add_argument("--rate-scale", type=float, default=1.0, help="multiply the trace's rate")
    p.add_argument("--seed", type=int, default=0, help="seed for rate scaling / expansion")
    p.add_argument("--hours", type=float, help="ServeGen: hours to expand (default: all 14 days)")
    p.add_argument(
        "--static-replicas",
        help="fixed fleet for 'static', e.g. prefill=4,decode=2 (default: search "
        "the smallest fleet reaching 99%% attainment)",
    )
    p.add_argument("--decode-step-s", type=float, default=0.2, help="decode tick (s)")
    p.add_argument(
        "--jobs",
        type=int,
        help="simulate the policies in this many processes (default: the CPUs available; "
        "1 runs them here, one by one)",
    )
    p.add_argument("--out", help="output directory (default: out/sim/<trace>)")
    p.add_argument("--no-plots", action="store_true", help="skip PNG plots")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument(
        "--quiet", action="store_true", help="no progress bars (they show only on a terminal)"
    )
    g = p.add_argument_group("planner settings (default: the YAML file, else as stated)")
    g.add_argument("--config", help="YAML settings file")
    helps = {
        "profile": "the planner's profile directory",
        "profile_row": "row of a multi-row profile: an index, tp=N, or 'cheapest' (the "
        "fewest GPU-seconds per request at the targets, for the trace's mean ISL/OSL)",
        "mode": "disagg or agg",
        "ttft_ms": "TTFT target (ms)",
        "itl_ms": "ITL target (ms)",
        "interval_s": "adjustment interval (s)",
        "startup_s": "worker start-up time (s)",
        "max_gpus": "GPU budget",
        "max_num_seqs": "most sequences a decode worker runs at once (vLLM max_num_seqs)",
        "max_num_batched_tokens": "most prompt tokens in one prefill batch "
        "(vLLM max_num_batched_tokens)",
    }
    types: dict[str, Any] = {"ttft_ms": float, "itl_ms": float, "interval_s": float}
    types |= {"startup_s": float, "max_gpus": int, "max_num_seqs": int}
    types |= {"max_num_batched_tokens": int}
    for dest, (_field, default) in SETTINGS_FLAGS.items():
        kwargs: dict[str, Any] = {"help": f"{helps[dest]} (default: {default})"}
        if dest == "mode":
            kwargs["choices"] = ["disagg", "agg"]
        if dest in types:
            kwargs["type"] = types[dest]
        g.add_argument("--" + dest.replace("_", "-"), **kwargs)
    p.set_defaults(handler=run)


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


def _row(path: Any, row: str | None, *, settings: Any, trace: Any) -> str | None:
    """``row``, with 'cheapest' resolved for this trace's mean ISL and OSL."""
    from planner.perf.preswept import CHEAPEST
    from planner.perf.row_choice import cheapest_row

    if row is None or row.strip().lower() != CHEAPEST:
        return row
    best = cheapest_row(
        path,
        ttft_ms=settings.ttft_ms,
        itl_ms=settings.itl_ms,
        isl=float(trace.isl_tokens.mean()),
        osl=float(trace.osl_tokens.mean()),
        non_monotonic=settings.profile_non_monotonic,
    )
    return str(best)


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
    from planner.sim.parallel import default_jobs
    from planner.sim.report import priced, write_report
    from planner.sim.truth import scaled_profile
    from planner.workload.readers import read_request_trace

    overrides = {
        f: getattr(args, d) for d, (f, _) in SETTINGS_FLAGS.items() if getattr(args, d) is not None
    }
    replay = None
    if args.history:
        from planner.cli.simulate_history import HistoryReplay, settings_overrides

        overrides = settings_overrides(args.history, overrides)
    settings = load_settings(config_file=args.config, overrides=overrides)
    if args.graphs:
        return _run_pool(args, settings)
    if not args.trace and not args.history:
        raise ConfigError(
            "--trace", None, "a trace file, --history FILE, or --graphs with a multi-graph --config"
        )
    if args.usd_per_gpu_hour is not None and args.usd_per_gpu_hour <= 0:
        raise ConfigError("--usd-per-gpu-hour", args.usd_per_gpu_hour, "> 0")
    if args.rate_scale <= 0:
        raise ConfigError("--rate-scale", args.rate_scale, "> 0")
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError("--jobs", args.jobs, ">= 1")
    if args.history:
        if args.rate_scale != 1.0:
            raise ConfigError("--rate-scale", args.rate_scale, "1 with --history")
        replay = HistoryReplay.load(args.history, seed=args.seed)
        trace = replay.trace
    else:
        trace = read_request_trace(
            args.trace, rate_scale=args.rate_scale, seed=args.seed, servegen_hours=args.hours
        )
    non_monotonic = settings.profile_non_monotonic
    row = _row(settings.profile, settings.profile_row, settings=settings, trace=trace)
    profile = load_profile(settings.profile, row=row, non_monotonic=non_monotonic)
    planner_perf = PerfModel(profile)
    true_profile = profile
    true_row = row
    if args.true_profile:
        true_row = _row(
            args.true_profile, args.true_profile_row or row, settings=settings, trace=trace
        )
        true_profile = load_profile(args.true_profile, row=true_row, non_monotonic=non_monotonic)
    if args.true_slowdown is not None:
        true_profile = scaled_profile(true_profile, slowdown=args.true_slowdown)
    truth_perf = planner_perf if true_profile is profile else PerfModel(true_profile)
    bars = RunBars(enabled=bars_wanted(quiet=args.quiet))
    exp = Experiment(
        trace,
        settings,
        planner_perf,
        truth_perf,
        decode_step_s=args.decode_step_s,
        progress=bars,
    )
    check = exp.workload_check()
    warnings = check.warnings()
    for line in warnings:
        print(f"sla-planner: warning: {line}", file=sys.stderr)
    jobs = args.jobs or default_jobs()
    t0 = time.perf_counter()
    try:
        bars("initial fleet", 0.0)  # a search that can take a while; compare() reuses it
        exp.initial_fleet()
        bars("initial fleet", 1.0)
        summaries, runs = exp.compare(
            list(dict.fromkeys(args.policy)) if args.policy else list(POLICY_NAMES),
            static_fleet=_parse_fleet(args.static_replicas) if args.static_replicas else None,
            jobs=jobs,
        )
    finally:
        bars.close()
    # what actually ran, beside the policies (summary "actual", run "actual")
    history_report = replay.add_actual(exp, summaries=summaries, runs=runs) if replay else None
    wall = time.perf_counter() - t0
    static = runs.get("static")
    if static is not None and static.extra.get("static_reached_goal") is False:
        line = (
            f"no static fleet tried (up to {static.extra['static_fleet']}) reached "
            f"{100 * exp.attainment_goal:g}%: static99 is not defined on this workload, and "
            "no GPU-hour goal is measured against it"
        )
        warnings.append(line)
        print(f"sla-planner: warning: {line}", file=sys.stderr)
    meta = {
        "trace": str(args.trace or args.history),
        "requests": len(trace),
        "span_s": trace.duration_s,
        "rate_scale": args.rate_scale,
        "seed": args.seed,
        "hours": args.hours,
        "profile": str(settings.profile),
        "profile_row": row,
        "true_profile": args.true_profile or str(settings.profile),
        "true_profile_row": true_row,
        "true_slowdown": args.true_slowdown or 1.0,
        "ttft_ms": settings.ttft_ms,
        "itl_ms": settings.itl_ms,
        "interval_s": settings.interval_s,
        "startup_s": settings.startup_s,
        "mode": settings.mode,
        "gpus_per_worker": {c.value: n for c, n in exp.gpus.items()},
        "engine_limits": exp.limits.describe(),
        "workload_check": check.as_dict(),
        "warnings": warnings,
        "initial_fleet": {c.value: n for c, n in exp.initial_fleet().items()},
        "jobs": jobs,
        "wall_s": round(wall, 2),
        "usd_per_gpu_hour": args.usd_per_gpu_hour,
    }
    if args.usd_per_gpu_hour is not None:
        summaries = [priced(x, usd_per_gpu_hour=args.usd_per_gpu_hour) for x in summaries]
    if history_report is not None:
        meta["history"] = history_report
    source = args.trace or args.history
    out = Path(args.out) if args.out else Path("out/sim") / Path(source).name.split(".")[0]
    if replay is not None and not args.no_plots:
        replay.write_plot(out / "history.png", runs=runs, ttft_ms=settings.ttft_ms)
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
    if history_report is not None:
        from planner.cli.simulate_history import report_lines

        print("\n".join(report_lines(history_report)))
    print(f"wrote {written['summary']} and {written['report']}")
    return 0


def _run_pool(args: argparse.Namespace, settings: Any) -> int:
    """``simulate --graphs``: the shared-pool measurement of planner/evaluation/pool_sim.py."""
    from pathlib import Path

    from planner.errors import ConfigError
    from planner.evaluation.pool_sim import measure, table
    from planner.sim.report import write_pool_report

    if not settings.graphs:
        raise ConfigError("--graphs", True, "a --config that lists graphs (docs/pool.md)")
    result = measure(settings)
    out = Path(args.out) if args.out else Path("out/sim/pool")
    written = write_pool_report(out, result=result, table=table(result))
    print(table(result))
    print(f"wrote {written['summary']} and {written['report']}")
    return 0
