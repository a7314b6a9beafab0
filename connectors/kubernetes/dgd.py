"""A DynamoGraphDeployment as a set of scalable components: services identified by
subComponentType or configured names, GPUs from resources.limits, replicas written through
the scaling adapters when present, else by merge-patching spec.services.<svc>.replicas."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from connectors.errors import InvalidTarget
from connectors.kubernetes.adapter import AdapterScale, adapter_name
from connectors.kubernetes.errors import call
from connectors.kubernetes.rbac import DGD_GET, DGD_PATCH, DGD_PLURAL, DYNAMO_GROUP, DYNAMO_VERSION
from connectors.kubernetes.workload import WorkloadState, gpu_count
from planner.core.types import Component

MERGE_PATCH = "application/merge-patch+json"
#: pod labels the Dynamo operator puts on a service's pods
GRAPH_LABEL = "nvidia.com/dynamo-graph-deployment-name"
COMPONENT_LABEL = "nvidia.com/dynamo-component"


def identify_services(
    services: Mapping[str, Any], configured: Mapping[str, str]
) -> dict[Component, str]:
    """Component -> service name: configured names first, then ``subComponentType``;
    a single worker without one is the aggregated component."""
    found: dict[Component, str] = {}
    for comp_name, svc in configured.items():
        if svc not in services:
            raise InvalidTarget(
                f"kubernetes.services.{comp_name}={svc!r}: the graph has no such service "
                f"(it has {sorted(services)})"
            )
        found[Component(comp_name)] = svc
    by_type: dict[Component, list[str]] = {}
    plain_workers: list[str] = []
    for svc, spec in services.items():
        spec = spec or {}
        sub = str(spec.get("subComponentType") or "").lower()
        if sub in (Component.PREFILL.value, Component.DECODE.value):
            by_type.setdefault(Component(sub), []).append(svc)
        elif str(spec.get("componentType") or "").lower() == "worker":
            plain_workers.append(svc)
    for comp, names in by_type.items():
        if comp in found:
            continue
        if len(names) > 1:
            raise InvalidTarget(
                f"services {sorted(names)} all have subComponentType {comp.value}; name the "
                f"one to scale in connector.kubernetes.services.{comp.value}"
            )
        found[comp] = names[0]
    if not found and len(plain_workers) == 1:
        found[Component.AGG] = plain_workers[0]
    if not found:
        raise InvalidTarget(
            f"no prefill/decode services found in the graph (services {sorted(services)}); set "
            "subComponentType on them or name them in connector.kubernetes.services"
        )
    return found


class GraphWorkloads:
    """The Workloads of one DynamoGraphDeployment."""

    def __init__(
        self,
        api_client: Any,
        *,
        namespace: str,
        graph_name: str,
        services: Mapping[str, str],
        scaling_adapters: Literal["auto", "always", "never"],
        timeout_s: float,
    ) -> None:
        from kubernetes_asyncio import client

        self._api: Any = client.CustomObjectsApi(api_client)
        self._adapters = AdapterScale(api_client, namespace=namespace, timeout_s=timeout_s)
        self._namespace = namespace
        self._graph = graph_name
        self._configured = dict(services)
        self._mode = scaling_adapters
        self._timeout_s = timeout_s
        #: component -> (service, adapter name or None), from the last snapshot
        self._routes: dict[Component, tuple[str, str | None]] = {}

    async def _get_graph(self) -> dict[str, Any]:
        doc: dict[str, Any] = await call(
            DGD_GET,
            namespace=self._namespace,
            obj=f"{DGD_PLURAL}/{self._graph}",
            op=lambda: self._api.get_namespaced_custom_object(
                DYNAMO_GROUP,
                DYNAMO_VERSION,
                self._namespace,
                DGD_PLURAL,
                self._graph,
                _request_timeout=self._timeout_s,
            ),
        )
        return doc

    async def snapshot(self) -> Mapping[Component, WorkloadState]:
        graph = await self._get_graph()
        services = (graph.get("spec") or {}).get("services") or {}
        out: dict[Component, WorkloadState] = {}
        for comp, svc in identify_services(services, self._configured).items():
            spec = services[svc] or {}
            desired = int(spec.get("replicas", 1))
            selector = f"{GRAPH_LABEL}={self._graph},{COMPONENT_LABEL}={svc}"
            ref = f"{DGD_PLURAL}/{self._graph} (service {svc})"
            adapter: str | None = None
            if self._mode != "never":
                name = adapter_name(self._graph, svc)
                scale = await self._adapters.get(name)
                if scale is None and self._mode == "always":
                    raise InvalidTarget(
                        f"scaling_adapters=always but the adapter {name} of service {svc} "
                        f"does not exist in namespace {self._namespace}"
                    )
                if scale is not None:
                    adapter = name
                    desired = scale.replicas
                    selector = scale.selector or selector
                    ref = f"dynamographdeploymentscalingadapters/{name}"
            limits = (spec.get("resources") or {}).get("limits")
            out[comp] = WorkloadState(comp, ref, desired, gpu_count(limits), selector)
            self._routes[comp] = (svc, adapter)
        return out

    async def write(self, component: Component, replicas: int) -> None:
        if component not in self._routes:
            await self.snapshot()
        svc, adapter = self._routes[component]
        if adapter is not None:
            await self._adapters.write(adapter, replicas)
            return
        graph = await self._get_graph()
        rv = (graph.get("metadata") or {}).get("resourceVersion")
        # resourceVersion in a merge patch makes it a compare-and-swap: 409 if it moved
        patch = {
            "metadata": {"resourceVersion": rv},
            "spec": {"services": {svc: {"replicas": replicas}}},
        }
        await call(
            DGD_PATCH,
            namespace=self._namespace,
            obj=f"{DGD_PLURAL}/{self._graph}",
            op=lambda: self._api.patch_namespaced_custom_object(
                DYNAMO_GROUP,
                DYNAMO_VERSION,
                self._namespace,
                DGD_PLURAL,
                self._graph,
                patch,
                _content_type=MERGE_PATCH,
                _request_timeout=self._timeout_s,
            ),
        )
