"""Pulling a time range of a cluster's metrics from Prometheus into a history file's rows,
with ``prometheus-api-client`` (synchronous: call it from the CLI or a worker thread,
never on the event loop). Bearer token, CA file and TLS verification come from
``MetricsSettings`` as for the service's own client."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from connectors.history_queries import (
    HistoryQueries,
    Points,
    history_queries,
    other_preset_counters,
    parse_range,
)
from connectors.history_rows import RangeAnswers, assemble_rows
from connectors.settings import MetricsSettings
from planner.errors import MetricsError
from planner.history.format import HistoryFile, HistoryMeta

#: Prometheus answers at most 11,000 points per series and query
MAX_POINTS = 11000


class HistoryClient:
    """Range queries over ``prometheus_api_client.PrometheusConnect``."""

    def __init__(self, settings: MetricsSettings) -> None:
        import requests
        from prometheus_api_client import PrometheusConnect

        headers = {}
        if settings.bearer_token_file is not None:
            try:
                token = settings.bearer_token_file.read_text().strip()
            except OSError as exc:
                raise MetricsError(
                    f"cannot read metrics.bearer_token_file={settings.bearer_token_file}: {exc}"
                ) from exc
            headers["Authorization"] = f"Bearer {token}"
        session = requests.Session()
        # a CA file when one is given, else the system's CAs, else (verify_tls off) none
        ca = settings.ca_file
        session.verify = str(ca) if settings.verify_tls and ca is not None else settings.verify_tls
        self.timeout_s = max(settings.timeout_s, 30.0)
        self.prom = PrometheusConnect(
            url=settings.url.rstrip("/"),
            headers=headers,
            disable_ssl=not settings.verify_tls,
            session=session,
            timeout=self.timeout_s,
        )

    def range(self, query: str, *, start_s: float, end_s: float, step_s: float) -> Any:
        """The ``result`` list of one range query; MetricsError on any failure."""
        import requests
        from prometheus_api_client.exceptions import PrometheusApiClientException

        try:
            return self.prom.custom_query_range(
                query,
                start_time=datetime.fromtimestamp(start_s, tz=UTC),
                end_time=datetime.fromtimestamp(end_s, tz=UTC),
                step=f"{step_s:g}",
                # the client rounds start and end to whole seconds; these take precedence
                # (a time-compressed graph has intervals of a second or two)
                params={"start": f"{start_s:.3f}", "end": f"{end_s:.3f}"},
            )
        except (requests.RequestException, PrometheusApiClientException, ValueError) as exc:
            raise MetricsError(f"prometheus range query failed for {query}: {exc}") from exc


def _grid(start_s: float, end_s: float, step_s: float) -> tuple[float, ...]:
    """Row end times (ms): Prometheus steps from the start; the first point (the range
    start) only opens the first interval."""
    s0, s1 = round(start_s, 3), round(end_s, 3)
    n = int((s1 - s0) / step_s + 1e-9)
    return tuple(round(s0 + k * step_s, 3) for k in range(1, n + 1))


def pull_history(
    settings: MetricsSettings,
    *,
    start_unix_s: float,
    end_unix_s: float,
    interval_s: float,
    components: tuple[str, ...],
    gpus_per_worker: dict[str, int],
    time_compression: float = 1.0,
    client: HistoryClient | None = None,
) -> HistoryFile:
    """The rows of [start, end] (Unix s) at ``interval_s`` planner seconds (Prometheus
    step ``interval_s / time_compression``), each with its status and reason."""
    step = interval_s / time_compression
    if not (math.isfinite(step) and step > 0):
        raise MetricsError(f"interval_s={interval_s} / time_compression={time_compression}")
    if not end_unix_s - start_unix_s >= step:
        raise MetricsError(
            f"range {start_unix_s}..{end_unix_s}: expected at least one interval ({step:g} s)"
        )
    grid = _grid(start_unix_s, end_unix_s, step)
    if len(grid) > MAX_POINTS - 1:
        raise MetricsError(
            f"{len(grid)} intervals: Prometheus answers at most {MAX_POINTS} points per "
            "query; pull a shorter range or a longer interval"
        )
    client = client or HistoryClient(settings)
    q = history_queries(settings, step_s=step)
    lag = step if settings.replicas.source == "planner" else 0.0
    answers = _read(client, q, start_s=start_unix_s, end_s=end_unix_s, step_s=step, lag_s=lag)
    answers = RangeAnswers(
        grid_s=grid,
        scalars=answers.scalars,
        buckets=answers.buckets,
        replicas=answers.replicas,
        replicas_lag_s=lag,
        step_s=step,
        replicas_read=q.replicas is not None,
    )
    hint = ""
    if not answers.scalars.get("samples.requests") and not answers.scalars.get(
        "samples.requests_fallback"
    ):
        hint = _preset_hint(client, settings, start_s=start_unix_s, end_s=end_unix_s, step_s=step)
    rows = assemble_rows(
        answers, q, interval_s=interval_s, components=components, missing_hint=hint
    )
    bounds = {h: tuple(sorted(answers.buckets.get(h, {}))) for h in ("ttft", "itl")}
    used = q.demand if answers.scalars.get("samples.requests") else (q.fallback or q.demand)
    meta = HistoryMeta(
        interval_s=interval_s,
        time_compression=time_compression,
        start_unix_s=round(start_unix_s, 3),
        end_unix_s=grid[-1],
        preset=settings.preset,
        demand_counter=used,
        components=components,
        gpus_per_worker=gpus_per_worker,
        replicas_source=settings.replicas.source,
        ttft_bounds_s=bounds["ttft"],
        itl_bounds_s=bounds["itl"],
        extra={"prometheus_url": _public(settings.url), "pulled_unix_s": round(time.time(), 3)},
    )
    return HistoryFile(meta=meta, rows=rows)


def _public(url: str) -> str:
    """The URL without user:password@ and without a query string (no secret in a file)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _read(
    client: HistoryClient,
    q: HistoryQueries,
    *,
    start_s: float,
    end_s: float,
    step_s: float,
    lag_s: float,
) -> RangeAnswers:
    def run(query: str, *, by: str | None = None, end: float = end_s) -> dict[str, Points]:
        return parse_range(
            client.range(query, start_s=start_s, end_s=end, step_s=step_s), query=query, by=by
        )

    scalars = {k: run(v).get("", {}) for k, v in q.scalars.items()}
    buckets: dict[str, dict[float, Points]] = {}
    for h, query in q.buckets.items():
        try:
            buckets[h] = {float(le): pts for le, pts in run(query, by="le").items()}
        except ValueError as exc:
            raise MetricsError(f"a bucket bound le is not a number in {query}") from exc
    replicas: dict[str, Points] = {}
    if q.replicas is not None:
        by_label = run(q.replicas, by=q.replicas_label, end=end_s + math.ceil(lag_s))
        for value, pts in by_label.items():
            if value in q.replicas_components:
                replicas[q.replicas_components[value]] = pts
    return RangeAnswers(grid_s=(), scalars=scalars, buckets=buckets, replicas=replicas)


def _preset_hint(
    client: HistoryClient, settings: MetricsSettings, *, start_s: float, end_s: float, step_s: float
) -> str:
    """Which other preset's demand counter has series here, said as the fix."""
    for preset, counter in other_preset_counters(settings).items():
        query = f"count(count_over_time({counter}[{max(1, round(step_s * 1000))}ms]))"
        found = parse_range(
            client.range(query, start_s=start_s, end_s=end_s, step_s=step_s), query=query
        )
        if any(found.values()):
            return f"series of preset {preset!r} ({counter}) exist: set metrics.preset={preset}"
    return ""
