"""Plain apps/v1 Deployments or StatefulSets (a vLLM fleet without Dynamo), one per
component, scaled through their autoscaling/v1 ``/scale`` subresource."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Literal

from connectors.errors import InvalidTarget
from connectors.kubernetes.errors import call
from connectors.kubernetes.rbac import (
    DEPLOYMENT_GET,
    DEPLOYMENT_SCALE_GET,
    DEPLOYMENT_SCALE_UPDATE,
    STATEFULSET_GET,
    STATEFULSET_SCALE_GET,
    STATEFULSET_SCALE_UPDATE,
)
from connectors.kubernetes.workload import WorkloadState, gpu_count, selector_string
from planner.core.types import Component


class AppsWorkloads:
    """The Workloads of named Deployments (or StatefulSets) in one namespace."""

    def __init__(
        self,
        api_client: Any,
        *,
        namespace: str,
        kind: Literal["deployment", "statefulset"],
        names: Mapping[str, str],
        timeout_s: float,
    ) -> None:
        from kubernetes_asyncio import client

        if not names:
            raise InvalidTarget(f"no {kind} names configured in connector.kubernetes.services")
        self._api: Any = client.AppsV1Api(api_client)
        self._namespace = namespace
        self._kind = kind
        self._names = {Component(c): n for c, n in names.items()}
        self._timeout_s = timeout_s
        self._read: Any
        self._read_scale: Any
        self._replace_scale: Any
        if kind == "deployment":
            self._plural = "deployments"
            self._rules = (DEPLOYMENT_GET, DEPLOYMENT_SCALE_GET, DEPLOYMENT_SCALE_UPDATE)
            self._read = self._api.read_namespaced_deployment
            self._read_scale = self._api.read_namespaced_deployment_scale
            self._replace_scale = self._api.replace_namespaced_deployment_scale
        else:
            self._plural = "statefulsets"
            self._rules = (STATEFULSET_GET, STATEFULSET_SCALE_GET, STATEFULSET_SCALE_UPDATE)
            self._read = self._api.read_namespaced_stateful_set
            self._read_scale = self._api.read_namespaced_stateful_set_scale
            self._replace_scale = self._api.replace_namespaced_stateful_set_scale

    async def snapshot(self) -> Mapping[Component, WorkloadState]:
        out: dict[Component, WorkloadState] = {}
        for comp, name in self._names.items():
            obj = await call(
                self._rules[0],
                namespace=self._namespace,
                obj=f"{self._plural}/{name}",
                op=functools.partial(
                    self._read, name, self._namespace, _request_timeout=self._timeout_s
                ),
            )
            spec = obj.spec
            gpus: int | None = None
            for container in spec.template.spec.containers or []:
                limits = container.resources.limits if container.resources else None
                gpus = gpu_count(limits) if gpus is None else gpus
            replicas = 1 if spec.replicas is None else int(spec.replicas)
            selector = selector_string(spec.selector.match_labels if spec.selector else None)
            ref = f"{self._plural}/{name}"
            out[comp] = WorkloadState(comp, ref, replicas, gpus, selector)
        return out

    async def write(self, component: Component, replicas: int) -> None:
        name = self._names[component]
        ref = f"{self._plural}/{name}/scale"
        scale = await call(
            self._rules[1],
            namespace=self._namespace,
            obj=ref,
            op=lambda: self._read_scale(name, self._namespace, _request_timeout=self._timeout_s),
        )
        body: dict[str, Any] = {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {
                "name": name,
                "namespace": self._namespace,
                "resourceVersion": scale.metadata.resource_version,
            },
            "spec": {"replicas": replicas},
        }
        await call(
            self._rules[2],
            namespace=self._namespace,
            obj=ref,
            op=lambda: self._replace_scale(
                name, self._namespace, body, _request_timeout=self._timeout_s
            ),
        )
