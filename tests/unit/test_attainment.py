"""TTFT attainment feedback: the share read off a histogram, the pressure rule, and its
effect on the prefill plan; the simulator's window histogram is a per-bound difference."""

from __future__ import annotations

import math
from typing import Any

import pytest

from planner.core.attainment import share_within, update_pressure
from planner.core.config import PolicyConfig
from planner.core.pipeline import FeedbackState, PlannerState, plan
from planner.core.types import Component, Forecast, Observation, Quantity
from planner.perf.model import PerfModel
from planner.perf.profile import DEFAULT_PROFILE_DIR, load_profile
from planner.settings import load_settings
from planner.sim.snapshot import window_buckets

INF = math.inf
PERF = PerfModel(load_profile(DEFAULT_PROFILE_DIR))
P = Component.PREFILL
GPUS = {P: 1, Component.DECODE: 1}


def _config(**overrides: Any) -> PolicyConfig:
    return PolicyConfig(settings=load_settings(overrides=overrides), perf=PERF)


def _hist(within: float, total: float) -> tuple[tuple[float, float], ...]:
    """``within`` of ``total`` first tokens at <= 0.5 s, the rest between 1 and 2 s."""
    return ((0.1, within / 2), (0.5, within), (1.0, within), (2.0, total), (INF, total))


def _obs(buckets: tuple[tuple[float, float], ...] | None, **kw: Any) -> Observation:
    base: dict[str, Any] = {
        "window_s": 60.0,
        "requests": 600.0,
        "isl_tokens": 3000.0,
        "osl_tokens": 150.0,
        "ttft_s": 0.065,  # about the profile's 60.5 ms at 3,000 tokens: factor stays ~1
        "ttft_buckets": buckets,
        "current_replicas": {P: 4, Component.DECODE: 2},
        "ready_replicas": {P: 4, Component.DECODE: 2},
    }
    base.update(kw)
    return Observation(**base)


def _forecast(rate_rps: float) -> Forecast:
    return Forecast(
        horizon_s=60,
        request_rate_rps=Quantity.exact(rate_rps),
        isl_tokens=Quantity.exact(3000.0),
        osl_tokens=Quantity.exact(150.0),
    )


def test_share_at_a_bound_between_bounds_and_past_the_last_finite_one() -> None:
    """At a bucket bound the share is that bucket's count over the total; between two
    bounds it is interpolated linearly (0.75 s: halfway from 80 to 90 of 100); past the
    last finite bound only what it shows counts; no +inf bucket or no total is None;
    a count that dips at a larger bound is lifted to the running maximum."""
    b = ((0.5, 80.0), (1.0, 90.0), (2.0, 95.0), (INF, 100.0))
    assert share_within(b, 0.5) == pytest.approx(0.80)
    assert share_within(b, 0.75) == pytest.approx(0.85)
    assert share_within(b, 0.25) == pytest.approx(0.40)  # inside (0, 0.5]
    assert share_within(b, 5.0) == pytest.approx(0.95)
    assert share_within(((0.5, 1.0),), 0.5) is None
    assert share_within(((0.5, 0.0), (INF, 0.0)), 0.5) is None
    assert share_within(((0.5, 80.0), (1.0, 79.5), (INF, 100.0)), 1.0) == pytest.approx(0.80)


def test_pressure_rises_while_the_budget_is_spent_and_decays_toward_one() -> None:
    """97 % within 500 ms in the window and over the hour (< 99 %): pressure x1.5; a
    window at 100 % takes 2 % of the excess back; it never passes max_pressure nor falls
    below 1; windows older than the hour are dropped."""
    cfg = _config(ttft_ms=500)
    p, kept, note = update_pressure(1.0, (), _obs(_hist(970, 1000)), cfg, now=60.0, gpus=1)
    assert p == pytest.approx(1.5) and "97.00% this window" in note
    assert kept == ((60.0, pytest.approx(970.0), 1000.0),)
    p2, _, note2 = update_pressure(p, kept, _obs(_hist(1000, 1000)), cfg, now=120.0, gpus=1)
    assert p2 == pytest.approx(1.0 + 0.5 * 0.98) and "98.50% over 3600s" in note2
    high, windows = 1.0, ()
    big_pool = {P: 200, Component.DECODE: 2}  # never short of what the pressure asks
    for i in range(20):
        o = _obs(_hist(500, 1000), current_replicas=big_pool, ready_replicas=big_pool)
        high, windows, _ = update_pressure(high, windows, o, cfg, now=60.0 * i, gpus=1)
    assert high == pytest.approx(10.0)
    low, windows, _ = update_pressure(
        1.0, windows, _obs(_hist(1000, 1000)), cfg, now=9000.0, gpus=1
    )
    assert low == 1.0 and len(windows) == 1  # the 20 old windows are out of the hour


def test_one_short_window_in_a_good_hour_changes_nothing() -> None:
    """An hour of windows at 100 % banks budget: one window at 97 % leaves the hour at
    99.95 %, so the pressure stays where it was."""
    cfg = _config(ttft_ms=500)
    good = tuple((60.0 * i, 1000.0, 1000.0) for i in range(50))
    p, _, note = update_pressure(1.1, good, _obs(_hist(970, 1000)), cfg, now=3060.0, gpus=1)
    assert p == 1.1 and "99.94% over 3600s" in note


