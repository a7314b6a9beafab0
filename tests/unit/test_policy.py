"""The pure decision core end to end: test vector, holds, idle, stabilisation, limits,
agg, budget (the invariants are property-tested in tests/property/)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from planner.core.config import PolicyConfig
from planner.core.pipeline import PlannerState, plan
from planner.core.types import Component, Forecast, Observation, Quantity, Reason
from planner.perf.model import PerfModel
from planner.perf.profile import DEFAULT_PROFILE_DIR, load_profile
from planner.planner import Planner
from planner.settings import load_settings

P, D, A = Component.PREFILL, Component.DECODE, Component.AGG
PERF = PerfModel(load_profile(DEFAULT_PROFILE_DIR))


def make(**overrides: Any) -> PolicyConfig:
    return PolicyConfig(settings=load_settings(overrides=overrides), perf=PERF)


def fc(rate: float, isl: float = 3000, osl: float = 150, upper: float | None = None) -> Forecast:
    return Forecast(
        horizon_s=60,
        request_rate_rps=Quantity(rate, upper if upper is not None else rate),
        isl_tokens=Quantity.exact(isl),
        osl_tokens=Quantity.exact(osl),
    )


def obs(requests: float = 600, **kw: Any) -> Observation:
    base: dict[str, Any] = {"window_s": 60, "requests": requests}
    if requests > 0:
        base.update(isl_tokens=3000, osl_tokens=150)
    base.update(kw)
    return Observation(**base)


def test_dynamo_policy_reproduces_dynamos_test_vector() -> None:
    """5000 req/60 s, ISL 3000, OSL 150, TTFT 500, ITL 50, 1 GPU/worker: 6P + 2D."""
    planner = Planner(load_settings(overrides={"policy": "dynamo"}), perf=PERF)
    d = planner.decide(obs(5000), fc(5000 / 60), now=0)
    assert d.targets == {P: 6, D: 2}
    assert d.components[P].primary_reason is Reason.SCALE_UP


def test_sla_policy_sizes_at_least_what_throughput_alone_needs() -> None:
    """The sla policy never plans below the raw throughput need of either phase."""
    d, _ = plan(obs(5000), fc(5000 / 60), PlannerState(), make(), now=0)
    assert d.targets[P] >= 6 and d.targets[D] >= 2


def test_missing_data_holds_current_replicas_and_says_why() -> None:
    """A failed query keeps the current targets with reason held_no_data."""
    o = Observation.missing(window_s=60, reason="prometheus timeout", current_replicas={P: 4, D: 3})
    d, state = plan(o, fc(0), PlannerState(), make(), now=0)
    assert d.targets == {P: 4, D: 3}
    for c in (P, D):
        assert d.components[c].primary_reason is Reason.HELD_NO_DATA
        assert "prometheus timeout" in d.components[c].message
    assert state.correction == PlannerState().correction


def test_idle_scales_down_to_minimum_after_the_window() -> None:
    """Zero traffic is idle, not missing: after the stabilisation window, go to min, at
    most a fifth of the pool (at least one) per tick by default: 5 -> 4 -> 3 -> 2 -> 1."""
    cfg = make(**{"stabilization.scale_down_window_s": 120, "prefill.min_replicas": 1})
    state = PlannerState()
    current = {P: 5, D: 4}
    reasons = []
    steps = []
    for t in range(0, 420, 60):
        d, state = plan(obs(0, current_replicas=current), fc(0), state, cfg, now=t)
        current = d.targets
        reasons.append(d.components[P].reasons)
        steps.append(current[P])
    assert steps == [5, 5, 4, 3, 2, 1, 1]
    assert current == {P: 1, D: 1}
    assert Reason.STEP_LIMITED in reasons[2]
    assert Reason.SCALE_DOWN_WINDOW in reasons[0]
    assert any(r[0] is Reason.SCALE_DOWN for r in reasons)
    # at the minimum with no traffic the primary reason says why: idle
    assert reasons[-1][0] is Reason.IDLE


def test_dynamo_policy_cannot_scale_down_when_idle() -> None:
    """Compatibility: like Dynamo, an idle window (NaN means) changes nothing."""
    d, _ = plan(
        obs(0, current_replicas={P: 5, D: 4}), fc(0), PlannerState(), make(policy="dynamo"), now=0
    )
    assert d.targets == {P: 5, D: 4}
    assert d.components[P].primary_reason is Reason.HELD_NO_DATA


def test_scale_down_is_stabilised_over_the_window() -> None:
    """After a peak, the target stays at the highest recommendation within 300 s."""
    cfg = make()
    state = PlannerState()
    d, state = plan(obs(current_replicas={P: 1, D: 1}), fc(5000 / 60), state, cfg, now=0)
    peak = d.targets
    d, state = plan(obs(current_replicas=peak), fc(100 / 60), state, cfg, now=60)
    assert d.targets == peak
    assert d.components[P].primary_reason is Reason.SCALE_DOWN_WINDOW
    assert "down window 300s" in d.components[P].message
    for t in (120, 180, 240, 300):
        d, state = plan(obs(current_replicas=d.targets), fc(100 / 60), state, cfg, now=t)
    assert d.targets[P] < peak[P]
    assert d.components[P].primary_reason is Reason.SCALE_DOWN


def test_scale_down_fraction_and_step_allow_the_larger_removal() -> None:
    """From 20 prefill workers to a desired 1 with no window: a fraction of 0.2 removes
    4 per tick (20 -> 16); with max_scale_down_step 6 as well, HPA's selectPolicy Max
    allows the larger removal (20 -> 14); a fraction of a 3-worker pool still removes
    one (3 -> 2)."""
    base = {"stabilization.scale_down_window_s": 0, "sla.scale_down_tolerance": 0}
    o = obs(60, current_replicas={P: 20, D: 2}, ready_replicas={P: 20, D: 2})
    d, _ = plan(o, fc(1.0), PlannerState(), make(**base), now=0)
    assert d.targets[P] == 16 and Reason.STEP_LIMITED in d.components[P].reasons
    cfg = make(**base, **{"stabilization.max_scale_down_step": 6})
    d, _ = plan(o, fc(1.0), PlannerState(), cfg, now=0)
    assert d.targets[P] == 14
    small = obs(60, current_replicas={P: 3, D: 2}, ready_replicas={P: 3, D: 2})
    d, _ = plan(small, fc(1.0), PlannerState(), make(**base), now=0)
    assert d.targets[P] == 2


def test_step_limit_caps_change_per_tick() -> None:
    """max_scale_up_step=2 moves 1 -> 3, not straight to the desired count."""
    cfg = make(**{"stabilization.max_scale_up_step": 2})
    d, _ = plan(obs(current_replicas={P: 1, D: 1}), fc(5000 / 60), PlannerState(), cfg, now=0)
    assert d.targets[P] == 3
    assert Reason.STEP_LIMITED in d.components[P].reasons
    assert d.components[P].desired >= 6


def test_max_replicas_clamps_and_is_reported() -> None:
    """A component capped by max_replicas carries the max_replicas reason."""
    cfg = make(**{"prefill.max_replicas": 4})
    d, _ = plan(obs(), fc(5000 / 60), PlannerState(), cfg, now=0)
    assert d.targets[P] == 4
    assert Reason.MAX_REPLICAS in d.components[P].reasons


def test_infeasible_itl_target_holds_decode_and_flags_it() -> None:
    """ITL 1 ms is below the profile's minimum: decode holds, prefill still scales."""
    cfg = make(itl_ms=1.0)
    d, _ = plan(obs(current_replicas={P: 1, D: 3}), fc(5000 / 60), PlannerState(), cfg, now=0)
    assert d.targets[D] == 3
    assert Reason.TARGET_INFEASIBLE in d.components[D].reasons
    assert "ITL plan 0.90ms (target x headroom) is below" in d.components[D].message
    assert d.targets[P] >= 6


