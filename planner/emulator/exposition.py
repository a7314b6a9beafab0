"""The emulated graph's metric families under real servers' names and semantics: Dynamo's
frontend or vLLM's OpenAI server, read off one cumulative cluster snapshot.

What each counter counts matters to a planner, so the emulator keeps the servers' moments:

- Dynamo frontend (labels ``model``, ``dynamo_namespace``):
  ``dynamo_frontend_requests_started_total`` when a request arrives,
  ``dynamo_frontend_requests_total`` (``status="success"``) when it completes;
  ``..._input_sequence_tokens`` at arrival, ``..._time_to_first_token_seconds`` at the
  first token, ``..._inter_token_latency_seconds`` per token gap,
  ``..._request_duration_seconds`` and ``..._output_sequence_tokens`` at completion.
- vLLM (label ``model_name``; names from vLLM's docs/design/metrics.md):
  ``vllm:request_success_total`` (``finished_reason="stop"``) at completion,
  ``vllm:time_to_first_token_seconds`` at the first token,
  ``vllm:inter_token_latency_seconds`` per token gap,
  ``vllm:e2e_request_latency_seconds`` and ``vllm:request_generation_tokens`` at
  completion, ``vllm:request_prompt_tokens`` at arrival (vLLM observes it at completion;
  the simulated cluster keeps prompt lengths by arrival, which moves the window's mean
  only as far as the prompt mix drifts within a request's lifetime), and the gauges
  ``vllm:num_requests_running``, ``vllm:num_requests_waiting``, ``vllm:kv_cache_usage_perc``.

Histogram times are trace (planner) seconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Literal

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from planner.sim.snapshot import Buckets, ClusterSnapshot

Flavor = Literal["dynamo", "vllm"]
DYNAMO_PREFIX = "dynamo_frontend_"


def _le(buckets: Buckets) -> list[tuple[str, float]]:
    """Bucket bounds as exposition ``le`` labels ("0.25", "1024.0", "+Inf")."""
    return [("+Inf" if math.isinf(le) else repr(float(le)), float(n)) for le, n in buckets]


def _histogram(
    name: str, doc: str, labels: Mapping[str, str], buckets: Buckets, total: float
) -> HistogramMetricFamily:
    fam = HistogramMetricFamily(name, doc, labels=list(labels))
    fam.add_metric(list(labels.values()), buckets=_le(buckets), sum_value=float(total))
    return fam


def _counter(name: str, doc: str, labels: Mapping[str, str], value: float) -> CounterMetricFamily:
    fam = CounterMetricFamily(name, doc, labels=list(labels))
    fam.add_metric(list(labels.values()), value)
    return fam


def dynamo_families(s: ClusterSnapshot, *, model: str, namespace: str) -> Iterator[Metric]:
    """Dynamo's frontend series for the snapshot ``s``."""
    p = DYNAMO_PREFIX
    base = {"model": model, "dynamo_namespace": namespace}
    yield _counter(
        f"{p}requests_started",
        "Requests accepted by the frontend",
        base,
        float(s.requests_total),
    )
    done = {**base, "status": "success"}
    yield _counter(f"{p}requests", "Requests completed", done, float(s.requests_finished))
    for name, doc, buckets, total in (
        ("time_to_first_token_seconds", "Time to first token", s.ttft_buckets, s.ttft_sum_s),
        ("inter_token_latency_seconds", "Inter-token latency", s.itl_buckets, s.itl_sum_s),
        ("request_duration_seconds", "Request duration", s.duration_buckets, s.duration_sum_s),
        ("input_sequence_tokens", "Input sequence length", s.isl_buckets, s.isl_sum),
        ("output_sequence_tokens", "Output sequence length", s.osl_buckets, s.osl_sum),
    ):
        yield _histogram(f"{p}{name}", doc, base, buckets, total)


def vllm_families(s: ClusterSnapshot, *, model: str) -> Iterator[Metric]:
    """vLLM's server series for the snapshot ``s``."""
    base = {"model_name": model}
    stop = {**base, "finished_reason": "stop"}
    yield _counter(
        "vllm:request_success",
        "Count of successfully processed requests.",
        stop,
        float(s.requests_finished),
    )
    for name, doc, buckets, total in (
        ("time_to_first_token_seconds", "Time to first token", s.ttft_buckets, s.ttft_sum_s),
        ("inter_token_latency_seconds", "Inter-token latency", s.itl_buckets, s.itl_sum_s),
        ("e2e_request_latency_seconds", "End-to-end latency", s.duration_buckets, s.duration_sum_s),
        ("request_prompt_tokens", "Prompt tokens per request", s.isl_buckets, s.isl_sum),
        ("request_generation_tokens", "Generated tokens per request", s.osl_buckets, s.osl_sum),
    ):
        yield _histogram(f"vllm:{name}", doc, base, buckets, total)
    waiting = float(s.queued_prefill_requests + s.decode_waiting)
    for name, doc, value in (
        ("num_requests_running", "Requests in model execution batches.", s.decode_active),
        ("num_requests_waiting", "Requests waiting to be processed.", waiting),
        ("kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", s.kv_usage),
    ):
        fam = GaugeMetricFamily(f"vllm:{name}", doc, labels=list(base))
        fam.add_metric(list(base.values()), float(value))
        yield fam


def families(s: ClusterSnapshot, *, flavor: Flavor, model: str, namespace: str) -> Iterator[Metric]:
    """The series of the ``flavor`` server for the snapshot ``s``."""
    if flavor == "vllm":
        return vllm_families(s, model=model)
    return dynamo_families(s, model=model, namespace=namespace)
