"""The simulated inference graph, driven incrementally and independent of any clock.

    cluster = Cluster(truth, ClusterConfig(mode="disagg", startup_s=180),
                      initial={Component.PREFILL: 2, Component.DECODE: 1})
    cluster.submit(arrival_s, isl, osl)      # sorted, not before the current time
    cluster.advance_to(60.0)                 # simulate up to t = 60 s
    snap = cluster.snapshot()                # counters, gauges, replicas, GPU-seconds
    cluster.set_targets({Component.PREFILL: 3}, now_s=60.0)

The offline simulator drives it with simulated time; an emulated graph can drive it
with wall-clock time. Prefill is exact (event per batch, see prefill.py); decode is
stepped in ticks of ``decode_step_s`` (see decode.py); each ``advance_to`` starts its
ticks at the current time, so slices that are whole multiples of the tick reproduce one
long advance, and other slices shorten one tick each (finishes move by < ~one tick;
tests/unit/test_sim_cluster.py). Initial workers are ready at the start time (a warm
fleet); workers added later become ready after ``startup_s``.
"""

from __future__ import annotations

import copy
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from planner.core.types import Component
from planner.errors import ConfigError
from planner.sim.counters import (
    DURATION_BUCKETS_S,
    ITL_BUCKETS_S,
    TOKEN_BUCKETS,
    TTFT_BUCKETS_S,
    Counters,
    cumulative,
    token_histogram,
)
from planner.sim.decode import DecodePool
from planner.sim.fleet import Fleet
from planner.sim.prefill import PrefillPool
from planner.sim.requests import RequestTable
from planner.sim.snapshot import ClusterSnapshot
from planner.sim.truth import TruePerf


@dataclass(frozen=True)
class ClusterConfig:
    mode: str = "disagg"
    startup_s: float = 180.0
    gpus_per_worker: Mapping[Component, int] = field(
        default_factory=lambda: {Component.PREFILL: 1, Component.DECODE: 1, Component.AGG: 1}
    )
    #: most prompt tokens a prefill worker batches together (the engine's
    #: max_num_batched_tokens; a longer prompt still runs, alone)
    max_batch_tokens: float = 16384.0
    #: most sequences a decode (or agg) worker runs at once (the engine's max_num_seqs);
    #: None: only the KV cache bounds them
    max_num_seqs: int | None = None
    #: decode tick length (s)
    decode_step_s: float = 0.2
    start_s: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in ("disagg", "agg"):
            raise ConfigError("mode", self.mode, "disagg or agg")
        if self.startup_s < 0:
            raise ConfigError("startup_s", self.startup_s, ">= 0")
        if not 0 < self.decode_step_s <= 10:
            raise ConfigError("decode_step_s", self.decode_step_s, "in (0, 10] seconds")
        if self.max_batch_tokens < 1:
            raise ConfigError("max_batch_tokens", self.max_batch_tokens, ">= 1")
        if self.max_num_seqs is not None and self.max_num_seqs < 1:
            raise ConfigError("max_num_seqs", self.max_num_seqs, ">= 1 or None (no cap)")

    @property
    def components(self) -> tuple[Component, ...]:
        return (Component.AGG,) if self.mode == "agg" else (Component.PREFILL, Component.DECODE)


