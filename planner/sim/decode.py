"""Decode workers: continuous batching, stepped in short ticks with analytic completions.

Per tick [t0, t1) (``step_s`` long, default 0.2 s):

1. prompts whose prefill finished before t1 join the decode queue (FIFO; in agg mode
   each worker has its own queue, since the KV cache is local);
2. admission: a request is admitted to the ready, non-draining worker with the fewest
   reserved KV tokens whose reservation + ISL + OSL fits ``max_kv_tokens`` (the final
   context is reserved, so nothing is ever preempted; vLLM admits more eagerly and
   preempts instead) and, with an engine cap ``max_num_seqs``, that runs fewer than
   that many sequences. Admission time = max(prefill done, t0); its first token is
   emitted then (TTFT ends), so a full KV cache or a full batch shows up as TTFT;
3. progress: each worker's ITL comes from the true profile at its physical KV usage
   (sum of ISL + generated tokens / max_kv_tokens) and mean context, held for the tick;
   a request admitted at ta makes (t1 - ta) / ITL steps. A request is done after OSL - 1
   steps; its finish time is interpolated inside the tick. In agg mode the worker's
   prefill batches take the GPU first: decode only advances in the rest of the tick.

Freed KV becomes available at the next tick, so under a full cache admission lags by
at most one tick. Mean ITL of a request = (finish - first token) / (OSL - 1).
"""

from __future__ import annotations

import heapq
from collections import deque

import numpy as np
from numpy.typing import NDArray

