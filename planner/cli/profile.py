"""``sla-planner profile ...``: inspect and validate performance profiles."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("profile", help="show, validate (and produce) performance profiles")
    psub = p.add_subparsers(dest="profile_command", required=True, metavar="ACTION")
    show = psub.add_parser("show", help="summary table of a profile")
    show.add_argument("path", nargs="?", help="profile directory (default: shipped profile)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=run_show)
    val = psub.add_parser("validate", help="check a profile; exit 2 if it is broken")
    val.add_argument("path", help="profile directory or profile.json")
    val.set_defaults(handler=run_validate)


def _load(path: str | None) -> Any:
    from planner.profile import DEFAULT_PROFILE_DIR, load_profile

    return load_profile(path or DEFAULT_PROFILE_DIR)


def run_show(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from planner.perf_model import PerfModel

    profile = _load(args.path)
    summary = PerfModel(profile).summary()
    meta = {k: v for k, v in asdict(profile.meta).items() if v not in (None, {}, "")}
    if args.json:
        print(json.dumps({"summary": summary, "meta": meta}, indent=2))
        return 0
    rows = [*summary.items(), *meta.items()]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print()
    print(f"{'ISL (tokens)':>14} {'TTFT (ms)':>10} {'tok/s/GPU':>10}")
    pre = profile.prefill
    for i, t, h in zip(pre.isl_tokens, pre.ttft_ms, pre.thpt_tokens_per_s_per_gpu, strict=True):
        print(f"{i:14.0f} {t:10.2f} {h:10.0f}")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from planner.perf_model import PerfModel

    profile = _load(args.path)
    PerfModel(profile)
    print(
        f"ok: {profile.source} ({profile.layout}): {len(profile.prefill.isl_tokens)} prefill "
        f"points, {len(profile.decode.kv_usage)} decode points"
    )
    return 0
