"""``sla-planner backtest``: rolling-origin evaluation of the load forecasters on a trace."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "backtest",
        help="score the load forecasters on a trace (rolling origin, past data only)",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--trace", help="Azure CSV, Mooncake JSONL or ServeGen tar.gz")
    src.add_argument(
        "--history",
        metavar="FILE",
        help="a file from `sla-planner history`: the forecasters run over its request-rate "
        "series (rows with status gap or missing are missing, not idle)",
    )
    p.add_argument(
        "--interval-s",
        type=float,
        help="interval length (s); required with --trace, the file's with --history",
    )
    p.add_argument(
        "--horizon-s",
        type=float,
        action="append",
        help="forecast horizon (s); repeat for several (default: one interval)",
    )
    p.add_argument("--predictor", default="all", help="forecaster name, or 'all' (default)")
    p.add_argument("--quantile", type=float, default=0.9, help="upper quantile (default 0.9)")
    p.add_argument("--json", action="store_true", help="print JSON keyed by predictor")
    p.add_argument("--plot", metavar="FILE.png", help="plot actual vs forecast to this file")
    p.set_defaults(handler=run)


def _positive(flag: str, value: float) -> float:
    from planner.errors import ConfigError

    if not math.isfinite(value) or value <= 0:
        raise ConfigError(flag, value, "a finite number > 0")
    return value


def run(args: argparse.Namespace) -> int:
    from planner.errors import ConfigError
    from planner.forecast.backtest import backtest
    from planner.forecast.registry import available_forecasters, check_forecaster_name
    from planner.forecast.warm_start import load_series

    if args.history and args.interval_s is None:
        from planner.history.format import read_history

        args.interval_s = read_history(args.history).meta.interval_s
    if args.interval_s is None:
        raise ConfigError("--interval-s", None, "an interval length (s) with --trace")
    interval_s = _positive("--interval-s", args.interval_s)
    horizons = [_positive("--horizon-s", h) for h in (args.horizon_s or [interval_s])]
    if not 0.5 <= args.quantile < 1.0:
        raise ConfigError("--quantile", args.quantile, "a number in [0.5, 1)")
    if args.predictor == "all":
        predictors = available_forecasters()
    else:
        predictors = [check_forecaster_name(args.predictor)]
    series = load_series(args.trace or args.history, interval_s=interval_s)
    results, runs = backtest(
        series, predictors=predictors, horizons_s=horizons, quantile=args.quantile
    )
    if args.plot:
        from planner.forecast.backtest_plot import plot_runs

        plot_runs(series, runs, predictors=predictors, path=args.plot)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(format_table(results, series_name=series.name, points=len(series)))
    return 0


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def format_table(results: dict[str, Any], *, series_name: str, points: int) -> str:
    lines = [
        f"{series_name}: {points} intervals",
        f"{'predictor':10s} {'horizon':>8s} {'series':6s} {'MAE':>10s} {'sMAPE%':>7s} "
        f"{'MASE':>6s} {'cover%':>7s} {'95% CI':>11s} {'excess%':>8s} {'n':>5s}",
    ]
    for name, res in results.items():
        for hkey, entry in res["horizons"].items():
            for s in ("rate", "isl", "osl"):
                m = entry[s]
                ci = m.get("coverage_ci95_pct")
                ci_text = "n/a" if ci is None else f"{ci[0]:.1f}-{ci[1]:.1f}"
                lines.append(
                    f"{name:10s} {hkey:>8s} {s:6s} {_fmt(m['mae'], '10.4g')} "
                    f"{_fmt(m['smape_pct'], '7.2f')} {_fmt(m['mase'], '6.3f')} "
                    f"{_fmt(m['coverage_pct'], '7.1f')} {ci_text:>11s} "
                    f"{_fmt(m['upper_excess_pct'], '8.1f')} {m['n']:5d}"
                )
        tick, fit = res["tick"], res["fit"]
        lines.append(
            f"{name:10s} tick median {_fmt(tick['median_ms'], '.3f')} ms, "
            f"p99 {_fmt(tick['p99_ms'], '.3f')} ms; {fit['count']} fits, "
            f"median {_fmt(fit['median_ms'], '.1f')} ms"
        )
    return "\n".join(lines)
