"""Attainment feedback: the share read off a histogram (a range when the target falls
inside a bucket), the pressure rule, and how the sla strategy uses both for prefill
(TTFT) and decode (ITL); the simulator's window histogram is a per-bound difference."""

from __future__ import annotations

import math
from typing import Any

import pytest

from planner.core.attainment import PressureRule, share_within, update_pressure
from planner.core.config import PolicyConfig
from planner.core.correction import update_correction
from planner.core.pipeline import FeedbackState, PlannerState, plan
from planner.core.types import Component, CorrectionFactors, Forecast, Observation, Quantity
from planner.perf.model import PerfModel
from planner.perf.profile import DEFAULT_PROFILE_DIR, load_profile
from planner.settings import load_settings
from planner.sim.snapshot import window_buckets

INF = math.inf
PERF = PerfModel(load_profile(DEFAULT_PROFILE_DIR))
P, D = Component.PREFILL, Component.DECODE
GPUS = {P: 1, D: 1}
RULE = PressureRule(
    phase="TTFT", target_s=0.5, objective=0.99, step=1.5, decay=0.98, cap=10.0,
    window_s=3600.0, min_requests=20,
)  # fmt: skip


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
        "current_replicas": {P: 4, D: 2},
        "ready_replicas": {P: 4, D: 2},
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


def test_share_is_exact_on_a_bound_and_a_range_inside_a_bucket() -> None:
    """On a bucket bound the share is that bound's count; inside (0.5, 1.0] it is the
    range 80-90% (the histogram cannot say more); past the last finite bound the rest
    may or may not be within; no +inf bucket or no total is None; a dipping count is
    lifted to the running maximum."""
    b = ((0.5, 80.0), (1.0, 90.0), (2.0, 95.0), (INF, 100.0))
    s = share_within(b, 0.5)
    assert s is not None and (s.low, s.high) == (0.80, 0.80)
    s = share_within(b, 0.75)
    assert s is not None and (s.low, s.high) == (0.80, 0.90)
    s = share_within(b, 5.0)
    assert s is not None and (s.low, s.high) == (0.95, 1.0)
    assert share_within(((0.5, 1.0),), 0.5) is None
    assert share_within(((0.5, 0.0), (INF, 0.0)), 0.5) is None
    s = share_within(((0.5, 80.0), (1.0, 79.5), (INF, 100.0)), 1.0)
    assert s is not None and s.low == pytest.approx(0.80)


def test_pressure_rises_while_the_budget_burns_and_decays_toward_one() -> None:
    """97% within target in the window and over the hour: x1.5; a window at 100% takes
    2% of the excess back; never above the cap; windows older than the hour drop out."""
    p = update_pressure(1.0, (), _hist(970, 1000), rule=RULE, now=60.0)
    assert p.value == pytest.approx(1.5) and "97.00% this window" in p.note
    p2 = update_pressure(p.value, p.windows, _hist(1000, 1000), rule=RULE, now=120.0)
    assert p2.value == pytest.approx(1.0 + 0.5 * 0.98) and "98.50% over 3600s" in p2.note
    high, windows = 1.0, ()
    for i in range(20):
        q = update_pressure(high, windows, _hist(500, 1000), rule=RULE, now=60.0 * i)
        high, windows = q.value, q.windows
    assert high == pytest.approx(10.0)
    low = update_pressure(1.0, windows, _hist(1000, 1000), rule=RULE, now=9000.0)
    assert low.value == 1.0 and len(low.windows) == 1


def test_one_short_window_in_a_good_hour_changes_nothing() -> None:
    """An hour of windows at 100% banks budget: one window at 97% leaves the hour above
    99%, so the pressure stays where it was."""
    good = tuple((60.0 * i, 1000.0, 1000.0, 1000.0) for i in range(50))
    p = update_pressure(1.1, good, _hist(970, 1000), rule=RULE, now=3060.0)
    assert p.value == 1.1 and "99.94% over 3600s" in p.note


def test_a_target_inside_a_bucket_is_no_evidence_of_a_miss() -> None:
    """Target 3 s between the 2 s and 5 s buckets, with 40% of first tokens in (2, 5]:
    the share is 60-100%, so the pressure does not move (linear interpolation read
    this as 87% and raised it on every window)."""
    inside = PressureRule(
        phase="TTFT", target_s=3.0, objective=0.99, step=1.5, decay=0.98, cap=10.0,
        window_s=3600.0, min_requests=20,
    )  # fmt: skip
    b = ((1.0, 300.0), (2.0, 600.0), (5.0, 1000.0), (INF, 1000.0))
    p = update_pressure(1.0, (), b, rule=inside, now=60.0)
    assert p.value == 1.0 and "60.00-100.00% this window" in p.note


def test_pressure_holds_without_evidence() -> None:
    """No histogram, too few requests, a hold reason (pool mid-change, other pool the
    bottleneck) or a pool short of the load that came keep the pressure."""
    assert update_pressure(1.6, (), None, rule=RULE, now=60.0).value == 1.6
    assert update_pressure(1.6, (), _hist(5, 10), rule=RULE, now=60.0).value == 1.6
    held = update_pressure(1.6, (), _hist(500, 1000), rule=RULE, now=60.0, hold="mid-change")
    assert held.value == 1.6 and held.windows == () and "mid-change" in held.note
    short = update_pressure(
        1.6, (), _hist(500, 1000), rule=RULE, now=60.0, short_of_load=lambda: "4 ready short"
    )
    assert short.value == 1.6 and "held: 4 ready short" in short.note


