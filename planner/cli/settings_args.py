"""CLI flags shared by commands that build PlannerSettings (mapped to dotted fields)."""

from __future__ import annotations

import argparse
from typing import Any

from planner.settings import PlannerSettings, load_settings

#: flag dest -> settings field
FLAG_FIELDS = {
    "config": None,
    "mode": "mode",
    "policy": "policy",
    "profile": "profile",
    "interval_s": "interval_s",
    "ttft_ms": "ttft_ms",
    "itl_ms": "itl_ms",
    "startup_s": "startup_s",
    "max_gpus": "budget.max_gpus",
    "prefill_gpus": "prefill.gpus_per_worker",
    "decode_gpus": "decode.gpus_per_worker",
    "agg_gpus": "agg.gpus_per_worker",
    "min_replicas": None,
    "predictor": "predictor.name",
    "warm_start_trace": "predictor.warm_start_trace",
}


def add_settings_flags(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("settings (override the YAML file and PLANNER_ env vars)")
    g.add_argument("--config", help="YAML settings file")
    g.add_argument("--mode", choices=["disagg", "agg"])
    g.add_argument("--policy", choices=["sla", "dynamo"])
    g.add_argument("--profile", help="profile directory or profile.json")
    g.add_argument("--interval-s", type=float, help="adjustment interval (s)")
    g.add_argument("--ttft-ms", type=float, help="TTFT target (ms)")
    g.add_argument("--itl-ms", type=float, help="ITL target (ms)")
    g.add_argument("--startup-s", type=float, help="worker start-up time (s)")
    g.add_argument("--max-gpus", type=int, help="GPU budget (default unlimited)")
    g.add_argument("--prefill-gpus", type=int, help="GPUs per prefill worker")
    g.add_argument("--decode-gpus", type=int, help="GPUs per decode worker")
    g.add_argument("--agg-gpus", type=int, help="GPUs per aggregated worker")
    g.add_argument("--min-replicas", type=int, help="minimum replicas for every component")
    g.add_argument("--predictor", help="load predictor name")
    g.add_argument(
        "--warm-start-trace", metavar="PATH", help="trace to seed the load forecaster from"
    )


def settings_from_args(args: argparse.Namespace) -> PlannerSettings:
    overrides: dict[str, Any] = {}
    for dest, field in FLAG_FIELDS.items():
        if field is not None and getattr(args, dest, None) is not None:
            overrides[field] = getattr(args, dest)
    if getattr(args, "min_replicas", None) is not None:
        for comp in ("prefill", "decode", "agg"):
            overrides[f"{comp}.min_replicas"] = args.min_replicas
    return load_settings(config_file=getattr(args, "config", None), overrides=overrides)
