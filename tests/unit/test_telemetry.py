"""The service's attainment series: each observed window adds its TTFT histogram's
requests and those within the TTFT target, so an alert divides the increases over any
range (request-weighted); missing, idle and histogram-less windows add nothing."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from planner.core.types import Observation
from planner.service.telemetry import Telemetry
from planner.service.tick import TickRecord


def _values(t: Telemetry) -> dict[str, float]:
    out = {}
    for fam in text_string_to_metric_families(t.exposition().decode()):
        for s in fam.samples:
            out[s.name] = s.value
    return out


def _tick(i: int, obs: Observation) -> TickRecord:
    return TickRecord(index=i, time_s=60.0 * i, duration_s=0.01, observation=obs, decision=None,
                      applied=None)  # fmt: skip


def test_attainment_counters_are_request_weighted() -> None:
    """Windows of 100 requests (90 within 500 ms: the 0.5 s bucket) and of 300 requests
    (all in the (0.25, 1] bucket that straddles the target, so possibly within) give 390
    possibly met of 400; the objective gauge carries the settings' objective."""
    t = Telemetry(ttft_target_ms=500, attainment_objective=0.99)
    first = ((0.25, 50.0), (0.5, 90.0), (float("inf"), 100.0))
    second = ((0.25, 0.0), (1.0, 300.0), (float("inf"), 300.0))
    t.record(_tick(1, Observation(window_s=60, requests=100, ttft_buckets=first)))
    t.record(_tick(2, Observation(window_s=60, requests=300, ttft_buckets=second)))
    t.record(_tick(3, Observation(window_s=60, requests=0)))  # idle
    t.record(_tick(4, Observation.missing(window_s=60, reason="x")))
    t.record(_tick(5, Observation(window_s=60, requests=50)))  # no histogram
    v = _values(t)
    assert v["sla_planner_ttft_requests_total"] == 400
    assert v["sla_planner_ttft_within_target_requests_total"] == pytest.approx(90 + 300)
    assert v["sla_planner_attainment_objective"] == 0.99