from planner.core.types import Component
from planner.sim.counters import Counters
from planner.sim.fleet import Fleet, Worker
from planner.sim.prefill import Batch, PrefillPool
from planner.sim.requests import RequestTable
from planner.sim.truth import TruePerf

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class DecodePool:
    def __init__(
        self,
        *,
        truth: TruePerf,
        table: RequestTable,
        fleet: Fleet,
        prefill: PrefillPool,
        counters: Counters,
        component: Component,
        agg: bool,
        max_num_seqs: int | None = None,
    ) -> None:
        self.truth, self.table, self.fleet, self.prefill = truth, table, fleet, prefill
        self.counters = counters
        self.component = component
        self.agg = agg
        self.cap = truth.max_kv_tokens
        #: most sequences one worker runs at once (the engine's max_num_seqs; no cap:
        #: larger than any table)
        self.max_seqs = max_num_seqs if max_num_seqs is not None else 1 << 62
        self.queue: deque[int] = deque()
        self.agg_queues: dict[int, deque[int]] = {}
        self.reserved: list[float] = []
        #: sequences running on each worker (admitted, not finished)
        self.running: list[int] = []
        self.last_finish: list[float] = []
        self.kv_usage: list[float] = []
        self.draining: list[Worker] = []
        self.a_req: IntArray = np.empty(0, np.int64)
        self.a_w: IntArray = np.empty(0, np.int64)
        self.a_isl: FloatArray = np.empty(0)
        self.a_need: FloatArray = np.empty(0)
        self.a_gen: FloatArray = np.empty(0)
        self.a_start: FloatArray = np.empty(0)
        self._busy: list[Batch] = []

    # ---------------------------------------------------------------- workers
    def _ensure(self, wid: int) -> None:
        while len(self.reserved) <= wid:
            self.reserved.append(0.0)
            self.running.append(0)
            self.last_finish.append(0.0)
            self.kv_usage.append(0.0)

    def add_worker(self, w: Worker) -> None:
        self._ensure(w.wid)
        if self.agg:
            self.agg_queues[w.wid] = deque()

    def load(self, w: Worker) -> float:
        self._ensure(w.wid)
        return self.reserved[w.wid]

    def drain(self, w: Worker) -> None:
        self.draining.append(w)

    @property
    def waiting(self) -> int:
        return len(self.queue) + sum(len(q) for q in self.agg_queues.values())

    @property
    def active(self) -> int:
        return len(self.a_req)

    # ---------------------------------------------------------------- ticks
    def tick(self, t0: float, t1: float) -> None:
        self._collect(t1)
        self._admit(t0, t1)
        if len(self.a_req):
            self._progress(t0, t1)
        if self.draining:
            self._release_drained(t1)

    def _collect(self, t1: float) -> None:
        fin = self.prefill.finished
        while fin and fin[0][0] < t1:
            b = heapq.heappop(fin)[2]
            target = self.agg_queues[b.wid] if self.agg else self.queue
            target.extend(range(b.first, b.stop))

    def _admit(self, t0: float, t1: float) -> None:
        if not self.queue and not (self.agg and any(self.agg_queues.values())):
            return  # nothing waits for a decode slot
        tab = self.table
        done, isl, osl = tab.prefill_done_s, tab.isl, tab.osl
        reserved, cap = self.reserved, self.cap
        running, seqs = self.running, self.max_seqs
        adm_r: list[int] = []
        adm_w: list[int] = []
        adm_t: list[float] = []
        instant_r: list[int] = []
        instant_t: list[float] = []
        live = [w for w in self.fleet.workers if w.component is self.component and w.live]
        for w in live:
            self._ensure(w.wid)
        if self.agg:
            queues = [
                (self.agg_queues[w.wid], [w])
                for w in self.fleet.workers
                if w.component is self.component
                and w.released_s is None
                and self.agg_queues.get(w.wid)
            ]
        else:
            queues = [(self.queue, [w for w in live if w.ready_s < t1])] if self.queue else []
        for queue, cands in queues:
            eligible = [w.wid for w in cands if w.ready_s <= t0]
            late = sorted((w.ready_s, w.wid) for w in cands if t0 < w.ready_s < t1)
            while queue:
                rid = queue[0]
                td = float(done[rid])
                ta = td if td > t0 else t0
                o = osl[rid]
                need = isl[rid] + o
                best, best_load = -1, float("inf")
                for wid in eligible:
                    r = reserved[wid]
                    if r < best_load and (r + need <= cap or r == 0.0) and running[wid] < seqs:
                        best, best_load = wid, r
                if best < 0:
                    for rs, wid in late:
                        r = reserved[wid]
                        if (r + need <= cap or r == 0.0) and running[wid] < seqs:
                            best, ta = wid, max(ta, rs)
                            break
                    if best < 0:
                        break
                queue.popleft()
                if o <= 1:
                    instant_r.append(rid)
                    instant_t.append(ta)
                    continue
                reserved[best] += need
                running[best] += 1
                adm_r.append(rid)
                adm_w.append(best)
                adm_t.append(ta)
        if instant_r:
            self._first_tokens(instant_r, instant_t)
            ir = np.asarray(instant_r, np.int64)
            it = np.asarray(instant_t)
            tab.finish_s[ir] = it
            self.counters.finished(
                arrival=tab_arrival(tab, ir), first=it, finish=it, osl=np.ones(len(ir))
            )
        if adm_r:
            ar = np.asarray(adm_r, np.int64)
            at = np.asarray(adm_t)
            self._first_tokens(adm_r, adm_t)
            self.a_req = np.concatenate((self.a_req, ar))
            self.a_w = np.concatenate((self.a_w, np.asarray(adm_w, np.int64)))
            self.a_isl = np.concatenate((self.a_isl, np.asarray([isl[i] for i in adm_r], float)))
            self.a_need = np.concatenate(
                (self.a_need, np.asarray([osl[i] - 1 for i in adm_r], float))
            )
            self.a_gen = np.concatenate((self.a_gen, np.zeros(len(ar))))
            self.a_start = np.concatenate((self.a_start, at))

    def _first_tokens(self, rids: list[int], times: list[float]) -> None:
        tab = self.table
        r = np.asarray(rids, np.int64)
        t = np.asarray(times)
        tab.first_token_s[r] = t
        self.counters.first_tokens(ttft_s=t - tab_arrival(tab, r))

    def _agg_available(self, t0: float, t1: float, n: int) -> FloatArray:
        """Fraction of [t0, t1) each worker is not prefilling (agg mode)."""
        avail = np.ones(n)
        self._busy.extend(self.prefill.busy_log)
        self.prefill.busy_log.clear()
        keep: list[Batch] = []
        span = t1 - t0
        for b in self._busy:
            overlap = min(b.end_s, t1) - max(b.start_s, t0)
            if overlap > 0 and b.wid < n:
                avail[b.wid] -= overlap / span
            if b.end_s > t1:
                keep.append(b)
        self._busy = keep
        return np.maximum(avail, 0.02)

    def _progress(self, t0: float, t1: float) -> None:
        n = len(self.reserved)
        ctx = self.a_isl + self.a_gen
        kv_tok = np.bincount(self.a_w, weights=ctx, minlength=n)
        cnt = np.bincount(self.a_w, minlength=n)
        kv = kv_tok / self.cap
        mean_ctx = kv_tok / np.maximum(cnt, 1)
        itl = self._itl(kv, mean_ctx, cnt)
        self.kv_usage = kv.tolist()
        speed = 1.0 / itl
        if self.agg:
            speed = speed * self._agg_available(t0, t1, n)
        rate = speed[self.a_w]
        self.a_gen += (t1 - np.maximum(self.a_start, t0)) * rate
        fin = self.a_gen >= self.a_need
        if not fin.any():
            return
        over = (self.a_gen[fin] - self.a_need[fin]) / rate[fin]
        start = self.a_start[fin]
        finish = np.maximum(t1 - over, start)
        rids = self.a_req[fin]
        ws = self.a_w[fin]
        tab = self.table
        tab.finish_s[rids] = finish
        need = self.a_isl[fin] + self.a_need[fin] + 1.0
        freed = np.bincount(ws, weights=need, minlength=n)
        done = np.bincount(ws, minlength=n)
        last = np.zeros(n)
        np.maximum.at(last, ws, finish)
        for wid in np.flatnonzero(done):
            self.reserved[wid] = max(0.0, self.reserved[wid] - float(freed[wid]))
            self.running[wid] -= int(done[wid])
            self.last_finish[wid] = max(self.last_finish[wid], float(last[wid]))
        self.counters.finished(
            arrival=tab_arrival(tab, rids), first=start, finish=finish, osl=self.a_need[fin] + 1.0
        )
        keep = ~fin
        self.a_req, self.a_w = self.a_req[keep], self.a_w[keep]
        self.a_isl, self.a_need = self.a_isl[keep], self.a_need[keep]
        self.a_gen, self.a_start = self.a_gen[keep], self.a_start[keep]

    def _itl(self, kv: FloatArray, ctx: FloatArray, cnt: IntArray) -> FloatArray:
        """Each worker's ITL (s) for the tick; a worker running nothing gets 1 (unused).
        With few busy workers, one scalar lookup each (the same values as the vectorised
        one, at a fraction of its fixed cost per call)."""
        busy = np.flatnonzero(cnt)
        if len(busy) > 8:
            return self.truth.itl_s(kv, ctx)
        out = np.ones(len(kv))
        one = self.truth.itl_one_s
        for w in busy.tolist():
            out[w] = one(float(kv[w]), float(ctx[w]))
        return out

    def _release_drained(self, t1: float) -> None:
        busy = set(np.unique(self.a_w).tolist()) if len(self.a_w) else set()
        still: list[Worker] = []
        for w in self.draining:
            if w.wid in busy or (self.agg and self.agg_queues.get(w.wid)):
                still.append(w)
                continue
            if self.agg and self.prefill.drain_done_s(w, t1) > t1:
                still.append(w)
                continue
            self._ensure(w.wid)
            self.fleet.release(w, max(self.last_finish[w.wid], w.draining_since or t1))
        self.draining = still


def tab_arrival(tab: RequestTable, rids: IntArray) -> FloatArray:
    """Arrival times of ``rids`` (the table keeps arrivals as a list for the hot loops)."""
    return np.fromiter((tab.arrival_s[i] for i in rids.tolist()), float, len(rids))
