"""The emulated graph over planner.sim's cluster: driven in wall-clock slices it serves
requests as the simulator does, its /metrics counters rise by exactly what the
in-process window reports, targets reach the sim fleet through the virtual target, and
the summary scores every arrived request."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from connectors.virtual.environment import VirtualTarget
from connectors.virtual.protocol import TargetMessage
from planner.clock import ServiceClock
from planner.core.types import Component
from planner.emulator.build import build_graph
from planner.emulator.graph import EmulatedGraph
from planner.emulator.memory_transport import MemoryChannel
from planner.emulator.source import EmulatedSource
from planner.perf.model import PerfModel
from planner.settings import load_settings
from planner.sim import Cluster, ClusterConfig, TruePerf
from planner.workload.synthetic import synthetic_trace
from planner.workload.trace import RequestTrace

P, D = Component.PREFILL, Component.DECODE


def _frozen_clock(t_s: float) -> ServiceClock:
    """A clock that reads ``t_s`` (it advances 1e-9 s per wall second)."""
    loop = asyncio.get_running_loop()
    return ServiceClock(compression=1e-9, origin_s=t_s, loop_origin=loop.time())


def _graph(
    perf: PerfModel, trace: RequestTrace, **overrides: Any
) -> tuple[EmulatedGraph, MemoryChannel]:
    settings = load_settings(overrides={"startup_s": 100.0, "interval_s": 60.0, **overrides})
    channel = MemoryChannel()
    graph = build_graph(
        settings, clock=_frozen_clock(0.0), target=VirtualTarget(channel), perf=perf, trace=trace
    )
    return graph, channel


async def _sync_at(graph: EmulatedGraph, t_s: float) -> None:
    graph.clock = _frozen_clock(t_s)
    await graph.sync()


def _families(text: bytes) -> dict[str, float]:
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text.decode()):
        for s in fam.samples:
            if s.labels.get("model") != "emulated" or s.labels["dynamo_namespace"] != "emulator":
                continue
            key = s.name + (f"@{s.labels['le']}" if "le" in s.labels else "")
            out[key] = out.get(key, 0.0) + s.value
    return out


async def test_wall_clock_syncs_serve_requests_as_the_simulator_does(
    shipped_perf: PerfModel,
) -> None:
    """Syncs at ragged clock times (rounded down to whole trace seconds) feed arrivals as
    they come; every request gets the outcome of one offline advance of the same cluster."""
    tr = synthetic_trace("sine", duration_s=300, base_rps=5, peak_rps=40, length_cv=0.5, seed=1)
    graph, _ = _graph(shipped_perf, tr)
    rng = np.random.default_rng(1)
    for t in np.cumsum(rng.uniform(0.3, 7.0, 200)):
        if t > 400:
            break
        await _sync_at(graph, float(t))
    await _sync_at(graph, 400.0)
    ref = Cluster(TruePerf(shipped_perf), ClusterConfig(startup_s=100.0), initial={P: 1, D: 1})
    ref.submit(tr.arrival_s, tr.isl_tokens, tr.osl_tokens)
    ref.advance_to(400.0)
    got, want = graph.cluster.outcomes(), ref.outcomes()
    assert len(got["arrival_s"]) == len(tr) > 3000
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=0, atol=1e-9, err_msg=k)
    assert graph.done.is_set()


async def test_metrics_increase_equals_the_in_process_window(shipped_perf: PerfModel) -> None:
    """Between two scrapes 60 s apart, /metrics' sums and counts rise by what the
    in-process source reports for that window (the arithmetic of increase()); histogram
    counts equal their +Inf buckets; an idle window carries no means."""
    tr = synthetic_trace("constant", duration_s=200, base_rps=20, length_cv=0.8, seed=2)
    graph, _ = _graph(shipped_perf, tr)
    source = EmulatedSource(graph)
    await _sync_at(graph, 100.0)
    before = _families(graph.metrics.exposition())
    await _sync_at(graph, 160.0)
    after = _families(graph.metrics.exposition())
    obs = await source.observe(window_s=60.0)
    inc = {k: after[k] - before.get(k, 0.0) for k in after}
    p = "dynamo_frontend_"

    def mean(name: str) -> float:
        return inc[f"{p}{name}_sum"] / inc[f"{p}{name}_count"]

    assert obs.window_s == 60.0
    assert (
        obs.requests
        == inc[f"{p}requests_started_total"]
        == int(((tr.arrival_s > 100) & (tr.arrival_s <= 160)).sum())
    )
    assert obs.isl_tokens == pytest.approx(mean("input_sequence_tokens"))
    assert obs.osl_tokens == pytest.approx(mean("output_sequence_tokens"))
    assert obs.ttft_s == pytest.approx(mean("time_to_first_token_seconds"))
    assert obs.itl_s == pytest.approx(mean("inter_token_latency_seconds"))
    assert obs.request_duration_s == pytest.approx(mean("request_duration_seconds"))
    assert obs.queued_prefill_tokens is None and obs.kv_usage is None  # not a frontend's
    for h in ("time_to_first_token_seconds", "input_sequence_tokens", "output_sequence_tokens"):
        assert after[f"{p}{h}_bucket@+Inf"] == after[f"{p}{h}_count"] > 0
    assert after[f"{p}input_sequence_tokens_count"] == after[f"{p}requests_started_total"]
    # completed requests are counted when they finish, with the OSL histogram
    assert after[f"{p}requests_total"] == after[f"{p}output_sequence_tokens_count"]
    await _sync_at(graph, 500.0)
    idle = await source.observe(window_s=60.0)
    assert idle.is_idle and idle.ttft_s is None and idle.window_s == 60.0


async def test_targets_reach_the_sim_fleet_through_the_virtual_target(
    shipped_perf: PerfModel,
) -> None:
    """A published target adds workers that are ready only after the start-up delay (the
    ack says so); lowering it cancels starting workers first; GPUs are billed from ask."""
    tr = synthetic_trace("constant", duration_s=600, base_rps=2, seed=3)
    graph, channel = _graph(shipped_perf, tr)
    await _sync_at(graph, 10.0)
    await channel.publish(TargetMessage("d1", 1, {P: 3, D: 1}, written_at_s=0.0))
    await _sync_at(graph, 10.4)  # rounded down to t = 10
    assert channel.ack is not None and channel.ack.decision_id == "d1"
    assert channel.ack.components[P].replicas == 3 and channel.ack.components[P].ready == 1
    await _sync_at(graph, 109.0)
    assert channel.ack.components[P].ready == 1
    await _sync_at(graph, 110.0)
    assert channel.ack.components[P].ready == 3
    await channel.publish(TargetMessage("d2", 2, {P: 4}, written_at_s=0.0))
    await _sync_at(graph, 120.0)
    await channel.publish(TargetMessage("d3", 3, {P: 3}, written_at_s=0.0))
    await _sync_at(graph, 130.0)
    snap = graph.cluster.snapshot()
    assert snap.desired_replicas[P] == 3 and snap.ready_replicas[P] == 3  # the starter went
    assert snap.gpu_seconds[P] == pytest.approx(130.0 + 2 * 120.0 + 10.0)
    summary = graph.summary()
    assert summary.scale_events == 3 and summary.max_replicas == {"prefill": 4, "decode": 1}


async def test_summary_scores_every_arrived_request_and_waits_for_the_tail(
    shipped_perf: PerfModel,
) -> None:
    """While requests are in flight after the trace's end the graph is not done and the
    summary counts them as missed; it is done once they finish; GPU-hours are the sim
    fleet's bill (2 GPUs x emulated time)."""
    tr = synthetic_trace("constant", duration_s=30, base_rps=4, osl_tokens=3000, seed=4)
    graph, _ = _graph(shipped_perf, tr, ttft_ms=2000.0, itl_ms=100.0)
    await _sync_at(graph, tr.duration_s + 1.0)
    mid = graph.summary()
    assert not graph.done.is_set()
    assert mid.requests_arrived == len(tr) and mid.requests_finished < len(tr)
    assert mid.sla_attainment is not None
    assert mid.sla_attainment <= mid.requests_finished / len(tr)
    t = tr.duration_s + 1.0
    while not graph.done.is_set() and t < 600.0:
        t += 5.0
        await _sync_at(graph, t)
    assert graph.done.is_set() and t < tr.duration_s + graph.tail_s  # the tail finished
    end = graph.summary()
    assert end.requests_finished == len(tr) and end.sla_attainment == 1.0
    assert end.gpu_hours == pytest.approx(2 * graph.now_s / 3600.0)
    assert end.itl_p50_ms is not None and 0 < end.itl_p50_ms < 100.0


