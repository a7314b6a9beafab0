"""The seams between the planner and the world: where metrics come from, where replicas go."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from planner.core.capacity import ClusterCapacity
from planner.core.types import Component, LoadPoint, Observation


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
    #: the GPUs the cluster can hold for the graph, with the limit that binds; None when
    #: the environment does not say (the virtual target; reading switched off)
    capacity: ClusterCapacity | None = None

    @property
    def desired(self) -> dict[Component, int]:
        return {c: s.desired for c, s in self.components.items()}

    @property
    def ready(self) -> dict[Component, int]:
        return {c: s.ready for c, s in self.components.items()}

    @property
    def gpus_per_worker(self) -> dict[Component, int]:
        """GPUs per worker where the environment declares them."""
        return {c: s.gpus_per_worker for c, s in self.components.items() if s.gpus_per_worker}


class ApplyReason(StrEnum):
    """Why a decision was or was not applied (machine-readable; ``message`` has the words)."""

    APPLIED = "applied"
    #: the environment already had these targets; nothing was written
    UNCHANGED = "unchanged"
    #: the previous change has not settled and this one would grow a component further
    UNSETTLED = "unsettled"
    #: another planner replica holds the leader lease; this one does not write
    NOT_LEADER = "not_leader"
    #: the targets name a component the environment does not have, or a negative count
    INVALID = "invalid"
    CONFLICT = "conflict"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    IO = "io"
    #: a write failed after another component was changed, and the rollback failed too;
    #: ``in_effect`` says what each component holds now
    PARTIAL = "partial"


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """Outcome of writing one decision: applied whole, or not applied at all.

    ``in_effect`` is the connector's best knowledge of the replicas each component is
    asked to run after the call (the new targets when applied; the old ones when not;
    a mix only when ``reason`` is PARTIAL).
    """

    decision_id: str
    applied: bool
    targets: Mapping[Component, int] = field(default_factory=dict)
    message: str = ""
    reason: ApplyReason = ApplyReason.APPLIED
    in_effect: Mapping[Component, int] = field(default_factory=dict)


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
