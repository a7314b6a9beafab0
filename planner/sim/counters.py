"""Cumulative serving counters (sums, counts, histogram buckets), as a frontend exports them.

Names follow Dynamo's frontend metrics: TTFT is observed when a request's first token is
emitted; request duration, OSL and ITL when it finishes. ITL is kept per token gap as
Prometheus would see it (sum of gaps, number of gaps); its histogram observes each
request's mean gap with weight OSL - 1 (the simulator does not time individual tokens).
Input and output lengths get histograms too (ISL at arrival, counted by the cluster's
snapshot; OSL at finish), so every frontend histogram has real buckets.

With SLO targets set (``track_misses``) it also counts the requests that certainly
missed one: a first token later than the TTFT target (counted when it is emitted), or,
for a request whose first token was on time, a mean gap above the ITL target (counted
at its finish). The count only grows, so a run may be stopped once it passes a budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

#: bucket upper bounds (s); +Inf is implied
TTFT_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
ITL_BUCKETS_S = (0.002, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0)
DURATION_BUCKETS_S = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
#: ISL and OSL bucket upper bounds (tokens)
TOKEN_BUCKETS = (16, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 131072)


def _hist(edges: tuple[float, ...]) -> FloatArray:
    return np.zeros(len(edges) + 1)


# the edges as arrays, converted once (searchsorted on a tuple converts it on every call)
_TTFT_EDGES = np.asarray(TTFT_BUCKETS_S)
_ITL_EDGES = np.asarray(ITL_BUCKETS_S)
_DURATION_EDGES = np.asarray(DURATION_BUCKETS_S)
_TOKEN_EDGES = np.asarray(TOKEN_BUCKETS, dtype=np.float64)


@dataclass
class Counters:
    ttft_sum_s: float = 0.0
    ttft_count: int = 0
    finished_count: int = 0
    osl_sum: float = 0.0
    duration_sum_s: float = 0.0
    itl_sum_s: float = 0.0
    itl_count: float = 0.0
    ttft_hist: FloatArray = field(default_factory=lambda: _hist(TTFT_BUCKETS_S))
    itl_hist: FloatArray = field(default_factory=lambda: _hist(ITL_BUCKETS_S))
    duration_hist: FloatArray = field(default_factory=lambda: _hist(DURATION_BUCKETS_S))
    osl_hist: FloatArray = field(default_factory=lambda: _hist(TOKEN_BUCKETS))
    #: SLO targets (s) for counting certain misses; None: not counted
    ttft_target_s: float | None = None
    itl_target_s: float | None = None
    #: requests whose first token came after the TTFT target
    ttft_misses: int = 0
    #: requests with an on-time first token whose mean gap exceeded the ITL target
    itl_only_misses: int = 0

    def track_misses(self, *, ttft_target_s: float, itl_target_s: float) -> None:
        """Count certain misses from now on (see the module docstring)."""
        self.ttft_target_s, self.itl_target_s = ttft_target_s, itl_target_s

    @property
    def misses(self) -> int:
        """Requests that missed a target, as far as their outcome is known."""
        return self.ttft_misses + self.itl_only_misses

    def first_tokens(self, *, ttft_s: FloatArray) -> None:
        if self.ttft_target_s is not None:
            self.ttft_misses += int(np.count_nonzero(ttft_s > self.ttft_target_s))
        self.ttft_sum_s += float(ttft_s.sum())
        self.ttft_count += len(ttft_s)
        self.ttft_hist += np.bincount(
            _TTFT_EDGES.searchsorted(ttft_s, side="left"), minlength=len(self.ttft_hist)
        )

    def finished(
        self, *, arrival: FloatArray, first: FloatArray, finish: FloatArray, osl: FloatArray
    ) -> None:
        duration = finish - arrival
        self.finished_count += len(finish)
        self.osl_sum += float(osl.sum())
        self.duration_sum_s += float(duration.sum())
        self.duration_hist += np.bincount(
            _DURATION_EDGES.searchsorted(duration, side="left"),
            minlength=len(self.duration_hist),
        )
        self.osl_hist += token_histogram(osl)
        gaps = osl - 1.0
        multi = gaps > 0
        if multi.any():
            span = (finish - first)[multi]
            g = gaps[multi]
            if self.itl_target_s is not None and self.ttft_target_s is not None:
                on_time = (first - arrival)[multi] <= self.ttft_target_s
                late_itl = span / g > self.itl_target_s
                self.itl_only_misses += int(np.count_nonzero(on_time & late_itl))
            self.itl_sum_s += float(span.sum())
            self.itl_count += float(g.sum())
            self.itl_hist += np.bincount(
                _ITL_EDGES.searchsorted(span / g, side="left"),
                weights=g,
                minlength=len(self.itl_hist),
            )


def token_histogram(tokens: FloatArray) -> FloatArray:
    """Per-bucket counts of token lengths over TOKEN_BUCKETS (+Inf last)."""
    return np.bincount(
        _TOKEN_EDGES.searchsorted(tokens, side="left"), minlength=len(TOKEN_BUCKETS) + 1
    ).astype(np.float64)


def cumulative(edges: tuple[float, ...], counts: FloatArray) -> tuple[tuple[float, float], ...]:
    """Prometheus-style cumulative buckets ((le, count), ..., (inf, total))."""
    cum = np.cumsum(counts)
    return tuple((float(le), float(c)) for le, c in zip((*edges, float("inf")), cum, strict=True))
