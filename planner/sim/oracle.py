"""The oracle: perfect foresight, instant start, the fewest replicas each interval that
meet the targets, found by simulating candidate fleets (a search, not a model).

At each decision time t the oracle holds a mirror of the simulated cluster (the run is
deterministic, so the mirror evolves exactly as the runner's cluster does). For a
candidate fleet it clones the mirror, keeps only the requests arriving before
t + interval (later load is the next interval's business), applies the fleet at once
(start-up 0) and simulates until every request that arrives in [t, t + interval) has
finished. The candidate passes if at least ``goal`` of those requests meet both
targets (per-interval criterion; a run whose every interval passes is at the goal
overall, up to the interaction between consecutive intervals' fleets, which the
reported attainment shows). The chosen fleet is the one with the fewest prefill
workers, then the fewest decode workers, that passes: search from a generous fleet
(double the last choice, grown until it passes), then a binary search per component
with the other held at its generous (or already minimised) count. Prefill and decode
are nearly independent in disaggregated serving, so this needs about
1 + log2(2 P) + log2(2 D) simulated intervals per decision.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping

import numpy as np

from planner.errors import ConfigError
from planner.sim.cluster import Cluster, ClusterConfig
from planner.sim.snapshot import ClusterSnapshot
from planner.sim.truth import TruePerf
from planner.trace import RequestTrace
from planner.types import Component, Observation

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
        self.mirror = Cluster(truth, cluster_config, initial=initial)
        self.mirror.submit(trace.arrival_s, trace.isl_tokens, trace.osl_tokens)
        self.choice: Fleet = {c: max(min_replicas, int(initial.get(c, 1))) for c in self.components}
        #: simulated candidate intervals, in all (the search's cost)
        self.evaluations = 0

    # ------------------------------------------------------------------ controller
    def decide(self, obs: Observation, snap: ClusterSnapshot, *, now_s: float) -> Fleet:
        self.mirror.advance_to(now_s)
        mine = self.mirror.snapshot()
        if (mine.requests_finished, mine.desired_replicas) != (
            snap.requests_finished,
            snap.desired_replicas,
        ):
            raise ConfigError(
                "oracle.initial",
                dict(snap.desired_replicas),
                "the same initial fleet and cluster config as the simulated run",
            )
        self.choice = self.search(now_s)
        self.mirror.set_targets(self.choice, now_s=now_s)
        return dict(self.choice)

    # ------------------------------------------------------------------ search
    def search(self, now_s: float, *, window_s: float | None = None) -> Fleet:
        """The fewest replicas (prefill first) meeting the goal for the requests arriving
        in [now, now + window) (window: one interval by default)."""
        cache: dict[tuple[int, ...], bool] = {}
        span = self.interval_s if window_s is None else window_s

        def ok(fleet: Fleet) -> bool:
            key = tuple(fleet[c] for c in self.components)
            if key not in cache:
                cache[key] = self.attainment(fleet, now_s=now_s, window_s=span) >= self.goal
            return cache[key]

        top = self.max_replicas
        best = {c: min(top, max(2 * n, n + 2)) for c, n in self.choice.items()}
        while not ok(best):
            if all(n >= top for n in best.values()):
                return best  # nothing within max_replicas meets the goal: hold the most
            best = {c: min(top, 2 * n) for c, n in best.items()}
        for comp in self.components:
            lo, hi = self.min_replicas, best[comp]
            while lo < hi:
                mid = (lo + hi) // 2
                if ok({**best, comp: mid}):
                    hi = mid
                else:
                    lo = mid + 1
            best[comp] = hi  # passes: hi is the generous start or a mid that passed
        return best

    def attainment(
        self, fleet: Mapping[Component, int], *, now_s: float, window_s: float | None = None
    ) -> float:
        """Share of the requests arriving in [now, now + window) that meet both targets
        when ``fleet`` is applied at ``now_s`` with instant start (window: one interval)."""
        end_s = now_s + (self.interval_s if window_s is None else window_s)
        arrivals = self.mirror.table.arrival_s
        n = len(self.mirror.table)
        lo, hi = bisect_left(arrivals, now_s, 0, n), bisect_left(arrivals, end_s, 0, n)
        if hi <= lo:
            return 1.0
        self.evaluations += 1
        c = self.mirror.clone(requests_before_s=end_s)
        c.set_targets(dict(fleet), now_s=now_s)
        tab = c.table
        arr = np.asarray(arrivals[lo:hi])
        osl = np.asarray(tab.osl[lo:hi], dtype=np.float64)
        allowed = (1.0 - self.goal) * (hi - lo)
        t = now_s
        stop = end_s + self.tail_limit_s
        while t < stop:
            t = min(t + self.interval_s / 4.0, stop)
            c.advance_to(t)
            first = tab.first_token_s[lo:hi]
            # requests that cannot meet TTFT any more: stop early when too many
            late = np.where(np.isnan(first), t - arr, first - arr) > self.ttft_s
            if late.sum() > allowed:
                return 1.0 - float(late.sum()) / (hi - lo)
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
        return float(good.mean())
