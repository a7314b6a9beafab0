"""What the prefill pool faces besides the forecast: the backlog expected when new
capacity is ready, and the prompts too long for any worker to meet the TTFT target.

    backlog (tokens) = queued prompt tokens now
                       + (load - ready x capacity)+ x r + (load - current x capacity)+ x (T - r)

where load is the observed prompt tokens/s, T the worker start-up time and r the time
until the workers that are starting now become ready (from when this planner last
raised the pool; a restarted planner that did not ask for them assumes the last tick
did, r = T - interval).

A prompt of ISL tokens is feasible when an idle worker prefills it within the target,
TTFT(ISL) x factor < target; the infeasible share of a window is read off its ISL
histogram (whole buckets above the limit only, so it is never overstated).
"""

from __future__ import annotations

from planner.core.config import PolicyConfig
from planner.core.tick import Tick
from planner.core.types import Observation


def infeasible_share(obs: Observation, config: PolicyConfig, *, factor: float) -> float:
    """Share of the window's prompts so long that an idle worker cannot prefill them
    within the TTFT target (whole ISL buckets above that length only; 0 without an ISL
    histogram)."""
    b = obs.isl_buckets
    if not b or b[-1][1] <= 0:
        return 0.0
    limit = feasible_isl(config, factor=factor)
    # requests in buckets whose lower bound is at or above the limit: certainly too long
    lower_bounds = [0.0, *(le for le, _ in b[:-1])]
    below = 0.0
    for lower, (_, count) in zip(lower_bounds, b, strict=True):
        if lower >= limit:
            return max(0.0, 1.0 - below / b[-1][1])
        below = count
    return 0.0


def feasible_isl(config: PolicyConfig, *, factor: float) -> float:
    """The longest prompt an idle worker prefills within the TTFT target (tokens)."""
    perf = config.perf.prefill
    target = config.settings.ttft_ms
    lo, hi = 1.0, perf.max_isl * 64
    if perf.ttft_ms(hi).value * factor < target:
        return hi
    for _ in range(40):
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if perf.ttft_ms(mid).value * factor < target else (lo, mid)
    return lo


def startup_backlog_tokens(tick: Tick, *, capacity_tokens_per_s: float) -> tuple[float, str]:
    """Prompt tokens expected to pile up before capacity asked for now is ready (see the
    module docstring), and a note."""
    s = tick.config.settings
    obs = tick.observation
    pc = tick.config.prefill_component
    ready = obs.ready_replicas.get(pc)
    if not s.sla.project_backlog or ready is None or obs.is_missing or not obs.isl_tokens:
        return 0.0, ""
    load = obs.request_rate_rps * obs.isl_tokens
    startup = s.startup_s
    raised = tick.state.raised_at_s.get(pc)
    if raised is not None:
        remaining = max(0.0, raised + startup - tick.now_s)
    else:
        remaining = max(0.0, startup - s.interval_s)
    remaining = min(remaining, startup)
    short_now = max(0.0, load - ready * capacity_tokens_per_s)
    short_later = max(0.0, load - tick.current[pc] * capacity_tokens_per_s)
    tokens = short_now * remaining + short_later * (startup - remaining)
    if tokens <= 0:
        return 0.0, ""
    return tokens, f"start-up backlog {tokens:.0f} tok ({ready} ready, {remaining:.0f}s to go)"