def test_aggregated_mode_plans_one_component_for_both_phases() -> None:
    """agg mode yields only the agg component, at least the larger phase's need."""
    d, _ = plan(obs(), fc(5000 / 60), PlannerState(), make(mode="agg"), now=0)
    assert set(d.targets) == {A}
    assert d.targets[A] >= 7  # ~5.4 prefill-worker loads + ~1.8 decode-worker loads


def test_correction_factor_learns_a_slower_prefill_and_ignores_cold_start() -> None:
    """TTFT observed 2x the model raises the prefill factor; mid-change windows don't."""
    cfg = make()
    settled = {P: 2, D: 2}
    state = PlannerState()
    for t in range(5):
        o = obs(600, ttft_s=0.2, current_replicas=settled, ready_replicas=settled)
        _, state = plan(o, fc(10), state, cfg, now=60 * t)
    assert state.correction.prefill > 1.5
    before = state.correction
    cold = obs(600, ttft_s=5.0, current_replicas={P: 4, D: 2}, ready_replicas={P: 2, D: 2})
    _, state = plan(cold, fc(10), state, cfg, now=400)
    assert state.correction.prefill == before.prefill


def test_invalid_budget_against_minimums_is_a_config_error() -> None:
    """Minimums that cannot fit the budget are rejected at start-up with numbers."""
    from planner.errors import ConfigError

    with pytest.raises(ConfigError, match=r"need 4 GPUs but budget\.max_gpus=3"):
        load_settings(
            overrides={"budget.max_gpus": 3, "prefill.min_replicas": 2, "decode.min_replicas": 2}
        )


