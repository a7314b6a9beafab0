"""The default ``sla`` strategy: size for the load forecast at the time new capacity
would be ready, at the SLO, from the profile corrected by what the graph showed.

Feedback (``learn``): planner/core/feedback.py.

Sizing (``size``): the point forecast of the request rate, ISL and OSL, times each
phase's margin (planner/core/demand_band.py: prefill the rate's calibrated band,
decode its own measured forecast error) and pressure, never below the point.
Prefill (planner/core/sizing.py) adds the backlog expected when new capacity is ready
(planner/core/backlog.py), drained within ``sla.backlog_drain_s`` (default: one
interval). Decode (planner/core/decode.py) adds the requests waiting for decode
admission (x OSL, drained within the same time). A zero forecast with a backlog still
sizes for the drain. The hysteresis floor is the same sizing at rate x (1 +
``scale_down_tolerance``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from planner.core.backlog import startup_backlog_tokens
from planner.core.config import PolicyConfig
from planner.core.decode import DEFAULT_SPREAD, decode_need, osl_spread
from planner.core.feedback import learn_sla
from planner.core.settings import PolicySettings
from planner.core.sizing import PhaseNeed, agg_workers, prefill_need, prefill_worker
from planner.core.strategy import Ask, Learned
from planner.core.tick import Tick
from planner.core.types import Component, Reason


class SlaStrategy:
    """Queue-aware sizing at the SLO with correction and attainment feedback."""

    name = "sla"
    stabilises = True

    def horizon_s(self, settings: PolicySettings) -> float:
        return settings.interval_s + settings.startup_s

    def learn(self, tick: Tick) -> Learned:
        return learn_sla(tick)

    def size(self, tick: Tick, learned: Learned) -> Mapping[Component, Ask]:
        config, forecast, obs = tick.config, tick.forecast, tick.observation
        s = config.settings
        rate = forecast.request_rate_rps.point
        margins: tuple[float, float] = (1.0, 1.0)
        margin_note = "point forecast"
        if s.sla.use_upper_quantile:
            pre_m, dec_m, margin_note = learned.state.demand_band.margins(forecast)
            margins = (pre_m, dec_m)
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
        waiting = obs.decode_waiting or 0.0
        if rate <= 0 and backlog <= 0 and waiting <= 0:
            return {c: Ask(0, note="no load forecast") for c in config.components}

        fb = learned.state
        plan = (
            max(1.0, margins[0] * fb.prefill_pressure),
            max(1.0, margins[1] * fb.decode_pressure),
        )

        def needs_at(r: float) -> dict[Component, tuple[PhaseNeed, ...]]:
            return self._needs(
                tick,
                learned,
                rates=(r * plan[0], r * plan[1]),
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
            note = "; ".join([*(p.note for p in parts), margin_note])
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
        rates: tuple[float, float],
        isl: float,
        osl: float,
        backlog: float,
        backlog_note: str,
    ) -> dict[Component, tuple[PhaseNeed, ...]]:
        """Needs per component at ``rates`` (prefill's and decode's planned req/s)."""
        rate, decode_rate = rates
        config, obs = tick.config, tick.observation
        s = config.settings
        fb = learned.state
        pc, dc = config.prefill_component, config.decode_component
        drain_s = s.sla.backlog_drain_s or s.interval_s
        # the backlog is drained whatever the forecast; the pressure multiplies both
        demand = max(rate, 0.0) * isl + backlog / drain_s * max(1.0, fb.prefill_pressure)
        parts = [f"backlog {backlog:.0f} tok"]
        if backlog_note:
            parts.append(backlog_note)
        if fb.prefill_pressure != 1.0:
            parts.append(f"TTFT pressure x{fb.prefill_pressure:.2f}")
        pn = prefill_need(
            config,
            demand_tokens_per_s=demand,
            isl_tokens=isl,
            factor=fb.correction.prefill,
            gpus=tick.gpus[pc],
            note=", ".join(parts),
        )
        waiting_tps = (obs.decode_waiting or 0.0) * osl / drain_s
        dn = decode_need(
            config,
            rate_rps=max(decode_rate, 0.0),
            isl_tokens=isl,
            osl_tokens=osl,
            fit=fb.decode_fit,
            gpus=tick.gpus[dc],
            spread=osl_spread(obs.osl_buckets) or DEFAULT_SPREAD,
            backlog_tokens_per_s=waiting_tps,
        )
        if s.mode == "agg":
            return {Component.AGG: (pn, dn)}
        return {Component.PREFILL: (pn,), Component.DECODE: (dn,)}
