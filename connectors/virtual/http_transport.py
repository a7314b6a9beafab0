"""The virtual target over HTTP: the planner serves GET /v1/target and POST /v1/ack, so a
launcher script needs nothing but curl; the environment side is an aiohttp client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from aiohttp import web

from connectors.errors import CallTimeout, EnvironmentIOError, Unavailable
from connectors.virtual.protocol import AckMessage, TargetMessage

TARGET_PATH = "/v1/target"
ACK_PATH = "/v1/ack"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class HttpPlannerTransport:
    """Planner side: an aiohttp server holding the latest target and acknowledgement.

    The server starts on first use (or ``start()``); ``port=0`` picks a free port, which
    ``port`` reports once started. Nothing here waits on the environment.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 9086) -> None:
        self._host = host
        self._port = port
        self._target: TargetMessage | None = None
        self._ack: AckMessage | None = None
        self._runner: web.AppRunner | None = None
        self._lock = asyncio.Lock()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        async with self._lock:
            if self._runner is not None:
                return
            app = web.Application()
            app.router.add_get(TARGET_PATH, self._get_target)
            app.router.add_get(ACK_PATH, self._get_ack)
            app.router.add_post(ACK_PATH, self._post_ack)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, self._host, self._port)
            try:
                await site.start()
            except OSError as exc:
                await runner.cleanup()
                raise Unavailable(
                    f"virtual target cannot listen on {self._host}:{self._port}: {exc}"
                ) from exc
            server = site._server
            if server is not None and self._port == 0:
                sockets = getattr(server, "sockets", None) or []
                self._port = int(sockets[0].getsockname()[1])
            self._runner = runner

    async def _get_target(self, request: web.Request) -> web.Response:
        if self._target is None:
            return _error(404, "no target has been written yet")
        return web.json_response(self._target.to_json())

    async def _get_ack(self, request: web.Request) -> web.Response:
        if self._ack is None:
            return _error(404, "no acknowledgement has been received yet")
        return web.json_response(self._ack.to_json())

    async def _post_ack(self, request: web.Request) -> web.Response:
        try:
            body: Any = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _error(400, f"body is not JSON: {exc}")
        try:
            ack = AckMessage.from_json(body, source="POST /v1/ack")
        except EnvironmentIOError as exc:
            return _error(400, str(exc))
        self._ack = ack
        return web.json_response({"accepted": ack.decision_id})

    async def publish(self, target: TargetMessage) -> None:
        await self.start()
        self._target = target

    async def latest_target(self) -> TargetMessage | None:
        await self.start()
        return self._target

    async def latest_ack(self) -> AckMessage | None:
        await self.start()
        return self._ack

    async def close(self) -> None:
        async with self._lock:
            if self._runner is not None:
                await self._runner.cleanup()
                self._runner = None


class HttpEnvironmentTransport:
    """Environment side: polls the planner's target and posts acknowledgements."""

    def __init__(self, base_url: str, *, timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def fetch(self) -> TargetMessage | None:
        url = self.base_url + TARGET_PATH
        try:
            async with self._client().get(url) as resp:
                if resp.status == 404:
                    return None
                if resp.status != 200:
                    raise Unavailable(f"GET {url} answered {resp.status}: {await resp.text()}")
                return TargetMessage.from_json(await resp.json(), source=f"GET {url}")
        except TimeoutError as exc:
            raise CallTimeout(f"GET {url} timed out") from exc
        except aiohttp.ClientError as exc:
            raise Unavailable(f"GET {url} failed: {exc}") from exc

    async def acknowledge(self, ack: AckMessage) -> None:
        url = self.base_url + ACK_PATH
        try:
            async with self._client().post(url, json=ack.to_json()) as resp:
                if resp.status != 200:
                    raise EnvironmentIOError(
                        f"POST {url} answered {resp.status}: {await resp.text()}"
                    )
        except TimeoutError as exc:
            raise CallTimeout(f"POST {url} timed out") from exc
        except aiohttp.ClientError as exc:
            raise Unavailable(f"POST {url} failed: {exc}") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
