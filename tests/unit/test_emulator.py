"""The emulated graph's cluster model (start-up delay, queueing, removal) and its frontend
metrics (the in-process window equals what Prometheus would compute from /metrics)."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from planner.emulator.cluster import FinishedRequest, QueueCluster
from planner.emulator.frontend import FrontendMetrics
from planner.perf_model import PerfModel
from planner.types import Component

P, D = Component.PREFILL, Component.DECODE


def _cluster(perf: PerfModel, *, startup_s: float = 100.0) -> QueueCluster:
    return QueueCluster(
        perf, initial={P: 1, D: 1}, gpus_per_worker={P: 1, D: 1}, startup_s=startup_s
    )


def test_single_request_takes_profile_ttft_and_itl(shipped_perf: PerfModel) -> None:
    """An unloaded request's TTFT is the profile's TTFT(ISL) plus one ITL."""
    c = _cluster(shipped_perf)
    c.submit(arrival_s=1.0, isl_tokens=3000, osl_tokens=100)
    done = c.advance_to(100.0)
    assert len(done) == 1
    r = done[0]
    ttft_ms = shipped_perf.prefill.ttft_ms(3000).value
    assert r.ttft_s == pytest.approx(ttft_ms / 1000 + r.itl_s)
    assert r.end_s == pytest.approx(1.0 + ttft_ms / 1000 + 100 * r.itl_s)


def test_overload_queues_and_new_workers_help_only_after_startup(shipped_perf: PerfModel) -> None:
    """A burst beyond one prefill worker queues; a worker added at t=0 with 100 s start-up
    takes nothing before t=100."""
    c = _cluster(shipped_perf)
    c.set_targets({P: 2, D: 1}, t_s=0.0)
    snap = c.snapshot()
    assert snap.desired[P] == 2 and snap.ready[P] == 1
    for i in range(2000):
        c.submit(arrival_s=i * 0.01, isl_tokens=8000, osl_tokens=10)
    done: list[FinishedRequest] = c.advance_to(1000.0)
    assert c.snapshot().ready[P] == 2
    early = [r for r in done if r.arrival_s < 1.0]
    assert max(r.ttft_s for r in early) > 5.0  # queued behind the burst
    assert c.gpu_seconds == pytest.approx(3 * 1000.0)


def test_scale_down_removes_starting_workers_first(shipped_perf: PerfModel) -> None:
    """Lowering a target drops workers that are still starting before ready ones."""
    c = _cluster(shipped_perf)
    c.advance_to(10.0)
    c.set_targets({P: 3}, t_s=10.0)
    c.set_targets({P: 1}, t_s=20.0)
    snap = c.snapshot()
    assert snap.desired[P] == 1 and snap.ready[P] == 1


def _families(text: bytes) -> dict[str, float]:
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text.decode()):
        for s in fam.samples:
            out[s.name] = out.get(s.name, 0.0) + s.value
    return out


def test_window_matches_counter_increases() -> None:
    """Sums and counts in /metrics rise by exactly what the in-process window reports."""
    m = FrontendMetrics(model="m", namespace="ns", keep_s=1000.0)
    before = _families(m.exposition())
    for i in range(10):
        m.arrived(t_s=50.0 + i, isl_tokens=1000 + i)
        m.finished(FinishedRequest(50.0 + i, 1000 + i, 20, 0.1, 0.01, 52.0 + i), t_s=52.0 + i)
    after = _families(m.exposition())
    obs = m.window(now_s=70.0, window_s=30.0)
    inc = {k: after[k] - before.get(k, 0.0) for k in after}
    assert obs.requests == inc["dynamo_frontend_requests_total"] == 10
    assert obs.isl_tokens == pytest.approx(
        inc["dynamo_frontend_input_sequence_tokens_sum"]
        / inc["dynamo_frontend_input_sequence_tokens_count"]
    )
    assert obs.ttft_s == pytest.approx(0.1) and obs.itl_s == pytest.approx(0.01)
    assert obs.request_duration_s == pytest.approx(2.0)
    assert m.window(now_s=200.0, window_s=30.0).is_idle