async def test_history_is_per_step_load_with_gaps_outside_what_is_kept(
    shipped_perf: PerfModel,
) -> None:
    """history() gives one point per step from the same counters; steps before the kept
    timeline or after now are gaps, never made-up zeros."""
    tr = synthetic_trace("constant", duration_s=3000, base_rps=5, seed=5)
    graph, _ = _graph(shipped_perf, tr)
    await _sync_at(graph, 2000.0)
    points = await EmulatedSource(graph).history(start_s=900.0, end_s=2100.0, step_s=60.0)
    kept = graph.metrics.kept_from_s
    assert 1000.0 <= kept <= 1100.0 + 256
    for p in points:
        if p.time_s - 60.0 < kept or p.time_s > 2000.0:
            assert p.request_rate_rps is None
        else:
            n = int(((tr.arrival_s > p.time_s - 60) & (tr.arrival_s <= p.time_s)).sum())
            assert p.request_rate_rps == pytest.approx(n / 60.0)
    assert points[0].request_rate_rps is None and points[-1].request_rate_rps is None
    assert sum(p.request_rate_rps is not None for p in points) >= 10


async def test_the_emulator_plays_the_profile_row_the_planner_plans_with() -> None:
    """A multi-row profile: the emulated workers take the row named by ``profile_row``
    (their GPUs per worker are that row's TP), and without a row the graph is not built
    (a ProfileError naming profile_row), as the planner itself refuses."""
    from planner.errors import ProfileError
    from planner.profiler.splitwise import SHIPPED_DIR

    trace = synthetic_trace("constant", duration_s=60.0, base_rps=1.0)
    for row, tp in (("tp=4", 4), ("tp=2", 2)):
        settings = load_settings(
            overrides={"profile": str(SHIPPED_DIR), "profile_row": row, "ttft_ms": 2000}
        )
        graph = build_graph(
            settings, clock=_frozen_clock(0.0), target=VirtualTarget(MemoryChannel()), trace=trace
        )
        assert graph.target.gpus_per_worker == {P: tp, D: tp}
    settings = load_settings(overrides={"profile": str(SHIPPED_DIR), "ttft_ms": 2000})
    with pytest.raises(ProfileError, match="profile_row"):
        build_graph(
            settings, clock=_frozen_clock(0.0), target=VirtualTarget(MemoryChannel()), trace=trace
        )
