"""Reads the cluster's GPU capacity for the graph (Nodes, Karpenter NodePools, the
namespace's ResourceQuotas, every namespace's Pods, DRA ResourceSlices and
ResourceClaims by connectors/kubernetes/dra.py) through kubernetes_asyncio; the
arithmetic is planner/core/capacity.py's. A read that fails (RBAC forbids it, the API
server is down) is skipped and named in ``unread``, logged once: it never fails the
tick; Karpenter not installed or DRA not served (404) is simply no NodePools, no DRA."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from connectors.errors import ConnectorFault, NotFound
from connectors.kubernetes.dra import allocated_claims, list_op, slice_devices
from connectors.kubernetes.errors import call
from connectors.kubernetes.rbac import (
    ALL_PODS_LIST,
    NODEPOOLS_LIST,
    NODES_LIST,
    QUOTAS_LIST,
    RESOURCECLAIMS_LIST,
    RESOURCESLICES_LIST,
)
from planner.core.capacity import (
    ClusterCapacity,
    ClusterReadings,
    NodePoolReading,
    NodeReading,
    PodGpus,
    QuotaReading,
    cluster_capacity,
)

log = logging.getLogger("sla_planner.connector")
T = TypeVar("T")
Retry = Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]
#: pods in these phases hold nothing
_DONE = ("Succeeded", "Failed")
NODEPOOL_NODE_LABEL = "karpenter.sh/nodepool"


def count(value: Any) -> int:
    """An extended-resource quantity ("4", "4.0", 4) as a whole count; 0 if unreadable."""
    try:
        return int(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return 0


def selector_matches(labels: dict[str, str], selector: str) -> bool:
    """Equality-based label selector ("a=b,c==d") against a pod's labels."""
    if not selector:
        return False
    for part in selector.split(","):
        key, sep, value = part.replace("==", "=").partition("=")
        if not sep or labels.get(key.strip()) != value.strip():
            return False
    return True


def pod_gpus(pod: Any, resource: str) -> int:
    """GPUs a V1Pod asks for: its containers' sum, or its largest init container's."""
    spec = pod.spec

    def one(c: Any) -> int:
        res = c.resources
        if res is None:
            return 0
        return max(
            count((res.requests or {}).get(resource, 0)), count((res.limits or {}).get(resource, 0))
        )

    main = sum(one(c) for c in spec.containers or []) if spec else 0
    init = max((one(c) for c in (spec.init_containers or []) if spec), default=0)
    return max(main, init)


def node_reading(node: Any, resource: str) -> NodeReading:
    status = node.status
    conditions = (status.conditions if status else None) or []
    ready = any(c.type == "Ready" and c.status == "True" for c in conditions)
    cordoned = bool(node.spec and node.spec.unschedulable)
    labels = node.metadata.labels or {}
    return NodeReading(
        name=node.metadata.name,
        allocatable_gpus=count(((status.allocatable if status else None) or {}).get(resource, 0)),
        schedulable=ready and not cordoned,
        nodepool=labels.get(NODEPOOL_NODE_LABEL),
    )


