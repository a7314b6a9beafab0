"""One harness per connector variant for the contract suite: the connector under test and
the environment it drives (a VirtualTarget, or the fake Kubernetes API server's cluster)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.kubernetes import KubernetesConnector
from connectors.protocols import Connector
from connectors.virtual import VirtualConnector, VirtualTarget
from connectors.virtual.file_transport import FilePlannerTransport
from connectors.virtual.http_transport import HttpPlannerTransport
from planner.core.types import Component
from planner.settings import KubernetesConnectorSettings
from tests.fakes.clock import ManualClock
from tests.fakes.k8s_api import FakeKubeApi
from tests.fakes.k8s_cluster import Cluster

NOT_COMING_AFTER_S = 300.0
#: every variant starts here: prefill 1 worker of 2 GPUs, decode 2 workers of 1 GPU
INITIAL = {Component.PREFILL: 1, Component.DECODE: 2}
GPUS = {Component.PREFILL: 2, Component.DECODE: 1}
VARIANTS = ("virtual-file", "virtual-http", "k8s-dgd", "k8s-adapter", "k8s-deployment")


@dataclass
class Harness:
    variant: str
    connector: Connector
    clock: ManualClock
    fake: FakeKubeApi | None = None
    env: VirtualTarget | None = None
    replicas: dict[Component, int] = field(default_factory=lambda: dict(INITIAL))
    ready: dict[Component, int] = field(default_factory=lambda: dict(INITIAL))
    capacity: dict[Component, int] = field(default_factory=dict)
    hold: bool = False

    def _wid(self, c: Component) -> str:
        return {
            "k8s-dgd": f"dgd/g/{_SERVICES[c]}",
            "k8s-adapter": f"dgd/g/{_SERVICES[c]}",
            "k8s-deployment": f"deployments/{_DEPLOYMENTS[c]}",
        }[self.variant]

    def set_capacity(self, component: Component, workers: int) -> None:
        """At most ``workers`` of the component can start; the rest stay Pending."""
        self.capacity[component] = workers
        if self.fake is not None:
            self.fake.cluster.capacity[self._wid(component)] = workers

    def hold_ready(self, hold: bool) -> None:
        """New workers start but do not pass readiness until ``mark_ready``."""
        self.hold = hold
        if self.fake is not None:
            self.fake.cluster.start_ready = not hold

    async def environment_acts(self) -> None:
        """The environment catches up with the latest target (Kubernetes: at once)."""
        if self.env is None:
            return
        target = await self.env.poll()
        if target is None:
            return
        for c, n in target.targets.items():
            self.replicas[c] = n
            cap = min(n, self.capacity.get(c, n))
            self.ready[c] = min(self.ready[c], cap) if self.hold else cap
        await self.env.report(
            decision_id=target.decision_id, replicas=self.replicas, ready=self.ready
        )

    async def mark_ready(self) -> None:
        if self.fake is not None:
            self.fake.cluster.mark_ready()
            return
        assert self.env is not None
        for c, n in self.replicas.items():
            self.ready[c] = min(n, self.capacity.get(c, n))
        latest = self.env.latest
        await self.env.report(
            decision_id=latest.decision_id if latest else None,
            replicas=self.replicas,
            ready=self.ready,
        )

    def cluster_replicas(self) -> dict[Component, int]:
        """What the environment itself holds (not what the connector reports)."""
        if self.fake is None:
            return dict(self.replicas)
        cl = self.fake.cluster
        if self.variant == "k8s-deployment":
            return {
                c: cl.get(("apps", "deployments", "ns1"), n)["spec"]["replicas"]  # type: ignore[index]
                for c, n in _DEPLOYMENTS.items()
            }
        graph: Any = cl.get(("nvidia.com", "dynamographdeployments", "ns1"), "g")
        return {c: graph["spec"]["services"][s]["replicas"] for c, s in _SERVICES.items()}


_SERVICES = {Component.PREFILL: "VllmPrefillWorker", Component.DECODE: "VllmDecodeWorker"}
_DEPLOYMENTS = {Component.PREFILL: "vllm-prefill", Component.DECODE: "vllm-decode"}


def seed_cluster(cluster: Cluster, variant: str) -> None:
    if variant == "k8s-deployment":
        for c, name in _DEPLOYMENTS.items():
            cluster.add_workload(
                "ns1", name, plural="deployments", replicas=INITIAL[c], gpus=GPUS[c]
            )
        return
    services: dict[str, dict[str, Any]] = {
        "Frontend": {"componentType": "frontend", "replicas": 1},
        "Planner": {"componentType": "planner", "replicas": 1},
    }
    for c, svc in _SERVICES.items():
        services[svc] = {"subComponentType": c.value, "replicas": INITIAL[c], "gpu": GPUS[c]}
    cluster.add_graph("ns1", "g", services, adapters=variant == "k8s-adapter")


def k8s_settings(variant: str, kubeconfig: Path, **overrides: Any) -> KubernetesConnectorSettings:
    base: dict[str, Any] = {
        "kubeconfig": kubeconfig,
        "not_coming_after_s": NOT_COMING_AFTER_S,
        "request_timeout_s": 2.0,
        "retry": {"attempts": 3, "backoff_base_s": 0.01, "backoff_max_s": 0.05},
        "leader_election": {"lease_duration_s": 2.0, "renew_every_s": 0.2},
    }
    if variant == "k8s-deployment":
        base |= {"target": "deployment", "services": {c.value: n for c, n in _DEPLOYMENTS.items()}}
    else:
        base |= {"target": "dgd", "graph_name": "g"}
    return KubernetesConnectorSettings(**(base | overrides))


@asynccontextmanager
async def harness(variant: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[Harness]:
    """The variant's connector and environment, torn down (servers stopped) on exit."""
    clock = ManualClock()
    if variant.startswith("virtual"):
        transport: Any
        if variant == "virtual-file":
            transport = FilePlannerTransport(tmp_path / "target")
            env = VirtualTarget.from_directory(tmp_path / "target", gpus_per_worker=GPUS)
        else:
            transport = HttpPlannerTransport(port=0)
            await transport.start()
            env = VirtualTarget.from_url(transport.url, gpus_per_worker=GPUS, timeout_s=2.0)
        connector = VirtualConnector(transport, not_coming_after_s=NOT_COMING_AFTER_S, clock=clock)
        h = Harness(variant, connector, clock, env=env)
        try:
            await env.report(decision_id=None, replicas=h.replicas, ready=h.ready)
            yield h
        finally:
            await env.close()
            await connector.close()
        return
    fake = FakeKubeApi(cluster=Cluster(clock=clock))
    seed_cluster(fake.cluster, variant)
    await fake.start()
    kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig", namespace="ns1")
    connector_k = KubernetesConnector(
        k8s_settings(variant, kubeconfig, **overrides), clock=clock, identity="planner-0"
    )
    try:
        yield Harness(variant, connector_k, clock, fake=fake)
    finally:
        await connector_k.close()
        await fake.close()
