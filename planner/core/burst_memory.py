"""Burst memory: how long released capacity must be held, learned from re-needed capacity.

When a component scales down at t_d and has to scale back up at t_u, the capacity it
released was needed again after g = t_u - t_d; with a start-up of minutes, the workers
asked for at t_u are late for the burst that made them necessary. A scale-down window of
at least g + one interval would have kept them. The window used is
clamp(max g seen in the last ``lookback_s`` + interval_s, base window, max window): it
grows on a bursty load (bursts after lulls) and falls back to the base window once no
re-need has been seen for ``lookback_s``. Gaps longer than the max window are ignored
(no window within the cap would have covered them).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BurstMemory:
    """Per component: when it last scaled down, and the recent re-need gaps."""

    last_down_s: float | None = None
    #: (time of the re-need, gap s since the scale-down it undid)
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
    last = memory.last_down_s
    if target < current:
        last = now_s
    elif target > current and last is not None:
        gap = now_s - last
        if gap <= max_s:
            gaps = (*gaps, (now_s, gap))
        last = None
    return BurstMemory(last_down_s=last, gaps=gaps)
