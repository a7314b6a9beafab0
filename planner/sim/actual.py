"""What actually ran, beside the simulated policies: the measured fleet's GPU-hours and
latency attainment (from the file's replica columns and histograms), and the same fleet
replayed in the simulator as a fixed schedule, whose predicted attainment minus the
measured one is the simulator's own error on this cluster.

Attainment from a histogram is a range (a target between two bucket bounds cannot be
placed, planner/core/attainment.py); the simulator's prediction is read off the same
bucket bounds, so the two are compared like for like. TTFT counts requests; ITL counts
token gaps (the simulated requests' mean gap, weighted by OSL - 1, as its counters do).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from planner.core.attainment import Share, share_within
from planner.core.types import Component, Observation
from planner.history.format import Buckets, HistoryFile
from planner.sim.metrics import request_latencies
from planner.sim.snapshot import ClusterSnapshot

Targets = Mapping[Component, int]


def schedule(history: HistoryFile, *, rows: int | None = None) -> list[dict[Component, int]]:
    """The fleet of each interval from the replica columns. A column is an interval's
    mean (a fleet that changed inside it reads 2.4), and the simulator sets whole
    workers per interval, so each count is rounded with its error carried to the next
    interval: the schedule's worker-intervals stay within half a worker of the columns'
    sum at every point, and its GPU-hours match the measured ones. An interval without
    a replica sample keeps the one before (the first known before any)."""
    comps = [Component(c) for c in history.meta.components]
    picked = history.rows[:rows]
    first = next(
        (r.replicas for r in picked if all(r.replicas.get(c.value) is not None for c in comps)),
        None,
    )
    last = {c.value: (first or {}).get(c.value, 1.0) or 1.0 for c in comps}
    wanted = dict.fromkeys(comps, 0.0)
    given = dict.fromkeys(comps, 0)
    out: list[dict[Component, int]] = []
    for r in picked:
        fleet: dict[Component, int] = {}
        for c in comps:
            value = r.replicas.get(c.value)
            last[c.value] = value = last[c.value] if value is None else value
            wanted[c] += value
            fleet[c] = max(0, math.floor(wanted[c] + 0.5) - given[c])
            given[c] += fleet[c]
        out.append(fleet)
    return out


@dataclass
class ScheduleController:
    """Replays a fixed schedule: the decision at the end of interval j sets interval
    j + 1's fleet (the simulator's runner applies it then)."""

    fleet: Sequence[Mapping[Component, int]]
    name: str = "actual"
    _calls: int = field(default=0)

    def decide(self, obs: Observation, snap: ClusterSnapshot, *, now_s: float) -> Targets:
        self._calls += 1
        return dict(self.fleet[min(self._calls, len(self.fleet) - 1)])


def measured_gpu_hours(history: HistoryFile, *, rows: int | None = None) -> dict[str, Any]:
    """GPU-hours of the replica columns: sum of replicas x GPUs per worker x interval,
    over the intervals that have a replica sample (``covered`` of ``intervals``)."""
    m = history.meta
    total, covered = 0.0, 0
    picked = history.rows[:rows]
    for r in picked:
        vals = [r.replicas.get(c) for c in m.components]
        if any(v is None for v in vals):
            continue
        covered += 1
        total += sum(
            (v or 0.0) * m.gpus_per_worker.get(c, 1)
            for c, v in zip(m.components, vals, strict=True)
        )
    return {
        "gpu_hours": total * m.interval_s / 3600.0,
        "covered_intervals": covered,
        "intervals": len(picked),
    }


def _summed(buckets: list[Buckets]) -> Buckets | None:
    if not buckets:
        return None
    bounds = [b for b, _ in buckets[0]]
    totals = np.zeros(len(bounds))
    for bk in buckets:
        got = dict(bk)
        totals += np.array([got.get(b, 0.0) for b in bounds])
    return tuple(zip(bounds, totals.tolist(), strict=True))


def _share(buckets: Buckets | None, target_s: float) -> dict[str, float] | None:
    share: Share | None = share_within(buckets, target_s) if buckets else None
    if share is None:
        return None
    return {"low": share.low, "high": share.high, "observations": share.total}


def measured_attainment(
    history: HistoryFile, *, ttft_ms: float, itl_ms: float, rows: int | None = None
) -> dict[str, Any]:
    """TTFT (requests) and ITL (token gaps) shares within the targets, from the summed
    histograms of the usable rows."""
    picked = [r for r in history.rows[:rows] if r.usable]
    ttft = _summed([r.ttft_buckets for r in picked if r.ttft_buckets])
    itl = _summed([r.itl_buckets for r in picked if r.itl_buckets])
    return {"ttft": _share(ttft, ttft_ms / 1000.0), "itl": _share(itl, itl_ms / 1000.0)}


def _cumulative(
    values: NDArray[np.float64], weights: NDArray[np.float64], bounds: Sequence[float]
) -> Buckets:
    ok = np.isfinite(values)
    v, w = values[ok], weights[ok]
    unfinished = float(weights[~ok].sum())  # never finished: above every finite bound
    out = []
    for b in bounds:
        inside = float(w[v <= b].sum()) if not math.isinf(b) else float(w.sum()) + unfinished
        out.append((b, inside))
    return tuple(out)


def predicted_attainment(
    outcomes: dict[str, NDArray[np.float64]],
    history: HistoryFile,
    *,
    ttft_ms: float,
    itl_ms: float,
) -> dict[str, Any]:
    """The simulated run's TTFT and ITL shares, read off the file's bucket bounds."""
    ttft, itl = request_latencies(outcomes)
    gaps = np.maximum(outcomes["osl"] - 1.0, 0.0)
    m = history.meta
    t_b = _cumulative(ttft, np.ones_like(ttft), m.ttft_bounds_s) if m.ttft_bounds_s else None
    i_b = _cumulative(itl, gaps, m.itl_bounds_s) if m.itl_bounds_s else None
    return {"ttft": _share(t_b, ttft_ms / 1000.0), "itl": _share(i_b, itl_ms / 1000.0)}


def sim_error(measured: dict[str, Any], predicted: dict[str, Any]) -> dict[str, Any]:
    """Predicted minus measured share (percentage points, both ends of the range)."""
    out: dict[str, Any] = {}
    for k in ("ttft", "itl"):
        a, b = measured.get(k), predicted.get(k)
        out[k] = (
            None if a is None or b is None else {e: 100.0 * (b[e] - a[e]) for e in ("low", "high")}
        )
    return out
