"""The sla sizing and correction changes the simulator motivated: M/D/c tail sizing,
projected start-up backlog, and correction samples that do not mistake queueing for a
slower profile."""

from __future__ import annotations

import math
from typing import Any

import pytest

from planner.core.config import PolicyConfig
from planner.core.correction import expected_ttft_ms, implied_prefill_factor, update_correction
from planner.core.pipeline import PlannerState
from planner.core.queueing import erlang_c, tail_workers
from planner.core.sla import startup_backlog_tokens
from planner.core.tick import Tick
from planner.core.types import Component, CorrectionFactors, Forecast, Observation, Quantity
from planner.perf.model import PerfModel
from planner.settings import load_settings

P, D = Component.PREFILL, Component.DECODE
GPUS = {P: 1, D: 1}


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


def _tick(c: PolicyConfig, *, ready: int, current: int, raised_at_s: float | None) -> Tick:
    obs = Observation(
        window_s=60, requests=6000, isl_tokens=3000, osl_tokens=100,
        current_replicas={P: current, D: 2}, ready_replicas={P: ready, D: 2},
    )  # fmt: skip
    forecast = Forecast(
        horizon_s=240,
        request_rate_rps=Quantity.exact(100.0),
        isl_tokens=Quantity.exact(3000.0),
        osl_tokens=Quantity.exact(100.0),
    )
    state = PlannerState(raised_at_s={} if raised_at_s is None else {P: raised_at_s})
    return Tick.build(obs, forecast, state, c, now_s=1000.0)


def test_projected_backlog_adds_the_startup_deficit(shipped_perf: PerfModel) -> None:
    """With demand above a settled ready fleet, the deficit over the start-up time is the
    projected backlog; a fleet with room projects none."""
    c = cfg(shipped_perf)
    capacity = 49_000.0
    short, _ = startup_backlog_tokens(_tick(c, ready=2, current=2, raised_at_s=None),
                                      capacity_tokens_per_s=capacity)  # fmt: skip
    enough, _ = startup_backlog_tokens(_tick(c, ready=20, current=20, raised_at_s=None),
                                       capacity_tokens_per_s=capacity)  # fmt: skip
    assert short == pytest.approx((300_000.0 - 2 * capacity) * 180.0)
    assert enough == 0.0


def test_starting_workers_count_as_coming(shipped_perf: PerfModel) -> None:
    """Workers asked for 170 s ago (start-up 180 s) are ready in 10 s: only those 10 s of
    the ready pool's deficit pile up, and nothing after, since the full pool has room."""
    c = cfg(shipped_perf)
    capacity = 49_000.0
    tick = _tick(c, ready=4, current=12, raised_at_s=830.0)
    tokens, note = startup_backlog_tokens(tick, capacity_tokens_per_s=capacity)
    assert tokens == pytest.approx((300_000.0 - 4 * capacity) * 10.0)
    assert "4 ready, 10s to go" in note


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
        c, observed_ms=observed, isl_tokens=isl, rate_rps=rate, workers=workers, gpus=1
    )
    assert f == pytest.approx(1.2, rel=1e-3)
    ratio = observed / expected_ttft_ms(c, isl_tokens=isl, rate_rps=rate, workers=workers, gpus=1)
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
    new, _, _ = update_correction(CorrectionFactors(), obs, c, gpus=GPUS)
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
    fq, fit_q, _ = update_correction(CorrectionFactors(), queued, c, gpus=GPUS)
    fp, fit_p, _ = update_correction(CorrectionFactors(), prompt, c, gpus=GPUS)
    assert fq.decode == pytest.approx(fp.decode)
    assert fit_q.samples[0][0] == pytest.approx(fit_p.samples[0][0])
