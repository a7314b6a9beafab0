"""Whether a component's workers came up: ready pods, and pods Pending (or never created)
past a deadline, which count as not coming so the planner is never blocked forever."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.kubernetes.errors import call
from connectors.kubernetes.rbac import PODS_LIST
from connectors.kubernetes.workload import WorkloadState
from connectors.protocols import ComponentState


@dataclass(frozen=True, slots=True)
class PodView:
    name: str
    phase: str
    ready: bool
    created_at_s: float
    deleting: bool
    #: e.g. "Unschedulable: 0/4 nodes are available: 4 Insufficient nvidia.com/gpu"
    waiting_reason: str = ""


def _epoch_s(value: datetime | None) -> float:
    return value.timestamp() if value is not None else 0.0


def pod_view(pod: Any) -> PodView:
    """From a kubernetes_asyncio V1Pod."""
    status = pod.status
    conditions = (status.conditions if status else None) or []
    ready = any(c.type == "Ready" and c.status == "True" for c in conditions)
    waiting = ""
    for c in conditions:
        if c.type == "PodScheduled" and c.status == "False":
            waiting = f"{c.reason or 'NotScheduled'}: {c.message or ''}".strip()
    return PodView(
        name=pod.metadata.name,
        phase=(status.phase if status else None) or "Unknown",
        ready=ready,
        created_at_s=_epoch_s(pod.metadata.creation_timestamp),
        deleting=pod.metadata.deletion_timestamp is not None,
        waiting_reason=waiting,
    )


async def list_pods(
    api_client: Any, *, namespace: str, selector: str, timeout_s: float
) -> list[PodView]:
    from kubernetes_asyncio import client

    api: Any = client.CoreV1Api(api_client)
    result = await call(
        PODS_LIST,
        namespace=namespace,
        obj=f"pods?labelSelector={selector}",
        op=lambda: api.list_namespaced_pod(
            namespace, label_selector=selector, _request_timeout=timeout_s
        ),
    )
    return [pod_view(p) for p in result.items or []]


def assess(
    workload: WorkloadState,
    pods: Sequence[PodView],
    *,
    changed_at_s: float,
    now_s: float,
    not_coming_after_s: float,
) -> tuple[ComponentState, str]:
    """The component's state and, when some workers are not coming, why.

    not_coming = min(desired - ready, pods Pending for >= not_coming_after_s
    + pods never created when the change is >= not_coming_after_s old).
    """
    live = [p for p in pods if not p.deleting]
    ready = sum(1 for p in live if p.ready)
    stuck = [
        p for p in live if p.phase == "Pending" and now_s - p.created_at_s >= not_coming_after_s
    ]
    missing = max(0, workload.desired - len(live))
    late_missing = missing if now_s - changed_at_s >= not_coming_after_s else 0
    not_coming = max(0, min(workload.desired - ready, len(stuck) + late_missing))
    note = ""
    if not_coming:
        why = stuck[0].waiting_reason if stuck and stuck[0].waiting_reason else "Pending"
        note = (
            f"{workload.component.value}: {not_coming} of {workload.desired} workers not coming "
            f"after {not_coming_after_s:g} s ({len(stuck)} pods stuck, e.g. {why}; "
            f"{late_missing} never created)"
        )
    state = ComponentState(
        component=workload.component,
        desired=workload.desired,
        ready=ready,
        gpus_per_worker=workload.gpus_per_worker,
        not_coming=not_coming,
    )
    return state, note
