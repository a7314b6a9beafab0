"""What the prefill pool faces besides the forecast: the backlog expected when new
capacity is ready.

    backlog (tokens) = queued prompt tokens now
                       + (load - ready x capacity)+ x r + (load - current x capacity)+ x (T - r)

where load is the observed prompt tokens/s, T the worker start-up time and r the time
until the workers that are starting now become ready (from when this planner last
raised the pool; a restarted planner that did not ask for them assumes the last tick
did, r = T - interval).
"""

from __future__ import annotations

from planner.core.tick import Tick


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
