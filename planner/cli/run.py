"""``sla-planner run`` (the service) and ``sla-planner emulate`` (the emulated graph alone)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

#: flag dest -> settings field, on top of the shared settings flags
_RUN_FIELDS = {
    "advisory": "service.advisory",
    "port": "service.port",
    "host": "service.host",
    "time_compression": "service.time_compression",
    "max_ticks": "service.max_ticks",
    "log_format": "service.log_format",
    "metrics_source": "metrics.source",
    "prometheus_url": "metrics.url",
    "model": "metrics.model",
    "trace": "emulator.trace",
    "rate_scale": "emulator.rate_scale",
    "duration_s": "emulator.duration_s",
    "emulator_port": "emulator.port",
}


def _common(p: argparse.ArgumentParser) -> None:
    from planner.cli.settings_args import add_settings_flags

    g = p.add_argument_group("service and emulator")
    g.add_argument("--time-compression", type=float, help="planner seconds per wall second")
    g.add_argument("--trace", help="trace for the emulated graph (default: bundled Azure conv)")
    g.add_argument("--rate-scale", type=float, help="multiply the trace's request rate")
    g.add_argument("--duration-s", type=float, help="replay only this many trace seconds")
    g.add_argument("--emulator-port", type=int, help="port of the emulated graph's /metrics")
    add_settings_flags(p)


def register(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="run the planner service (default: against the embedded emulated graph)",
        description="Tick every interval: observe, forecast, plan, apply. With no config it "
        "runs against an embedded emulated graph replaying the bundled Azure trace.",
    )
    run.add_argument("--advisory", action="store_true", default=None, help="do not write replicas")
    run.add_argument("--host", help="address of /metrics, /status, /healthz, /readyz")
    run.add_argument("--port", type=int, help="port of the endpoint (0 = any free port)")
    run.add_argument("--max-ticks", type=int, help="stop after this many ticks")
    run.add_argument("--log-format", choices=["kv", "json"], help="one line per tick as")
    run.add_argument("--metrics-source", choices=["emulated", "prometheus"])
    run.add_argument("--prometheus-url", help="Prometheus base URL")
    run.add_argument("--model", help="model label to filter on (case-insensitive)")
    run.add_argument(
        "--emulate",
        action="store_true",
        help="embed the emulated graph even with --metrics-source prometheus (it serves "
        "/metrics on --emulator-port for Prometheus to scrape)",
    )
    _common(run)
    run.set_defaults(handler=run_service)
    emu = sub.add_parser(
        "emulate",
        help="run the emulated prefill/decode graph alone (metrics + virtual target)",
    )
    _common(emu)
    emu.set_defaults(handler=run_emulator)


def _settings(args: argparse.Namespace) -> Any:
    from planner.cli.settings_args import FLAG_FIELDS
    from planner.settings import load_settings

    overrides: dict[str, Any] = {}
    for dest, field in {**FLAG_FIELDS, **_RUN_FIELDS}.items():
        if field is not None and getattr(args, dest, None) is not None:
            overrides[field] = getattr(args, dest)
    if getattr(args, "min_replicas", None) is not None:
        for comp in ("prefill", "decode", "agg"):
            overrides[f"{comp}.min_replicas"] = args.min_replicas
    return load_settings(config_file=getattr(args, "config", None), overrides=overrides)


def _logging(settings: Any) -> None:
    from planner.cli.logs import configure_logging

    configure_logging(settings.service.log_format)


def run_service(args: argparse.Namespace) -> int:
    import asyncio

    from planner.service.app import ServiceApp

    settings = _settings(args)
    _logging(settings)
    if settings.graphs:  # one planner, several graphs in one GPU pool (docs/pool.md)
        from planner.service.pool_app import PoolApp

        pool = PoolApp(settings, emulate=True if args.emulate else None)
        result = asyncio.run(pool.run())
        print(f"\nticks {result.ticks} (failed {result.tick_errors})")
        for name, summary in (result.summary or {}).items():
            print(f"{name}:")
            print("\n".join(summary.lines()))
        return 0
    app = ServiceApp(settings, emulate=True if args.emulate else None)
    try:
        result = asyncio.run(app.run())
    except asyncio.CancelledError:
        print("sla-planner: forced exit on a second signal", file=sys.stderr)
        return 130
    print(f"\nticks {result.ticks} (failed {result.tick_errors})")
    if result.summary is not None:
        print("\n".join(result.summary.lines()))
    return 0


def run_emulator(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from planner.emulator.server import emulate

    settings = _settings(args)
    _logging(settings)

    async def main() -> Any:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await emulate(settings, stop=stop)

    summary = asyncio.run(main())
    print("\n".join(summary.lines()))
    return 0
