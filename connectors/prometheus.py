"""Prometheus as a MetricsSource: async HTTP API client (aiohttp) with retries, bearer
token and TLS, turning instant queries into Observations and range queries into history.

Idle and missing stay apart: zero requests in the window is an idle Observation (latency
means None); a failed query, no series for the request counter, or NaN/Inf anywhere is
``Observation.missing(reason=...)``. Nothing is ever guessed into a number.
"""

from __future__ import annotations

import asyncio
import logging
import math
import ssl
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import aiohttp

from connectors.coverage import coverage, gap_reason, sample_times, samples_query
from connectors.demand import DemandChooser
from connectors.promql import (
    HISTOGRAM_KEYS,
    MEAN_FIELDS,
    bucket_query,
    interval_queries,
    parse_buckets,
    parse_matrix,
    parse_scalar_vector,
)
from connectors.retry import RetryPolicy, retrying
from connectors.settings import MetricsSettings
from planner.core.types import LoadPoint, Observation
from planner.errors import MetricsError

log = logging.getLogger(__name__)

#: HTTP statuses worth retrying (server trouble or throttling); others fail at once
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: longest pause between two attempts of one query (s)
_BACKOFF_MAX_S = 5.0


class _TokenFile:
    """A bearer token read from a file and re-read when the file changes (rotation)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._token = ""

    def token(self) -> str:
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp != self._stamp:
                self._token = self.path.read_text().strip()
                self._stamp = stamp
        except OSError as exc:
            raise MetricsError(f"cannot read bearer token file {self.path}: {exc}") from exc
        return self._token


def _ssl_context(settings: MetricsSettings) -> ssl.SSLContext | bool:
    if not settings.verify_tls:
        return False
    if settings.ca_file is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(settings.ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise MetricsError(f"cannot load metrics.ca_file={settings.ca_file}: {exc}") from exc


class PrometheusClient:
    """Prometheus HTTP API: ``query`` and ``query_range`` with timeouts and retries."""

    def __init__(self, settings: MetricsSettings) -> None:
        self.settings = settings
        self.base_url = settings.url.rstrip("/")
        self._token = _TokenFile(settings.bearer_token_file) if settings.bearer_token_file else None
        self._ssl = _ssl_context(settings)
        self._session: aiohttp.ClientSession | None = None

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            return {}
        return {"Authorization": f"Bearer {self._token.token()}"}

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout_s)
            )
        return self._session

    async def _attempt(self, path: str, params: dict[str, str]) -> Any:
        session = self._get_session()
        url = f"{self.base_url}{path}"
        async with session.post(url, data=params, headers=self._headers(), ssl=self._ssl) as r:
            if r.status in _RETRY_STATUSES:
                raise _Retryable(f"HTTP {r.status} from {url}")
            try:
                payload = await r.json(content_type=None)
            except (ValueError, aiohttp.ContentTypeError) as exc:
                raise MetricsError(f"HTTP {r.status} from {url}: body is not JSON") from exc
            if r.status != 200 and not isinstance(payload, dict):
                raise MetricsError(f"HTTP {r.status} from {url}")
            return payload

    async def call(self, path: str, params: dict[str, str]) -> Any:
        """POST form ``params`` to ``path``; retries timeouts, connection errors and 5xx
        (connectors/retry.py, ``metrics.retries`` and ``metrics.backoff_s``)."""
        policy = RetryPolicy(
            attempts=self.settings.retries + 1,
            backoff_base_s=self.settings.backoff_s,
            backoff_max_s=max(self.settings.backoff_s, _BACKOFF_MAX_S),
        )
        try:
            return await retrying(
                lambda: self._attempt(path, params),
                policy=policy,
                transient=_worth_retrying,
                what=f"prometheus {path}",
            )
        except _Retryable as exc:
            last = str(exc)
        except TimeoutError:
            last = f"timed out after {self.settings.timeout_s:g}s"
        except aiohttp.ClientError as exc:
            last = f"{type(exc).__name__}: {exc}"
        raise MetricsError(f"prometheus {path} failed after {policy.attempts} attempts: {last}")

    async def query(self, promql: str) -> Any:
        return await self.call("/api/v1/query", {"query": promql})

    async def query_range(self, promql: str, *, start_s: float, end_s: float, step_s: float) -> Any:
        params = {"query": promql, "start": f"{start_s:.3f}", "end": f"{end_s:.3f}"}
        params["step"] = f"{step_s:g}"
        return await self.call("/api/v1/query_range", params)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _Retryable(Exception):
    """An HTTP answer that is worth asking again."""


def _worth_retrying(exc: BaseException) -> bool:
    return isinstance(exc, _Retryable | TimeoutError | aiohttp.ClientError)


class PrometheusSource:
    """MetricsSource over Prometheus.

    ``time_compression`` > 1 means the scraped graph runs faster than real time (the
    emulator): a planner window of W s is queried as ``[W / compression]`` of Prometheus
    time, and history rates are per planner second.
    """

    def __init__(self, settings: MetricsSettings, *, time_compression: float = 1.0) -> None:
        self.settings = settings
        self.time_compression = time_compression
        self.client = PrometheusClient(settings)
        self.demand = DemandChooser(settings)

    def status(self) -> dict[str, Any]:
        """For /status: the demand counter read last (None before the first window)."""
        current = self.demand.current
        return {"demand": current.status() if current is not None else None}

    async def _scalar(self, promql: str) -> float | None:
        return parse_scalar_vector(await self.client.query(promql), query=promql)

    async def observe(self, *, window_s: float) -> Observation:
        """The last ``window_s`` planner seconds (or ``metrics.window_s`` when set); never
        raises for metric trouble."""
        window_s = self.settings.window_s or window_s
        span = window_s / self.time_compression
        try:
            queries = interval_queries(self.settings, window_s=span).all()
            keys = list(queries)
            hist_queries = {
                k: bucket_query(self.settings, k, window_s=span) for k in HISTOGRAM_KEYS
            }
            gauges = {
                k: q
                for k in ("decode_waiting", "decode_running")
                if (q := getattr(self.settings, k))
            }
            # the samples of both demand counters: the window's gap check reads the one used
            counters = [self.demand.primary] + (
                [self.demand.fallback] if self.demand.fallback else []
            )
            cover_queries = [
                samples_query(self.settings, window_s=span, metric=m) for m in counters
            ]
            answers = iter(
                await _all(
                    *(self._scalar(queries[k]) for k in keys),
                    *(self.client.query(q) for q in hist_queries.values()),
                    *(self._scalar(q) for q in gauges.values()),
                    *(self.client.query(q) for q in cover_queries),
                )
            )
            values = [next(answers) for _ in keys]
            hists = {k: parse_buckets(next(answers), query=q) for k, q in hist_queries.items()}
            levels = {k: next(answers) for k in gauges}
            cover_payloads = list(answers)
            covers = {
                m: coverage(sample_times(payload, query=q), window_s=span)
                for m, q, payload in zip(counters, cover_queries, cover_payloads, strict=True)
            }
        except MetricsError as exc:
            log.warning("metrics missing: %s", exc)
            return Observation.missing(window_s=window_s, reason=str(exc))
        got = dict(zip(keys, values, strict=True))
        requests, counter = self.demand.choose(got["requests"], got.get("requests_fallback"))
        if requests is None:
            return Observation.missing(window_s=window_s, reason=self.demand.missing_reason())
        if counter is not None:
            gap = gap_reason(covers[counter.metric], metric=counter.metric)
            if gap is not None:
                log.warning("metrics missing: %s", gap)
                return Observation.missing(window_s=window_s, reason=gap)
        if requests <= 0:
            return Observation(window_s=window_s, requests=0.0)
        means: dict[str, float | None] = {}
        for f in MEAN_FIELDS:
            total, count = got[f"{f}.sum"], got[f"{f}.count"]
            # no series or zero count: the mean is undefined, not zero
            means[f] = total / count if total is not None and count else None
        return Observation(
            window_s=window_s,
            requests=requests,
            isl_tokens=means["isl_tokens"],
            osl_tokens=means["osl_tokens"],
            ttft_s=means["ttft_s"],
            itl_s=means["itl_s"],
            request_duration_s=means["request_duration_s"],
            ttft_buckets=hists["ttft"],
            itl_buckets=hists["itl"],
            isl_buckets=hists["isl"],
            osl_buckets=hists["osl"],
            decode_waiting=levels.get("decode_waiting"),
            decode_running=levels.get("decode_running"),
        )

    async def history(self, *, start_s: float, end_s: float, step_s: float) -> list[LoadPoint]:
        """Load per ``step_s`` (Prometheus seconds) over [start_s, end_s] (Unix s).

        A step with no request-counter sample is a gap (rate None), one with zero
        requests is idle (rate 0, lengths None). Raises MetricsError if a query fails.
        """
        if not (math.isfinite(step_s) and step_s > 0 and end_s >= start_s):
            raise MetricsError(f"bad history range start={start_s} end={end_s} step={step_s}")
        q = interval_queries(self.settings, window_s=step_s)
        wanted = {"requests": q.requests}
        if q.requests_fallback is not None:
            wanted["requests_fallback"] = q.requests_fallback
        for f in ("isl_tokens", "osl_tokens"):
            wanted[f"{f}.sum"], wanted[f"{f}.count"] = q.sums[f], q.counts[f]
        keys = list(wanted)
        payloads = await _all(
            *(
                self.client.query_range(wanted[k], start_s=start_s, end_s=end_s, step_s=step_s)
                for k in keys
            )
        )
        series = {k: parse_matrix(p, query=wanted[k]) for k, p in zip(keys, payloads, strict=True)}
        # a frontend without the started counter has none of its samples: use the fallback
        if not series["requests"] and series.get("requests_fallback"):
            series["requests"] = series["requests_fallback"]
        planner_step_s = step_s * self.time_compression
        points: list[LoadPoint] = []
        n = int((end_s - start_s) // step_s) + 1
        for i in range(n):
            ts = round(start_s + i * step_s, 3)
            count = _at(series["requests"], ts)
            if count is None:
                points.append(LoadPoint(time_s=ts, request_rate_rps=None))
                continue
            lengths = {}
            for f in ("isl_tokens", "osl_tokens"):
                s, c = _at(series[f"{f}.sum"], ts), _at(series[f"{f}.count"], ts)
                lengths[f] = s / c if s is not None and c else None
            if count <= 0:
                points.append(LoadPoint(time_s=ts, request_rate_rps=0.0))
                continue
            points.append(LoadPoint(time_s=ts, request_rate_rps=count / planner_step_s, **lengths))
        return points

    async def close(self) -> None:
        await self.client.close()


async def _all(*calls: Awaitable[Any]) -> list[Any]:
    """Run the queries concurrently and return their answers in order; on the first
    failure cancel the others, so no query is left running (or retrying) behind a
    window already reported missing, and raise that failure."""
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(_awaited(c)) for c in calls]
    except ExceptionGroup as group:
        matched = group.subgroup(MetricsError)
        if matched is None:
            raise
        first = matched.exceptions[0]
        while isinstance(first, ExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return [t.result() for t in tasks]


async def _awaited(call: Awaitable[Any]) -> Any:
    return await call


def _at(series: dict[float, float], ts: float) -> float | None:
    """The sample at ``ts`` (Prometheus aligns range steps; allow float noise)."""
    if ts in series:
        return series[ts]
    for key, value in series.items():
        if abs(key - ts) < 1e-3:
            return value
    return None
