"""The emulated graph's workers following Kubernetes objects: the replicas written to a
DynamoGraphDeployment's services or to Deployments in the fake API server become the
emulated graph's targets, as the operator or the Deployment controller would act on
them. Plugs into EmulatedGraph where the virtual target's environment side goes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.virtual.protocol import AckMessage, TargetMessage
from planner.core.types import Component
from tests.fakes.k8s_cluster import DYNAMO, Cluster

P, D = Component.PREFILL, Component.DECODE


class KubeObjectsTarget:
    """``poll()`` answers a new TargetMessage whenever the watched objects' replicas
    change; ``report()`` keeps nothing (the fake cluster runs the pods and their
    readiness itself)."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        namespace: str,
        objects: Mapping[Component, tuple[str, str]],
        graph: str | None = None,
    ) -> None:
        """``objects``: component -> ("dgd", service) of ``graph``, or ("deployment",
        name)."""
        self.cluster = cluster
        self.namespace = namespace
        self.objects = dict(objects)
        self.graph = graph
        self.gpus_per_worker: dict[Component, int] = {}
        self._seq = 0
        self._last: dict[Component, int] | None = None

    def replicas(self) -> dict[Component, int]:
        out = {}
        for comp, (kind, name) in self.objects.items():
            if kind == "dgd":
                key = (DYNAMO, "dynamographdeployments", self.namespace)
                obj: Any = self.cluster.get(key, self.graph or "")
                out[comp] = int(obj["spec"]["services"][name]["replicas"])
            else:
                obj = self.cluster.get(("apps", "deployments", self.namespace), name)
                out[comp] = int(obj["spec"]["replicas"])
        return out

    async def poll(self) -> TargetMessage | None:
        now = self.replicas()
        if now == self._last:
            return None
        self._last = now
        self._seq += 1
        return TargetMessage(f"k8s-{self._seq}", self._seq, now, written_at_s=0.0)

    async def report(self, **_: Any) -> AckMessage | None:
        return None

    async def close(self) -> None:
        return None
