"""The pool service against the fake Kubernetes API server: two DynamoGraphDeployments,
each its own graph with its own connector target (``connector.kubernetes.graph_name``),
one pool. The pool counts the GPUs each worker holds as the cluster says (prefill
workers hold 2) and writes each graph's own DGD."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml

from connectors.kubernetes import KubernetesConnector
from planner.clock import ServiceClock
from planner.core.types import Component, LoadPoint, Observation
from planner.pool.planner import PoolPlanner
from planner.pool.pricing import CostMeter
from planner.service.pool_loop import GraphLink, PoolService
from planner.service.telemetry import Telemetry
from planner.settings import load_settings
from planner.settings.graphs import graph_configs
from tests.core_cases import window
from tests.fakes.clock import ManualClock
from tests.fakes.connector_harness import k8s_settings
from tests.fakes.k8s_api import FakeKubeApi
from tests.fakes.k8s_cluster import Cluster

P, D = Component.PREFILL, Component.DECODE
GRAPHS = ("chat", "code")


class _Loaded:
    """A metrics source that always saw the same busy window."""

    async def observe(self, *, window_s: float) -> Observation:
        return window(20.0)

    async def history(self, *, start_s: float, end_s: float, step_s: float) -> list[LoadPoint]:
        return []

    async def close(self) -> None:
        return None


def _seed(cluster: Cluster) -> None:
    for name in GRAPHS:
        services: dict[str, dict[str, Any]] = {
            "Frontend": {"componentType": "frontend", "replicas": 1},
            "Prefill": {"subComponentType": "prefill", "replicas": 1, "gpu": 2},
            "Decode": {"subComponentType": "decode", "replicas": 1, "gpu": 1},
        }
        cluster.add_graph("ns1", name, services)


def _replicas(cluster: Cluster, name: str) -> dict[Component, int]:
    g: Any = cluster.get(("nvidia.com", "dynamographdeployments", "ns1"), name)
    return {
        P: g["spec"]["services"]["Prefill"]["replicas"],
        D: g["spec"]["services"]["Decode"]["replicas"],
    }


@asynccontextmanager
async def _pool(
    tmp_path: Path, *, pool_gpus: int, node_gpus: int | None = None, **connector: Any
) -> AsyncIterator[tuple[PoolService, FakeKubeApi]]:
    """Both graphs (chat priority 10, code priority 1, floors of 3 GPUs) on the fake API
    server, one Kubernetes connector each (``connector`` overrides their settings), and
    the pool service over them; with ``node_gpus``, one node of that many GPUs first."""
    clock = ManualClock()
    fake = FakeKubeApi(cluster=Cluster(clock=clock))
    if node_gpus is not None:
        fake.cluster.add_node("gpu-a", node_gpus)
    _seed(fake.cluster)
    await fake.start()
    kubeconfig = fake.write_kubeconfig(tmp_path / "kc", namespace="ns1")
    tree = {
        "predictor": {"name": "constant"},
        "pool": {"gpus": pool_gpus},
        "graphs": [
            {"name": "chat", "priority": 10, "floor_gpus": 3},
            {"name": "code", "priority": 1, "floor_gpus": 3},
        ],
    }
    path = tmp_path / "pool.yaml"
    path.write_text(yaml.safe_dump(tree))
    settings = load_settings(config_file=path)
    connectors = {
        n: KubernetesConnector(
            k8s_settings("k8s-dgd", kubeconfig, graph_name=n, **connector),
            identity="planner-a",
            clock=clock,
        )
        for n in GRAPHS
    }
    try:
        links = {
            n: GraphLink(
                source=_Loaded(), connector=c, cost=CostMeter(usd_per_gpu_hour=0.0), ttft_ms=500
            )
            for n, c in connectors.items()
        }
        yield (
            PoolService(
                settings=settings,
                pool=PoolPlanner(graph_configs(settings), pool_gpus=pool_gpus),
                links=links,
                telemetry=Telemetry(),
                clock=ServiceClock.start(),
            ),
            fake,
        )
    finally:
        for c in connectors.values():
            await c.close()
        await fake.close()


async def test_two_graphs_on_two_dgds_share_one_pool(tmp_path: Path) -> None:
    """One tick under load: each DGD is patched to its grant, the GPUs of both (2 per
    prefill worker, as the cluster says) stay within the 8-GPU pool, the low-priority
    graph is preempted, and the high-priority one is written above its floor."""
    async with _pool(tmp_path, pool_gpus=8) as (service, fake):
        out = await service.tick()
        assert out is not None and service.consecutive_failures == 0
        got = {n: _replicas(fake.cluster, n) for n in GRAPHS}
        assert {n: out.decisions[n].targets for n in GRAPHS} == got
        gpus = sum(r[P] * 2 + r[D] for r in got.values())
        assert gpus <= 8
        assert out.result.grants["code"].preempted_by == "chat"
        assert out.result.grants["chat"].granted_gpus > 3
        assert got["chat"] != {P: 1, D: 1}  # written


async def test_the_pool_is_cut_to_what_the_cluster_can_place(tmp_path: Path) -> None:
    """Both graphs read the cluster's capacity: one 8-GPU node holding their 6 GPUs of
    workers. Under load (both ask for more than the node), with pool.gpus 20, the pool is
    cut to the 8 GPUs the node can place (2 free + the 6 the graphs hold): the graphs
    together hold 8 and no Pending pod is created."""
    async with _pool(tmp_path, pool_gpus=20, node_gpus=8, cluster_capacity=True) as (
        service,
        fake,
    ):
        out = await service.tick()
        assert out is not None and service.consecutive_failures == 0
        asked = sum(g.asked_gpus for g in out.result.grants.values())
        got = {n: _replicas(fake.cluster, n) for n in GRAPHS}
        held = sum(r[P] * 2 + r[D] for r in got.values())
        assert out.result.pool_gpus == 8 and asked > 8 and held == 8, (asked, got, out.result)
        pending = [
            p["metadata"]["name"]
            for p in fake.cluster.objects(("", "pods", "ns1"))
            if p["status"]["phase"] == "Pending"
        ]
        assert pending == []
