"""The emulated graph's /metrics under Dynamo's and vLLM's real names, each counter
counted at the moment the real server counts it: under backpressure the started counter
reads the load offered while the completed counters trail it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from connectors.virtual.environment import VirtualTarget
from planner.clock import ServiceClock
from planner.emulator.build import build_graph
from planner.emulator.exposition import Server
from planner.emulator.graph import EmulatedGraph
from planner.emulator.memory_transport import MemoryChannel
from planner.perf.model import PerfModel
from planner.settings import load_settings
from planner.workload.synthetic import synthetic_trace


def _graph(perf: PerfModel, *, flavor: str) -> EmulatedGraph:
    """One prefill and one decode worker offered 30 req/s of 3000-token prompts: far more
    than one prefill worker serves, so requests queue (backpressure)."""
    loop = asyncio.get_running_loop()
    settings = load_settings(
        overrides={"emulator.metrics_flavor": flavor, "emulator.model": "llama"}
    )
    trace = synthetic_trace("constant", duration_s=300, base_rps=30, isl_tokens=3000, seed=4)
    clock = ServiceClock(compression=1e-9, origin_s=0.0, loop_origin=loop.time())
    return build_graph(
        settings, clock=clock, target=VirtualTarget(MemoryChannel()), perf=perf, trace=trace
    )


async def _scrape_at(graph: EmulatedGraph, t_s: float, server: Server = "all") -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    graph.clock = ServiceClock(compression=1e-9, origin_s=t_s, loop_origin=loop.time())
    await graph.sync()
    out: dict[str, Any] = {}
    for fam in text_string_to_metric_families(graph.metrics.exposition(server).decode()):
        for s in fam.samples:
            if s.name.endswith("_bucket") or s.name.endswith("_created"):
                continue
            out[s.name] = (s.value, dict(s.labels))
    return out


async def test_dynamo_started_counter_leads_completed_under_backpressure(
    shipped_perf: PerfModel,
) -> None:
    """dynamo_frontend_requests_started_total counts every arrival; requests_total
    (status=success) counts completions, which an overloaded graph caps well below the
    arrivals; both carry the model and Dynamo namespace labels."""
    graph = _graph(shipped_perf, flavor="dynamo")
    m = await _scrape_at(graph, 120.0)
    started, labels = m["dynamo_frontend_requests_started_total"]
    completed, done_labels = m["dynamo_frontend_requests_total"]
    arrived = int((graph.trace.arrival_s <= 120.0).sum())
    assert started == arrived > 3000
    assert completed < 0.7 * started
    assert labels == {"model": "llama", "dynamo_namespace": "emulator"}
    assert done_labels == {**labels, "status": "success"}
    assert m["dynamo_frontend_output_sequence_tokens_count"][0] == completed
    assert m["dynamo_frontend_input_sequence_tokens_count"][0] == started


async def test_vllm_names_and_counting_moments(shipped_perf: PerfModel) -> None:
    """vLLM's series: success counted at completion (with finished_reason), the TTFT
    histogram counted at the first token (between completions and arrivals under
    backpressure), queue and running gauges, everything labelled model_name."""
    graph = _graph(shipped_perf, flavor="vllm")
    m = await _scrape_at(graph, 120.0)
    arrived = int((graph.trace.arrival_s <= 120.0).sum())
    success, labels = m["vllm:request_success_total"]
    first_tokens = m["vllm:time_to_first_token_seconds_count"][0]
    assert labels == {"model_name": "llama", "finished_reason": "stop"}
    assert success <= first_tokens < arrived
    assert m["vllm:request_generation_tokens_count"][0] == success
    assert m["vllm:e2e_request_latency_seconds_count"][0] == success
    assert m["vllm:inter_token_latency_seconds_count"][0] > 0
    assert m["vllm:num_requests_waiting"][0] > 0  # the prefill queue
    assert m["vllm:num_requests_running"][1] == {"model_name": "llama"}
    assert 0.0 <= m["vllm:kv_cache_usage_perc"][0] <= 1.0
    assert not any(k.startswith("dynamo_") for k in m)


async def test_vllm_prefill_and_decode_servers_each_count_every_request(
    shipped_perf: PerfModel,
) -> None:
    """A split vLLM fleet serves each request twice: the prefill servers finish it at its
    first token (success = TTFT count, one generated token each, e2e = TTFT), the decode
    servers at its last token (success with the OSL histogram, ITL); the decode view
    has no TTFT series, so only the prefill servers answer for TTFT and demand."""
    graph = _graph(shipped_perf, flavor="vllm")
    whole = await _scrape_at(graph, 120.0)
    prefill = await _scrape_at(graph, 120.0, "prefill")
    decode = await _scrape_at(graph, 120.0, "decode")
    first = whole["vllm:time_to_first_token_seconds_count"][0]
    assert prefill["vllm:time_to_first_token_seconds_count"][0] == first
    assert prefill["vllm:request_success_total"] == (
        first,
        {"model_name": "llama", "finished_reason": "length"},
    )
    assert prefill["vllm:request_generation_tokens_sum"][0] == first
    assert (
        prefill["vllm:e2e_request_latency_seconds_sum"][0]
        == (whole["vllm:time_to_first_token_seconds_sum"][0])
    )
    assert prefill["vllm:inter_token_latency_seconds_count"][0] == 0
    assert decode["vllm:request_success_total"][0] == whole["vllm:request_success_total"][0]
    assert (
        decode["vllm:request_generation_tokens_count"][0]
        == (whole["vllm:request_generation_tokens_count"][0])
    )
    assert decode["vllm:inter_token_latency_seconds_count"][0] > 0
    assert not any(k.startswith("vllm:time_to_first_token") for k in decode)


def test_flavor_follows_the_metrics_preset() -> None:
    """Without emulator.metrics_flavor the emulated graph serves the names of the preset
    the planner reads."""
    s = load_settings(overrides={"metrics.preset": "vllm"})
    assert s.emulator.metrics_flavor is None
    with pytest.raises(Exception, match="metrics_flavor"):
        load_settings(overrides={"emulator.metrics_flavor": "sglang"})