def test_spending_the_budget_drifts_toward_the_point_forecast() -> None:
    """With floor 0.8 (the point is 80% of the planned demand) and a rolling attainment
    leaving more than half of the budget unspent, met windows pull the pressure below 1
    toward the floor; a burning window jumps back above 1 at once."""
    spend = PressureRule(**{**{f: getattr(RULE, f) for f in RULE.__slots__}, "floor": 0.8})
    p, windows = 1.0, ()
    for i in range(30):
        q = update_pressure(p, windows, _hist(1000, 1000), rule=spend, now=60.0 * i)
        p, windows = q.value, q.windows
    assert p == pytest.approx(0.8 + 0.2 * 0.98**30)
    burst = tuple((60.0 * i, 0.0, 1000.0, 0.0) for i in range(3))
    hit = update_pressure(p, burst, _hist(500, 1000), rule=spend, now=2000.0)
    assert hit.value == pytest.approx(1.5)


def test_a_window_short_of_the_target_adds_prefill_workers() -> None:
    """Same load and forecast: after a window where half the requests missed the TTFT
    target the plan asks for more prefill than after one where all met it, and the next
    state carries the pressure."""
    cfg = _config(ttft_ms=500)
    forecast = _forecast(25.0)
    met, s_met = plan(_obs(_hist(1000, 1000)), forecast, PlannerState(), cfg, now=0)
    missed, s_missed = plan(_obs(_hist(500, 1000)), forecast, PlannerState(), cfg, now=0)
    assert missed.components[P].desired > met.components[P].desired
    assert "pressure 1.00 -> 1.50" in missed.message
    assert s_met.prefill_pressure == 1.0 and s_missed.prefill_pressure == pytest.approx(1.5)


def test_ttft_misses_while_decode_is_the_bottleneck_leave_prefill_alone() -> None:
    """Half the first tokens late, but 400 prefilled requests wait for decode admission:
    the misses are decode's, so the prefill pressure holds and says why."""
    cfg = _config(ttft_ms=500)
    o = _obs(_hist(500, 1000), decode_waiting=400.0)
    d, s = plan(o, _forecast(25.0), PlannerState(), cfg, now=0)
    assert s.prefill_pressure == 1.0 and "decode is the bottleneck" in d.message


def test_itl_misses_raise_the_decode_pressure_and_the_decode_plan() -> None:
    """A settled decode pool whose window shows 40% of token gaps above the ITL target
    raises the decode pressure and asks for more decode workers than a window within."""
    cfg = _config(itl_ms=50)
    good = ((0.04, 1000.0), (0.05, 1000.0), (INF, 1000.0))
    bad = ((0.04, 500.0), (0.05, 600.0), (INF, 1000.0))
    reps = {"current_replicas": {P: 12, D: 6}, "ready_replicas": {P: 12, D: 6}}
    met, _ = plan(_obs(_hist(1000, 1000), itl_buckets=good, requests=12000.0, **reps),
                  _forecast(200.0), PlannerState(), cfg, now=0)  # fmt: skip
    missed, s = plan(_obs(_hist(1000, 1000), itl_buckets=bad, requests=12000.0, **reps),
                     _forecast(200.0), PlannerState(), cfg, now=0)  # fmt: skip
    assert s.feedback.decode_pressure == pytest.approx(1.5)
    assert missed.components[D].desired > met.components[D].desired


def test_window_histogram_is_the_difference_per_bound() -> None:
    """The simulator's window histogram is cur - prev per bound (PromQL increase per
    _bucket series); different bounds or an empty side give None."""
    prev = ((0.5, 10.0), (INF, 12.0))
    cur = ((0.5, 40.0), (INF, 52.0))
    assert window_buckets(prev, cur) == ((0.5, 30.0), (INF, 40.0))
    assert window_buckets((), cur) is None
    assert window_buckets(((1.0, 10.0), (INF, 12.0)), cur) is None


def test_a_queued_window_does_not_move_the_prefill_factor() -> None:
    """A window whose TTFT histogram shows half the requests late carries a mean TTFT
    that is mostly queue: the prefill factor holds and says why. The same mean TTFT
    without a histogram (feedback off) is read as slowness and moves the factor up."""
    slow_mean = {"ttft_s": 1.2, "itl_s": 0.03, "request_duration_s": 5.0}
    cfg = _config(ttft_ms=500)
    held, _, note = update_correction(
        CorrectionFactors(), _obs(_hist(500, 1000), **slow_mean), cfg, gpus=GPUS
    )
    assert held.prefill == 1.0 and "prefill factor held: 50.00% within TTFT target" in note
    off = _config(ttft_ms=500, **{"sla.ttft_feedback": False})
    moved, _, _ = update_correction(
        CorrectionFactors(), _obs(_hist(500, 1000), **slow_mean), off, gpus=GPUS
    )
    assert moved.prefill > 1.2


def test_pressure_steps_back_as_the_prefill_factor_takes_over() -> None:
    """When a good window raises the prefill factor from 1 to f, a pressure of 2 is
    divided by f, so factor x pressure does not jump by f."""
    cfg = _config(ttft_ms=500)
    obs = _obs(_hist(1000, 1000), ttft_s=0.45)  # all within, mean above the model's
    state = PlannerState(feedback=FeedbackState(prefill_pressure=2.0))
    decision, nxt = plan(obs, _forecast(10.0), state, cfg, now=60.0)
    f = decision.correction.prefill
    assert f > 1.05
    decayed = 1.0 + (2.0 - 1.0) * 0.98
    assert nxt.prefill_pressure == pytest.approx(decayed / f)