class CapacityReader:
    """One reading per call of ``read``; remembers which failures it has logged."""

    def __init__(
        self,
        api_client: Any,
        *,
        namespace: str,
        resource: str,
        timeout_s: float,
        retry: Retry,
        dra_drivers: Sequence[str] = ("gpu.nvidia.com",),
    ) -> None:
        self._api = api_client
        self.namespace = namespace
        self.resource = resource
        self.dra_drivers = frozenset(dra_drivers)
        self.timeout_s = timeout_s
        self._retry = retry
        self._logged: set[str] = set()

    async def _read(
        self, what: str, op: Callable[[], Awaitable[T]], *, unread: list[str]
    ) -> T | None:
        try:
            result: T = await self._retry(op)
            return result
        except ConnectorFault as exc:
            note = f"{what}: {exc.kind.value}"
            unread.append(note)
            if note not in self._logged:  # once per kind of failure, not every tick
                self._logged.add(note)
                log.warning("cluster capacity: cannot read %s, planning without it: %s", what, exc)
            return None

    async def read(self, *, own_selectors: Sequence[str]) -> ClusterCapacity:
        """The graph's GPU cap; ``own_selectors`` pick out the graph's own pods."""
        from kubernetes_asyncio import client

        core: Any = client.CoreV1Api(self._api)
        custom: Any = client.CustomObjectsApi(self._api)
        t, ns, res = self.timeout_s, self.namespace, self.resource
        unread: list[str] = []
        nodes = await self._read(
            "nodes",
            lambda: call(
                NODES_LIST, namespace="", obj="nodes", op=lambda: core.list_node(_request_timeout=t)
            ),
            unread=unread,
        )
        pools = await self._read("karpenter nodepools", self._nodepools(custom), unread=unread)
        quotas = await self._read(
            "resourcequotas",
            lambda: call(
                QUOTAS_LIST,
                namespace=ns,
                obj="resourcequotas",
                op=lambda: core.list_namespaced_resource_quota(ns, _request_timeout=t),
            ),
            unread=unread,
        )
        pods = await self._read(
            "pods (all namespaces)",
            lambda: call(
                ALL_PODS_LIST,
                namespace="",
                obj="pods",
                op=lambda: core.list_pod_for_all_namespaces(
                    field_selector="status.phase!=Succeeded,status.phase!=Failed",
                    _request_timeout=t,
                ),
            ),
            unread=unread,
        )
        slices = await self._read(
            "resourceslices", list_op(custom, RESOURCESLICES_LIST, timeout_s=t), unread=unread
        )
        devices = None if slices is None else slice_devices(slices, self.dra_drivers)
        claims = None
        if devices:  # DRA served and a GPU driver publishes devices: who holds them
            claims = await self._read(
                "resourceclaims (all namespaces)",
                list_op(custom, RESOURCECLAIMS_LIST, timeout_s=t),
                unread=unread,
            )
        own_pods = {
            (p.metadata.namespace, p.metadata.name)
            for p in (pods.items or [] if pods is not None else [])
            if self._own(p, own_selectors)
        }
        readings = ClusterReadings(
            resource=res,
            nodes=None if nodes is None else tuple(node_reading(n, res) for n in nodes.items or []),
            nodepools=pools,
            quotas=None if quotas is None else self._quotas(quotas.items or []),
            pods=None if pods is None else self._pods(pods.items or [], own_selectors),
            dra_devices=devices,
            dra_claims=None
            if claims is None
            else allocated_claims(claims, self.dra_drivers, own_pods=own_pods),
            unread=tuple(unread),
        )
        return cluster_capacity(readings)

    def _nodepools(
        self, custom: Any
    ) -> Callable[[], Awaitable[tuple[NodePoolReading, ...] | None]]:
        async def op() -> tuple[NodePoolReading, ...] | None:
            try:
                body = await call(
                    NODEPOOLS_LIST,
                    namespace="",
                    obj="nodepools",
                    op=lambda: custom.list_cluster_custom_object(
                        "karpenter.sh", "v1", "nodepools", _request_timeout=self.timeout_s
                    ),
                )
            except NotFound:
                return None  # Karpenter (v1) is not installed: no NodePools to read
            out = []
            for item in body.get("items") or []:
                limits = (item.get("spec") or {}).get("limits") or {}
                limit = limits.get(self.resource)
                name = (item.get("metadata") or {}).get("name", "")
                out.append(NodePoolReading(name, None if limit is None else count(limit)))
            return tuple(out)

        return op

    def _quotas(self, items: Sequence[Any]) -> tuple[QuotaReading, ...]:
        out: list[QuotaReading] = []
        for q in items:
            status = q.status
            hard = (status.hard if status else None) or (q.spec.hard if q.spec else None) or {}
            used = (status.used if status else None) or {}
            for key in (f"requests.{self.resource}", f"limits.{self.resource}"):
                if key in hard:
                    out.append(
                        QuotaReading(
                            q.metadata.name, key, count(hard[key]), count(used.get(key, 0))
                        )
                    )
        return tuple(out)

    def _pods(self, items: Sequence[Any], own_selectors: Sequence[str]) -> tuple[PodGpus, ...]:
        out: list[PodGpus] = []
        for p in items:
            if p.status is not None and p.status.phase in _DONE:
                continue
            gpus = pod_gpus(p, self.resource)
            if gpus <= 0:
                continue
            meta = p.metadata
            own = self._own(p, own_selectors)
            out.append(
                PodGpus(f"{meta.namespace}/{meta.name}", gpus, p.spec.node_name or None, own)
            )
        return tuple(out)

    def _own(self, pod: Any, own_selectors: Sequence[str]) -> bool:
        """One of the graph's own pods: in its namespace, matching a worker selector."""
        labels = pod.metadata.labels or {}
        return pod.metadata.namespace == self.namespace and any(
            selector_matches(labels, s) for s in own_selectors
        )
