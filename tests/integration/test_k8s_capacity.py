"""The cluster's GPU capacity through the real kubernetes_asyncio client against the fake
API server (Nodes, Karpenter NodePools, ResourceQuotas, every namespace's Pods, DRA
ResourceSlices and ResourceClaims, a toy scheduler): the planner never asks for more
GPUs than the cluster can place, says
``capacity_unavailable`` with the numbers, uses a node added later on the next tick, and
falls back to ``budget.max_gpus`` (logged once, shown in /status) when RBAC forbids a
read."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connectors.kubernetes import KubernetesConnector
from connectors.protocols import ApplyResult
from planner.clock import ServiceClock
from planner.core.types import Component, LoadPoint, Observation, Reason
from planner.planner import Planner
from planner.service.loop import PlannerService
from planner.service.telemetry import Telemetry
from tests.fakes.clock import ManualClock
from tests.fakes.connector_harness import k8s_settings, seed_cluster
from tests.fakes.k8s_api import FakeKubeApi, Fault
from tests.fakes.k8s_cluster import Cluster
from tests.fakes.k8s_dra import add_resource_claim, add_resource_slice
from tests.integration.service_helpers import fast_settings

P, D = Component.PREFILL, Component.DECODE
CAP = Reason.CAPACITY_UNAVAILABLE


class HeavyLoad:
    """A metrics source whose every window is far more load than the cluster can serve."""

    async def observe(self, *, window_s: float) -> Observation:
        return Observation(
            window_s=window_s, requests=400.0 * window_s, isl_tokens=3000.0, osl_tokens=150.0
        )

    async def history(self, *, start_s: float, end_s: float, step_s: float) -> list[LoadPoint]:
        return []

    async def close(self) -> None:
        return None


@dataclass
class Rig:
    fake: FakeKubeApi
    connector: KubernetesConnector
    service: PlannerService
    telemetry: Telemetry

    @property
    def cluster(self) -> Cluster:
        return self.fake.cluster

    def pods(self, namespace: str = "ns1") -> list[dict[str, Any]]:
        return self.cluster.objects(("", "pods", namespace))

    def pending(self) -> list[str]:
        return [
            p["metadata"]["name"]
            for (g, r, _), bucket in self.cluster.buckets()
            if (g, r) == ("", "pods")
            for p in bucket
            if p["status"]["phase"] == "Pending"
        ]

    def graph_gpus(self) -> int:
        graph: Any = self.cluster.get(("nvidia.com", "dynamographdeployments", "ns1"), "g")
        svcs = graph["spec"]["services"]
        return svcs["VllmPrefillWorker"]["replicas"] * 2 + svcs["VllmDecodeWorker"]["replicas"]


@asynccontextmanager
async def rig(
    tmp_path: Path, build: Callable[[Cluster], None], *, max_gpus: int = 64, **overrides: Any
) -> AsyncIterator[Rig]:
    """The graph of the connector harness (prefill 1 x 2 GPUs, decode 2 x 1 GPU) on a
    cluster ``build`` made first, planned by the real Planner and service loop."""
    clock = ManualClock()
    fake = FakeKubeApi(cluster=Cluster(clock=clock))
    build(fake.cluster)
    seed_cluster(fake.cluster, "k8s-dgd")
    await fake.start()
    kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig", namespace="ns1")
    settings = k8s_settings("k8s-dgd", kubeconfig, **({"cluster_capacity": True} | overrides))
    connector = KubernetesConnector(settings, clock=clock, identity="planner-0")
    planner_settings = fast_settings(**{"budget.max_gpus": max_gpus, "prefill.gpus_per_worker": 2})
    telemetry = Telemetry()
    service = PlannerService(
        settings=planner_settings,
        planner=Planner(planner_settings),
        source=HeavyLoad(),
        connector=connector,
        telemetry=telemetry,
        clock=ServiceClock(compression=1.0, origin_s=0.0, loop_origin=0.0),
    )
    try:
        yield Rig(fake, connector, service, telemetry)
    finally:
        await connector.close()
        await fake.close()


def _one_node_shared(cluster: Cluster) -> None:
    """One 8-GPU node; another tenant's batch job holds 2 of its GPUs."""
    cluster.add_node("gpu-a", 8)
    cluster.add_pod("batch", "trainer", gpus=2, node="gpu-a")


