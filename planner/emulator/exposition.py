"""The emulated graph's metric families under real servers' names and semantics: Dynamo's
frontend or vLLM's OpenAI server, read off one cumulative cluster snapshot.

What each counter counts matters to a planner, so the emulator keeps the servers' moments:

- Dynamo frontend (labels ``model``, ``dynamo_namespace``):
  ``dynamo_frontend_requests_started_total`` when a request arrives,
  ``dynamo_frontend_requests_total`` (``status="success"``) when it completes;
  ``..._input_sequence_tokens`` at arrival, ``..._time_to_first_token_seconds`` at the
  first token, ``..._inter_token_latency_seconds`` per token gap,
  ``..._request_duration_seconds`` and ``..._output_sequence_tokens`` at completion.
- vLLM (label ``model_name``; names from vLLM's docs/design/metrics.md), as one server
  or as the prefill and the decode servers of a split fleet (``vllm_families``):
  ``vllm:request_success_total`` (``finished_reason``) at completion,
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
#: which vLLM servers' view: one server per request, or a prefill/decode split
Server = Literal["all", "prefill", "decode"]
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


def _ones(buckets: Buckets, n: float) -> Buckets:
    """A histogram of ``n`` observations of 1 on the bounds of ``buckets``."""
    return tuple((le, n if le >= 1 else 0.0) for le, _ in buckets)


def vllm_families(s: ClusterSnapshot, *, model: str, server: Server = "all") -> Iterator[Metric]:
    """vLLM's server series for the snapshot ``s``.

    ``server``: ``all`` is one vLLM server serving whole requests. In a fleet with
    separate prefill and decode servers, each request is served twice: ``prefill`` is
    what the prefill servers export (each request ends at its first token, so its TTFT,
    end-to-end latency and one generated token are counted then), ``decode`` what the
    decode servers export (tokens, ITL and completion). The decode servers' own TTFT (a
    KV transfer and one decode step after the request reaches them) is not timed by the
    simulated cluster, so the decode view has no TTFT series.
    """
    base = {"model_name": model}
    n_first = float(s.ttft_count)
    if server == "prefill":
        done, reason = n_first, "length"
        hist = {
            "time_to_first_token_seconds": (s.ttft_buckets, s.ttft_sum_s),
            "inter_token_latency_seconds": (tuple((le, 0.0) for le, _ in s.itl_buckets), 0.0),
            "e2e_request_latency_seconds": (s.ttft_buckets, s.ttft_sum_s),
            "request_prompt_tokens": (s.isl_buckets, s.isl_sum),
            "request_generation_tokens": (_ones(s.osl_buckets, n_first), n_first),
        }
        gauges = {"num_requests_waiting": float(s.queued_prefill_requests)}
    else:
        done, reason = float(s.requests_finished), "stop"
        hist = {
            "time_to_first_token_seconds": (s.ttft_buckets, s.ttft_sum_s),
            "inter_token_latency_seconds": (s.itl_buckets, s.itl_sum_s),
            "e2e_request_latency_seconds": (s.duration_buckets, s.duration_sum_s),
            "request_prompt_tokens": (s.isl_buckets, s.isl_sum),
            "request_generation_tokens": (s.osl_buckets, s.osl_sum),
        }
        waiting = s.decode_waiting + (s.queued_prefill_requests if server == "all" else 0)
        gauges = {
            "num_requests_running": float(s.decode_active),
            "num_requests_waiting": float(waiting),
            "kv_cache_usage_perc": float(s.kv_usage),
        }
        if server == "decode":
            del hist["time_to_first_token_seconds"]
    yield _counter(
        "vllm:request_success",
        "Count of successfully processed requests.",
        {**base, "finished_reason": reason},
        done,
    )
    for name, (buckets, total) in hist.items():
        yield _histogram(f"vllm:{name}", _VLLM_DOCS[name], base, buckets, total)
    for name, value in gauges.items():
        fam = GaugeMetricFamily(f"vllm:{name}", _VLLM_DOCS[name], labels=list(base))
        fam.add_metric(list(base.values()), value)
        yield fam


_VLLM_DOCS = {
    "time_to_first_token_seconds": "Histogram of time to first token in seconds.",
    "inter_token_latency_seconds": "Histogram of inter-token latency in seconds.",
    "e2e_request_latency_seconds": "Histogram of e2e request latency in seconds.",
    "request_prompt_tokens": "Number of prefill tokens processed.",
    "request_generation_tokens": "Number of generation tokens processed.",
    "num_requests_running": "Number of requests in model execution batches.",
    "num_requests_waiting": "Number of requests waiting to be processed.",
    "kv_cache_usage_perc": "KV-cache usage. 1 means 100 percent usage.",
}


def families(
    s: ClusterSnapshot, *, flavor: Flavor, model: str, namespace: str, server: Server = "all"
) -> Iterator[Metric]:
    """The series of the ``flavor`` server for the snapshot ``s`` (vLLM: of the
    ``server`` role; Dynamo's frontend sees whole requests, so ``server`` is ignored)."""
    if flavor == "vllm":
        return vllm_families(s, model=model, server=server)
    return dynamo_families(s, model=model, namespace=namespace)
