"""The fake cluster's DRA side (resource.k8s.io/v1beta1): ResourceSlice and
ResourceClaim bodies in their real REST shapes, helpers that add them to a Cluster, and
each node's devices no claim holds (the toy scheduler's room on DRA nodes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.k8s_cluster import Cluster

DRA = "resource.k8s.io"
VERSION = f"{DRA}/v1beta1"
DRIVER = "gpu.nvidia.com"
SLICES = (DRA, "resourceslices", "")
Obj = dict[str, Any]


def slice_object(name: str, *, node: str, driver: str, devices: int, generation: int = 1) -> Obj:
    """A node-local ResourceSlice: one pool named after the node, ``devices`` GPUs."""
    return {
        "apiVersion": VERSION,
        "kind": "ResourceSlice",
        "metadata": {"name": name},
        "spec": {
            "driver": driver,
            "nodeName": node,
            "pool": {"name": node, "generation": generation, "resourceSliceCount": 1},
            "devices": [
                {"name": f"gpu-{i}", "basic": {"attributes": {"type": {"string": "gpu"}}}}
                for i in range(devices)
            ],
        },
    }


def claim_object(
    ns: str, name: str, *, driver: str, node: str, devices: list[str], pod: str | None
) -> Obj:
    """A ResourceClaim allocated ``devices`` of ``node``'s pool, reserved for ``pod``."""
    return {
        "apiVersion": VERSION,
        "kind": "ResourceClaim",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"devices": {"requests": [{"name": "gpu", "deviceClassName": driver}]}},
        "status": {
            "allocation": {
                "devices": {
                    "results": [
                        {"request": "gpu", "driver": driver, "pool": node, "device": d}
                        for d in devices
                    ]
                }
            },
            "reservedFor": (
                [{"resource": "pods", "name": pod, "uid": f"uid-{pod}"}] if pod else []
            ),
        },
    }


def add_resource_slice(
    cluster: Cluster, node: str, *, devices: int, driver: str = DRIVER, generation: int = 1
) -> None:
    """``node`` publishes ``devices`` GPUs through the DRA driver (cluster-scoped)."""
    body = slice_object(
        f"{node}-{driver}-{generation}",
        node=node,
        driver=driver,
        devices=devices,
        generation=generation,
    )
    cluster.create(SLICES, body)


def add_resource_claim(
    cluster: Cluster,
    ns: str,
    *,
    name: str,
    node: str,
    devices: int,
    driver: str = DRIVER,
    pod: str | None = None,
) -> None:
    """A claim in ``ns`` allocated the first ``devices`` of ``node``'s pool not yet held."""
    held = {d for _, dev_node, d in held_devices(cluster) if dev_node == node}
    mine = [d for d in node_devices(cluster).get(node, []) if d not in held][:devices]
    body = claim_object(ns, name, driver=driver, node=node, devices=mine, pod=pod)
    cluster.create((DRA, "resourceclaims", ns), body)


def node_devices(cluster: Cluster) -> dict[str, list[str]]:
    """Device names each node publishes."""
    out: dict[str, list[str]] = {}
    for s in cluster.objects(SLICES):
        spec = s["spec"]
        out.setdefault(spec["nodeName"], []).extend(d["name"] for d in spec["devices"])
    return out


def held_devices(cluster: Cluster) -> set[tuple[str, str, str]]:
    """(driver, pool, device) of every allocated claim."""
    return {
        (r["driver"], r["pool"], r["device"])
        for (g, res, _), bucket in cluster.buckets()
        if (g, res) == (DRA, "resourceclaims")
        for c in bucket
        for r in c["status"]["allocation"]["devices"]["results"]
    }


def dra_room(cluster: Cluster) -> dict[str, int]:
    """Each node's DRA devices that no claim holds (the toy scheduler adds them to the
    node's room: pods in the fake ask by the extended resource, claims are not modelled
    for the graph's own pods)."""
    held = held_devices(cluster)
    return {
        node: sum(1 for d in names if not any(h[1:] == (node, d) for h in held))
        for node, names in node_devices(cluster).items()
    }
