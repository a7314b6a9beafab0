"""What the connector needs from any scalable Kubernetes object (a DGD service, its
scaling adapter, a Deployment, a StatefulSet): read replicas, write replicas, find pods."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from planner.core.types import Component


@dataclass(frozen=True, slots=True)
class WorkloadState:
    """One component as its Kubernetes object declares it."""

    component: Component
    #: the object written to, for messages: "dynamographdeployments/g (service decode)"
    object_ref: str
    desired: int
    gpus_per_worker: int | None
    #: label selector (query-string form) of the component's pods
    selector: str


class Workloads(Protocol):
    """The scalable objects of one target kind."""

    async def snapshot(self) -> Mapping[Component, WorkloadState]: ...

    async def write(self, component: Component, replicas: int) -> None:
        """Set the component's replicas from a fresh read, with compare-and-swap on the
        object's resourceVersion (a concurrent change raises Conflict)."""
        ...


def gpu_count(limits: Mapping[str, Any] | None) -> int | None:
    """GPUs in a resources.limits map: Dynamo's ``gpu`` key or the device plugin's
    ``nvidia.com/gpu`` (quantities are strings like "2")."""
    if not limits:
        return None
    for key in ("gpu", "nvidia.com/gpu"):
        if key in limits:
            try:
                return int(str(limits[key]))
            except ValueError:
                return None
    return None


def selector_string(match_labels: Mapping[str, str] | None) -> str:
    """``{"app": "x", "tier": "y"}`` -> ``"app=x,tier=y"`` (sorted, stable)."""
    return ",".join(f"{k}={v}" for k, v in sorted((match_labels or {}).items()))
