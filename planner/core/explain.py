"""The explain stage: each component's reasons in a stable order and a message with the
numbers; the whole decision with the feedback note and any warnings.

The primary reason is the direction (``scale_up``, ``scale_down``, ``steady``) when the
target moved; when it did not move but something held it, the first hold is primary
(e.g. ``scale_down_window``), so a dashboard grouped by the primary reason shows why
nothing changed.
"""

from __future__ import annotations

from planner.core.budget import BudgetResult
from planner.core.strategy import Learned
from planner.core.tick import Proposal, Proposals, Tick
from planner.core.types import Component, ComponentDecision, Decision, Reason

#: modifiers, most important first
_MODIFIERS_FIRST = (
    Reason.HELD_NO_DATA,
    Reason.BUDGET_INFEASIBLE,
    Reason.CAPACITY_UNAVAILABLE,
    Reason.BUDGET_CLAMPED,
    Reason.PREEMPTED,
    Reason.POOL_CLAMPED,
    Reason.MAX_REPLICAS,
    Reason.SCALE_DOWN_BURST_WINDOW,
    Reason.SCALE_DOWN_WINDOW,
    Reason.SCALE_DOWN_HYSTERESIS,
    Reason.SCALE_UP_WINDOW,
    Reason.STEP_LIMITED,
    Reason.TARGET_INFEASIBLE,
    Reason.MIN_REPLICAS,
    Reason.IDLE,
    Reason.OUT_OF_PROFILE_RANGE,
)


def ordered_reasons(p: Proposal) -> tuple[Reason, ...]:
    if p.target > p.current:
        direction = Reason.SCALE_UP
    elif p.target < p.current:
        direction = Reason.SCALE_DOWN
    else:
        direction = Reason.STEADY
    mods = [r for r in _MODIFIERS_FIRST if r in p.reasons]
    moved = p.target != p.current
    ordered = [direction, *mods] if moved or not mods else [*mods, direction]
    return tuple(dict.fromkeys(ordered))


def explain(tick: Tick, proposals: Proposals, learned: Learned, budget: BudgetResult) -> Decision:
    components: dict[Component, ComponentDecision] = {}
    for c, p in proposals.items():
        head = f"{c.value} {p.current}->{p.target} (model wants {p.desired})"
        notes = list(dict.fromkeys(n for n in p.notes if n))
        components[c] = ComponentDecision(
            component=c,
            current=p.current,
            desired=p.desired,
            target=p.target,
            gpus_per_worker=tick.gpus[c],
            reasons=ordered_reasons(p),
            message="; ".join([head, *notes]),
        )
    s = tick.config.settings
    return Decision(
        time_s=tick.now_s,
        policy=s.policy,
        components=components,
        correction=learned.state.correction,
        forecast=tick.forecast,
        budget_gpus=tick.budget.gpus,
        message=learned.note,
        prefill_pressure=learned.state.prefill_pressure,
        warnings=tick.warnings,
    )
