"""The emulated graph over HTTP: /metrics (Dynamo's or vLLM's names, for Prometheus to
scrape; /metrics/prefill and /metrics/decode: the two server roles of a split vLLM fleet)
and the standalone ``sla-planner emulate`` run that takes targets from the virtual
connector's file or HTTP transport."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from planner.emulator.exposition import Server
from planner.emulator.graph import EmulatedGraph, EmulationSummary
from planner.settings import PlannerSettings

log = logging.getLogger("sla_planner.emulator")


async def serve_metrics(graph: EmulatedGraph, *, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve ``/metrics`` (synced to the clock on every scrape); returns (runner, port)."""

    async def metrics(request: web.Request) -> web.Response:
        await graph.sync()
        server = request.match_info.get("server", "all")
        if server not in ("all", "prefill", "decode"):
            raise web.HTTPNotFound()
        resp = web.Response(body=graph.metrics.exposition(cast(Server, server)))
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    # vLLM with separate prefill and decode servers: each role's view on its own path
    app.router.add_get("/metrics/{server}", metrics)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    return runner, (sockets[0].getsockname()[1] if sockets else port)


async def emulate(
    settings: PlannerSettings,
    *,
    stop: asyncio.Event,
    on_listen: Callable[[int], None] | None = None,
) -> EmulationSummary:
    """Run the emulated graph standalone until the trace ends or ``stop`` is set.

    Targets arrive through connector.virtual's transport (file folder, or the planner's
    HTTP endpoint at host:port); metrics are served on emulator.host:port.
    """
    from connectors.virtual.environment import VirtualTarget
    from planner.clock import ServiceClock
    from planner.emulator.build import build_graph

    v = settings.connector.virtual
    if v.transport == "http":
        target = VirtualTarget.from_url(f"http://{v.host}:{v.port}")
    else:
        target = VirtualTarget.from_directory(v.directory)
    clock = ServiceClock.start(compression=settings.service.time_compression)
    graph = await asyncio.to_thread(build_graph, settings, clock=clock, target=target)
    runner, port = await serve_metrics(
        graph, host=settings.emulator.host, port=settings.emulator.port
    )
    log.info("emulated graph metrics on http://%s:%d/metrics", settings.emulator.host, port)
    if on_listen is not None:
        on_listen(port)
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(graph.run(stop))
            done = tg.create_task(graph.done.wait())
            halted = tg.create_task(stop.wait())
            await asyncio.wait({done, halted}, return_when=asyncio.FIRST_COMPLETED)
            stop.set()
            done.cancel()
    finally:
        await runner.cleanup()
        await target.close()
    return graph.summary()