def _boundary_targets(tolerance: float, burst_window_s: float = 0.0) -> list[int]:
    """Decode targets over 20 ticks of a load alternating 2% above and below the rate at
    which decode needs exactly 3 workers (no base stabilisation window, so only the
    hysteresis or the burst memory can hold)."""
    config = make(
        **{
            "stabilization.scale_down_window_s": 0,
            "sla.scale_down_tolerance": tolerance,
            "sla.max_scale_down_window_s": burst_window_s,
            "correction.enabled": False,
        }
    )
    # find the rate at which decode crosses from 3 to 4 workers
    lo, hi = 1.0, 500.0
    for _ in range(60):
        mid = (lo + hi) / 2
        d, _ = plan(obs(mid * 60), fc(mid), PlannerState(), config, now=0)
        lo, hi = (mid, hi) if d.targets[D] <= 3 else (lo, mid)
    state, targets = PlannerState(), []
    for k in range(20):
        rate = hi * (1.02 if k % 2 == 0 else 0.98)
        o = obs(rate * 60, current_replicas=dict(state.last_targets) or {P: 1, D: 3})
        d, state = plan(o, fc(rate), state, config, now=60.0 * k)
        targets.append(d.targets[D])
    return targets


def test_load_oscillating_at_a_replica_boundary_does_not_flap() -> None:
    """With the default scale-down tolerance a load hovering around a replica boundary
    scales up once and stays; with the tolerance off the same load flaps every tick."""
    held = _boundary_targets(0.2)
    changes = sum(1 for a, b in itertools.pairwise(held) if a != b)
    assert changes <= 1
    flapping = _boundary_targets(0.0)
    assert sum(1 for a, b in itertools.pairwise(flapping) if a != b) >= 5


def test_burst_memory_keeps_capacity_that_was_needed_again() -> None:
    """Without hysteresis, a scale-down undone one tick later teaches the policy to hold
    for longer: after the first re-need the target stops alternating."""
    held = _boundary_targets(0.0, burst_window_s=900.0)
    changes = sum(1 for a, b in itertools.pairwise(held) if a != b)
    assert changes <= 2 and held[-1] == 4


def test_decode_factor_sizes_like_the_truly_slower_profile() -> None:
    """Decode sized with a fitted speed factor of 1.2 on the planner's profile needs the
    same workers as decode sized with factor 1.0 on a profile truly 1.2x slower (a
    slower worker makes fewer tokens/s at the same load, not only a longer ITL)."""
    from planner.core.decode import decode_need
    from planner.core.decode_fit import DecodeFit
    from planner.sim.truth import scaled_profile

    slow = PerfModel(scaled_profile(PERF.profile, slowdown=1.2))
    kw: dict[str, Any] = {"rate_rps": 200.0, "isl_tokens": 1000.0, "osl_tokens": 300.0, "gpus": 1}
    corrected = decode_need(make(), fit=DecodeFit(factor=1.2), **kw).workers
    slow_cfg = PolicyConfig(settings=make().settings, perf=slow)
    true = decode_need(slow_cfg, fit=DecodeFit(), **kw)
    assert corrected == pytest.approx(true.workers, rel=0.02)
    assert corrected > 1.15 * decode_need(make(), fit=DecodeFit(), **kw).workers


def test_decode_plan_fits_final_contexts_in_the_kv_cache() -> None:
    """The planned per-worker concurrency fits in the KV cache at the resident requests'
    mean final context ISL + s x OSL (length-biased: long outputs stay longest; s = 2
    for exponential lengths), even where the ITL target alone would allow more; a
    measured spread of 3 fits fewer."""
    from planner.core.decode import decode_need
    from planner.core.decode_fit import DecodeFit

    cfg = make()
    isl, osl = 500.0, 2000.0
    for spread in (2.0, 3.0):
        need = decode_need(cfg, rate_rps=100.0, isl_tokens=isl, osl_tokens=osl,
                           fit=DecodeFit(), gpus=1, spread=spread)  # fmt: skip
        running = float(need.note.split(" running")[0].split("(")[-1])
        assert running <= PERF.decode.max_kv_tokens / (isl + spread * osl) * 1.001
        assert "bound: KV at final context" in need.note


def test_default_burst_memory_covers_a_twenty_minute_re_need_for_a_day() -> None:
    """With the default settings, capacity released and asked back 20 minutes later (as
    on ServeGen's evening ramp) lengthens the scale-down window to 20 minutes + one
    interval, and it is still that long ten hours later; after a day it is back to the
    base window. (The former defaults, a 900 s cap and a 1 h memory, ignored such gaps.)"""
    from planner.core.burst_memory import BurstMemory, down_window_s, remember

    s = load_settings()
    kw = {"max_s": s.sla.max_scale_down_window_s, "lookback_s": s.sla.burst_lookback_s}
    m = remember(BurstMemory(), now_s=0.0, current=3, target=1, **kw)
    m = remember(m, now_s=1200.0, current=1, target=3, **kw)

    def window(now_s: float) -> float:
        return down_window_s(
            m,
            now_s=now_s,
            base_s=s.stabilization.scale_down_window_s,
            interval_s=s.interval_s,
            **kw,
        )

    assert window(1260.0) == 1200.0 + s.interval_s
    assert window(1200.0 + 10 * 3600.0) == 1200.0 + s.interval_s
    assert window(1200.0 + 86400.0 + 60.0) == s.stabilization.scale_down_window_s
