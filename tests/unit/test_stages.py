"""Each pipeline stage on its own: hold, stabilise (each hold with its own reason and
numbers), limits, budget, explain and the invariant checker."""

from __future__ import annotations

import pytest

from planner.core.budget import apply_budget_stage
from planner.core.explain import explain, ordered_reasons
from planner.core.hold import hold_on_missing
from planner.core.invariants import ensure, violations
from planner.core.limits import apply_limits
from planner.core.stabilize import stabilise
from planner.core.state import FeedbackState, PlannerState
from planner.core.strategy import Ask, Learned
from planner.core.tick import Proposal, Tick
from planner.core.types import Observation, Reason
from planner.errors import InvariantViolation
from tests.core_cases import D, P, config, forecast, window

LEARNED = Learned(state=FeedbackState())


def _tick(
    obs: Observation, *, state: PlannerState | None = None, now: float = 600.0, **ov: object
) -> Tick:
    return Tick.build(obs, forecast(10), state or PlannerState(), config(**ov), now_s=now)


def _prop(current: int, target: int, **kw: object) -> Proposal:
    return Proposal(component=P, current=current, desired=target, target=target, **kw)  # type: ignore[arg-type]


def test_hold_keeps_current_on_missing_data_and_on_an_unsized_component() -> None:
    """A missing window holds every component (held_no_data, with the query's error);
    an ask of None holds that component alone, keeping the strategy's reasons."""
    missing = Observation.missing(window_s=60, reason="timeout", current_replicas={P: 3, D: 2})
    out = hold_on_missing(_tick(missing), {P: Ask(9), D: Ask(9)})
    assert out[P].target == 3 and out[P].held and out[P].reasons[0] is Reason.HELD_NO_DATA
    assert "no data: timeout" in out[P].notes
    obs = window(10, current_replicas={P: 3, D: 2})
    held = Ask(None, reasons=(Reason.TARGET_INFEASIBLE,), note="ITL below the profile")
    out = hold_on_missing(_tick(obs), {P: Ask(5, floor=6), D: held})
    assert (out[P].target, out[P].floor, out[P].held) == (5, 6, False)
    assert out[D].target == 2 and out[D].held and out[D].reasons == (Reason.TARGET_INFEASIBLE,)


def test_each_stabilisation_hold_has_its_own_reason_and_numbers() -> None:
    """Hysteresis, the window, the burst-lengthened window, the miss hold and the step
    limit each say which one held and with what number."""
    obs = window(10, current_replicas={P: 10, D: 2})
    no_window = {
        "stabilization.scale_down_window_s": 0,
        "stabilization.max_scale_down_fraction": 1.0,
        "sla.scale_down_tolerance": 0.2,
    }
    out, _ = stabilise(_tick(obs, **no_window), {P: _prop(10, 4, floor=7)}, LEARNED, enabled=True)
    assert out[P].target == 7 and out[P].reasons == (Reason.SCALE_DOWN_HYSTERESIS,)
    assert "the load x1.2 needs 7" in out[P].notes[-1]

    state = PlannerState(history={P: ((500.0, 9),)})
    out, hist = stabilise(_tick(obs, state=state), {P: _prop(10, 4)}, LEARNED, enabled=True)
    assert out[P].target == 9 and Reason.SCALE_DOWN_WINDOW in out[P].reasons
    assert "down window 300s: highest recent ask 9" in out[P].notes[0]
    assert hist[P][-1] == (600.0, 4)

    from planner.core.burst_memory import BurstMemory

    bursty = PlannerState(
        history={P: ((0.0, 9),)}, bursts={P: BurstMemory(gaps=((300.0, 1200.0),))}
    )
    out, _ = stabilise(_tick(obs, state=bursty), {P: _prop(10, 4)}, LEARNED, enabled=True)
    assert Reason.SCALE_DOWN_BURST_WINDOW in out[P].reasons and out[P].target == 9
    assert "down window 1260s" in out[P].notes[0]

    stepped = {"stabilization.scale_down_window_s": 0}
    out, _ = stabilise(_tick(obs, **stepped), {P: _prop(10, 4)}, LEARNED, enabled=True)
    assert out[P].target == 8 and out[P].reasons == (Reason.STEP_LIMITED,)
    assert "step limit: 10->8" in out[P].notes[-1]


def test_a_strategy_without_stabilisation_and_held_proposals_pass_untouched() -> None:
    """enabled=False (e.g. dynamo) and held proposals go through unchanged."""
    obs = window(10, current_replicas={P: 10, D: 2})
    p = _prop(10, 1)
    out, _ = stabilise(_tick(obs), {P: p}, LEARNED, enabled=False)
    assert out[P] == p
    held = _prop(10, 10, held=True)
    out, _ = stabilise(_tick(obs), {P: held}, LEARNED, enabled=True)
    assert out[P] == held


def test_limits_clamp_to_min_and_max_with_the_reason() -> None:
    """Above max: max_replicas; below min on an idle window: idle; else min_replicas."""
    obs = window(10, current_replicas={P: 3, D: 2})
    ov = {"prefill.max_replicas": 5, "prefill.min_replicas": 2}
    out = apply_limits(_tick(obs, **ov), {P: _prop(3, 9), D: _prop(2, 2)})
    assert out[P].target == 5 and Reason.MAX_REPLICAS in out[P].reasons
    out = apply_limits(_tick(obs, **ov), {P: _prop(3, 0)})
    assert out[P].target == 2 and Reason.MIN_REPLICAS in out[P].reasons
    idle = window(0, current_replicas={P: 3, D: 2})
    out = apply_limits(_tick(idle, **ov), {P: _prop(3, 0)})
    assert out[P].target == 2 and Reason.IDLE in out[P].reasons


