"""The pool stage: one graph's decision as an ask to the shared pool, and its grant
written back into the decision (targets, reasons, messages) and into its state.

Each graph plans on its own first (``plan()``, its own limits and budget); the pool
arbitration (planner/core/arbitration.py) then cuts the asks; this module turns the
grant back into a decision the graph's connector can apply, with ``pool_clamped`` or
``preempted`` among the reasons of each cut component and the arbitration's numbers in
its message.
"""

from __future__ import annotations

from dataclasses import replace

from planner.core.arbitration import ComponentAsk, GraphAsk, GraphGrant
from planner.core.config import PolicyConfig
from planner.core.explain import ordered_reasons
from planner.core.state import PlannerState
from planner.core.tick import Proposal
from planner.core.types import ComponentDecision, Decision, Reason

_DIRECTIONS = frozenset({Reason.SCALE_UP, Reason.SCALE_DOWN, Reason.STEADY})


def graph_ask(
    name: str,
    decision: Decision,
    config: PolicyConfig,
    *,
    priority: int,
    weight: float,
    floor_gpus: int,
) -> GraphAsk:
    """What ``decision`` asks of the pool: its targets at its workers' real GPUs."""
    return GraphAsk(
        name=name,
        components={
            c: ComponentAsk(
                requested=d.target,
                minimum=config.limits(c).min_replicas,
                gpus_per_worker=d.gpus_per_worker,
            )
            for c, d in decision.components.items()
        },
        priority=priority,
        weight=weight,
        floor_gpus=floor_gpus,
    )


def _cut(d: ComponentDecision, *, target: int, reason: Reason, note: str) -> ComponentDecision:
    mods = tuple(r for r in d.reasons if r not in _DIRECTIONS)
    proposal = Proposal(
        component=d.component,
        current=d.current,
        desired=d.desired,
        target=target,
        reasons=(*mods, reason),
    )
    head = f"{d.component.value} {d.current}->{target} (model wants {d.desired})"
    rest = d.message.split("; ", 1)[1] if "; " in d.message else ""
    return replace(
        d,
        target=target,
        reasons=ordered_reasons(proposal),
        message="; ".join(x for x in (head, note, rest) if x),
    )


def apply_grant(decision: Decision, grant: GraphGrant) -> Decision:
    """``decision`` with the pool's cut: lowered targets, the pool's reason, its message."""
    if grant.reason is None:
        return decision
    components = {
        c: (
            _cut(d, target=grant.targets[c], reason=grant.reason, note=grant.message)
            if grant.targets[c] < d.target
            else d
        )
        for c, d in decision.components.items()
    }
    return replace(decision, components=components)


def settle(state: PlannerState, decision: Decision) -> PlannerState:
    """The graph's next state once the pool has cut its decision: the targets it will
    run are the granted ones (a restart without replica readings starts from them)."""
    return replace(state, last_targets={c: d.target for c, d in decision.components.items()})