async def test_plan_is_cut_to_what_fits_and_a_new_node_is_used_next_tick(
    tmp_path: Path,
) -> None:
    """The load wants far more than the 6 GPUs left for the graph (8 on the node, 2 held
    by another tenant): the decision holds 6 GPUs, says capacity_unavailable with the
    numbers, and no Pending pod is ever created; a second 8-GPU node appears and the
    very next tick grows the graph onto it, still without a Pending pod."""
    async with rig(tmp_path, _one_node_shared) as r:
        assert r.graph_gpus() == 4 and not r.pending()
        rec = await r.service.tick()
        assert rec.ok and rec.decision is not None, rec.error
        d = rec.decision
        assert d.total_gpus == 6 and d.budget_gpus == 6
        reasons = {reason for cd in d.components.values() for reason in cd.reasons}
        assert CAP in reasons and Reason.BUDGET_CLAMPED not in reasons
        message = " ".join(cd.message for cd in d.components.values())
        assert "the cluster can place 6 GPUs for this graph (budget.max_gpus 64)" in message
        assert rec.applied and r.graph_gpus() == 6
        assert not r.pending(), r.pending()
        status = r.telemetry.capacity_status()
        assert status is not None and status["gpus"] == 6 and status["binding"] == "nodes"
        assert "2 held by other pods" in str(status["message"])

        r.cluster.add_node("gpu-b", 8)
        rec = await r.service.tick()
        assert rec.ok and rec.decision is not None, rec.error
        assert rec.decision.budget_gpus == 14 and rec.applied
        assert r.graph_gpus() == rec.decision.total_gpus > 6
        assert not r.pending(), r.pending()
        nodes = {p["spec"].get("nodeName") for p in r.pods()}
        assert "gpu-b" in nodes
        exposed = r.telemetry.exposition().decode()
        assert "sla_planner_cluster_capacity_gpus 14.0" in exposed
        assert "sla_planner_budget_gpus 14.0" in exposed


async def test_quota_binds_and_mig_resources_are_counted_by_name(tmp_path: Path) -> None:
    """With MIG slices as the GPU resource (nodes offer nvidia.com/mig-3g.40gb, pods ask
    for it), a namespace quota of 5 binds below the nodes' 16: the graph holds at most
    5 and /status names the quota."""
    mig = "nvidia.com/mig-3g.40gb"

    def build(cluster: Cluster) -> None:
        cluster.gpu_resource = mig
        cluster.add_node("mig-a", 16)
        cluster.add_quota("ns1", "gpus", hard_gpus=5)

    async with rig(tmp_path, build, gpu_resource=mig) as r:
        rec = await r.service.tick()
        assert rec.ok and rec.decision is not None, rec.error
        assert rec.decision.total_gpus <= 5 and rec.decision.budget_gpus == 5
        assert r.graph_gpus() <= 5 and not r.pending()
        status = r.telemetry.capacity_status()
        assert status is not None and status["binding"] == "quota"
        assert status["resource"] == mig
        assert f"requests.{mig} hard 5" in str(status["message"])


async def test_karpenter_nodepool_limit_lets_the_graph_grow_past_the_nodes(
    tmp_path: Path,
) -> None:
    """Nodes of a Karpenter NodePool count as the pool's GPU limit (20), not the 8 GPUs
    its one node has now: the plan may grow to 20 (Karpenter provisions for the Pending
    pods), never past it."""

    def build(cluster: Cluster) -> None:
        cluster.add_nodepool("gpu", limit_gpus=20)
        cluster.add_node("k-1", 8, nodepool="gpu")

    async with rig(tmp_path, build) as r:
        rec = await r.service.tick()
        assert rec.ok and rec.decision is not None, rec.error
        assert rec.decision.budget_gpus == 20 and rec.decision.total_gpus <= 20
        status = r.telemetry.capacity_status()
        assert status is not None and "20 by NodePool limits (gpu)" in str(status["message"])


