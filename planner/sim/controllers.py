"""Who decides the replicas in a simulation: the planner (``sla``/``dynamo``), a static
fleet, an HPA-like threshold rule, or a hindsight baseline (the oracle is
planner/sim/oracle.py). All take the window's Observation and the cluster snapshot at
the decision time and return targets per component."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from planner.core.config import PolicyConfig
from planner.core.sla import SlaStrategy
from planner.core.stabilize import stabilize
from planner.core.state import FeedbackState, PlannerState, Recommendation
from planner.core.strategy import Learned
from planner.core.tick import Tick
from planner.core.types import (
    Component,
    Decision,
    Forecast,
    Observation,
    Quantity,
)
from planner.perf.model import PerfModel
from planner.planner import Planner
from planner.settings import PlannerSettings, StabilizationSettings
from planner.sim.snapshot import ClusterSnapshot

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
    """The sla sizing model for a known load (no correction, no feedback, the deployed
    GPUs per worker), at least 1 per component."""
    gpus = config.deployed_gpus()
    obs = Observation(
        window_s=config.settings.interval_s,
        requests=1.0,
        queued_prefill_tokens=backlog_tokens,
        gpus_per_worker={c: gpus[c] for c in config.components},
    )
    tick = Tick.build(obs, forecast, PlannerState(), config, now_s=0.0)
    asks = SlaStrategy().size(tick, Learned(state=FeedbackState()))
    return {c: max(1, asks[c].replicas or 1) for c in config.components}


@dataclass
class HindsightController:
    """A causal baseline that knows the present exactly: at the end of interval k it is
    told ``needs[k]``, the fewest replicas that served interval k (the oracle's search,
    planner/sim/oracle.py), and forecasts it as ``constant`` does, with a uniform margin:
    ask_k = ceil(margin x needs[k]) per component (at least 1). With
    ``prefill_tokens_per_s`` (one prefill worker's tokens/s at an ISL) it also drains the
    queued prompts within one interval, as the sla sizing does: prefill ask +=
    ceil(queued tokens / (tokens/s per worker at the window's ISL x window)); without
    it only the margin drains a backlog. Each ask is kept for ``hold`` decisions
    (target = the largest of the last ``hold`` asks), because capacity released in a
    lull shorter than the start-up cannot be back in time.

    Not a policy anyone can run (nobody knows the exact need of the last interval); it
    measures what the GPU-hour goal asks of a forecast: a policy that only estimates the
    need does no better than this at the same margin. Past the end of ``needs`` the last
    one stands.
    """

    needs: tuple[Mapping[Component, int], ...]
    margin: float
    hold: int
    prefill_tokens_per_s: Callable[[float], float] | None = None
    name: str = "hindsight"
    _asks: list[dict[Component, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.needs:
            raise ValueError("needs: expected at least one interval's fleet")
        if self.margin <= 0 or self.hold < 1:
            raise ValueError(
                f"margin={self.margin!r}, hold={self.hold!r}: expected margin > 0, hold >= 1"
            )

    def decide(self, obs: Observation, snap: ClusterSnapshot, *, now_s: float) -> Targets:
        need = self.needs[min(len(self._asks), len(self.needs) - 1)]
        ask = {c: max(1, math.ceil(self.margin * n - 1e-9)) for c, n in need.items()}
        rate = self.prefill_tokens_per_s
        if rate is not None and obs.isl_tokens and Component.PREFILL in ask:
            per_worker = rate(obs.isl_tokens) * obs.window_s
            if per_worker > 0:
                ask[Component.PREFILL] += math.ceil(snap.queued_prefill_tokens / per_worker - 1e-9)
        self._asks.append(ask)
        recent = self._asks[-self.hold :]
        return {c: max(a[c] for a in recent) for c in need}


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
