"""Attainment feedback: the share of a window's requests within a latency target, read
off its histogram, and the pressure that share drives on the pool that serves it
(TTFT -> prefill, ITL -> decode).

The sizing promises a latency tail from queueing and the profile; traffic that arrives
in bursts inside the interval, or an engine whose latency differs from its profile, do
worse than that, and a mean latency is a weak signal for a 1% tail. The histogram shows
the tail directly. A histogram cannot say where inside a bucket a target falls, so the
share is a range (``Share``): ``low`` counts only buckets whose upper bound is at or
below the target, ``high`` every bucket whose lower bound is below it. A window missed
the objective only when even ``high`` is below it, met it only when ``low`` is at or
above it, and otherwise says nothing (a 3 s target between the 2 s and 5 s buckets
cannot be read as a miss because many requests took 2-5 s).

The pressure p multiplies the pool's planned demand (point forecast x margin). After a
window that missed while the requests-weighted share over the last
``sla.attainment_window_s`` (optimistic bound) is below the objective too, the error
budget is burning: p <- min(max(p, 1) x ``pressure_step``, ``max_pressure``). After a
window that met it, p decays toward 1: p <- 1 + (p - 1) x ``pressure_decay``; and while
the rolling share (pessimistic bound) leaves more than half of the error budget unspent
(>= objective + (1 - objective) / 2), toward ``floor`` instead, the point forecast's
share of the planned demand (the budget pays for forecast margin it does not need,
never for less than the point forecast): p <- floor + (p - floor) x decay. It moves
only on windows the model's own pool served from start to end: windows without a
histogram, with fewer than ``correction.min_requests`` requests, with the pool changing
at this tick or the previous one (its misses are capacity arriving late, already acted
on), with the other pool the bottleneck (decode requests waiting for admission show up
in TTFT), or whose
ready pool was below what the sizing asks for the load that actually came (a forecast
miss, which the forecast's calibration answers) keep the pressure and add no evidence.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from planner.core.types import Component, Observation

Buckets = Sequence[tuple[float, float]]
#: one window's evidence: (end time s, requests within (optimistic), requests,
#: requests within (pessimistic))
Window = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Share:
    """Share of a histogram's observations within a threshold, as a range."""

    low: float
    high: float
    total: float

    def missed(self, objective: float) -> bool:
        return self.high < objective

    def met(self, objective: float) -> bool:
        return self.low >= objective

    def text(self) -> str:
        if self.high - self.low < 5e-5:
            return f"{100 * self.low:.2f}%"
        return f"{100 * self.low:.2f}-{100 * self.high:.2f}%"


def share_within(buckets: Buckets, threshold_s: float) -> Share | None:
    """Share of the histogram's observations at or below ``threshold_s`` (a range when
    the threshold falls inside a bucket). ``buckets`` are cumulative (upper bound,
    count) pairs, ascending, the last +inf; counts that dip (``increase`` extrapolates
    per series) are lifted to the running maximum. None when there is no total."""
    if not buckets or not math.isinf(buckets[-1][0]):
        return None
    top, counts = 0.0, []
    for _, c in buckets:
        top = max(top, c)
        counts.append(top)
    total = counts[-1]
    if total <= 0:
        return None
    below, on_bound = 0.0, False  # count at the last bound <= threshold
    for (le, _), c in zip(buckets, counts, strict=True):
        if le <= threshold_s:
            below, on_bound = c, le == threshold_s
            continue
        # the first bound above the threshold: requests in (previous bound, le] may or
        # may not be within it, unless the threshold is the previous bound itself
        high = below if on_bound else (total if math.isinf(le) else c)
        return Share(low=below / total, high=high / total, total=total)
    return Share(low=below / total, high=below / total, total=total)


def pool_settled(obs: Observation, component: Component) -> bool:
    """True unless the observation shows ``component`` with replicas still starting."""
    ready = obs.ready_replicas.get(component)
    return ready is None or ready == obs.current_replicas.get(component, ready)


@dataclass(frozen=True, slots=True)
class PressureRule:
    """How one phase's pressure moves (the sla settings, named for one phase)."""

    phase: str
    target_s: float
    objective: float
    step: float
    decay: float
    cap: float
    window_s: float
    min_requests: int
    #: lowest pressure: the point forecast / the planned demand (1 = never below plan)
    floor: float = 1.0


@dataclass(frozen=True, slots=True)
class Pressure:
    """A phase's pressure, the windows kept, and what happened."""

    value: float
    windows: tuple[Window, ...]
    note: str


def update_pressure(
    previous: float,
    windows: tuple[Window, ...],
    buckets: Buckets | None,
    *,
    rule: PressureRule,
    now: float,
    hold: str | None = None,
    short_of_load: Callable[[], str | None] = lambda: None,
) -> Pressure:
    """The next pressure for one phase. ``hold`` names a reason the window is no
    evidence (pool mid-change, other pool the bottleneck); ``short_of_load`` says why the
    ready pool was below what the sizing asks for the load that came, or None."""
    kept = tuple(w for w in windows if now - w[0] < rule.window_s)

    def held(why: str) -> Pressure:
        return Pressure(previous, kept, f"{rule.phase} pressure held at {previous:.2f}: {why}")

    if buckets is None:
        return held("no histogram")
    share = share_within(buckets, rule.target_s)
    if share is None or share.total < rule.min_requests:
        return held(f"fewer than {rule.min_requests} requests")
    if hold is not None:
        return held(hold)
    kept = (*kept, (now, share.high * share.total, share.total, share.low * share.total))
    total = sum(w[2] for w in kept)
    rolling = sum(w[1] for w in kept) / total
    rolling_low = sum(w[3] for w in kept) / total
    spending = share.missed(rule.objective) and rolling < rule.objective
    why = short_of_load() if spending else None
    spare = rolling_low >= rule.objective + (1.0 - rule.objective) / 2.0
    if why is not None:
        new, why = previous, f"; held: {why}"
    elif spending:
        new = min(rule.cap, max(previous, 1.0) * rule.step)
    elif share.met(rule.objective) and spare:
        floor = min(rule.floor, 1.0)
        new = floor + (previous - floor) * rule.decay
    elif share.met(rule.objective) and previous > 1.0:
        new = 1.0 + (previous - 1.0) * rule.decay
    else:
        new = previous
    note = (
        f"{rule.phase} within {1000 * rule.target_s:g}ms for {share.text()} this window, "
        f"<= {100 * rolling:.2f}% over {rule.window_s:g}s (objective "
        f"{100 * rule.objective:g}%): pressure {previous:.2f} -> {new:.2f}{why or ''}"
    )
    return Pressure(new, kept, note)
