"""Scale-up/scale-down stabilisation windows and per-tick step limits (HPA-style).

Within a window the target is the most conservative recommendation seen: scaling down
goes only to the highest recommendation of the last ``scale_down_window_s``; scaling
up only to the lowest recommendation of the last ``scale_up_window_s``. With no history
(first tick, restart) the running replica count counts as a recommendation made now.
Then the step limits: at most ``max_scale_up_step`` added per tick, and at most the
larger of ``max_scale_down_step`` and floor(current x ``max_scale_down_fraction``)
(at least one) removed, as HPA's scale-down policies with selectPolicy Max.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.core.settings import StabilizationSettings
from planner.core.types import Reason

Recommendation = tuple[float, int]  # (time_s, replicas)


@dataclass(frozen=True, slots=True)
class Stabilized:
    target: int
    history: tuple[Recommendation, ...]
    reasons: tuple[Reason, ...]


def stabilize(
    *,
    current: int,
    desired: int,
    history: tuple[Recommendation, ...],
    now: float,
    settings: StabilizationSettings,
) -> Stabilized:
    horizon = max(settings.scale_down_window_s, settings.scale_up_window_s)
    if not history:
        # no memory (first tick, or a restarted planner): count the running replicas as
        # a recommendation made now, so a restart never scales down at once
        history = ((now, current),)
    kept = (*((t, r) for t, r in history if now - t < horizon), (now, desired))
    reasons: list[Reason] = []
    target = desired
    if desired < current:
        window = [r for t, r in kept if now - t < settings.scale_down_window_s] or [desired]
        target = min(current, max(window))
        if target > desired:
            reasons.append(Reason.SCALE_DOWN_STABILIZED)
    elif desired > current:
        window = [r for t, r in kept if now - t < settings.scale_up_window_s] or [desired]
        target = max(current, min(window))
    step_target = target
    if settings.max_scale_up_step is not None and target > current:
        step_target = min(target, current + settings.max_scale_up_step)
    down_limits = []
    if settings.max_scale_down_step is not None:
        down_limits.append(settings.max_scale_down_step)
    if settings.max_scale_down_fraction is not None:
        # floor: a fraction never rounds a removal up past it; at least one per tick
        down_limits.append(max(1, math.floor(current * settings.max_scale_down_fraction + 1e-9)))
    if down_limits and target < current:
        step_target = max(target, current - max(down_limits))
    if step_target != target:
        reasons.append(Reason.STEP_LIMITED)
    return Stabilized(target=step_target, history=kept, reasons=tuple(reasons))
