"""The static99 baseline: the smallest fixed fleet whose whole run meets the attainment
goal, found by simulating candidate fleets.

Search: start from a sized fleet (the sla sizing of the trace's busiest interval),
double every component until the fleet meets the goal, then binary-search the fewest
prefill workers (decode as found), then the fewest decode workers, and bump the smallest
component until the pair itself meets the goal. A fleet with more workers is assumed to
miss no more requests than one with fewer (the search's only assumption).

Speed: each candidate runs with a miss budget of (1 - goal) x requests and stops at the
first interval end at which more requests than that have certainly missed a target (an
undersized fleet fails within minutes of simulated time, not at the end of the day);
every fleet is simulated at most once. Neither changes which fleet is found.

Unreachable: the doubling stops after ``max_doublings`` or at ``max_replicas``; then no
fleet tried met the goal, the result says so (``reached_goal`` False) and carries the
largest fleet's full run, so a report can show what it reached instead of a goal line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from planner.core.types import Component
from planner.sim.runner import MissBudget, SimRun

Fleet = dict[Component, int]
#: simulate a fixed fleet, optionally with a miss budget (None: the full run)
RunFleet = Callable[[Fleet, MissBudget | None], SimRun]
#: SLA attainment (both targets) of a finished run
Score = Callable[[SimRun], float]


@dataclass(frozen=True)
class StaticResult:
    """The fleet found, its full run, and whether it met the goal."""

    fleet: Fleet
    run: SimRun
    reached_goal: bool
    #: every candidate simulated, in order: the fleet, its attainment (None when its run
    #: was stopped by the miss budget) and where it stopped (s)
    tried: tuple[dict[str, Any], ...]


@dataclass
class StaticSearch:
    run_fleet: RunFleet
    score: Score
    components: tuple[Component, ...]
    goal: float
    ttft_ms: float
    itl_ms: float
    requests: int
    max_doublings: int = 4
    max_replicas: int = 512
    _cache: dict[tuple[int, ...], tuple[bool, SimRun]] = field(default_factory=dict)
    _tried: list[dict[str, Any]] = field(default_factory=list)

    @property
    def budget(self) -> MissBudget:
        """The misses a run may have and still meet the goal."""
        allowed = math.floor((1.0 - self.goal) * self.requests + 1e-9)
        return MissBudget(ttft_ms=self.ttft_ms, itl_ms=self.itl_ms, misses=allowed)

    def passes(self, fleet: Mapping[Component, int]) -> bool:
        """Whether ``fleet`` meets the goal (simulated once, stopped when it cannot)."""
        key = tuple(int(fleet[c]) for c in self.components)
        if key not in self._cache:
            run = self.run_fleet(dict(fleet), self.budget)
            both = None if run.aborted else self.score(run)
            ok = both is not None and both >= self.goal
            self._cache[key] = (ok, run)
            self._tried.append(
                {c.value: int(fleet[c]) for c in self.components}
                | {"both": both, "stopped_at_s": run.extra.get("aborted_at_s")}
            )
        return self._cache[key][0]

    def _run_of(self, fleet: Mapping[Component, int]) -> SimRun:
        return self._cache[tuple(int(fleet[c]) for c in self.components)][1]

    def search(self, start: Mapping[Component, int]) -> StaticResult:
        """The smallest passing fleet from ``start`` (see the module docstring)."""
        hi: Fleet = {c: max(1, int(start.get(c, 1))) for c in self.components}
        doublings = 0
        while not self.passes(hi):
            top = max(hi.values())
            if doublings >= self.max_doublings or top >= self.max_replicas:
                # nothing tried met the goal: report the largest fleet's full run
                run = self.run_fleet(dict(hi), None)
                return StaticResult(dict(hi), run, False, tuple(self._tried))
            hi = {c: min(self.max_replicas, 2 * n) for c, n in hi.items()}
            doublings += 1
        best = dict(hi)
        for comp in self.components:
            lo, top = 1, best[comp]
            while lo < top:
                mid = (lo + top) // 2
                if self.passes({**best, comp: mid}):
                    top = mid
                else:
                    lo = mid + 1
            best[comp] = top
        while not self.passes(best):
            comp = min(self.components, key=lambda c: best[c])
            best[comp] += 1
        return StaticResult(dict(best), self._run_of(best), True, tuple(self._tried))
