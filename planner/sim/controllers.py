"""Who decides the replicas in a simulation: the planner (``sla``/``dynamo``), a static
fleet, or an HPA-like threshold rule (the oracle is planner/sim/oracle.py). All take the
window's Observation and the cluster snapshot at the decision time and return targets
per component."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from planner.config import PolicyConfig
from planner.perf_model import PerfModel
from planner.planner import Planner
from planner.settings import PlannerSettings, StabilizationSettings
from planner.sim.snapshot import ClusterSnapshot
from planner.sla_policy import size_sla
from planner.stabilization import Recommendation, stabilize
from planner.types import Component, CorrectionFactors, Decision, Forecast, Observation, Quantity

Targets = Mapping[Component, int]


class Controller(Protocol):
    name: str

    def decide(self, obs: Observation, snap: ClusterSnapshot, *, now_s: float) -> Targets: ...


class PlannerController:
    """The real Planner (same API as the service): ``Planner.step(observation, now=)``."""

    def __init__(self, settings: PlannerSettings, *, perf: PerfModel) -> None:
        self.name: str = settings.policy
        self.planner = Planner(settings, perf=perf)
        self.decisions: list[Decision] = []

    def decide(self, obs: Observation, snap: ClusterSnapshot, *, now_s: float) -> Targets:
        decision = self.planner.step(obs, now=now_s)
        self.decisions.append(decision)
        return decision.targets


@dataclass
class StaticController:
    targets: dict[Component, int]
    name: str = "static"

    def decide(self, obs: Observation, snap: ClusterSnapshot, *, now_s: float) -> Targets:
        return dict(self.targets)


def exact_forecast(rate_rps: float, isl: float, osl: float, *, horizon_s: float) -> Forecast:
    return Forecast(
        horizon_s=horizon_s,
        request_rate_rps=Quantity.exact(rate_rps),
        isl_tokens=Quantity.exact(isl),
        osl_tokens=Quantity.exact(osl),
        predictor="truth",
    )


def size_for_load(
    config: PolicyConfig, forecast: Forecast, *, backlog_tokens: float = 0.0
) -> dict[Component, int]:
    """The sla sizing model for a known load (no correction), at least 1 per component."""
    obs = Observation(
        window_s=config.settings.interval_s, requests=1.0, queued_prefill_tokens=backlog_tokens
    )
    sizing = size_sla(obs, forecast, CorrectionFactors(), config)
    return {c: max(1, sizing.replicas.get(c) or 1) for c in config.components}


@dataclass
class ThresholdController:
    """HPA-like: desired = ceil(current x utilisation / target), no change within
    +-``tolerance`` of the target, HPA's scale-down stabilisation window.

    Utilisation: prefill = GPU-seconds spent prefilling / (ready workers x GPUs x window);
    decode = mean KV usage of ready decode workers; agg = the larger of the two.
    """

    components: tuple[Component, ...]
    gpus_per_worker: Mapping[Component, int]
    target_prefill: float = 0.7
    target_kv: float = 0.7
    tolerance: float = 0.1
    stabilization: StabilizationSettings = field(
        default_factory=lambda: StabilizationSettings(scale_down_window_s=300.0)
    )
    min_replicas: int = 1
    max_replicas: int = 64
    name: str = "threshold"
    _prev: ClusterSnapshot | None = None
    _history: dict[Component, tuple[Recommendation, ...]] = field(default_factory=dict)

    def utilisation(self, snap: ClusterSnapshot, comp: Component) -> float:
        prev = self._prev
        ready = snap.ready_replicas.get(comp, 0)
        window = snap.time_s - prev.time_s if prev is not None else 0.0
        busy = (
            (snap.prefill_busy_gpu_s - prev.prefill_busy_gpu_s)
            / (window * ready * self.gpus_per_worker[comp])
            if prev is not None and window > 0 and ready > 0
            else 0.0
        )
        if comp is Component.PREFILL:
            return busy
        if comp is Component.DECODE:
            return snap.kv_usage
        return max(busy, snap.kv_usage)

    def decide(self, obs: Observation, snap: ClusterSnapshot, *, now_s: float) -> Targets:
        out: dict[Component, int] = {}
        for comp in self.components:
            current = snap.desired_replicas.get(comp, 1)
            util = self.utilisation(snap, comp)
            target = self.target_prefill if comp is Component.PREFILL else self.target_kv
            ratio = util / target
            desired = current if abs(ratio - 1.0) <= self.tolerance else math.ceil(current * ratio)
            desired = min(max(desired, self.min_replicas), self.max_replicas)
            st = stabilize(
                current=current,
                desired=desired,
                history=self._history.get(comp, ()),
                now=now_s,
                settings=self.stabilization,
            )
            self._history[comp] = st.history
            out[comp] = st.target
        self._prev = snap
        return out
