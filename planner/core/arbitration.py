"""Pool arbitration: several graphs' asks cut to one shared GPU pool, by floors, then
priorities, then weights. Pure: asks and the pool size in, grants out.

GPUs are counted per worker as each worker really holds them. The rules, in order:

1. Nothing is cut when the asks fit. No graph ever gets more than it asked.
2. Minimums: every component keeps ``min(minimum, requested)`` workers. When even
   those do not fit, the pool is infeasible: minimums are filled one worker at a time
   by priority (higher first, then name) and every cut component says
   ``budget_infeasible``.
3. Floors: each graph is grown towards ``min(floor_gpus, asked GPUs)`` (never below
   its minimums); a floor is met to within one worker (the next worker of the graph
   would overshoot it). When the floors do not all fit (start-up refuses such a
   configuration; a cluster reading of more GPUs per worker can still cause it),
   higher priorities fill theirs first.
4. The rest goes to the highest priority first. Within one priority it is shared by
   weight: the next worker goes to the graph with the fewest GPUs above its floor per
   unit of weight (water-filling), ties to the alphabetically first name. A lower
   priority gets GPUs only when no worker of a higher one fits.
5. Inside a graph, the next worker goes to the component furthest (relatively) from its
   request, so a cut graph keeps its own asked prefill:decode ratio.

Who gives back first when the pool shrinks (the same rules read backwards): the lowest
priority, down to its floor; within a priority, the graph holding the most GPUs above
its floor per unit of weight (the alphabetically later name on a tie); then floors,
lowest priority first; minimums last. A graph is listed by name, so the order graphs
are given in never changes the result.

A cut graph says ``preempted`` (``preempted_by`` names the highest-priority graph
holding GPUs above its floor, when one has a higher priority) or else ``pool_clamped``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from planner.core.types import Component, Reason
from planner.errors import InputError

#: components in a fixed order, so ties never depend on how a graph listed them
_ORDER = tuple(Component)


@dataclass(frozen=True, slots=True)
class ComponentAsk:
    """One component of one graph: replicas asked (after the graph's own limits and
    budget), its minimum replicas, and the GPUs each of its workers holds."""

    requested: int
    minimum: int
    gpus_per_worker: int


@dataclass(frozen=True, slots=True)
class GraphAsk:
    """What one graph asked of the pool this tick, and its standing in the pool."""

    name: str
    components: Mapping[Component, ComponentAsk]
    priority: int = 0
    weight: float = 1.0
    #: guaranteed GPUs (up to what the graph asks); its minimum replicas always count
    floor_gpus: int = 0

    @property
    def asked_gpus(self) -> int:
        return sum(a.requested * a.gpus_per_worker for a in self.components.values())

    @property
    def minimum_gpus(self) -> int:
        return sum(
            min(a.minimum, a.requested) * a.gpus_per_worker for a in self.components.values()
        )

    @property
    def floor_target_gpus(self) -> int:
        """The GPUs the floor guarantees this tick: the floor, up to the ask, at least
        the minimums."""
        return max(self.minimum_gpus, min(self.floor_gpus, self.asked_gpus))


@dataclass(frozen=True, slots=True)
class GraphGrant:
    """What one graph asked for, what it got and why."""

    name: str
    asked: Mapping[Component, int]
    targets: Mapping[Component, int]
    asked_gpus: int
    granted_gpus: int
    #: GPUs the floor stage gave it (rule 3): what it holds by guarantee
    floor_gpus: int
    #: None when nothing was cut
    reason: Reason | None
    preempted_by: str | None
    message: str

    @property
    def cut(self) -> frozenset[Component]:
        return frozenset(c for c, n in self.targets.items() if n < self.asked[c])


@dataclass(frozen=True, slots=True)
class PoolResult:
    pool_gpus: int
    grants: Mapping[str, GraphGrant]
    infeasible: bool

    @property
    def used_gpus(self) -> int:
        return sum(g.granted_gpus for g in self.grants.values())


class _Fill:
    """The allocation being built (internal, mutable)."""

    def __init__(self, asks: Sequence[GraphAsk], pool_gpus: int) -> None:
        self.asks = {g.name: g for g in asks}
        self.alloc = {g.name: {c: 0 for c in g.components} for g in asks}
        self.left = pool_gpus

    def gpus(self, name: str) -> int:
        comps = self.asks[name].components
        return sum(n * comps[c].gpus_per_worker for c, n in self.alloc[name].items())

    def next_component(self, name: str, *, room: int) -> Component | None:
        """The component of ``name`` furthest from its request whose worker fits ``room``."""
        comps = self.asks[name].components
        alloc = self.alloc[name]
        fits = [
            c
            for c in _ORDER
            if c in comps and alloc[c] < comps[c].requested and comps[c].gpus_per_worker <= room
        ]
        if not fits:
            return None
        return max(fits, key=lambda c: (1.0 - alloc[c] / comps[c].requested, -_ORDER.index(c)))

    def add(self, name: str, c: Component) -> None:
        self.alloc[name][c] += 1
        self.left -= self.asks[name].components[c].gpus_per_worker

    def grow(self, name: str, *, up_to_gpus: int) -> None:
        while (
            c := self.next_component(name, room=min(self.left, up_to_gpus - self.gpus(name)))
        ) is not None:
            self.add(name, c)


def _by_rank(asks: Sequence[GraphAsk]) -> list[GraphAsk]:
    return sorted(asks, key=lambda g: (-g.priority, g.name))


def arbitrate(asks: Sequence[GraphAsk], *, pool_gpus: int) -> PoolResult:
    """Cut ``asks`` to ``pool_gpus`` (see the module docstring for the rules)."""
    names = [g.name for g in asks]
    if len(set(names)) != len(names):
        raise InputError("arbitrate", "asks", names, "graphs with distinct names")
    if pool_gpus < 0:
        raise InputError("arbitrate", "pool_gpus", pool_gpus, "a number of GPUs >= 0")
    ranked = _by_rank(asks)
    fill = _Fill(ranked, pool_gpus)
    if sum(g.asked_gpus for g in asks) <= pool_gpus:
        for g in ranked:
            fill.alloc[g.name] = {c: a.requested for c, a in g.components.items()}
        return _result(fill, ranked, pool_gpus, floors={g.name: g.asked_gpus for g in asks})
    infeasible = sum(g.minimum_gpus for g in asks) > pool_gpus
    if infeasible:
        for g in ranked:
            for c in _ORDER:
                if c in g.components:
                    a = g.components[c]
                    while (
                        fill.alloc[g.name][c] < min(a.minimum, a.requested)
                        and a.gpus_per_worker <= fill.left
                    ):
                        fill.add(g.name, c)
        floors = {g.name: fill.gpus(g.name) for g in ranked}
        return _result(fill, ranked, pool_gpus, floors=floors, infeasible=True)
    for g in ranked:  # minimums fit: take them all first
        for c, a in g.components.items():
            for _ in range(min(a.minimum, a.requested)):
                fill.add(g.name, c)
    for g in ranked:  # floors, higher priorities first should they not all fit
        fill.grow(g.name, up_to_gpus=g.floor_target_gpus)
    floors = {g.name: fill.gpus(g.name) for g in ranked}
    for priority in sorted({g.priority for g in ranked}, reverse=True):
        members = [g for g in ranked if g.priority == priority]
        while True:
            options = [
                (m, nxt)
                for m in members
                if (nxt := fill.next_component(m.name, room=fill.left)) is not None
            ]
            if not options:
                break
            pick, comp = min(
                options,
                key=lambda o: ((fill.gpus(o[0].name) - floors[o[0].name]) / o[0].weight, o[0].name),
            )
            fill.add(pick.name, comp)
    return _result(fill, ranked, pool_gpus, floors=floors)


def _result(
    fill: _Fill,
    ranked: list[GraphAsk],
    pool_gpus: int,
    *,
    floors: Mapping[str, int],
    infeasible: bool = False,
) -> PoolResult:
    grants: dict[str, GraphGrant] = {}
    for g in ranked:
        targets = dict(fill.alloc[g.name])
        granted = fill.gpus(g.name)
        asked = {c: a.requested for c, a in g.components.items()}
        reason: Reason | None = None
        by: str | None = None
        head = (
            f"pool {pool_gpus} GPUs: {g.name} asked {g.asked_gpus} GPUs, got {granted} "
            f"(floor {floors[g.name]}, priority {g.priority}, weight {g.weight:g})"
        )
        message = ""
        if targets != asked:
            above = [
                h for h in ranked if h.priority > g.priority and fill.gpus(h.name) > floors[h.name]
            ]
            if infeasible:
                reason = Reason.BUDGET_INFEASIBLE
                message = f"{head}; the pool cannot hold every graph's minimum replicas"
            elif above:
                top = max(above, key=lambda h: (h.priority, fill.gpus(h.name) - floors[h.name]))
                reason, by = Reason.PREEMPTED, top.name
                held = fill.gpus(top.name) - floors[top.name]
                message = (
                    f"{head}; preempted_by={top.name} (priority {top.priority}, "
                    f"{held} GPUs above its floor)"
                )
            else:
                reason = Reason.POOL_CLAMPED
                message = f"{head}; {fill.left} GPUs free"
        grants[g.name] = GraphGrant(
            name=g.name,
            asked=asked,
            targets=targets,
            asked_gpus=g.asked_gpus,
            granted_gpus=granted,
            floor_gpus=floors[g.name],
            reason=reason,
            preempted_by=by,
            message=message or head,
        )
    return PoolResult(pool_gpus=pool_gpus, grants=grants, infeasible=infeasible)


def floor_problems(asks: Sequence[GraphAsk], *, pool_gpus: int) -> list[str]:
    """Why the floors cannot all fit the pool (empty when they do): each graph's floor
    need (its floor GPUs, at least its minimum replicas) named, for a start-up error."""
    needs = {
        g.name: max(g.floor_gpus, sum(a.minimum * a.gpus_per_worker for a in g.components.values()))
        for g in _by_rank(asks)
    }
    total = sum(needs.values())
    if total <= pool_gpus:
        return []
    listed = ", ".join(f"{n} {v}" for n, v in needs.items())
    return [f"the graphs' floors need {total} GPUs ({listed}) but the pool has {pool_gpus}"]
