"""Prefill workers: one shared FIFO of prompts, served in batches, exactly (event by event).

Batching model: a free worker takes every prompt that has arrived (FIFO) up to
``max_batch_tokens`` (at least one prompt). A batch of k prompts with T tokens in all takes
max(T / (thpt_per_gpu(T / k) x GPUs), TTFT(longest ISL)) seconds; all its prompts finish
together. At batch size 1 this is the profile's TTFT(ISL) (the profile's throughput is
ISL / TTFT), and it never credits batching with more efficiency than the profile
measured, which keeps the model conservative. Workers are idle-first: an arriving prompt
goes to any idle ready worker at once, so batches only form under load.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from dataclasses import dataclass, field

from planner.sim.fleet import Fleet, Worker
from planner.sim.requests import RequestTable
from planner.sim.truth import TruePerf


@dataclass(slots=True)
class Batch:
    start_s: float
    end_s: float
    first: int
    stop: int
    wid: int


@dataclass
class PrefillPool:
    truth: TruePerf
    table: RequestTable
    fleet: Fleet
    max_batch_tokens: float
    #: next request not yet started
    next_req: int = 0
    #: (free_s, wid) of every worker in the pool
    _heap: list[tuple[float, int]] = field(default_factory=list)
    _free_s: dict[int, float] = field(default_factory=dict)
    #: batches started, by end time, not yet handed to decode
    finished: list[tuple[float, int, Batch]] = field(default_factory=list)
    #: batches started (agg mode reads them to share the GPU with decode)
    busy_log: list[Batch] = field(default_factory=list)
    keep_busy_log: bool = False
    busy_s: float = 0.0
    batches: int = 0

    def add_worker(self, w: Worker) -> None:
        self._free_s[w.wid] = w.ready_s
        heapq.heappush(self._heap, (w.ready_s, w.wid))

    def load(self, w: Worker) -> float:
        return self._free_s.get(w.wid, 0.0)

    def drain_done_s(self, w: Worker, now_s: float) -> float:
        """When a draining ``w`` finishes its prefill work (its batch is already timed)."""
        return max(self._free_s.get(w.wid, now_s), now_s)

    def queued_tokens(self, arrived: int) -> float:
        return (
            self.table.cum_isl[arrived] - self.table.cum_isl[self.next_req]
            if arrived > self.next_req
            else 0.0
        )

    def advance_to(self, t_s: float) -> None:
        """Start every batch that begins by ``t_s`` (draining workers take no more)."""
        tab, heap, workers = self.table, self._heap, self.fleet.workers
        arrival, cum, isl = tab.arrival_s, tab.cum_isl, tab.isl
        done = tab.prefill_done_s
        n = len(tab)
        q = self.next_req
        cap = self.max_batch_tokens
        while heap:
            free_s, wid = heap[0]
            w = workers[wid]
            if w.draining_since is not None or w.released_s is not None:
                heapq.heappop(heap)
                continue
            if q >= n:
                break
            a = arrival[q]
            start = free_s if free_s > a else a
            if start > t_s:
                break
            j = bisect_right(arrival, start, q, n)
            limit = cum[q] + cap
            if cum[j] > limit:
                j = max(q + 1, bisect_right(cum, limit, q, j + 1) - 1)
            k = j - q
            total = cum[j] - cum[q]
            longest = isl[q] if k == 1 else max(isl[q:j])
            dur = self.truth.prefill_batch_s(
                total_tokens=total, count=k, max_isl=longest, gpus=w.gpus
            )
            end = start + dur
            done[q:j] = end
            b = Batch(start, end, q, j, wid)
            heapq.heappush(self.finished, (end, q, b))
            if self.keep_busy_log:
                self.busy_log.append(b)
            self.busy_s += dur * w.gpus
            self.batches += 1
            self._free_s[wid] = end
            heapq.heapreplace(heap, (end, wid))
            q = j
        self.next_req = q
