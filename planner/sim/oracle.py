"""The oracle: perfect foresight, instant start, the fewest replicas each interval that
meet the targets, found by simulating candidate fleets (a search, not a model).

At each decision time t the oracle holds a mirror of the simulated cluster (the run is
deterministic, so the mirror evolves exactly as the runner's cluster does). For a
candidate fleet it clones the mirror, keeps only the requests arriving before
t + interval (later load is the next interval's business), applies the fleet at once
(start-up 0) and simulates until every request that arrives in [t, t + interval) has
finished, counting those that miss a target.

Criterion (a miss budget, so that the whole run reaches the goal): the run from the first
decision to the end of this interval may miss (1 - goal) of its requests; the interval
may use whatever the earlier intervals left of that budget, and at least its own share
(1 - goal) x its requests. So quiet intervals bank slack and a hard interval (a burst, a
heavy-tailed request) spends it, as a fleet meeting 99% overall may; a strict 99% in
every interval cost 2x the GPU-hours of a policy reaching 95% overall on ServeGen.
The chosen fleet has the fewest prefill workers, then the fewest decode workers, that
pass: from the last choice if it passes (else from a generous fleet, doubled until it
passes), a binary search per component with the other held. Prefill and decode are
nearly independent in disaggregated serving, so a decision costs a few simulated
intervals.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping

import numpy as np

from planner.core.types import Component, Observation
from planner.errors import ConfigError
from planner.sim.cluster import Cluster, ClusterConfig
from planner.sim.snapshot import ClusterSnapshot
from planner.sim.truth import TruePerf
from planner.workload.trace import RequestTrace

Fleet = dict[Component, int]


class SearchOracle:
    """Controller: each interval, the fewest replicas whose interval meets the goal."""

    name = "oracle"

    def __init__(
        self,
        trace: RequestTrace,
        *,
        truth: TruePerf,
        cluster_config: ClusterConfig,
        initial: Mapping[Component, int],
        interval_s: float,
        ttft_ms: float,
        itl_ms: float,
        goal: float = 0.99,
        min_replicas: int = 1,
        max_replicas: int = 256,
        tail_limit_s: float = 900.0,
    ) -> None:
        if cluster_config.startup_s != 0:
            raise ConfigError("oracle.startup_s", cluster_config.startup_s, "0 (instant start)")
        self.interval_s = interval_s
        self.ttft_s = ttft_ms / 1000.0
        self.itl_s = itl_ms / 1000.0
        self.goal = goal
        self.min_replicas = min_replicas
        self.max_replicas = max_replicas
        self.tail_limit_s = tail_limit_s
        self.components = cluster_config.components
        self._trace, self._truth, self._config = trace, truth, cluster_config
        self._initial = dict(initial)
        self._mirror: Cluster | None = None
        #: the mirror is the simulated run's own cluster (``attach``), not a copy
        self._attached = False
        self.choice: Fleet = {c: max(min_replicas, int(initial.get(c, 1))) for c in self.components}
        #: simulated candidate intervals, in all (the search's cost)
        self.evaluations = 0
        #: misses of the chosen fleets so far (as simulated when chosen), and the first
        #: decision's time (requests before it were served by the initial fleet)
        self.missed = 0
        self.last_misses = 0
        self._first_s: float = float("inf")

    @property
    def mirror(self) -> Cluster:
        """The cluster the candidates are cloned from: the run's own (``attach``), else a
        copy built from the trace that is advanced along with the run."""
        if self._mirror is None:
            self._mirror = Cluster(self._truth, self._config, initial=self._initial)
            self._mirror.submit(
                self._trace.arrival_s, self._trace.isl_tokens, self._trace.osl_tokens
            )
        return self._mirror

    def attach(self, cluster: Cluster) -> None:
        """Clone candidates from the simulated run's ``cluster`` itself (the runner calls
        this before the first decision): the same state as a mirror, without simulating
        the run twice."""
        if cluster.config.startup_s != 0:
            raise ConfigError("oracle.cluster.startup_s", cluster.config.startup_s, "0")
        self._mirror, self._attached = cluster, True

    # ------------------------------------------------------------------ controller
    def decide(self, obs: Observation, snap: ClusterSnapshot, *, now_s: float) -> Fleet:
        self._first_s = min(self._first_s, now_s)
        self.mirror.advance_to(now_s)
        mine = snap if self._attached else self.mirror.snapshot()
        if (mine.requests_finished, mine.desired_replicas) != (
            snap.requests_finished,
            snap.desired_replicas,
        ):
            raise ConfigError(
                "oracle.initial",
                dict(snap.desired_replicas),
                "the same initial fleet and cluster config as the simulated run",
            )
        # cumulative miss budget: the run so far (up to this interval's end) may miss
        # (1 - goal) of its requests; an interval gets what earlier ones left over, and
        # at least its own share
        own = (1.0 - self.goal) * self._count(now_s, now_s + self.interval_s)
        seen = self._count(0.0, now_s + self.interval_s) - self._count(0.0, self._first_s)
        allowed = max(own, (1.0 - self.goal) * seen - self.missed)
        self.choice = self.search(now_s, allowed=allowed)
        self.missed += self.last_misses
        if not self._attached:  # an attached cluster gets the targets from the runner
            self.mirror.set_targets(self.choice, now_s=now_s)
        return dict(self.choice)

    # ------------------------------------------------------------------ search
    def search(
        self, now_s: float, *, window_s: float | None = None, allowed: float | None = None
    ) -> Fleet:
        """The fewest replicas (prefill first) under which at most ``allowed`` of the
        requests arriving in [now, now + window) miss a target (window: one interval;
        allowed: (1 - goal) x those requests)."""
        span = self.interval_s if window_s is None else window_s
        n = self._count(now_s, now_s + span)
        budget = (1.0 - self.goal) * n if allowed is None else allowed
        cache: dict[tuple[int, ...], int] = {}

        def ok(fleet: Fleet) -> bool:
            key = tuple(fleet[c] for c in self.components)
            if key not in cache:
                cache[key] = self.misses(fleet, now_s=now_s, window_s=span, allowed=budget)
            return cache[key] <= budget

        top = self.max_replicas
        best = dict(self.choice)
        if not ok(best):
            best = {c: min(top, max(2 * k, k + 2)) for c, k in self.choice.items()}
            while not ok(best):
                if all(k >= top for k in best.values()):
                    self.last_misses = cache[tuple(best[c] for c in self.components)]
                    return best  # nothing within max_replicas meets the goal: the most
                best = {c: min(top, 2 * k) for c, k in best.items()}
        for comp in self.components:
            lo, hi = self.min_replicas, best[comp]
            while lo < hi:
                mid = (lo + hi) // 2
                if ok({**best, comp: mid}):
                    hi = mid
                else:
                    lo = mid + 1
            best[comp] = hi  # passes: hi is the start (which passed) or a mid that passed
        self.last_misses = cache[tuple(best[c] for c in self.components)]
        return best

    def _count(self, start_s: float, end_s: float) -> int:
        arrivals, n = self.mirror.table.arrival_s, len(self.mirror.table)
        return bisect_left(arrivals, end_s, 0, n) - bisect_left(arrivals, start_s, 0, n)

    def attainment(
        self, fleet: Mapping[Component, int], *, now_s: float, window_s: float | None = None
    ) -> float:
        """Share of the requests arriving in [now, now + window) that meet both targets
        when ``fleet`` is applied at ``now_s`` with instant start (window: one interval)."""
        span = self.interval_s if window_s is None else window_s
        n = self._count(now_s, now_s + span)
        if n == 0:
            return 1.0
        return 1.0 - self.misses(fleet, now_s=now_s, window_s=span, allowed=float(n)) / n

    def misses(
        self,
        fleet: Mapping[Component, int],
        *,
        now_s: float,
        window_s: float | None = None,
        allowed: float,
    ) -> int:
        """How many of the requests arriving in [now, now + window) miss a target under
        ``fleet`` (instant start); once more than ``allowed`` certainly miss TTFT the
        simulation stops and returns that count (enough to reject the fleet)."""
        end_s = now_s + (self.interval_s if window_s is None else window_s)
        arrivals = self.mirror.table.arrival_s
        n = len(self.mirror.table)
        lo, hi = bisect_left(arrivals, now_s, 0, n), bisect_left(arrivals, end_s, 0, n)
        if hi <= lo:
            return 0
        self.evaluations += 1
        c = self.mirror.clone(requests_before_s=end_s)
        c.set_targets(dict(fleet), now_s=now_s)
        tab = c.table
        arr = np.asarray(arrivals[lo:hi])
        osl = np.asarray(tab.osl[lo:hi], dtype=np.float64)
        t = now_s
        stop = end_s + self.tail_limit_s
        while t < stop:
            t = min(t + self.interval_s / 4.0, stop)
            c.advance_to(t)
            first = tab.first_token_s[lo:hi]
            # requests that cannot meet TTFT any more: stop early when too many
            late = np.where(np.isnan(first), t - arr, first - arr) > self.ttft_s
            if late.sum() > allowed:
                return int(late.sum())
            if not np.isnan(tab.finish_s[lo:hi]).any():
                break
        first, finish = tab.first_token_s[lo:hi], tab.finish_s[lo:hi]
        gaps = osl - 1.0
        with np.errstate(invalid="ignore", divide="ignore"):
            itl = np.where(gaps > 0, (finish - first) / gaps, 0.0)
        ttft = first - arr
        good = (np.nan_to_num(ttft, nan=np.inf) <= self.ttft_s) & (
            np.nan_to_num(np.where(np.isnan(finish), np.nan, itl), nan=np.inf) <= self.itl_s
        )
        return int((~good).sum())
