"""The sla sizing and correction changes the simulator motivated: M/D/c tail sizing,
projected start-up backlog, and correction samples that do not mistake queueing for a
slower profile."""

from __future__ import annotations

import math
from typing import Any

import pytest

from planner.core.config import PolicyConfig
from planner.core.correction import expected_ttft_ms, implied_prefill_factor, update_correction
from planner.core.sla import erlang_c, prefill_need, tail_workers
from planner.core.types import Component, CorrectionFactors, Observation
from planner.perf.model import PerfModel
from planner.settings import load_settings

P, D = Component.PREFILL, Component.DECODE


def cfg(perf: PerfModel, **overrides: Any) -> PolicyConfig:
    return PolicyConfig(settings=load_settings(overrides=overrides), perf=perf)


def test_erlang_c_matches_known_values() -> None:
    """ErlangC(1, a) = a (M/M/1 waits with probability rho); c=2, a=1 gives 1/3."""
    assert erlang_c(1, 0.7) == pytest.approx(0.7)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(3, 3.5) == 1.0 and erlang_c(4, 0.0) == 0.0


def test_tail_sizing_is_the_smallest_pool_meeting_the_quantile() -> None:
    """c meets P(wait > slack) <= tail and c - 1 does not."""
    a, s_ms, slack = 8.3, 40.0, 460.0

    def tail(c: int) -> float:
        return erlang_c(c, a) * math.exp(-2.0 * (c - a) * slack / s_ms)

    c = tail_workers(offered=a, service_ms=s_ms, slack_ms=slack, tail=0.01)
    assert tail(c) <= 0.01 < tail(c - 1)


def test_projected_backlog_adds_the_startup_deficit(shipped_perf: PerfModel) -> None:
    """With demand above the ready fleet, the start-up deficit raises the prefill need."""
    c = cfg(shipped_perf)
    base = dict(rate_rps=100.0, isl_tokens=3000.0, factor=1.0, backlog=0.0)
    plain = prefill_need(c, **base)
    short = prefill_need(c, **base, ready_workers=2, observed_load=300_000.0)
    enough = prefill_need(c, **base, ready_workers=20, observed_load=300_000.0)
    assert short.workers > plain.workers
    assert enough.workers == plain.workers


def test_implied_factor_recovers_a_slower_service(shipped_perf: PerfModel) -> None:
    """If TTFT equals the model's at a 1.2x slower service, the sample is 1.2 (the plain
    ratio would overstate it, because the slower service also lengthens the queue)."""
    c = cfg(shipped_perf)
    isl, rate, workers = 3000.0, 100.0, 8
    perf = shipped_perf.prefill
    offered = rate * isl / perf.thpt_per_gpu(isl).value
    s = perf.ttft_ms(isl).value * 1.2
    a = offered * 1.2
    observed = s * (1 + erlang_c(workers, a) / (2 * (workers - a)))
    f = implied_prefill_factor(
        c, observed_ms=observed, isl_tokens=isl, rate_rps=rate, workers=workers
    )
    assert f == pytest.approx(1.2, rel=1e-3)
    ratio = observed / expected_ttft_ms(c, isl_tokens=isl, rate_rps=rate, workers=workers)
    assert ratio > f


def test_overloaded_window_does_not_update_the_prefill_factor(shipped_perf: PerfModel) -> None:
    """A window whose demand exceeds the ready pool's capacity shows backlog, not a slower
    profile: the prefill factor is held."""
    c = cfg(shipped_perf)
    reps = {P: 1, D: 1}
    obs = Observation(
        window_s=60, requests=6000, isl_tokens=3000, osl_tokens=100, ttft_s=30.0,
        itl_s=0.02, request_duration_s=32.0, current_replicas=reps, ready_replicas=reps,
    )  # fmt: skip
    new, _ = update_correction(CorrectionFactors(), obs, c)
    assert new.prefill == 1.0


def test_decode_factor_ignores_time_spent_before_the_first_token(
    shipped_perf: PerfModel,
) -> None:
    """Long TTFT (queueing) must not count as decode concurrency: with duration = TTFT +
    decode time, the factor equals the one for the same decode time and no queueing."""
    c = cfg(shipped_perf)
    reps = {P: 4, D: 2}
    common = dict(window_s=60, requests=600, isl_tokens=1000, osl_tokens=200, itl_s=0.03,
                  current_replicas=reps, ready_replicas=reps)  # fmt: skip
    queued = Observation(**common, ttft_s=20.0, request_duration_s=26.0)
    prompt = Observation(**common, ttft_s=0.05, request_duration_s=6.05)
    fq, _ = update_correction(CorrectionFactors(), queued, c)
    fp, _ = update_correction(CorrectionFactors(), prompt, c)
    assert fq.decode == pytest.approx(fp.decode)
