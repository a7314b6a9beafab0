"""``sla-planner plan``: one decision from numbers given on the command line."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    from planner.cli.settings_args import add_settings_flags

    p = sub.add_parser("plan", help="compute one scaling decision from given load numbers")
    p.add_argument("--requests", type=float, required=True, help="requests in the interval")
    p.add_argument("--isl", type=float, required=True, help="mean input length (tokens)")
    p.add_argument("--osl", type=float, required=True, help="mean output length (tokens)")
    p.add_argument("--observed-ttft-ms", type=float, help="observed mean TTFT (ms)")
    p.add_argument("--observed-itl-ms", type=float, help="observed mean ITL (ms)")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_settings_flags(p)
    p.set_defaults(handler=run)


def _number(name: str, value: float, *, positive: bool = False) -> float:
    import math

    from planner.errors import ConfigError

    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ConfigError(name, value, "a finite number " + ("> 0" if positive else ">= 0"))
    return value


def run(args: argparse.Namespace) -> int:
    from planner.cli.settings_args import settings_from_args
    from planner.core.types import Forecast, Observation, Quantity
    from planner.planner import Planner

    settings = settings_from_args(args)
    requests = _number("--requests", args.requests)
    isl = _number("--isl", args.isl)
    osl = _number("--osl", args.osl)
    planner = Planner(settings)
    rate = requests / settings.interval_s
    obs = Observation(
        window_s=settings.interval_s,
        requests=requests,
        isl_tokens=isl if requests > 0 else None,
        osl_tokens=osl if requests > 0 else None,
        ttft_s=args.observed_ttft_ms / 1000 if args.observed_ttft_ms else None,
        itl_s=args.observed_itl_ms / 1000 if args.observed_itl_ms else None,
    )
    forecast = Forecast(
        horizon_s=planner.horizon_s,
        request_rate_rps=Quantity.exact(rate),
        isl_tokens=Quantity.exact(isl),
        osl_tokens=Quantity.exact(osl),
        predictor="given",
    )
    decision = planner.decide(obs, forecast, now=0.0)
    if args.json:
        out: dict[str, Any] = {
            f"{c.value}_replicas": d.target for c, d in decision.components.items()
        }
        out.update(
            policy=decision.policy,
            total_gpus=decision.total_gpus,
            budget_gpus=decision.budget_gpus,
            reasons=decision.reasons(),
            messages={c.value: d.message for c, d in decision.components.items()},
        )
        print(json.dumps(out, indent=2))
    else:
        for d in decision.components.values():
            why = ", ".join(r.value for r in d.reasons)
            print(f"{d.component.value:8s} {d.target:4d} replicas  [{why}]")
            print(f"         {d.message}")
        print(
            f"total    {decision.total_gpus:4d} GPUs (budget {decision.budget_gpus or 'unlimited'})"
        )
    return 0
