"""The seams between the planner and the world: where metrics come from, where replicas go."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from planner.types import Component, LoadPoint, Observation


@dataclass(frozen=True, slots=True)
class ComponentState:
    """What the target environment says about one component."""

    component: Component
    #: replicas asked for (spec)
    desired: int
    #: replicas ready to serve
    ready: int
    #: GPUs per worker as the environment declares them (None if it does not say)
    gpus_per_worker: int | None = None
    #: workers that were asked for but count as not coming (e.g. Pending too long)
    not_coming: int = 0


@dataclass(frozen=True, slots=True)
class GraphState:
    """A snapshot of the graph's replicas; ``settled`` when ready == desired everywhere
    (workers that are not coming excepted)."""

    components: Mapping[Component, ComponentState]
    settled: bool
    message: str = ""

    @property
    def desired(self) -> dict[Component, int]:
        return {c: s.desired for c, s in self.components.items()}

    @property
    def ready(self) -> dict[Component, int]:
        return {c: s.ready for c, s in self.components.items()}


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """Outcome of writing one decision: applied whole, or not applied at all."""

    decision_id: str
    applied: bool
    targets: Mapping[Component, int] = field(default_factory=dict)
    message: str = ""


@runtime_checkable
class Connector(Protocol):
    """Reads and writes replica counts of the inference graph."""

    async def read(self) -> GraphState: ...

    async def apply(self, targets: Mapping[Component, int], *, decision_id: str) -> ApplyResult: ...

    async def close(self) -> None: ...


@runtime_checkable
class MetricsSource(Protocol):
    """Reads one interval's aggregates, and history for warm starts."""

    async def observe(self, *, window_s: float) -> Observation: ...

    async def history(self, *, start_s: float, end_s: float, step_s: float) -> list[LoadPoint]: ...

    async def close(self) -> None: ...
