"""One tick's inputs as the stages see them (``Tick``), and one component's target as it
moves through the stages (``Proposal``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from planner.core.capacity import EffectiveBudget, effective_budget
from planner.core.config import PolicyConfig
from planner.core.state import PlannerState
from planner.core.types import Component, Forecast, Observation, Reason


@dataclass(frozen=True)
class Tick:
    """Everything a stage may read: the window, the forecast, the previous state, the
    configuration and the time, plus what is derived once per tick (the replicas each
    component runs now and the GPUs each of its workers holds)."""

    observation: Observation
    forecast: Forecast
    state: PlannerState
    config: PolicyConfig
    now_s: float
    current: Mapping[Component, int]
    gpus: Mapping[Component, int]
    #: the GPU budget of this tick: budget.max_gpus and the cluster's capacity
    budget: EffectiveBudget
    warnings: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        observation: Observation,
        forecast: Forecast,
        state: PlannerState,
        config: PolicyConfig,
        *,
        now_s: float,
    ) -> Tick:
        current: dict[Component, int] = {}
        gpus: dict[Component, int] = {}
        warnings: list[str] = []
        for c in config.components:
            if c in observation.current_replicas:
                current[c] = observation.current_replicas[c]
            elif c in state.last_targets:
                current[c] = state.last_targets[c]
            else:
                current[c] = config.limits(c).min_replicas
            count = config.gpus_per_worker(c, reading=observation.gpus_per_worker.get(c))
            gpus[c] = count.gpus
            if count.warning:
                warnings.append(count.warning)
        ready_gpus = sum(n * gpus.get(c, 1) for c, n in observation.ready_replicas.items())
        budget = effective_budget(
            configured_gpus=config.settings.budget.max_gpus,
            cluster_gpus=observation.cluster_gpus,
            ready_gpus=ready_gpus,
        )
        return cls(
            observation=observation,
            forecast=forecast,
            state=state,
            config=config,
            now_s=now_s,
            current=current,
            gpus=gpus,
            budget=budget,
            warnings=tuple(warnings),
        )

    def ready(self, component: Component) -> int | None:
        return self.observation.ready_replicas.get(component)


@dataclass(frozen=True, slots=True)
class Proposal:
    """One component's target between stages: what the sizing asked for (``desired``),
    where it stands now (``target``), and every reason and note collected so far."""

    component: Component
    current: int
    desired: int
    target: int
    reasons: tuple[Reason, ...] = ()
    notes: tuple[str, ...] = ()
    #: hysteresis floor from the sizing (replicas for the planned load x (1 + tol))
    floor: int | None = None
    #: the sizing could not size this component (held at current)
    held: bool = False

    def to(self, target: int, reason: Reason | None = None, note: str = "") -> Proposal:
        """This proposal moved to ``target``, with why."""
        return replace(
            self,
            target=target,
            reasons=self.reasons if reason is None else (*self.reasons, reason),
            notes=(*self.notes, note) if note else self.notes,
        )

    def tagged(self, reason: Reason, note: str = "") -> Proposal:
        return self.to(self.target, reason, note)


Proposals = Mapping[Component, Proposal]
