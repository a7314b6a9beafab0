"""The service's HTTP endpoint (aiohttp): /healthz, /readyz, /metrics, /status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from planner.service.telemetry import Telemetry
from planner.service.tick import tick_dict

_PROM_TYPE, _, _PROM_PARAMS = CONTENT_TYPE_LATEST.partition(";")


class ServiceHttp:
    """Serves the endpoints; ``ready`` and ``summary`` are callables so the handlers
    always see the service's current state."""

    def __init__(
        self,
        *,
        telemetry: Telemetry,
        ready: Callable[[], tuple[bool, str]],
        summary: Callable[[], dict[str, Any]],
    ) -> None:
        self.telemetry = telemetry
        self.ready = ready
        self.summary = summary
        self._runner: web.AppRunner | None = None
        self.port = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/status", self._status)
        return app

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, _: web.Request) -> web.Response:
        ok, why = self.ready()
        return web.Response(status=200 if ok else 503, text=f"{why}\n")

    async def _metrics(self, _: web.Request) -> web.Response:
        body = self.telemetry.exposition()
        resp = web.Response(body=body, content_type=_PROM_TYPE)
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp

    async def _status(self, request: web.Request) -> web.Response:
        t = self.telemetry
        try:
            limit = int(request.query.get("n", len(t.recent)))
        except ValueError:
            return web.json_response({"error": "n must be an integer"}, status=400)
        recent = list(t.recent)[-limit:] if limit > 0 else []
        ok, why = self.ready()
        body = {
            **self.summary(),
            "ready": ok,
            "ready_reason": why,
            "ticks": t.tick_count,
            "tick_errors": t.error_count,
            "last_error": tick_dict(t.last_error) if t.last_error else None,
            "decisions": [tick_dict(r) for r in reversed(recent)],
        }
        return web.json_response(body)

    async def start(self, *, host: str, port: int) -> int:
        """Listen on host:port (0 = a free port); returns the bound port."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
