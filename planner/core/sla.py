"""The default ``sla`` strategy: size for the load forecast at the time new capacity
would be ready, at the SLO, from the profile corrected by what the graph showed.

Feedback (``learn``): correction factors (planner/core/correction.py) and the TTFT
attainment pressure (planner/core/attainment.py); when the prefill factor rises, the
pressure is divided by the rise, so factor x pressure never counts one shortfall twice.
Sizing (``size``): the forecast's upper quantile (or point) of the request rate, its
point ISL and OSL, through planner/core/sizing.py, with the prefill demand raised by
the pressure and by the backlog expected when new capacity is ready:

    backlog (tokens) = queued prompt tokens now
                       + (load - ready x capacity)+ x r + (load - current x capacity)+ x (T - r)

where load is the observed prompt tokens/s, T the worker start-up time and r the time
until the workers that are starting now become ready (from when this planner last
raised the pool; a restarted planner that did not ask for them assumes the last tick
did, r = T - interval). The backlog is drained within ``sla.backlog_drain_s`` (default:
one interval). A zero forecast with a backlog still sizes prefill for the drain.
The hysteresis floor is the same sizing at the rate x (1 + ``scale_down_tolerance``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from planner.core.attainment import pool_settled, share_within, update_pressure
from planner.core.config import PolicyConfig
from planner.core.correction import update_correction
from planner.core.settings import PolicySettings
from planner.core.sizing import (
    PhaseNeed,
    agg_workers,
    decode_need,
    prefill_need,
    prefill_worker,
)
from planner.core.state import FeedbackState
from planner.core.strategy import Ask, Learned
from planner.core.tick import Tick
from planner.core.types import Component, Observation, Reason


def ttft_short_share(obs: Observation, config: PolicyConfig) -> float | None:
    """The window's share within the TTFT target when attainment feedback is on and the
    share is below ``sla.attainment_target`` (with enough requests); else None."""
    s = config.settings
    b = obs.ttft_buckets
    if not s.sla.ttft_feedback or obs.is_missing or not b:
        return None
    if b[-1][1] < s.correction.min_requests:
        return None
    share = share_within(b, s.ttft_ms / 1000.0)
    return share if share is not None and share < s.sla.attainment_target else None


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


class SlaStrategy:
    """Queue-aware sizing at the SLO with correction and attainment feedback."""

    name = "sla"
    stabilises = True

    def horizon_s(self, settings: PolicySettings) -> float:
        return settings.interval_s + settings.startup_s

    def learn(self, tick: Tick) -> Learned:
        prev = tick.state.feedback
        obs, config = tick.observation, tick.config
        pc = config.prefill_component
        factors, note = update_correction(prev.correction, obs, config, gpus=tick.gpus)
        pressure, windows, pressure_note = update_pressure(
            prev.prefill_pressure,
            prev.ttft_windows,
            obs,
            config,
            now=tick.now_s,
            gpus=tick.gpus[pc],
            factor=factors.prefill,
            settled_before=prev.prefill_settled,
        )
        if factors.prefill > prev.correction.prefill and pressure > 1.0:
            # the factor now explains part of what the pressure stood in for: hand it over
            pressure = max(1.0, pressure * prev.correction.prefill / factors.prefill)
        if pressure_note:
            note = f"{note}; {pressure_note}"
        state = FeedbackState(
            correction=factors,
            prefill_pressure=pressure,
            ttft_windows=windows,
            prefill_settled=pool_settled(obs, pc),
        )
        return Learned(state=state, note=note, ttft_short_share=ttft_short_share(obs, config))

    def size(self, tick: Tick, learned: Learned) -> Mapping[Component, Ask]:
        config, forecast, obs = tick.config, tick.forecast, tick.observation
        s = config.settings
        rate = (
            forecast.request_rate_rps.upper
            if s.sla.use_upper_quantile
            else forecast.request_rate_rps.point
        )
        isl = forecast.isl_tokens.point or obs.isl_tokens or config.perf.prefill.min_isl
        osl = max(forecast.osl_tokens.point, 1.0)
        pc = config.prefill_component
        worker = prefill_worker(
            config, isl_tokens=isl, factor=learned.state.correction.prefill, gpus=tick.gpus[pc]
        )
        projected, projected_note = startup_backlog_tokens(
            tick, capacity_tokens_per_s=worker.tokens_per_s
        )
        backlog = (obs.queued_prefill_tokens or 0.0) + projected
        if rate <= 0 and backlog <= 0:
            return {c: Ask(0, note="no load forecast") for c in config.components}

        def needs_at(r: float) -> dict[Component, tuple[PhaseNeed, ...]]:
            return self._needs(
                tick,
                learned,
                rate=r,
                isl=isl,
                osl=osl,
                backlog=backlog,
                backlog_note=projected_note,
            )

        needs = needs_at(rate)
        tol = s.sla.scale_down_tolerance
        wider = needs_at(rate * (1 + tol)) if tol else needs
        asks: dict[Component, Ask] = {}
        for comp, parts in needs.items():
            reasons: list[Reason] = []
            if any(p.clamped for p in parts):
                reasons.append(Reason.OUT_OF_PROFILE_RANGE)
            if not all(p.feasible for p in parts):
                reasons.append(Reason.TARGET_INFEASIBLE)
            note = "; ".join(p.note for p in parts)
            if any(not p.feasible and p.workers == 0.0 for p in parts):
                asks[comp] = Ask(None, reasons=tuple(reasons), note=note)  # cannot size
                continue
            asks[comp] = Ask(
                self._workers(config, parts),
                floor=self._workers(config, wider[comp]),
                reasons=tuple(reasons),
                note=note,
            )
        return asks

    @staticmethod
    def _workers(config: PolicyConfig, parts: tuple[PhaseNeed, ...]) -> int:
        if len(parts) == 2:
            return agg_workers(config, prefill=parts[0], decode=parts[1])
        # a tiny epsilon keeps exact multiples (e.g. 2.0000000001) from rounding up
        return max(0, math.ceil(parts[0].workers - 1e-9))

    @staticmethod
    def _needs(
        tick: Tick,
        learned: Learned,
        *,
        rate: float,
        isl: float,
        osl: float,
        backlog: float,
        backlog_note: str,
    ) -> dict[Component, tuple[PhaseNeed, ...]]:
        config = tick.config
        s = config.settings
        factors = learned.state.correction
        pc, dc = config.prefill_component, config.decode_component
        drain_s = s.sla.backlog_drain_s or s.interval_s
        pressure = learned.state.prefill_pressure
        demand = (max(rate, 0.0) * isl + backlog / drain_s) * pressure
        parts = [f"backlog {backlog:.0f} tok"]
        if backlog_note:
            parts.append(backlog_note)
        if pressure != 1.0:
            parts.append(f"TTFT pressure x{pressure:.2f}")
        pn = prefill_need(
            config,
            demand_tokens_per_s=demand,
            isl_tokens=isl,
            factor=factors.prefill,
            gpus=tick.gpus[pc],
            note=", ".join(parts),
        )
        dn = decode_need(
            config,
            rate_rps=max(rate, 0.0),
            isl_tokens=isl,
            osl_tokens=osl,
            factor=factors.decode,
            gpus=tick.gpus[dc],
        )
        if s.mode == "agg":
            return {Component.AGG: (pn, dn)}
        return {Component.PREFILL: (pn,), Component.DECODE: (dn,)}
