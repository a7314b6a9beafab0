"""The budget stage: shrink targets to fit the GPU budget, never above what was asked.

GPUs are counted per worker as each worker really holds them (the tick's reading:
the cluster's count, else the profile's, else the setting; planner/core/config.py).
Rules: the total never exceeds the budget; no component ends above its request;
minimums are honoured when they fit; the GPUs left after minimums go one worker at a
time to the component furthest (relatively) from its request, so the prefill:decode
balance survives the cut. When even the minimums do not fit, the result says so and
fills what it can, at least one worker per component where possible.

The budget is the tick's (planner/core/capacity.py): ``budget.max_gpus``, lowered to
what the cluster can place when the connector read that. A cut the cluster's capacity
makes says ``capacity_unavailable`` (not ``budget_clamped``), with both numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from planner.core.tick import Proposal, Proposals, Tick
from planner.core.types import Component, Reason


@dataclass(frozen=True, slots=True)
class BudgetResult:
    targets: dict[Component, int]
    clamped: frozenset[Component]
    infeasible: bool
    message: str


def apply_budget(
    *,
    requested: Mapping[Component, int],
    minimums: Mapping[Component, int],
    gpus_per_worker: Mapping[Component, int],
    max_gpus: int | None,
) -> BudgetResult:
    comps = list(requested)
    total = sum(requested[c] * gpus_per_worker[c] for c in comps)
    if max_gpus is None or total <= max_gpus:
        return BudgetResult(dict(requested), frozenset(), False, "")

    floors = {c: min(minimums[c], requested[c]) for c in comps}
    floor_gpus = sum(floors[c] * gpus_per_worker[c] for c in comps)
    infeasible = floor_gpus > max_gpus
    if infeasible:
        # cannot honour minimums: start from one worker each where that fits
        floors = {c: 0 for c in comps}
    alloc = dict(floors)
    left = max_gpus - sum(alloc[c] * gpus_per_worker[c] for c in comps)
    while True:
        candidates = [c for c in comps if alloc[c] < requested[c] and gpus_per_worker[c] <= left]
        if not candidates:
            break
        # the component with the largest unmet share of its request gets the next worker;
        # ties go to the order components were given in (deterministic)
        best = max(candidates, key=lambda c: (1.0 - alloc[c] / requested[c], -comps.index(c)))
        alloc[best] += 1
        left -= gpus_per_worker[best]
    clamped = frozenset(c for c in comps if alloc[c] < requested[c])
    used = sum(alloc[c] * gpus_per_worker[c] for c in comps)
    if infeasible:
        message = (
            f"budget {max_gpus} GPUs cannot hold the minimum replicas ({floor_gpus} GPUs); "
            f"using {used} GPUs"
        )
    else:
        message = f"requested {total} GPUs > budget {max_gpus}; clamped to {used} GPUs"
    return BudgetResult(alloc, clamped, infeasible, message)


def apply_budget_stage(
    tick: Tick, proposals: Proposals
) -> tuple[dict[Component, Proposal], BudgetResult]:
    """The stage: proposals cut to the budget (``budget_clamped``, ``budget_infeasible``)."""
    comps = list(proposals)
    result = apply_budget(
        requested={c: proposals[c].target for c in comps},
        minimums={c: tick.config.limits(c).min_replicas for c in comps},
        gpus_per_worker={c: tick.gpus[c] for c in comps},
        max_gpus=tick.budget.gpus,
    )
    cut = Reason.BUDGET_CLAMPED
    message = result.message
    if tick.budget.cluster_binds and (result.clamped or result.infeasible):
        cut = Reason.CAPACITY_UNAVAILABLE
        configured = tick.budget.configured_gpus
        message = (
            f"{result.message}; the cluster can place {tick.budget.gpus} GPUs for this graph "
            f"(budget.max_gpus {'unset' if configured is None else configured})"
        )
    out: dict[Component, Proposal] = {}
    for c, p in proposals.items():
        if result.infeasible:
            p = p.to(result.targets[c], Reason.BUDGET_INFEASIBLE, message)
            if cut is Reason.CAPACITY_UNAVAILABLE:
                p = p.tagged(cut)
        elif c in result.clamped:
            p = p.to(result.targets[c], cut, message)
        out[c] = p
    return out, result
