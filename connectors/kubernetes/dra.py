"""Reads DRA (dynamic resource allocation, ``resource.k8s.io/v1beta1``) for the cluster
capacity: the devices GPU drivers publish in ResourceSlices and the ResourceClaims
(every namespace) allocated on them, as plain JSON through CustomObjectsApi (no client
model for the group is needed). The API group not served (404) is no DRA, not a failure."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

from connectors.errors import NotFound
from connectors.kubernetes.errors import call
from connectors.kubernetes.rbac import DRA_GROUP, Rule
from planner.core.capacity import DraClaim, DraDevice

DRA_VERSION = "v1beta1"
Obj = dict[str, Any]


def slice_devices(items: Sequence[Obj], drivers: Collection[str]) -> tuple[DraDevice, ...]:
    """Devices of ``drivers`` in ResourceSlice bodies, each once; of a pool published in
    several generations only the newest generation counts (older slices are stale). A
    device whose ``type`` attribute is not ``gpu`` or that names a ``parentUUID`` (NVIDIA's
    MIG devices) is a partition of the GPU with that uuid."""
    newest: dict[tuple[str, str], int] = {}
    for item in items:
        spec = item.get("spec") or {}
        pool = spec.get("pool") or {}
        key = (str(spec.get("driver", "")), str(pool.get("name", "")))
        newest[key] = max(newest.get(key, 0), int(pool.get("generation") or 0))
    out: dict[tuple[str, str, str], DraDevice] = {}
    for item in items:
        spec = item.get("spec") or {}
        driver = str(spec.get("driver", ""))
        pool = spec.get("pool") or {}
        pool_name = str(pool.get("name", ""))
        if driver not in drivers or int(pool.get("generation") or 0) < newest[(driver, pool_name)]:
            continue
        node = spec.get("nodeName") or None
        devices = spec.get("devices") or []
        # a partition names its GPU by UUID (parentUUID); the GPU publishes its uuid
        by_uuid = {_attr(d, "uuid"): str(d.get("name", "")) for d in devices if _attr(d, "uuid")}
        for dev in devices:
            name = str(dev.get("name", ""))
            parent = None
            if _attr(dev, "type") not in (None, "gpu") or _attr(dev, "parentUUID"):
                parent = by_uuid.get(_attr(dev, "parentUUID") or "", "")
            out[(driver, pool_name, name)] = DraDevice(driver, pool_name, name, node, parent)
    return tuple(out.values())


def _attr(device: Obj, name: str) -> str | None:
    """A device's string attribute ``name`` (plain or domain-qualified), in the
    v1beta1 shape (under ``basic``) or the v1 one (on the device)."""
    attrs = (device.get("basic") or device).get("attributes") or {}
    for key, value in attrs.items():
        if key == name or key.endswith("/" + name):
            found = (value or {}).get("string")
            return None if found is None else str(found)
    return None


def allocated_claims(
    items: Sequence[Obj], drivers: Collection[str], *, own_pods: Collection[tuple[str, str]]
) -> tuple[DraClaim, ...]:
    """Allocated ResourceClaim bodies that hold devices of ``drivers``; a claim is the
    graph's own when ``status.reservedFor`` names a pod in ``own_pods`` (namespace, name)."""
    out: list[DraClaim] = []
    for item in items:
        meta = item.get("metadata") or {}
        status = item.get("status") or {}
        allocation = status.get("allocation") or {}
        results = (allocation.get("devices") or {}).get("results") or []
        devices = tuple(
            (str(r.get("driver", "")), str(r.get("pool", "")), str(r.get("device", "")))
            for r in results
            if r.get("driver") in drivers
        )
        if not devices:
            continue
        ns = str(meta.get("namespace", ""))
        own = any(
            c.get("resource") == "pods" and (ns, c.get("name")) in own_pods
            for c in status.get("reservedFor") or []
        )
        out.append(DraClaim(f"{ns}/{meta.get('name', '')}", devices, own))
    return tuple(out)


def list_op(
    custom: Any, rule: Rule, *, timeout_s: float
) -> Callable[[], Awaitable[list[Obj] | None]]:
    """One cluster-wide list of ``rule``'s resource in resource.k8s.io/v1beta1: its
    items, or None when the API server does not serve the group (no DRA)."""

    async def op() -> list[Obj] | None:
        try:
            body = await call(
                rule,
                namespace="",
                obj=rule.resource,
                op=lambda: custom.list_cluster_custom_object(
                    DRA_GROUP, DRA_VERSION, rule.resource, _request_timeout=timeout_s
                ),
            )
        except NotFound:
            return None
        return list(body.get("items") or [])

    return op