async def test_forbidden_reads_fall_back_to_the_budget_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Without RBAC for nodes and for every namespace's pods, the quota still binds; with
    no quota either, the budget is budget.max_gpus (12). Ticks never fail, each missing
    permission is logged once over three ticks, and /status lists what was not read."""

    def build(cluster: Cluster) -> None:
        cluster.add_node("gpu-a", 8)

    async with rig(tmp_path, build, max_gpus=12) as r:
        r.fake.denied_cluster_wide |= {("", "nodes", "list"), ("", "pods", "list")}
        caplog.set_level(logging.WARNING, logger="sla_planner.connector")
        for _ in range(3):
            rec = await r.service.tick()
            assert rec.ok and rec.decision is not None, rec.error
            assert rec.decision.budget_gpus == 12
        warned = [m for m in caplog.messages if "cluster capacity: cannot read" in m]
        assert len(warned) == 2, warned
        assert any("ClusterRole" in m and "'nodes'" in m for m in warned)
        status = r.telemetry.capacity_status()
        assert status is not None and status["gpus"] is None
        assert status["unread"] == ["nodes: forbidden", "pods (all namespaces): forbidden"]


async def test_capacity_reading_off_makes_no_cluster_calls(tmp_path: Path) -> None:
    """With cluster_capacity false the connector reads no nodes, NodePools, quotas or
    cluster-wide pods and reports no capacity (the budget is the setting's)."""
    async with rig(tmp_path, _one_node_shared, cluster_capacity=False) as r:
        state = await r.connector.read()
        assert state.capacity is None
        resources = {c.resource for c in r.fake.calls}
        assert not resources & {"nodes", "nodepools", "resourcequotas", "resourceslices"}
        assert all(c.path != "/api/v1/pods" for c in r.fake.calls)


async def test_apply_never_reads_the_capacity(tmp_path: Path) -> None:
    """Applying re-reads the graph but not the capacity: one capacity reading per tick."""
    async with rig(tmp_path, _one_node_shared) as r:
        result: ApplyResult = await r.connector.apply({D: 3}, decision_id="d-1")
        assert result.applied
        assert not [c for c in r.fake.calls if c.resource == "nodes"]


async def test_dra_only_gpus_cut_the_plan_and_a_new_dra_node_is_used_next_tick(
    tmp_path: Path,
) -> None:
    """GPUs only by DRA (the node offers no nvidia.com/gpu; its ResourceSlice publishes
    8 devices, another tenant's claim holds 2): the plan holds 6 GPUs with
    capacity_unavailable, the dra limit binds, no Pending pod; a second node's slice of
    8 is used on the next tick."""

    def build(cluster: Cluster) -> None:
        cluster.add_node("gpu-a", 0)
        add_resource_slice(cluster, "gpu-a", devices=8)
        add_resource_claim(cluster, "batch", name="trainer", node="gpu-a", devices=2, pod="t-0")

    async with rig(tmp_path, build) as r:
        rec = await r.service.tick()
        assert rec.ok and rec.decision is not None, rec.error
        d = rec.decision
        assert d.total_gpus == 6 and d.budget_gpus == 6
        assert CAP in {reason for cd in d.components.values() for reason in cd.reasons}
        message = " ".join(cd.message for cd in d.components.values())
        assert "the cluster can place 6 GPUs for this graph (budget.max_gpus 64)" in message
        assert rec.applied and r.graph_gpus() == 6 and not r.pending(), r.pending()
        status = r.telemetry.capacity_status()
        assert status is not None and status["binding"] == "dra" and status["unread"] == []
        assert "8 devices published by gpu.nvidia.com, 2 allocated to 1 other claims" in str(
            status["message"]
        )

        r.cluster.add_node("gpu-b", 0)
        add_resource_slice(r.cluster, "gpu-b", devices=8)
        rec = await r.service.tick()
        assert rec.ok and rec.decision is not None, rec.error
        assert rec.decision.budget_gpus == 14 and rec.applied and not r.pending()
        declared = {(x.group, x.resource, x.verb) for x in r.connector.required_rbac}
        assert ("resource.k8s.io", "resourceclaims", "list") in r.fake.rules_used() <= declared


async def test_dra_not_served_is_no_limit_and_forbidden_is_unread(tmp_path: Path) -> None:
    """resource.k8s.io not served (404): no dra limit and nothing unread, the nodes
    limit binds as before; ResourceSlices forbidden (403): listed as unread, same cap."""
    async with rig(tmp_path, _one_node_shared) as r:
        r.fake.faults.append(Fault(status=404, times=1, resource="resourceslices"))
        state = await r.connector.read()
        assert state.capacity is not None and state.capacity.gpus == 6
        assert [lim.source for lim in state.capacity.limits] == ["nodes"]
        assert state.capacity.unread == () and r.fake.faults[0].times == 0
        r.fake.denied_cluster_wide.add(("resource.k8s.io", "resourceslices", "list"))
        state = await r.connector.read()
        assert state.capacity is not None and state.capacity.gpus == 6
        assert state.capacity.unread == ("resourceslices: forbidden",)
        assert not [c for c in r.fake.calls if c.resource == "resourceclaims"]
