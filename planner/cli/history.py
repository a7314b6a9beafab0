"""``sla-planner history``: pull a time range of the cluster's own metrics from Prometheus
into a history file (docs/history.md) for ``simulate --history``, ``backtest --history``
and the forecasters' warm start."""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from planner.errors import ConfigError

_RELATIVE = re.compile(r"now(?:-(\d+(?:\.\d+)?)([smhd]))?")
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_time(flag: str, text: str, *, now_s: float) -> float:
    """Unix seconds from ``now``, ``now-90m`` (s, m, h, d), Unix seconds, or ISO 8601
    (a time without a zone is UTC)."""
    t = text.strip()
    m = _RELATIVE.fullmatch(t)
    if m:
        return now_s - (float(m.group(1)) * _UNIT_S[m.group(2)] if m.group(1) else 0.0)
    try:
        return float(t)
    except ValueError:
        pass
    try:
        stamp = datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(flag, text, "now, now-2h, Unix seconds or an ISO 8601 time") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def register(sub: Any) -> None:
    p = sub.add_parser(
        "history",
        help="pull a time range of the cluster's metrics from Prometheus into a history file",
        description="One row per planner interval: request rate (the preset's demand "
        "counter, or its completed-requests fallback), mean ISL/OSL/TTFT/ITL, TTFT and ITL "
        "histogram buckets, and the replicas that ran; each row has a status and a reason "
        "(gaps, counter resets, missing series). Connection, preset and filters come from "
        "the settings' metrics section. Exit code 2 when no row is usable.",
    )
    p.add_argument("--from", dest="start", required=True, help="range start (now-2h, Unix s, ISO)")
    p.add_argument("--to", dest="end", default="now", help="range end (default: now)")
    p.add_argument("--out", required=True, help="the history file to write (CSV)")
    p.add_argument("--config", help="YAML settings file (metrics.*, interval_s, mode)")
    p.add_argument("--url", help="Prometheus URL (default: metrics.url)")
    p.add_argument("--preset", choices=["dynamo", "vllm"], help="metric names (metrics.preset)")
    p.add_argument("--interval-s", type=float, help="interval (planner s; default: interval_s)")
    p.add_argument(
        "--replicas-source",
        choices=["planner", "kube_state_metrics", "none"],
        help="where the replicas that ran are read (metrics.replicas.source)",
    )
    p.add_argument(
        "--time-compression",
        type=float,
        default=1.0,
        help="planner seconds per Prometheus second (an emulated graph; default 1)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from connectors.history_pull import pull_history
    from planner.core.config import PolicyConfig
    from planner.history.format import write_history
    from planner.perf.model import PerfModel
    from planner.perf.profile import load_profile
    from planner.settings import load_settings

    overrides = {
        "metrics.url": args.url,
        "metrics.preset": args.preset,
        "interval_s": args.interval_s,
        "metrics.replicas.source": args.replicas_source,
    }
    settings = load_settings(config_file=args.config, overrides=overrides)
    if not args.time_compression > 0:
        raise ConfigError("--time-compression", args.time_compression, "a number > 0")
    now = time.time()
    start = parse_time("--from", args.start, now_s=now)
    end = parse_time("--to", args.end, now_s=now)
    step_s = settings.interval_s / args.time_compression
    if not end - start >= step_s:
        raise ConfigError(
            "--to", args.end, f"at least one interval ({step_s:g} s) after --from={args.start}"
        )
    perf = PerfModel(
        load_profile(
            settings.profile,
            row=settings.profile_row,
            non_monotonic=settings.profile_non_monotonic,
        )
    )
    config = PolicyConfig(settings=settings, perf=perf)
    gpus = config.deployed_gpus()
    history = pull_history(
        settings.metrics,
        start_unix_s=start,
        end_unix_s=end,
        interval_s=settings.interval_s,
        components=tuple(c.value for c in config.components),
        gpus_per_worker={c.value: gpus[c] for c in config.components},
        time_compression=args.time_compression,
    )
    path = write_history(args.out, history)
    counts: dict[str, int] = {}
    for r in history.rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    usable = sum(1 for r in history.rows if r.usable)
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    print(f"wrote {path}: {len(history.rows)} intervals of {settings.interval_s:g} s ({summary})")
    if usable == 0:
        first = history.rows[0].reason if history.rows else "no intervals"
        print(f"sla-planner: error: no usable interval: {first}", file=sys.stderr)
        return 2
    return 0
