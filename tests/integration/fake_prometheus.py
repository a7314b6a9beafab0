"""A small Prometheus HTTP API stand-in (aiohttp) whose answers and faults tests control."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

_METRIC = re.compile(r"increase\(([A-Za-z_:][A-Za-z0-9_:]*)\{")
#: a gauge read now, ``sum(name{...})``
_GAUGE = re.compile(r"^sum\(([A-Za-z_:][A-Za-z0-9_:]*)\{[^}]*\}\)$")
#: a bare range selector, ``name{...}[Nms]``: the raw samples of a series over a window
_RAW = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)\{[^}]*\}\[(\d+)ms\]$")


@dataclass
class FakePrometheus:
    """Answers ``sum(increase(name{...}[w]))`` from ``values[name]``.

    A name absent from ``values`` (or mapped to None) has no series. ``mode`` injects a
    fault for every query: ``"ok"``, ``"http500"``, ``"slow"`` (sleeps ``delay_s``),
    ``"nan"`` (every value NaN), ``"empty"`` (no series at all), ``"bad_query"`` (HTTP 400
    with a Prometheus error body).
    """

    values: dict[str, float | None] = field(default_factory=dict)
    #: name (a ``_bucket`` series) -> [(le, increase)]: answered as one series per le
    buckets: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    #: name -> [(timestamp_s, value)] for query_range
    ranges: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    #: name -> value at every step of any query_range (aligned to its start/step)
    range_constant: dict[str, float] = field(default_factory=dict)
    mode: str = "ok"
    delay_s: float = 1.0
    #: raw samples (bare range selectors) are ``scrape_s`` apart (None: a twelfth of the
    #: window) and cover the last ``covered_s`` seconds of it (None: all of it)
    scrape_s: float | None = None
    covered_s: float | None = None
    queries: list[str] = field(default_factory=list)
    auth_headers: list[str | None] = field(default_factory=list)
    hits: int = 0
    _runner: web.AppRunner | None = None
    url: str = ""

    async def _handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        form: Any = await request.post() if request.method == "POST" else request.query
        query = str(form.get("query", ""))
        self.queries.append(query)
        self.auth_headers.append(request.headers.get("Authorization"))
        if self.mode == "http500":
            return web.Response(status=500, text="internal error")
        if self.mode == "slow":
            await asyncio.sleep(self.delay_s)
        if self.mode == "bad_query":
            body = {"status": "error", "errorType": "bad_data", "error": "parse error"}
            return web.json_response(body, status=400)
        raw = _RAW.match(query)
        if raw is not None and request.path.endswith("/query"):
            return self._raw_samples(raw.group(1), window_s=int(raw.group(2)) / 1000.0)
        m = _METRIC.search(query) or _GAUGE.match(query)
        name = m.group(1) if m else ""
        if request.path.endswith("query_range"):
            points = [] if self.mode == "empty" else self.ranges.get(name, [])
            if name in self.range_constant and self.mode != "empty":
                start, end, step = (float(form[k]) for k in ("start", "end", "step"))
                n = int((end - start) // step) + 1
                points = [(start + i * step, self.range_constant[name]) for i in range(n)]
            result = [{"metric": {}, "values": [[t, str(v)] for t, v in points]}] if points else []
            return web.json_response(
                {"status": "success", "data": {"resultType": "matrix", "result": result}}
            )
        if name in self.buckets and self.mode != "empty":
            series = [
                {"metric": {"le": le}, "value": [1.0, str(v)]} for le, v in self.buckets[name]
            ]
            return web.json_response(
                {"status": "success", "data": {"resultType": "vector", "result": series}}
            )
        value = None if self.mode == "empty" else self.values.get(name)
        if value is not None and self.mode == "nan":
            value = float("nan")
        result = [] if value is None else [{"metric": {}, "value": [1.0, str(value)]}]
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": result}}
        )

    def _raw_samples(self, name: str, *, window_s: float) -> web.Response:
        end = 10_000.0
        covered = window_s if self.covered_s is None else min(self.covered_s, window_s)
        spacing = self.scrape_s or window_s / 12
        n = int(covered // spacing + 1e-9) + 1
        stamps = [end - covered + i * spacing for i in range(n)]
        present = self.mode != "empty" and self.values.get(name) is not None
        result = (
            [{"metric": {}, "values": [[t, str(float(i))] for i, t in enumerate(stamps)]}]
            if present
            else []
        )
        return web.json_response(
            {"status": "success", "data": {"resultType": "matrix", "result": result}}
        )

    async def start(self) -> str:
        app = web.Application()
        for path in ("/api/v1/query", "/api/v1/query_range"):
            app.router.add_route("*", path, self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def dynamo_values(
    *,
    requests: float,
    isl: float = 1000.0,
    osl: float = 100.0,
    ttft_s: float = 0.2,
    completed: float | None = None,
) -> dict[str, float | None]:
    """Consistent Dynamo frontend increases for ``requests`` requests started, of which
    ``completed`` (default: all) completed."""
    n = requests
    p = "dynamo_frontend_"
    return {
        f"{p}requests_started_total": n,
        f"{p}requests_total": n if completed is None else completed,
        f"{p}time_to_first_token_seconds_sum": ttft_s * n,
        f"{p}time_to_first_token_seconds_count": n,
        f"{p}inter_token_latency_seconds_sum": 0.02 * n,
        f"{p}inter_token_latency_seconds_count": n,
        f"{p}request_duration_seconds_sum": 2.0 * n,
        f"{p}request_duration_seconds_count": n,
        f"{p}input_sequence_tokens_sum": isl * n,
        f"{p}input_sequence_tokens_count": n,
        f"{p}output_sequence_tokens_sum": osl * n,
        f"{p}output_sequence_tokens_count": n,
    }
