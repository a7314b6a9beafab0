"""The fake cluster's capacity side: Node, Karpenter NodePool, ResourceQuota and Pod
bodies in their real REST shapes, and the toy scheduler that binds each Pending pod to a
node with room for its GPUs (oldest first) or leaves it Pending, Unschedulable."""

from __future__ import annotations

from typing import Any

NODEPOOL_LABEL = "karpenter.sh/nodepool"
GPU = "nvidia.com/gpu"
Obj = dict[str, Any]


def node_object(
    name: str, gpus: int, *, resource: str, ready: bool = True, nodepool: str | None = None
) -> Obj:
    labels = {"kubernetes.io/hostname": name}
    if nodepool is not None:
        labels[NODEPOOL_LABEL] = nodepool
    res = {"cpu": "64", "memory": "512Gi", resource: str(gpus)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {},
        "status": {
            "capacity": dict(res),
            "allocatable": dict(res),
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def nodepool_object(name: str, *, resource: str, limit_gpus: int | None) -> Obj:
    limits: dict[str, str] = {"cpu": "1000"}
    if limit_gpus is not None:
        limits[resource] = str(limit_gpus)
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": name},
        "spec": {"template": {"spec": {}}, "limits": limits},
    }


def quota_object(name: str, *, resource: str, hard_gpus: int) -> Obj:
    key = f"requests.{resource}"
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": name},
        "spec": {"hard": {key: str(hard_gpus)}},
        "status": {"hard": {key: str(hard_gpus)}, "used": {key: "0"}},
    }


def pod_object(ns: str, name: str, *, labels: dict[str, str], resource: str, gpus: int) -> Obj:
    container: Obj = {"name": "worker", "image": "worker:1"}
    if gpus:
        amount = {resource: str(gpus)}
        container["resources"] = {"limits": dict(amount), "requests": dict(amount)}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
        "spec": {"containers": [container]},
        "status": {"phase": "Pending"},
    }


def running_status(*, ready: bool) -> Obj:
    return {
        "phase": "Running",
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "True" if ready else "False"},
        ],
    }


def unschedulable_status(message: str) -> Obj:
    return {
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": message,
            }
        ],
    }


def is_ready(obj: Obj) -> bool:
    """A pod's or a node's Ready condition is True."""
    return any(
        c["type"] == "Ready" and c["status"] == "True" for c in obj["status"].get("conditions", [])
    )


def pod_gpus(pod: Obj, resource: str) -> int:
    return sum(
        int(((c.get("resources") or {}).get("requests") or {}).get(resource, 0))
        for c in pod["spec"].get("containers", [])
    )


def schedule(
    pods: list[tuple[str, Obj]],
    nodes: list[Obj],
    *,
    wid_of: dict[tuple[str, str], str],
    capacity: dict[str, int],
    resource: str,
    start_ready: bool,
    dra_room: dict[str, int] | None = None,
) -> list[Obj]:
    """Bind Pending pods ``(namespace, pod)``, oldest first, up to their workload's
    ``capacity`` (workload id by ``wid_of``) and, when there are ``nodes``, onto a Ready,
    uncordoned node with room (its allocatable plus its free DRA devices, ``dra_room``);
    the rest stay Pending, Unschedulable. Returns the pods that started (their
    resourceVersion is the caller's to bump)."""
    extra = dra_room or {}
    free = {
        n["metadata"]["name"]: int(n["status"]["allocatable"].get(resource, 0))
        + extra.get(n["metadata"]["name"], 0)
        for n in nodes
        if is_ready(n) and not n["spec"].get("unschedulable")
    }
    running: dict[str, int] = {}
    for ns, p in pods:
        bound = p["spec"].get("nodeName")
        if bound in free:
            free[bound] -= pod_gpus(p, resource)
        wid = wid_of.get((ns, p["metadata"]["name"]))
        if p["status"]["phase"] == "Running" and wid is not None:
            running[wid] = running.get(wid, 0) + 1
    started: list[Obj] = []
    pending = [(ns, p) for ns, p in pods if p["status"]["phase"] == "Pending"]
    for ns, pod in sorted(pending, key=lambda x: x[1]["metadata"].get("creationTimestamp", "")):
        wid = wid_of.get((ns, pod["metadata"]["name"]))
        gpus = pod_gpus(pod, resource)
        fits = wid is None or running.get(wid, 0) < capacity.get(wid, 1 << 30)
        node = next((n for n, room in free.items() if room >= gpus), None) if nodes else ""
        if not fits or node is None:
            n = len(nodes) or 4
            pod["status"] = unschedulable_status(
                f"0/{n} nodes are available: {n} Insufficient {resource}."
            )
            continue
        if wid is not None:
            running[wid] = running.get(wid, 0) + 1
        if node:
            pod["spec"]["nodeName"] = node
            free[node] -= gpus
        pod["status"] = running_status(ready=start_ready)
        started.append(pod)
    return started
