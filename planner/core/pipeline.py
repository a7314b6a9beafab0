"""The pure decision core: plan(observation, forecast, state, config, *, now).

No I/O and no clock: the same inputs always give the same decision and new state.
Pipeline per component: size (policy) -> hold on missing data -> min/max -> stabilise
(sla only) -> GPU budget -> reasons and message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from planner.core.attainment import pool_settled, share_within, update_pressure
from planner.core.budget import apply_budget
from planner.core.burst_memory import BurstMemory, down_window_s, remember
from planner.core.config import PolicyConfig
from planner.core.correction import update_correction
from planner.core.dynamo import dynamo_factors, size_dynamo
from planner.core.sla import Sizing, size_sla
from planner.core.stabilize import Recommendation, stabilize
from planner.core.types import (
    Component,
    ComponentDecision,
    CorrectionFactors,
    Decision,
    Forecast,
    Observation,
    Reason,
)

_MODIFIERS_FIRST = (
    Reason.HELD_NO_DATA,
    Reason.BUDGET_INFEASIBLE,
    Reason.BUDGET_CLAMPED,
    Reason.SCALE_DOWN_STABILIZED,
    Reason.STEP_LIMITED,
    Reason.TARGET_INFEASIBLE,
    Reason.MAX_REPLICAS,
    Reason.MIN_REPLICAS,
    Reason.IDLE,
    Reason.OUT_OF_PROFILE_RANGE,
)


@dataclass(frozen=True)
class PlannerState:
    """What the policy remembers between ticks."""

    correction: CorrectionFactors = field(default_factory=CorrectionFactors)
    history: Mapping[Component, tuple[Recommendation, ...]] = field(default_factory=dict)
    #: the targets of the last decision (used when the observation lacks replicas)
    last_targets: Mapping[Component, int] = field(default_factory=dict)
    #: per component, re-needed capacity (sla: lengthens the scale-down window)
    bursts: Mapping[Component, BurstMemory] = field(default_factory=dict)
    #: sla: multiplier on the prefill demand from TTFT attainment feedback (>= 1)
    prefill_pressure: float = 1.0
    #: sla: recent windows' TTFT attainment evidence (end time s, met, total)
    ttft_windows: tuple[tuple[float, float, float], ...] = ()
    #: sla: the prefill pool had all its replicas ready at the previous tick
    prefill_settled: bool = True


def _current(obs: Observation, state: PlannerState, config: PolicyConfig, c: Component) -> int:
    if c in obs.current_replicas:
        return obs.current_replicas[c]
    if c in state.last_targets:
        return state.last_targets[c]
    return config.limits(c).min_replicas


def _order(reasons: list[Reason], direction: Reason, moved: bool) -> tuple[Reason, ...]:
    mods = [r for r in _MODIFIERS_FIRST if r in reasons]
    # when the target did not move, the modifier (why it did not) is the primary reason
    ordered = [direction, *mods] if moved or not mods else [*mods, direction]
    return tuple(dict.fromkeys(ordered))


def _ttft_short_share(observation: Observation, config: PolicyConfig) -> float | None:
    """The window's share within the TTFT target when the sla policy's attainment
    feedback is on and the share is below ``sla.attainment_target``; else None."""
    s = config.settings
    b = observation.ttft_buckets
    if s.policy != "sla" or not s.sla.ttft_feedback or observation.is_missing or not b:
        return None
    if b[-1][1] < s.correction.min_requests:
        return None
    share = share_within(b, s.ttft_ms / 1000.0)
    return share if share is not None and share < s.sla.attainment_target else None


def plan(
    observation: Observation,
    forecast: Forecast,
    state: PlannerState,
    config: PolicyConfig,
    *,
    now: float,
) -> tuple[Decision, PlannerState]:
    """One decision and the next state. Pure: time and observations are arguments."""
    s = config.settings
    comps = config.components
    current = {c: _current(observation, state, config, c) for c in comps}

    # 1. correction factors and sizing
    pressure = state.prefill_pressure
    ttft_windows = state.ttft_windows
    if s.policy == "dynamo":
        raw = dynamo_factors(observation, config)
        factors = raw if raw is not None else state.correction
        corr_note = "dynamo factors" if raw is not None else "dynamo factors undefined"
        sizing = (
            size_dynamo(forecast, factors, config)
            if raw is not None or not (observation.is_missing or observation.is_idle)
            else Sizing()
        )
        if observation.is_idle or observation.is_missing:
            for c in comps:
                sizing.replicas[c] = None
                sizing.flag(c, Reason.HELD_NO_DATA)
                sizing.notes[c] = "dynamo holds on an idle or missing window (NaN metrics)"
    else:
        factors, corr_note = update_correction(state.correction, observation, config)
        pressure, ttft_windows, pressure_note = update_pressure(
            state.prefill_pressure,
            state.ttft_windows,
            observation,
            config,
            now=now,
            factor=factors.prefill,
            settled_before=state.prefill_settled,
        )
        if factors.prefill > state.correction.prefill and pressure > 1.0:
            # the factor now explains part of what the pressure stood in for: hand it
            # over, so factor x pressure does not count one shortfall twice
            pressure = max(1.0, pressure * state.correction.prefill / factors.prefill)
        if pressure_note:
            corr_note = f"{corr_note}; {pressure_note}"
        sizing = size_sla(observation, forecast, factors, config, prefill_pressure=pressure)

    reasons: dict[Component, list[Reason]] = {c: list(sizing.reasons.get(c, [])) for c in comps}
    short = _ttft_short_share(observation, config)
    desired: dict[Component, int] = {}
    history = dict(state.history)
    requested: dict[Component, int] = {}
    for c in comps:
        lim = config.limits(c)
        raw_n = sizing.replicas.get(c)
        if observation.is_missing:
            raw_n = None
            reasons[c].insert(0, Reason.HELD_NO_DATA)
        n = current[c] if raw_n is None else raw_n
        desired[c] = n
        if n < lim.min_replicas:
            n = lim.min_replicas
            if raw_n is not None and observation.is_idle:
                reasons[c].append(Reason.IDLE)
            elif raw_n is not None and raw_n < lim.min_replicas:
                reasons[c].append(Reason.MIN_REPLICAS)
        if n > lim.max_replicas:
            n = lim.max_replicas
            reasons[c].append(Reason.MAX_REPLICAS)
        hold = sizing.hold.get(c)
        if s.policy == "sla" and raw_n is not None and hold is not None and n < current[c]:
            # hysteresis: keep what load x (1 + tolerance) would still need
            floor = min(current[c], hold, lim.max_replicas)
            if floor > n:
                n = floor
                reasons[c].append(Reason.SCALE_DOWN_STABILIZED)
        if s.policy == "sla" and raw_n is not None:
            base = s.stabilization.scale_down_window_s
            window = down_window_s(
                state.bursts.get(c, BurstMemory()),
                now_s=now,
                base_s=base,
                max_s=s.sla.max_scale_down_window_s,
                lookback_s=s.sla.burst_lookback_s,
                interval_s=s.interval_s,
            )
            stab = (
                s.stabilization
                if window == base
                else s.stabilization.model_copy(update={"scale_down_window_s": window})
            )
            st = stabilize(
                current=current[c],
                desired=n,
                history=tuple(history.get(c, ())),
                now=now,
                settings=stab,
            )
            history[c] = st.history
            n = st.target
            reasons[c].extend(st.reasons)
        if short is not None and c == config.prefill_component and n < current[c]:
            # the window just showed this pool too small for its traffic: releasing
            # part of it now (a scale-down already under way when a surge came) only
            # deepens the misses that the added capacity will take start-up to fix
            n = current[c]
            reasons[c].append(Reason.SCALE_DOWN_STABILIZED)
            note = f"no scale-down: {100 * short:.2f}% within the TTFT target this window"
            sizing.notes[c] = f"{sizing.notes[c]}; {note}" if sizing.notes.get(c) else note
        requested[c] = n

    budget = apply_budget(
        requested=requested,
        minimums={c: config.limits(c).min_replicas for c in comps},
        gpus_per_worker={c: config.limits(c).gpus_per_worker for c in comps},
        max_gpus=s.budget.max_gpus,
    )
    components: dict[Component, ComponentDecision] = {}
    for c in comps:
        target = budget.targets[c]
        if budget.infeasible:
            reasons[c].append(Reason.BUDGET_INFEASIBLE)
        elif c in budget.clamped:
            reasons[c].append(Reason.BUDGET_CLAMPED)
        if target > current[c]:
            direction = Reason.SCALE_UP
        elif target < current[c]:
            direction = Reason.SCALE_DOWN
        else:
            direction = Reason.STEADY
        ordered = _order(reasons[c], direction, moved=target != current[c])
        parts = [f"{c.value} {current[c]}->{target} (model wants {desired[c]})"]
        if sizing.notes.get(c):
            parts.append(sizing.notes[c])
        if c in budget.clamped or budget.infeasible:
            parts.append(budget.message)
        if observation.is_missing:
            parts.append(f"no data: {observation.missing_reason}")
        components[c] = ComponentDecision(
            component=c,
            current=current[c],
            desired=desired[c],
            target=target,
            gpus_per_worker=config.limits(c).gpus_per_worker,
            reasons=ordered,
            message="; ".join(parts),
        )
    decision = Decision(
        time_s=now,
        policy=s.policy,
        components=components,
        correction=factors,
        forecast=forecast,
        budget_gpus=s.budget.max_gpus,
        message=corr_note,
        prefill_pressure=pressure,
    )
    bursts = dict(state.bursts)
    if s.policy == "sla" and s.sla.max_scale_down_window_s > s.stabilization.scale_down_window_s:
        for c, d in components.items():
            bursts[c] = remember(
                state.bursts.get(c, BurstMemory()),
                now_s=now,
                current=d.current,
                target=d.target,
                max_s=s.sla.max_scale_down_window_s,
                lookback_s=s.sla.burst_lookback_s,
            )
    new_state = PlannerState(
        correction=factors,
        history=history,
        last_targets={c: d.target for c, d in components.items()},
        bursts=bursts,
        prefill_pressure=pressure,
        ttft_windows=ttft_windows,
        prefill_settled=pool_settled(observation, config.prefill_component),
    )
    return decision, new_state
