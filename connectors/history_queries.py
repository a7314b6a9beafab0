"""PromQL for a history pull (one range query per quantity, one point per planner
interval) and the parsing of range results into per-timestamp values. Pure: no I/O.

Every count is ``increase()`` over the interval, which counts across counter resets;
``resets()`` says where one happened and ``count_over_time()`` how many samples the
demand counter has in each interval (a gap in the scrapes shows as fewer).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.promql import label_filters, promql_duration
from connectors.settings import METRIC_PRESETS, MetricsSettings
from planner.errors import MetricsError

#: history column -> settings key of the histogram whose sum/count it is
HIST_MEANS: Mapping[str, str] = {
    "isl_mean_tokens": "isl",
    "osl_mean_tokens": "osl",
    "ttft_mean_s": "ttft",
    "itl_mean_s": "itl",
}
#: the histograms whose buckets are kept
BUCKETED = ("ttft", "itl")
PLANNER_REPLICAS = "sla_planner_current_replicas"
KSM_REPLICAS = "kube_deployment_spec_replicas"

#: timestamp (s, rounded to ms) -> value
Points = dict[float, float]


@dataclass(frozen=True, slots=True)
class HistoryQueries:
    """Range queries by key: ``requests``, ``requests_fallback``, ``samples.<m>``,
    ``resets.<m>`` and ``resets2.<m>`` (over two intervals) per demand counter,
    ``<column>.sum`` / ``.count``, ``<hist>.buckets`` (by ``le``) and ``replicas`` (by
    ``component`` or ``deployment``)."""

    scalars: Mapping[str, str]
    buckets: Mapping[str, str]
    replicas: str | None
    #: the label the replicas query groups by, and that label's value -> component
    replicas_label: str
    replicas_components: Mapping[str, str]
    demand: str
    fallback: str | None


def _sel(settings: MetricsSettings, key: str) -> str:
    return "{" + label_filters(settings, key) + "}"


def history_queries(settings: MetricsSettings, *, step_s: float) -> HistoryQueries:
    """The queries for intervals of ``step_s`` Prometheus seconds."""
    w = promql_duration(step_s)
    demand = settings.name("requests")
    fallback = settings.name("requests_fallback") or None
    scalars: dict[str, str] = {}
    for key, metric in (("requests", demand), ("requests_fallback", fallback)):
        if metric is None:
            continue
        sel = _sel(settings, key)
        scalars[key] = f"sum(increase({metric}{sel}[{w}]))"
        scalars[f"samples.{key}"] = f"max(count_over_time({metric}{sel}[{w}]))"
        scalars[f"resets.{key}"] = f"sum(resets({metric}{sel}[{w}]))"
        # over two intervals: a reset between the last sample of one interval and the
        # first of the next is in neither interval's window, but in this one's
        scalars[f"resets2.{key}"] = f"sum(resets({metric}{sel}[{promql_duration(2 * step_s)}]))"
    for col, key in HIST_MEANS.items():
        for part in ("sum", "count"):
            name = f"{settings.name(key)}_{part}"
            scalars[f"{col}.{part}"] = f"sum(increase({name}{_sel(settings, key)}[{w}]))"
    buckets = {
        h: f"sum by (le) (increase({settings.name(h)}_bucket{_sel(settings, h)}[{w}]))"
        for h in BUCKETED
    }
    rep = settings.replicas
    extra = rep.filters.strip()
    replicas: str | None = None
    label, comps = "component", {c: c for c in ("prefill", "decode", "agg")}
    if rep.source == "planner":
        sel = "{" + extra + "}"
        replicas = f"max by (component) (avg_over_time({PLANNER_REPLICAS}{sel}[{w}]))"
    elif rep.source == "kube_state_metrics":
        names = "|".join(sorted(rep.deployments.values()))
        matchers = ",".join(p for p in (f'deployment=~"{names}"', extra) if p)
        replicas = f"max by (deployment) (avg_over_time({KSM_REPLICAS}{{{matchers}}}[{w}]))"
        label, comps = "deployment", {v: str(k) for k, v in rep.deployments.items()}
    return HistoryQueries(
        scalars=scalars,
        buckets=buckets,
        replicas=replicas,
        replicas_label=label,
        replicas_components=comps,
        demand=demand,
        fallback=fallback,
    )


def other_preset_counters(settings: MetricsSettings) -> dict[str, str]:
    """Preset -> its demand counter, for every preset but the configured one (to say
    which one a cluster exports when the configured one has no series)."""
    return {
        name: names["requests"] for name, names in METRIC_PRESETS.items() if name != settings.preset
    }


def _value(raw: Any, query: str) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError) as exc:
        raise MetricsError(f"non-numeric sample {raw!r} for {query}") from exc
    return value if math.isfinite(value) else None


def parse_range(result: Any, *, query: str, by: str | None = None) -> dict[str, Points]:
    """A range result (the ``result`` list) as label value -> timestamp -> value; one
    entry keyed "" without ``by``. NaN/Inf points are dropped (a gap, not a zero);
    more than one series without ``by`` is an error (the query should aggregate)."""
    if not isinstance(result, list):
        raise MetricsError(f"malformed range result for {query}: {type(result).__name__}")
    if by is None and len(result) > 1:
        raise MetricsError(f"{len(result)} series for {query}; expected one after sum()")
    out: dict[str, Points] = {}
    for series in result:
        try:
            key = str(series["metric"].get(by, "")) if by else ""
            values = series["values"]
        except (KeyError, TypeError, AttributeError) as exc:
            raise MetricsError(f"malformed series for {query}") from exc
        points = out.setdefault(key, {})
        for pair in values:
            try:
                ts, raw = pair
            except (TypeError, ValueError) as exc:
                raise MetricsError(f"malformed sample {pair!r} for {query}") from exc
            value = _value(raw, query)
            if value is not None:
                points[round(float(ts), 3)] = value
    return out
