"""Burst memory: how long released capacity must be held, learned from re-needed capacity.

When a pool shrinks, each worker it releases is remembered with the time it went. When
the pool grows again and takes back a worker released at t_d, that capacity was needed
again after g = t_u - t_d; with a start-up of minutes, the worker asked for at t_u is
late for the burst that made it necessary, and a scale-down window of g + one interval
would have kept it. Gaps are measured per worker (level), so a release in several steps
(10 -> 8 -> 6 -> 4) that is taken back at once measures each worker from the step that
released it, not from the last step. The window used is clamp(max g seen in the last
``lookback_s`` + interval_s, base window, max window): it grows on a bursty load
(bursts after lulls) and falls back to the base window once no re-need has been seen
for ``lookback_s``. Gaps longer than the max window are ignored (no window within the
cap would have covered them), and released workers older than that are forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BurstMemory:
    """Per component: released workers by level (the k-th worker, 1-based) and when
    each was released, and the recent re-need gaps."""

    released: tuple[tuple[int, float], ...] = ()
    #: (time of the re-need, gap s since the release it undid)
    gaps: tuple[tuple[float, float], ...] = ()


def down_window_s(
    memory: BurstMemory,
    *,
    now_s: float,
    base_s: float,
    max_s: float,
    lookback_s: float,
    interval_s: float,
) -> float:
    """The scale-down stabilisation window to use now (s)."""
    recent = [g for t, g in memory.gaps if now_s - t <= lookback_s]
    if not recent or max_s <= base_s:
        return base_s
    return min(max_s, max(base_s, max(recent) + interval_s))


def remember(
    memory: BurstMemory,
    *,
    now_s: float,
    current: int,
    target: int,
    max_s: float,
    lookback_s: float,
) -> BurstMemory:
    """The memory after a decision that moves ``current`` to ``target`` at ``now_s``."""
    gaps = tuple((t, g) for t, g in memory.gaps if now_s - t <= lookback_s)
    released = {k: t for k, t in memory.released if now_s - t <= max_s}
    if target < current:
        for level in range(target + 1, current + 1):
            released.setdefault(level, now_s)
    elif target > current:
        taken = [now_s - released.pop(k) for k in range(current + 1, target + 1) if k in released]
        if taken:
            gaps = (*gaps, (now_s, max(taken)))
    return BurstMemory(released=tuple(sorted(released.items())), gaps=gaps)