class Cluster:
    """Prefill and decode (or aggregated) workers serving submitted requests."""

    def __init__(
        self,
        truth: TruePerf,
        config: ClusterConfig | None = None,
        *,
        initial: Mapping[Component, int] | None = None,
    ) -> None:
        self.config = cfg = config or ClusterConfig()
        self.truth = truth
        self.now_s = cfg.start_s
        self.table = RequestTable()
        self.counters = Counters()
        #: ISL histogram of the first ``_isl_counted`` requests (advanced by snapshot())
        self._isl_hist = np.zeros(len(TOKEN_BUCKETS) + 1)
        self._isl_counted = 0
        comps = cfg.components
        self.fleet = Fleet(
            gpus_per_worker={c: int(cfg.gpus_per_worker.get(c, 1)) for c in comps},
            startup_s=cfg.startup_s,
        )
        agg = cfg.mode == "agg"
        self.prefill_component = Component.AGG if agg else Component.PREFILL
        self.decode_component = Component.AGG if agg else Component.DECODE
        self.prefill = PrefillPool(
            truth=truth,
            table=self.table,
            fleet=self.fleet,
            max_batch_tokens=cfg.max_batch_tokens,
            keep_busy_log=agg,
        )
        self.decode = DecodePool(
            truth=truth,
            table=self.table,
            fleet=self.fleet,
            prefill=self.prefill,
            counters=self.counters,
            component=self.decode_component,
            agg=agg,
            max_num_seqs=cfg.max_num_seqs,
        )
        for c in comps:
            n = int((initial or {}).get(c, 1))
            if n < 0:
                raise ConfigError(f"initial.{c.value}", n, ">= 0")
            for _ in range(n):
                self._add(c, ready_s=self.now_s)

    # ------------------------------------------------------------------ API
    def submit(
        self, arrival_s: NDArray[np.float64], isl: NDArray[np.int64], osl: NDArray[np.int64]
    ) -> range:
        """Add requests (sorted by arrival, none before the current time); their ids."""
        return self.table.add(arrival_s, isl, osl, not_before_s=self.now_s)

    def advance_to(self, t_s: float) -> None:
        """Simulate up to ``t_s`` (no-op if ``t_s`` is not after the current time)."""
        step = self.config.decode_step_s
        while self.now_s < t_s:
            t1 = min(self.now_s + step, t_s)
            self.prefill.advance_to(t1)
            self.decode.tick(self.now_s, t1)
            self.now_s = t1

    def set_targets(self, targets: Mapping[Component, int], *, now_s: float) -> None:
        """Ask for ``targets`` replicas from ``now_s`` (advances the cluster to ``now_s``)."""
        self.advance_to(now_s)
        now = self.now_s
        for comp, n in targets.items():
            if comp not in self.config.components:
                raise ConfigError("targets", comp.value, f"one of {self.config.components}")
            if n < 0:
                raise ConfigError(f"targets.{comp.value}", n, ">= 0")
            have = self.fleet.desired(comp)
            if n == have:
                continue
            self.fleet.scale_events[comp] += 1
            if n > have:
                for _ in range(n - have):
                    self._add(comp, ready_s=None)
                continue
            cancel, drain = self.fleet.plan_removal(comp, have - n, now_s=now, load=self._load)
            for w in cancel:
                w.draining_since = now
                self.fleet.release(w, now)
            for w in drain:
                w.draining_since = now
                if comp is Component.PREFILL:
                    self.fleet.release(w, self.prefill.drain_done_s(w, now))
                else:
                    self.decode.drain(w)

    def certain_misses(self) -> int:
        """Requests that can no longer meet the targets given to
        ``counters.track_misses``: those counted at first token or finish, plus the
        prompts still queued for prefill that have waited longer than the TTFT target."""
        cnt, tab = self.counters, self.table
        if cnt.ttft_target_s is None:
            raise ConfigError("counters.ttft_target_s", None, "targets set by track_misses()")
        late = bisect_right(tab.arrival_s, self.now_s - cnt.ttft_target_s, 0, len(tab))
        return cnt.misses + max(0, late - self.prefill.next_req)

    def snapshot(self) -> ClusterSnapshot:
        now = self.now_s
        tab, cnt, fleet = self.table, self.counters, self.fleet
        arrived = bisect_right(tab.arrival_s, now, 0, len(tab))
        comps = self.config.components
        ready_decode = [
            w.wid
            for w in fleet.workers
            if w.component is self.decode_component and w.live and w.ready_s <= now
        ]
        if arrived > self._isl_counted:
            new = np.asarray(tab.isl[self._isl_counted : arrived], dtype=np.float64)
            self._isl_hist += token_histogram(new)
            self._isl_counted = arrived
        kv = self.decode.kv_usage
        kv_mean = (
            float(np.mean([kv[i] if i < len(kv) else 0.0 for i in ready_decode]))
            if ready_decode
            else 0.0
        )
        return ClusterSnapshot(
            time_s=now,
            requests_total=arrived,
            isl_sum=tab.cum_isl[arrived],
            requests_finished=cnt.finished_count,
            osl_sum=cnt.osl_sum,
            ttft_sum_s=cnt.ttft_sum_s,
            ttft_count=cnt.ttft_count,
            itl_sum_s=cnt.itl_sum_s,
            itl_count=cnt.itl_count,
            duration_sum_s=cnt.duration_sum_s,
            ttft_buckets=cumulative(TTFT_BUCKETS_S, cnt.ttft_hist),
            itl_buckets=cumulative(ITL_BUCKETS_S, cnt.itl_hist),
            duration_buckets=cumulative(DURATION_BUCKETS_S, cnt.duration_hist),
            desired_replicas={c: fleet.desired(c) for c in comps},
            ready_replicas={c: fleet.ready(c, now) for c in comps},
            draining_replicas={
                c: sum(
                    1
                    for w in fleet.workers
                    if w.component is c
                    and w.draining_since is not None
                    and (w.released_s is None or w.released_s > now)
                )
                for c in comps
            },
            queued_prefill_tokens=self.prefill.queued_tokens(arrived),
            queued_prefill_requests=max(0, arrived - self.prefill.next_req),
            decode_waiting=self.decode.waiting,
            decode_active=self.decode.active,
            kv_usage=kv_mean,
            gpu_seconds={c: fleet.gpu_seconds(c, now) for c in comps},
            prefill_busy_gpu_s=self.prefill.busy_s,
            gpus_held=fleet.gpus_held(now),
            isl_buckets=cumulative(TOKEN_BUCKETS, self._isl_hist),
            osl_buckets=cumulative(TOKEN_BUCKETS, cnt.osl_hist),
            gpus_per_worker={c: fleet.gpus_per_worker[c] for c in comps},
        )

    def clone(self, *, requests_before_s: float | None = None) -> Cluster:
        """An independent copy of the cluster in its current state (workers, queues,
        in-flight requests, counters) for what-if runs; the true performance tables are
        shared (read-only). With ``requests_before_s`` the copy keeps only the submitted
        requests that arrive before that time (at least those already arrived), so a
        what-if run is not charged with load after it. Requests dropped that way must
        not have been started: the copy only keeps requests up to ``now_s`` or later."""
        tab = self.table
        limit = None
        if requests_before_s is not None:
            limit = max(
                bisect_left(tab.arrival_s, requests_before_s, 0, len(tab)),
                bisect_right(tab.arrival_s, self.now_s, 0, len(tab)),
                self.prefill.next_req,
            )
        memo: dict[int, object] = {id(self.truth): self.truth, id(tab): tab.clone(limit=limit)}
        return copy.deepcopy(self, memo)

    def outcomes(self) -> dict[str, NDArray[np.float64]]:
        """Per-request arrays: arrival_s, isl, osl, prefill_done_s, first_token_s, finish_s."""
        return self.table.outcomes()

    # ------------------------------------------------------------------ internals
    def _add(self, comp: Component, *, ready_s: float | None) -> None:
        w = self.fleet.add(comp, now_s=self.now_s, ready_s=ready_s)
        if comp is self.prefill_component:
            self.prefill.add_worker(w)
        if comp is self.decode_component:
            self.decode.add_worker(w)

    def _load(self, w: object) -> float:
        from planner.sim.fleet import Worker

        assert isinstance(w, Worker)
        if w.component is Component.PREFILL:
            return self.prefill.load(w)
        return self.decode.load(w)
