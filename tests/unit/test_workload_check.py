"""What a workload asks before any policy runs: prompts no idle worker prefills within the
TTFT target, ITL targets below the profile's minimum, requests outside the measured
range; and the certain-miss count a run may be stopped on."""

from __future__ import annotations

import numpy as np
import pytest

from planner.core.types import Component
from planner.perf.model import PerfModel
from planner.sim import Cluster, ClusterConfig, TruePerf
from planner.sim.workload_check import check_workload
from planner.workload.trace import RequestTrace

P, D = Component.PREFILL, Component.DECODE


@pytest.fixture(scope="module")
def truth(shipped_perf: PerfModel) -> TruePerf:
    return TruePerf(shipped_perf)


def _trace(isl: list[int], osl: list[int]) -> RequestTrace:
    n = len(isl)
    return RequestTrace(
        name="t",
        arrival_s=np.arange(n, dtype=float),
        isl_tokens=np.array(isl, dtype=np.int64),
        osl_tokens=np.array(osl, dtype=np.int64),
    )


def test_long_prompts_past_the_target_are_infeasible_and_out_of_range(truth: TruePerf) -> None:
    """At 500 ms: 3,000 tokens (60 ms) is fine; 20,000 (beyond 16,372, ~460 ms) is out of
    range but feasible; 30,000 (~690 ms) is both; 50 tokens is below the range."""
    tr = _trace([3000, 20000, 30000, 50], [100, 100, 100, 100])
    c = check_workload(tr, truth, ttft_ms=500, itl_ms=50)
    assert (c.ttft_infeasible, c.itl_infeasible, c.infeasible) == (1, 0, 1)
    assert (c.isl_above_range, c.isl_below_range) == (2, 1)
    assert c.context_above_range == 2  # ISL + OSL above the decode profile's 13,585
    assert c.out_of_range == 3
    assert c.attainment_ceiling == pytest.approx(0.75)
    assert any("cannot meet the targets" in w for w in c.warnings())
    assert truth.ttft_one_s(30000) == pytest.approx(truth.ttft_one_s(16372) * 30000 / 16372)


def test_an_itl_target_below_the_profiles_minimum_is_infeasible(truth: TruePerf) -> None:
    """The shipped profile never gets below ~4.4 ms: a 3 ms target is infeasible for every
    request with more than one output token, a 50 ms one for none."""
    tr = _trace([1000, 1000, 1000], [200, 200, 1])
    assert check_workload(tr, truth, ttft_ms=500, itl_ms=3).itl_infeasible == 2
    assert check_workload(tr, truth, ttft_ms=500, itl_ms=50).itl_infeasible == 0


def test_certain_misses_count_late_first_tokens_and_the_late_queue(truth: TruePerf) -> None:
    """One prefill worker, 200 prompts of 8,000 tokens in 2 s: the queue outgrows the
    500 ms target; the certain misses (counted at first token, plus prompts still queued
    past the target) only grow and end at the scored number of TTFT misses."""
    c = Cluster(truth, ClusterConfig(startup_s=0), initial={P: 1, D: 2})
    c.counters.track_misses(ttft_target_s=0.5, itl_target_s=0.05)
    n = 200
    c.submit(np.linspace(0, 2, n), np.full(n, 8000, np.int64), np.full(n, 20, np.int64))
    seen = []
    for t in (1.0, 3.0, 10.0, 60.0):
        c.advance_to(t)
        seen.append(c.certain_misses())
    assert seen == sorted(seen) and seen[0] > 0
    o = c.outcomes()
    late = int(((o["first_token_s"] - o["arrival_s"]) > 0.5).sum())
    assert seen[-1] == late > 100
