"""The ``sla`` strategy's feedback stage: what the window says about the profile and
the SLO. Correction factors and the decode fit (planner/core/correction.py), the
decode demand band (planner/core/demand_band.py), and the TTFT and ITL attainment
pressures on the prefill and decode demand (planner/core/attainment.py).

When the prefill factor rises, the prefill pressure is divided by the rise, so factor x
pressure never counts one shortfall twice. TTFT misses count against prefill only when
prefill could fix them: not while decode is the bottleneck (prefilled requests waiting
for decode admission show up in TTFT), and not for the share of prompts no idle worker
can prefill within the target (read off the window's ISL histogram). With
``sla.spend_budget`` the pressures may fall below 1, down to planning at the point
forecast, while the error budget is comfortably unspent.
"""

from __future__ import annotations

import math

from planner.core.attainment import PressureRule, pool_settled, update_pressure
from planner.core.correction import update_correction
from planner.core.decode import DEFAULT_SPREAD, decode_need, osl_spread
from planner.core.decode_fit import DecodeFit
from planner.core.settings import PolicySettings
from planner.core.sizing import prefill_need
from planner.core.state import FeedbackState
from planner.core.strategy import Learned
from planner.core.tick import Tick
from planner.core.types import Component, Observation


def _rule(
    s: PolicySettings, *, phase: str, target_ms: float, objective: float, margin: float
) -> PressureRule:
    return PressureRule(
        floor=1.0 / margin if s.sla.spend_budget else 1.0,
        phase=phase,
        target_s=target_ms / 1000.0,
        objective=objective,
        step=s.sla.pressure_step,
        decay=s.sla.pressure_decay,
        cap=s.sla.max_pressure,
        window_s=s.sla.attainment_window_s,
        min_requests=s.correction.min_requests,
    )


def _prefill_short(tick: Tick, pressure: float, factor: float) -> str | None:
    """Why the ready prefill pool was short of the load that came, or None."""
    obs, pc = tick.observation, tick.config.prefill_component
    ready = obs.ready_replicas.get(pc)
    if ready is None or not obs.isl_tokens:
        return None
    need = prefill_need(
        tick.config,
        demand_tokens_per_s=obs.request_rate_rps * obs.isl_tokens * pressure,
        isl_tokens=obs.isl_tokens,
        factor=factor,
        gpus=tick.gpus[pc],
    )
    workers = math.ceil(need.workers - 1e-9)
    return f"{ready} ready {pc.value} short of the load's {workers}" if ready < workers else None


def _decode_short(tick: Tick, pressure: float, fit: DecodeFit) -> str | None:
    """Why the ready decode pool was short of the load that came, or None."""
    obs, dc = tick.observation, tick.config.decode_component
    ready = obs.ready_replicas.get(dc)
    if ready is None or not obs.isl_tokens or not obs.osl_tokens:
        return None
    need = decode_need(
        tick.config,
        rate_rps=obs.request_rate_rps * pressure,
        isl_tokens=obs.isl_tokens,
        osl_tokens=obs.osl_tokens,
        fit=fit,
        gpus=tick.gpus[dc],
        spread=osl_spread(obs.osl_buckets) or DEFAULT_SPREAD,
    )
    workers = math.ceil(need.workers - 1e-9)
    return f"{ready} ready {dc.value} short of the load's {workers}" if ready < workers else None


def learn_sla(tick: Tick) -> Learned:
    prev = tick.state.feedback
    obs, config = tick.observation, tick.config
    s = config.settings
    pc, dc = config.prefill_component, config.decode_component
    factors, decode_fit, note = update_correction(
        prev.correction, obs, config, gpus=tick.gpus, decode_fit=prev.decode_fit
    )
    notes = [note]
    margins = prev.demand_band.margins(tick.forecast)[:2]
    prefill_p, ttft_w = prev.prefill_pressure, prev.ttft_windows
    if s.sla.ttft_feedback and not obs.is_missing:
        rule = _rule(
            s,
            phase="TTFT",
            target_ms=s.ttft_ms,
            objective=s.objective,
            margin=margins[0],
        )
        p = update_pressure(
            prev.prefill_pressure,
            prev.ttft_windows,
            obs.ttft_buckets,
            rule=rule,
            now=tick.now_s,
            hold=_prefill_hold(obs, pc, settled_before=prev.prefill_settled),
            short_of_load=lambda: _prefill_short(tick, prev.prefill_pressure, factors.prefill),
        )
        prefill_p, ttft_w = p.value, p.windows
        notes.append(p.note)
    if factors.prefill > prev.correction.prefill and prefill_p > 1.0:
        # the factor now explains part of what the pressure stood in for: hand it over
        prefill_p = max(1.0, prefill_p * prev.correction.prefill / factors.prefill)
    decode_p, itl_w = prev.decode_pressure, prev.itl_windows
    if s.sla.itl_feedback and not obs.is_missing and s.mode != "agg":
        rule = _rule(s, phase="ITL", target_ms=s.itl_ms, objective=s.objective, margin=margins[1])
        p = update_pressure(
            prev.decode_pressure,
            prev.itl_windows,
            obs.itl_buckets,
            rule=rule,
            now=tick.now_s,
            hold=None if pool_settled(obs, dc) else f"{dc.value} mid-change",
            short_of_load=lambda: _decode_short(tick, prev.decode_pressure, decode_fit),
        )
        decode_p, itl_w = p.value, p.windows
        notes.append(p.note)
    band = prev.demand_band.observe(obs, now_s=tick.now_s, interval_s=s.interval_s)
    band = band.record(tick.forecast, now_s=tick.now_s, interval_s=s.interval_s)
    state = FeedbackState(
        correction=factors,
        decode_fit=decode_fit,
        demand_band=band,
        prefill_pressure=prefill_p,
        decode_pressure=decode_p,
        ttft_windows=ttft_w,
        itl_windows=itl_w,
        prefill_settled=pool_settled(obs, pc),
    )
    return Learned(state=state, note="; ".join(notes))


def _prefill_hold(obs: Observation, pc: Component, *, settled_before: bool) -> str | None:
    if not pool_settled(obs, pc):
        return f"{pc.value} mid-change"
    if not settled_before:
        return f"{pc.value} changed during the window"
    if obs.decode_waiting:
        return f"decode is the bottleneck ({obs.decode_waiting:g} requests waiting for it)"
    return None
