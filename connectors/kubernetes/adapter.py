"""A DynamoGraphDeployment's scaling adapters: one object per service, named
``<dgd>-<service lowercased>``, scaled through its autoscaling/v1 ``/scale`` subresource."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.errors import NotFound
from connectors.kubernetes.errors import call
from connectors.kubernetes.rbac import (
    ADAPTER_PLURAL,
    ADAPTER_SCALE_GET,
    ADAPTER_SCALE_UPDATE,
    DYNAMO_GROUP,
    DYNAMO_VERSION,
)


def adapter_name(graph_name: str, service: str) -> str:
    return f"{graph_name}-{service.lower()}"


@dataclass(frozen=True, slots=True)
class ScaleView:
    """The parts of an autoscaling/v1 Scale the connector uses."""

    name: str
    resource_version: str
    replicas: int
    selector: str

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ScaleView:
        meta = doc.get("metadata") or {}
        return cls(
            name=str(meta.get("name", "")),
            resource_version=str(meta.get("resourceVersion", "")),
            replicas=int((doc.get("spec") or {}).get("replicas") or 0),
            selector=str((doc.get("status") or {}).get("selector") or ""),
        )


class AdapterScale:
    """Reads and writes adapters' /scale for one graph."""

    def __init__(self, api_client: Any, *, namespace: str, timeout_s: float) -> None:
        from kubernetes_asyncio import client

        self._api: Any = client.CustomObjectsApi(api_client)
        self._namespace = namespace
        self._timeout_s = timeout_s

    async def get(self, name: str) -> ScaleView | None:
        """The adapter's Scale, or None when the adapter does not exist."""
        try:
            doc = await call(
                ADAPTER_SCALE_GET,
                namespace=self._namespace,
                obj=f"{ADAPTER_PLURAL}/{name}",
                op=lambda: self._api.get_namespaced_custom_object_scale(
                    DYNAMO_GROUP,
                    DYNAMO_VERSION,
                    self._namespace,
                    ADAPTER_PLURAL,
                    name,
                    _request_timeout=self._timeout_s,
                ),
            )
        except NotFound:
            return None
        return ScaleView.from_json(doc)

    async def write(self, name: str, replicas: int) -> None:
        """Fresh read, then PUT the Scale with its resourceVersion (409 if it moved)."""
        current = await self.get(name)
        if current is None:
            raise NotFound(f"not found: {ADAPTER_PLURAL}/{name} in namespace {self._namespace}")
        body = {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {
                "name": name,
                "namespace": self._namespace,
                "resourceVersion": current.resource_version,
            },
            "spec": {"replicas": replicas},
        }
        await call(
            ADAPTER_SCALE_UPDATE,
            namespace=self._namespace,
            obj=f"{ADAPTER_PLURAL}/{name}",
            op=lambda: self._api.replace_namespaced_custom_object_scale(
                DYNAMO_GROUP,
                DYNAMO_VERSION,
                self._namespace,
                ADAPTER_PLURAL,
                name,
                body,
                _request_timeout=self._timeout_s,
            ),
        )
