"""The guarantees every decision keeps, stated once and checked on every decision.

For every component c of a decision, with min_c, max_c its limits, g_c the GPUs each of
its workers really holds (the tick's reading) and B the tick's budget (the least of
``budget.max_gpus`` and the cluster's capacity, that capacity never below the GPUs the
ready workers hold; planner/core/capacity.py):

1. caps: target_c <= max_c;
2. floors: target_c >= min_c, unless the budget cannot hold the minimums (then the
   decision carries ``budget_infeasible`` for every component);
3. budget: sum over c of target_c x g_c <= B when a budget is set;
4. the budget stage never raises a target: target_c <= what the limits stage handed it,
   so it never grows a component the earlier stages shrank;
5. targets are integers >= 0; correction factors and the pressures are finite and
   positive.

Where they are enforced: the limits stage (1, 2; it runs after every hold and step
limit) and the budget stage (3, 4; it only lowers targets); nothing after them changes
a target. ``ensure`` checks the result, so a bug that breaks one fails the tick (the
service then keeps the current replicas) instead of writing a bad target.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from planner.core.arbitration import GraphAsk, PoolResult
from planner.core.tick import Tick
from planner.core.types import Component, Decision, Reason
from planner.errors import InvariantViolation


def violations(decision: Decision, tick: Tick, *, requested: Mapping[Component, int]) -> list[str]:
    """Every broken guarantee, in words (empty when the decision keeps them all)."""
    found: list[str] = []
    config = tick.config
    for c, d in decision.components.items():
        lim = config.limits(c)
        if not isinstance(d.target, int) or d.target < 0:
            found.append(f"{c.value} target {d.target!r} is not an integer >= 0")
            continue
        if d.target > lim.max_replicas:
            found.append(f"{c.value} target {d.target} > max_replicas {lim.max_replicas}")
        if d.target < lim.min_replicas and Reason.BUDGET_INFEASIBLE not in d.reasons:
            found.append(f"{c.value} target {d.target} < min_replicas {lim.min_replicas}")
        if d.target > requested.get(c, d.target):
            found.append(f"{c.value} target {d.target} > {requested[c]} handed to the budget")
    budget = tick.budget.gpus
    used = sum(d.target * tick.gpus[c] for c, d in decision.components.items())
    if budget is not None and used > budget:
        source = "cluster capacity" if tick.budget.cluster_binds else "budget"
        found.append(f"{used} GPUs (real per worker) > {source} {budget}")
    f = decision.correction
    for name, value in (("prefill factor", f.prefill), ("decode factor", f.decode)):
        if not (math.isfinite(value) and value > 0):
            found.append(f"{name} {value!r} is not finite and > 0")
    if not (math.isfinite(decision.prefill_pressure) and decision.prefill_pressure > 0):
        found.append(f"prefill pressure {decision.prefill_pressure!r} is not finite and > 0")
    return found


def ensure(decision: Decision, tick: Tick, *, requested: Mapping[Component, int]) -> None:
    """Raise ``InvariantViolation`` listing what ``decision`` broke, if anything."""
    found = violations(decision, tick, requested=requested)
    if found:
        raise InvariantViolation("decision breaks the core's guarantees: " + "; ".join(found))


def pool_violations(result: PoolResult, asks: Sequence[GraphAsk]) -> list[str]:
    """Every broken pool guarantee, in words. For a pool of P GPUs and graphs g with
    asks a_gc, minimums m_gc and GPUs per worker w_gc (planner/core/arbitration.py):

    6. sum over g, c of target_gc x w_gc <= P, unless the minimums alone exceed P;
    7. target_gc <= a_gc (the pool never raises a graph);
    8. target_gc >= min(m_gc, a_gc) unless the pool is infeasible.
    """
    found: list[str] = []
    if not result.infeasible and result.used_gpus > result.pool_gpus:
        found.append(f"{result.used_gpus} GPUs (real per worker) > pool {result.pool_gpus}")
    for g in asks:
        grant = result.grants[g.name]
        for c, a in g.components.items():
            t = grant.targets[c]
            if t > a.requested:
                found.append(f"{g.name} {c.value} target {t} > its ask {a.requested}")
            if not result.infeasible and t < min(a.minimum, a.requested):
                found.append(f"{g.name} {c.value} target {t} < min_replicas {a.minimum}")
    return found


def ensure_pool(result: PoolResult, asks: Sequence[GraphAsk]) -> None:
    """Raise ``InvariantViolation`` listing what the pool arbitration broke, if anything."""
    found = pool_violations(result, asks)
    if found:
        raise InvariantViolation("pool arbitration breaks its guarantees: " + "; ".join(found))
