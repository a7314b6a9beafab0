"""The limits stage: every target inside [min_replicas, max_replicas] of its component.

It runs after stabilisation, so no hold, window or step limit can keep a component
above its cap or below its floor; only the budget stage comes later, and it only ever
lowers targets (planner/core/invariants.py states the guarantees).
"""

from __future__ import annotations

from planner.core.tick import Proposal, Proposals, Tick
from planner.core.types import Component, Reason


def apply_limits(tick: Tick, proposals: Proposals) -> dict[Component, Proposal]:
    out: dict[Component, Proposal] = {}
    for c, p in proposals.items():
        lim = tick.config.limits(c)
        if p.target < lim.min_replicas:
            idle = tick.observation.is_idle and not p.held
            reason = Reason.IDLE if idle else Reason.MIN_REPLICAS
            p = p.to(lim.min_replicas, reason, f"min_replicas {lim.min_replicas}")
        elif p.target > lim.max_replicas:
            p = p.to(lim.max_replicas, Reason.MAX_REPLICAS, f"max_replicas {lim.max_replicas}")
        out[c] = p
    return out
