"""Worker lifecycle and GPU billing: requested -> ready after start-up -> draining -> released.

Billing follows the clouds: a worker's GPUs are paid from the moment it is requested
until it is released (a cancelled start-up is released at once; a drained worker when
its last in-flight request finishes). Scale-down cancels workers still starting first
(newest first), then drains the least-loaded ready workers; a draining worker takes no
new work but finishes what it has.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from planner.core.types import Component


@dataclass(slots=True)
class Worker:
    wid: int
    component: Component
    gpus: int
    requested_s: float
    ready_s: float
    draining_since: float | None = None
    released_s: float | None = None

    @property
    def live(self) -> bool:
        """Counted towards the component's replicas (not draining, not released)."""
        return self.draining_since is None and self.released_s is None


class Fleet:
    """All workers ever requested, with per-component replica counts and GPU-seconds."""

    def __init__(self, *, gpus_per_worker: dict[Component, int], startup_s: float) -> None:
        self.gpus_per_worker = dict(gpus_per_worker)
        self.startup_s = startup_s
        self.workers: list[Worker] = []
        self._closed_gpu_s: dict[Component, float] = dict.fromkeys(gpus_per_worker, 0.0)
        self.scale_events: dict[Component, int] = dict.fromkeys(gpus_per_worker, 0)

    def add(self, component: Component, *, now_s: float, ready_s: float | None = None) -> Worker:
        w = Worker(
            wid=len(self.workers),
            component=component,
            gpus=self.gpus_per_worker[component],
            requested_s=now_s,
            ready_s=now_s + self.startup_s if ready_s is None else ready_s,
        )
        self.workers.append(w)
        return w

    def live(self, component: Component) -> list[Worker]:
        return [w for w in self.workers if w.component is component and w.live]

    def desired(self, component: Component) -> int:
        return sum(1 for w in self.workers if w.component is component and w.live)

    def ready(self, component: Component, now_s: float) -> int:
        return sum(
            1 for w in self.workers if w.component is component and w.live and w.ready_s <= now_s
        )

    def release(self, w: Worker, at_s: float) -> None:
        if w.released_s is not None:
            return
        w.released_s = max(at_s, w.requested_s)
        self._closed_gpu_s[w.component] += (w.released_s - w.requested_s) * w.gpus

    def plan_removal(
        self, component: Component, count: int, *, now_s: float, load: Callable[[Worker], float]
    ) -> tuple[list[Worker], list[Worker]]:
        """Which workers to cancel (still starting) and which to drain (ready)."""
        live = self.live(component)
        starting = sorted((w for w in live if w.ready_s > now_s), key=lambda w: -w.ready_s)
        ready = sorted((w for w in live if w.ready_s <= now_s), key=load)
        cancel = starting[:count]
        drain = ready[: max(0, count - len(cancel))]
        return cancel, drain

    def gpu_seconds(self, component: Component, now_s: float) -> float:
        open_s = sum(
            (now_s - w.requested_s) * w.gpus
            for w in self.workers
            if w.component is component and w.released_s is None and now_s > w.requested_s
        )
        return self._closed_gpu_s[component] + open_s

    def gpus_held(self, now_s: float) -> int:
        return sum(
            w.gpus
            for w in self.workers
            if w.requested_s <= now_s and (w.released_s is None or w.released_s > now_s)
        )
