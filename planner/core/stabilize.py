"""The stabilise stage: anti-flapping, each hold with its own reason and numbers.

In order, for each component the strategy sized (held components pass untouched):
1. hysteresis (``scale_down_hysteresis``): a scale-down goes no lower than the replicas
   the planned load x (1 + ``sla.scale_down_tolerance``) needs (the sizing's floor);
2. windows (HPA-style): a scale-down goes only to the highest recommendation of the
   last ``scale_down_window_s`` (``scale_down_window``), lengthened by burst memory
   (planner/core/burst_memory.py) when capacity released before was needed again
   (``scale_down_burst_window``); a scale-up only to the lowest of the last
   ``scale_up_window_s`` (``scale_up_window``). With no history (first tick, restart)
   the running replicas count as a recommendation made now;
3. step limits (``step_limited``): at most ``max_scale_up_step`` added per tick, and at
   most the larger of ``max_scale_down_step`` and floor(current x
   ``max_scale_down_fraction``) (at least one) removed, as HPA's scale-down policies with
   selectPolicy Max.
Min/max limits and the budget come after this stage (planner/core/limits.py, budget.py),
so nothing here can hold a component above its cap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.core.burst_memory import BurstMemory, down_window_s
from planner.core.settings import StabilizationSettings
from planner.core.state import Recommendation
from planner.core.strategy import Learned
from planner.core.tick import Proposal, Proposals, Tick
from planner.core.types import Component, Reason


@dataclass(frozen=True, slots=True)
class Stabilized:
    target: int
    history: tuple[Recommendation, ...]
    reasons: tuple[Reason, ...]


def window_target(
    *,
    current: int,
    desired: int,
    history: tuple[Recommendation, ...],
    now: float,
    down_window_s: float,
    up_window_s: float,
) -> tuple[int, tuple[Recommendation, ...]]:
    """The most conservative recommendation within the window in the direction of
    travel, and the history to keep (``desired`` recorded at ``now``)."""
    if not history:
        # no memory (first tick, or a restarted planner): count the running replicas as
        # a recommendation made now, so a restart never scales down at once
        history = ((now, current),)
    horizon = max(down_window_s, up_window_s)
    kept = (*((t, r) for t, r in history if now - t < horizon), (now, desired))
    if desired < current:
        window = [r for t, r in kept if now - t < down_window_s] or [desired]
        return min(current, max(window)), kept
    if desired > current:
        window = [r for t, r in kept if now - t < up_window_s] or [desired]
        return max(current, min(window)), kept
    return desired, kept


def step_limit(*, current: int, target: int, settings: StabilizationSettings) -> int:
    """``target`` limited to the per-tick step sizes."""
    if target > current and settings.max_scale_up_step is not None:
        return min(target, current + settings.max_scale_up_step)
    if target < current:
        limits = []
        if settings.max_scale_down_step is not None:
            limits.append(settings.max_scale_down_step)
        if settings.max_scale_down_fraction is not None:
            # floor: a fraction never rounds a removal up past it; at least one per tick
            limits.append(max(1, math.floor(current * settings.max_scale_down_fraction + 1e-9)))
        if limits:
            return max(target, current - max(limits))
    return target


def stabilize(
    *,
    current: int,
    desired: int,
    history: tuple[Recommendation, ...],
    now: float,
    settings: StabilizationSettings,
) -> Stabilized:
    """Windows then step limits for one component (used by controllers outside the
    pipeline, e.g. the simulator's HPA-like threshold rule)."""
    windowed, kept = window_target(
        current=current,
        desired=desired,
        history=history,
        now=now,
        down_window_s=settings.scale_down_window_s,
        up_window_s=settings.scale_up_window_s,
    )
    reasons: list[Reason] = []
    if windowed > desired and desired < current:
        reasons.append(Reason.SCALE_DOWN_WINDOW)
    if windowed < desired and desired > current:
        reasons.append(Reason.SCALE_UP_WINDOW)
    target = step_limit(current=current, target=windowed, settings=settings)
    if target != windowed:
        reasons.append(Reason.STEP_LIMITED)
    return Stabilized(target=target, history=kept, reasons=tuple(reasons))


def _one(tick: Tick, p: Proposal, learned: Learned) -> tuple[Proposal, tuple[Recommendation, ...]]:
    s = tick.config.settings
    stab = s.stabilization
    c, cur = p.component, p.current
    # 1. hysteresis
    if p.floor is not None and p.target < cur:
        floor = min(cur, p.floor)
        if floor > p.target:
            tol = s.sla.scale_down_tolerance
            p = p.to(
                floor,
                Reason.SCALE_DOWN_HYSTERESIS,
                f"hysteresis: the load x{1 + tol:g} needs {p.floor}",
            )
    # 2. windows (burst memory may lengthen the scale-down window)
    base = stab.scale_down_window_s
    down = down_window_s(
        tick.state.bursts.get(c, BurstMemory()),
        now_s=tick.now_s,
        base_s=base,
        max_s=s.sla.max_scale_down_window_s,
        lookback_s=s.sla.burst_lookback_s,
        interval_s=s.interval_s,
    )
    windowed, kept = window_target(
        current=cur,
        desired=p.target,
        history=tuple(tick.state.history.get(c, ())),
        now=tick.now_s,
        down_window_s=down,
        up_window_s=stab.scale_up_window_s,
    )
    if windowed > p.target:
        reason = Reason.SCALE_DOWN_BURST_WINDOW if down > base else Reason.SCALE_DOWN_WINDOW
        p = p.to(windowed, reason, f"down window {down:.0f}s: highest recent ask {windowed}")
    elif windowed < p.target:
        p = p.to(
            windowed,
            Reason.SCALE_UP_WINDOW,
            f"up window {stab.scale_up_window_s:.0f}s: lowest recent ask {windowed}",
        )
    # 3. step limits
    stepped = step_limit(current=cur, target=p.target, settings=stab)
    if stepped != p.target:
        p = p.to(stepped, Reason.STEP_LIMITED, f"step limit: {cur}->{stepped} this tick")
    return p, kept


def stabilise(
    tick: Tick, proposals: Proposals, learned: Learned, *, enabled: bool
) -> tuple[dict[Component, Proposal], dict[Component, tuple[Recommendation, ...]]]:
    """The stage: new proposals and the recommendation history to keep."""
    history: dict[Component, tuple[Recommendation, ...]] = dict(tick.state.history)
    out: dict[Component, Proposal] = {}
    for c, p in proposals.items():
        if not enabled or p.held:
            out[c] = p
            continue
        out[c], history[c] = _one(tick, p, learned)
    return out, history