def test_budget_stage_counts_real_gpus_and_only_lowers() -> None:
    """With 4-GPU prefill workers (the cluster's reading) and 2-GPU decode, a 12-GPU
    budget cuts {P: 3, D: 3} (18 GPUs) to at most 12, each no higher than asked."""
    obs = window(10, current_replicas={P: 3, D: 3}, gpus_per_worker={P: 4, D: 2})
    props = {P: _prop(3, 3), D: Proposal(component=D, current=3, desired=3, target=3)}
    out, result = apply_budget_stage(_tick(obs, **{"budget.max_gpus": 12}), props)
    assert out[P].target * 4 + out[D].target * 2 <= 12
    assert out[P].target <= 3 and out[D].target <= 3
    assert Reason.BUDGET_CLAMPED in out[P].reasons + out[D].reasons
    assert "requested 18 GPUs > budget 12" in result.message


def test_the_cluster_capacity_cuts_with_its_own_reason_and_numbers() -> None:
    """The cluster can place 8 GPUs, the budget allows 12: {P: 3 x 4, D: 3 x 2} is cut
    to 8 GPUs and says capacity_unavailable (not budget_clamped) with both numbers."""
    obs = window(
        10,
        current_replicas={P: 1, D: 1},
        ready_replicas={P: 1, D: 1},
        gpus_per_worker={P: 4, D: 2},
        cluster_gpus=8,
    )
    props = {P: _prop(1, 3), D: Proposal(component=D, current=1, desired=3, target=3)}
    tick = _tick(obs, **{"budget.max_gpus": 12})
    assert tick.budget.gpus == 8 and tick.budget.cluster_binds
    out, _ = apply_budget_stage(tick, props)
    assert out[P].target * 4 + out[D].target * 2 <= 8
    reasons = out[P].reasons + out[D].reasons
    assert Reason.CAPACITY_UNAVAILABLE in reasons and Reason.BUDGET_CLAMPED not in reasons
    note = next(n for n in out[D].notes + out[P].notes if "cluster" in n)
    assert "the cluster can place 8 GPUs for this graph (budget.max_gpus 12)" in note
    assert "requested 18 GPUs > budget 8" in note


def test_a_budget_below_the_cluster_capacity_still_says_budget_clamped() -> None:
    """The cluster could place 40 GPUs but the budget is 12: the cut is the budget's."""
    obs = window(10, current_replicas={P: 3, D: 3}, gpus_per_worker={P: 4, D: 2}, cluster_gpus=40)
    props = {P: _prop(3, 3), D: Proposal(component=D, current=3, desired=3, target=3)}
    out, _ = apply_budget_stage(_tick(obs, **{"budget.max_gpus": 12}), props)
    reasons = out[P].reasons + out[D].reasons
    assert Reason.BUDGET_CLAMPED in reasons and Reason.CAPACITY_UNAVAILABLE not in reasons


def test_explain_puts_the_hold_first_when_nothing_moved() -> None:
    """Moved: direction first; held: the hold first, then steady."""
    moved = _prop(3, 5, reasons=(Reason.STEP_LIMITED,))
    assert ordered_reasons(moved)[:2] == (Reason.SCALE_UP, Reason.STEP_LIMITED)
    held = _prop(3, 3, reasons=(Reason.SCALE_DOWN_WINDOW,))
    assert ordered_reasons(held) == (Reason.SCALE_DOWN_WINDOW, Reason.STEADY)
    obs = window(10, current_replicas={P: 3, D: 2})
    tick = _tick(obs)
    from planner.core.budget import BudgetResult

    props = {
        P: _prop(3, 5, notes=("why",)),
        D: Proposal(component=D, current=2, desired=2, target=2),
    }
    d = explain(tick, props, LEARNED, BudgetResult({}, frozenset(), False, ""))
    assert d.components[P].message == "prefill 3->5 (model wants 5); why"
    assert d.targets == {P: 5, D: 2}


def test_the_invariant_checker_catches_each_broken_guarantee() -> None:
    """A decision above max, below min (without budget_infeasible), over the budget in
    real GPUs, or raised by the budget is reported; a bug fails the tick loudly."""
    obs = window(10, current_replicas={P: 3, D: 2}, gpus_per_worker={P: 2, D: 2})
    tick = _tick(
        obs, **{"prefill.max_replicas": 4, "decode.min_replicas": 2, "budget.max_gpus": 10}
    )
    from planner.core.budget import BudgetResult

    props = {P: _prop(3, 5), D: Proposal(component=D, current=2, desired=1, target=1)}
    d = explain(tick, props, LEARNED, BudgetResult({}, frozenset(), False, ""))
    found = violations(d, tick, requested={P: 4, D: 1})
    assert any("> max_replicas 4" in f for f in found)
    assert any("< min_replicas 2" in f for f in found)
    assert any("12 GPUs (real per worker) > budget 10" in f for f in found)
    assert any("> 4 handed to the budget" in f for f in found)
    with pytest.raises(InvariantViolation, match="max_replicas"):
        ensure(d, tick, requested={P: 4, D: 1})
    small = _tick(
        window(10, current_replicas={P: 3, D: 2}, gpus_per_worker={P: 2, D: 2}, cluster_gpus=6)
    )
    d = explain(small, props, LEARNED, BudgetResult({}, frozenset(), False, ""))
    assert any(
        "12 GPUs (real per worker) > cluster capacity 6" in f
        for f in violations(d, small, requested={P: 5, D: 1})
    )
