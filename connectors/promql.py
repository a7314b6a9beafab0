"""PromQL for one interval's aggregates: query text from settings, and strict result parsing.

Each mean is sum-of-sums over sum-of-counts across every matching series,
``sum(increase(X_sum{f}[W])) / sum(increase(X_count{f}[W]))``, divided client-side so an
empty result (no series), a zero count (idle) and NaN/Inf (broken) stay distinguishable.
Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.settings import MetricKey, MetricsSettings
from planner.errors import MetricsError

#: observation field -> settings key of the histogram it is the mean of
MEAN_FIELDS: Mapping[str, str] = {
    "ttft_s": "ttft",
    "itl_s": "itl",
    "request_duration_s": "request_duration",
    "isl_tokens": "isl",
    "osl_tokens": "osl",
}


def _promql_string(value: str) -> str:
    """A PromQL double-quoted string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def label_filters(settings: MetricsSettings, key: str | None = None) -> str:
    """The ``{...}`` selector body: model (case-insensitive), namespace, extra matchers,
    and the matchers ``metrics.filters`` gives the metric ``key``."""
    parts: list[str] = []
    if settings.model:
        label = settings.name("model_label")
        parts.append(f"{label}=~{_promql_string('(?i)' + re.escape(settings.model))}")
    if settings.namespace:
        label = settings.name("namespace_label")
        if not label:
            raise MetricsError(
                f"metrics.namespace={settings.namespace!r} is set but preset "
                f"{settings.preset!r} has no namespace label; set metrics.namespace_label"
            )
        parts.append(f"{label}={_promql_string(settings.namespace)}")
    if settings.extra_filters.strip():
        parts.append(settings.extra_filters.strip())
    own = {str(k): v for k, v in settings.filters.items()}.get(key or "", "").strip()
    if own:
        parts.append(own)
    return ",".join(parts)


def promql_duration(seconds: float) -> str:
    """A PromQL range duration in whole milliseconds (at least 1 ms)."""
    return f"{max(1, round(seconds * 1000))}ms"


@dataclass(frozen=True, slots=True)
class IntervalQueries:
    """The instant queries for one window: the demand count (and the counter read when
    it has no series), and each mean's sum/count."""

    requests: str
    sums: Mapping[str, str]
    counts: Mapping[str, str]
    requests_fallback: str | None = None

    def all(self) -> dict[str, str]:
        """Every query by a stable key (``requests``, ``requests_fallback`` when there is
        one, ``<field>.sum``, ``<field>.count``)."""
        out = {"requests": self.requests}
        if self.requests_fallback is not None:
            out["requests_fallback"] = self.requests_fallback
        for f in MEAN_FIELDS:
            out[f"{f}.sum"] = self.sums[f]
            out[f"{f}.count"] = self.counts[f]
        return out


def interval_queries(settings: MetricsSettings, *, window_s: float) -> IntervalQueries:
    """Queries for the window of ``window_s`` seconds (Prometheus time) ending now."""
    w = promql_duration(window_s)

    def inc(metric: str, key: str) -> str:
        return f"sum(increase({metric}{{{label_filters(settings, key)}}}[{w}]))"

    sums = {f: inc(settings.name(k) + "_sum", k) for f, k in MEAN_FIELDS.items()}
    counts = {f: inc(settings.name(k) + "_count", k) for f, k in MEAN_FIELDS.items()}
    fallback = settings.name("requests_fallback")
    return IntervalQueries(
        requests=inc(settings.name("requests"), "requests"),
        sums=sums,
        counts=counts,
        requests_fallback=inc(fallback, "requests_fallback") if fallback else None,
    )


def _number(raw: Any, query: str) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError) as exc:
        raise MetricsError(f"non-numeric sample {raw!r} for {query}") from exc
    if not math.isfinite(value):
        raise MetricsError(f"non-finite value {raw} for {query}")
    if value < 0:
        raise MetricsError(f"negative increase {value} for {query}")
    return value


def _data(payload: Any, query: str, result_type: str) -> list[Any]:
    if not isinstance(payload, dict) or payload.get("status") != "success":
        err = payload.get("error") if isinstance(payload, dict) else payload
        raise MetricsError(f"prometheus error for {query}: {err}")
    data = payload.get("data")
    if not isinstance(data, dict) or data.get("resultType") != result_type:
        got = data.get("resultType") if isinstance(data, dict) else data
        raise MetricsError(f"expected a {result_type} for {query}, got {got!r}")
    result = data.get("result")
    if not isinstance(result, list):
        raise MetricsError(f"malformed result for {query}")
    return result


def parse_scalar_vector(payload: Any, *, query: str) -> float | None:
    """The single value of an aggregated instant vector; None when it has no series.

    Raises MetricsError for an error response, NaN/Inf, a negative increase or more than
    one series (the query should have been aggregated).
    """
    result = _data(payload, query, "vector")
    if not result:
        return None
    if len(result) > 1:
        raise MetricsError(f"{len(result)} series for {query}; expected one after sum()")
    try:
        raw = result[0]["value"][1]
    except (KeyError, IndexError, TypeError) as exc:
        raise MetricsError(f"malformed sample for {query}") from exc
    return _number(raw, query)


def parse_matrix(payload: Any, *, query: str) -> dict[float, float]:
    """Timestamp (s) -> value of an aggregated range result; NaN/Inf points are dropped."""
    result = _data(payload, query, "matrix")
    if len(result) > 1:
        raise MetricsError(f"{len(result)} series for {query}; expected one after sum()")
    out: dict[float, float] = {}
    for series in result:
        for ts, raw in series.get("values", []):
            try:
                out[float(ts)] = _number(raw, query)
            except MetricsError:
                continue  # a gap at this step, not a zero
    return out


#: the histograms a window reads bucket by bucket (the Observation's ``<key>_buckets``)
HISTOGRAM_KEYS: tuple[MetricKey, ...] = ("ttft", "itl", "isl", "osl")


def bucket_query(settings: MetricsSettings, key: MetricKey, *, window_s: float) -> str:
    """The window's histogram of ``key``: ``increase`` of every ``_bucket`` series, by
    ``le``."""
    sel = "{" + label_filters(settings, key) + "}"
    name = settings.name(key) + "_bucket"
    return f"sum by (le) (increase({name}{sel}[{promql_duration(window_s)}]))"


def ttft_bucket_query(settings: MetricsSettings, *, window_s: float) -> str:
    """The window's TTFT histogram (see ``bucket_query``)."""
    return bucket_query(settings, "ttft", window_s=window_s)


def parse_buckets(payload: Any, *, query: str) -> tuple[tuple[float, float], ...] | None:
    """Cumulative (upper bound, count) pairs, ascending, from a ``sum by (le)`` vector;
    None when it has no series. Raises MetricsError for a series without a numeric
    ``le``, a bad sample, or no ``+Inf`` bucket (the total)."""
    result = _data(payload, query, "vector")
    if not result:
        return None
    out: list[tuple[float, float]] = []
    for series in result:
        try:
            le_raw = series["metric"]["le"]
            raw = series["value"][1]
        except (KeyError, IndexError, TypeError) as exc:
            raise MetricsError(f"malformed bucket series for {query}") from exc
        try:
            le = float(le_raw)  # "+Inf" parses as inf
        except (TypeError, ValueError) as exc:
            raise MetricsError(f"bucket bound le={le_raw!r} is not a number in {query}") from exc
        out.append((le, _number(raw, query)))
    out.sort()
    if not math.isinf(out[-1][0]):
        raise MetricsError(f'no le="+Inf" bucket (the total) in {query}')
    return tuple(out)
