"""The pure decision core: plan(observation, forecast, state, config, *, now).

No I/O and no clock: the same inputs always give the same decision and new state.
``plan()`` only composes named stages, each a small pure function with its own tests:

    feedback  (strategy.learn)   what the window says about the profile and the SLO
    size      (strategy.size)    workers the forecast needs at the SLO
    hold      (hold.py)          keep the current replicas on missing data
    stabilise (stabilize.py)     hysteresis, windows, burst memory, steps
    limits    (limits.py)        min/max, after every hold
    budget    (budget.py)        GPUs counted as each worker really holds them
    explain   (explain.py)       reasons in order, messages with the numbers

Feedback runs before size because its output (correction factors, pressure) is the
sizing's input. The strategy (``settings.policy``) is looked up once per tick; no stage
asks its name. ``invariants.ensure`` checks every decision against the guarantees.
"""

from __future__ import annotations

from planner.core.budget import apply_budget_stage
from planner.core.burst_memory import BurstMemory, remember
from planner.core.config import PolicyConfig
from planner.core.explain import explain
from planner.core.hold import hold_on_missing
from planner.core.invariants import ensure
from planner.core.limits import apply_limits
from planner.core.stabilize import stabilise
from planner.core.state import FeedbackState, PlannerState, Recommendation
from planner.core.strategies import strategy_named
from planner.core.tick import Tick
from planner.core.types import Component, Decision, Forecast, Observation

__all__ = ["FeedbackState", "PlannerState", "plan"]


def plan(
    observation: Observation,
    forecast: Forecast,
    state: PlannerState,
    config: PolicyConfig,
    *,
    now: float,
) -> tuple[Decision, PlannerState]:
    """One decision and the next state. Pure: time and observations are arguments.

    Raises ``InputError`` only from constructing bad inputs (Observation, Forecast
    validate themselves), and ``InvariantViolation`` if a bug broke a guarantee.
    """
    strategy = strategy_named(config.settings.policy)
    tick = Tick.build(observation, forecast, state, config, now_s=now)
    learned = strategy.learn(tick)
    asks = strategy.size(tick, learned)
    proposals = hold_on_missing(tick, asks)
    proposals, history = stabilise(tick, proposals, learned, enabled=strategy.stabilises)
    proposals = apply_limits(tick, proposals)
    requested = {c: p.target for c, p in proposals.items()}
    proposals, budget = apply_budget_stage(tick, proposals)
    decision = explain(tick, proposals, learned, budget)
    ensure(decision, tick, requested=requested)
    return decision, _next_state(
        tick, decision, learned.state, history, remember_bursts=strategy.stabilises
    )


def _next_state(
    tick: Tick,
    decision: Decision,
    feedback: FeedbackState,
    history: dict[Component, tuple[Recommendation, ...]],
    *,
    remember_bursts: bool,
) -> PlannerState:
    s = tick.config.settings
    state = tick.state
    bursts = dict(state.bursts)
    if remember_bursts and s.sla.max_scale_down_window_s > s.stabilization.scale_down_window_s:
        for c, d in decision.components.items():
            bursts[c] = remember(
                state.bursts.get(c, BurstMemory()),
                now_s=tick.now_s,
                current=d.current,
                target=d.target,
                max_s=s.sla.max_scale_down_window_s,
                lookback_s=s.sla.burst_lookback_s,
            )
    raised = dict(state.raised_at_s)
    for c, d in decision.components.items():
        if d.target > d.current:
            raised[c] = tick.now_s
    return PlannerState(
        feedback=feedback,
        history=history,
        last_targets={c: d.target for c, d in decision.components.items()},
        bursts=bursts,
        raised_at_s=raised,
    )