def test_pressure_holds_without_evidence_and_is_off_when_disabled() -> None:
    """No histogram, too few first tokens, a missing window, or a prefill pool still
    starting the capacity asked for earlier keep the pressure; disabled is always 1."""
    cfg = _config(ttft_ms=500)
    held = [
        _obs(None),
        _obs(_hist(5, 10)),
        Observation.missing(window_s=60.0, reason="query failed"),
        _obs(_hist(500, 1000), ready_replicas={P: 2, Component.DECODE: 2}),
    ]
    for o in held:
        p, kept, note = update_pressure(1.6, (), o, cfg, now=60.0, gpus=1)
        assert p == 1.6 and kept == () and "held" in note
    off = _config(ttft_ms=500, **{"sla.ttft_feedback": False})
    assert update_pressure(1.6, (), _obs(_hist(500, 1000)), off, now=60.0, gpus=1) == (1.0, (), "")


def test_a_window_short_of_the_target_adds_prefill_workers_and_is_remembered() -> None:
    """Same load and forecast: after a window where half the requests missed the TTFT
    target the plan asks for more prefill workers than after a window where all met it,
    the decision says why, and the next state carries the pressure."""
    cfg = _config(ttft_ms=500)
    forecast = _forecast(25.0)
    met, s_met = plan(_obs(_hist(1000, 1000)), forecast, PlannerState(), cfg, now=0)
    missed, s_missed = plan(_obs(_hist(500, 1000)), forecast, PlannerState(), cfg, now=0)
    assert missed.components[P].desired > met.components[P].desired
    assert "pressure 1.00 -> 1.50" in missed.message
    assert s_met.prefill_pressure == 1.0 and s_missed.prefill_pressure == pytest.approx(1.5)


def test_window_histogram_is_the_difference_per_bound() -> None:
    """The simulator's window histogram is cur - prev per bound (PromQL increase per
    _bucket series); different bounds or an empty side give None."""
    prev = ((0.5, 10.0), (INF, 12.0))
    cur = ((0.5, 40.0), (INF, 52.0))
    assert window_buckets(prev, cur) == ((0.5, 30.0), (INF, 40.0))
    assert window_buckets((), cur) is None
    assert window_buckets(((1.0, 10.0), (INF, 12.0)), cur) is None


def test_pressure_holds_when_the_window_was_short_of_capacity_or_the_pool_changed() -> None:
    """Misses are evidence against the queueing model only when the model's own fleet
    served the whole window: with fewer ready prefill workers than the model asks for
    the observed load (a forecast miss or late capacity) the pressure holds, and so it
    does when the pool was still changing at the previous tick; the same window on a
    settled pool that had what the model asks for raises it."""
    cfg = _config(ttft_ms=500)
    window = _hist(500, 1000)
    short = _obs(window, requests=6000.0)  # 100 req/s x 3,000 tokens: 7 workers' load on 4
    p, _, note = update_pressure(1.0, (), short, cfg, now=60.0, gpus=1)
    assert p == 1.0 and "4 ready prefill short of the load's" in note
    p, kept, note = update_pressure(
        1.0, (), _obs(window), cfg, now=60.0, gpus=1, settled_before=False
    )
    assert p == 1.0 and kept == () and "changed during the window" in note
    p, _, _ = update_pressure(1.0, (), _obs(window), cfg, now=60.0, gpus=1)
    assert p == pytest.approx(1.5)


def test_a_queued_window_does_not_move_the_prefill_factor() -> None:
    """A window whose TTFT histogram shows half the requests late carries a mean TTFT that
    is mostly queue: the prefill factor holds and says why (the pressure answers those
    misses). The same mean TTFT without a histogram (feedback off) is read as slowness
    and moves the factor up, as before."""
    from planner.core.correction import update_correction
    from planner.core.types import CorrectionFactors

    slow_mean = {"ttft_s": 1.2, "itl_s": 0.03, "request_duration_s": 5.0}
    cfg = _config(ttft_ms=500)
    held, note = update_correction(
        CorrectionFactors(), _obs(_hist(500, 1000), **slow_mean), cfg, gpus=GPUS
    )
    assert held.prefill == 1.0 and "prefill factor held: 50.00% within TTFT target" in note
    off = _config(ttft_ms=500, **{"sla.ttft_feedback": False})
    moved, _ = update_correction(
        CorrectionFactors(), _obs(_hist(500, 1000), **slow_mean), off, gpus=GPUS
    )
    assert moved.prefill > 1.2


def test_pressure_steps_back_as_the_prefill_factor_takes_over() -> None:
    """Pressure and the prefill factor must not both answer the same shortfall: when a
    good window raises the factor from 1.0 to f, a pressure of 2 is divided by f, so
    their product (the demand multiplier) does not jump by f."""
    cfg = _config(ttft_ms=500)
    forecast = _forecast(10.0)
    # all within 500 ms, but a mean TTFT above the model's: the factor rises
    obs = _obs(_hist(1000, 1000), ttft_s=0.45)
    state = PlannerState(feedback=FeedbackState(prefill_pressure=2.0))
    decision, nxt = plan(obs, forecast, state, cfg, now=60.0)
    f = decision.correction.prefill
    assert f > 1.05
    decayed = 1.0 + (2.0 - 1.0) * 0.98  # the good window's own decay
    assert nxt.prefill_pressure == pytest.approx(decayed / f)
    assert f * nxt.prefill_pressure == pytest.approx(decayed)
