"""The cluster-capacity arithmetic (planner/core/capacity.py): each limit binding in
turn, MIG resource names, quotas, Pending pods, Karpenter NodePool limits, DRA devices
and claims, and the budget one tick plans in."""

from __future__ import annotations

from dataclasses import replace

from planner.core.capacity import (
    ClusterReadings,
    DraClaim,
    DraDevice,
    NodePoolReading,
    NodeReading,
    PodGpus,
    QuotaReading,
    cluster_capacity,
    effective_budget,
)

MIG = "nvidia.com/mig-3g.40gb"
DRV = "gpu.nvidia.com"


def _devices(node: str, n: int) -> tuple[DraDevice, ...]:
    return tuple(DraDevice(DRV, node, f"gpu-{i}", node) for i in range(n))


def _claim(name: str, node: str, *, ids: range, own: bool = False) -> DraClaim:
    return DraClaim(name, tuple((DRV, node, f"gpu-{i}") for i in ids), own)


def test_nothing_read_is_unlimited() -> None:
    """No readings: no cap and no limits, described as unlimited."""
    cap = cluster_capacity(ClusterReadings())
    assert cap.gpus is None and cap.binding is None
    assert cap.describe() == "cluster capacity unlimited"


def test_nodes_bind_minus_other_pods_and_pending_pods() -> None:
    """Allocatable on schedulable nodes minus GPUs other pods hold or wait for (Pending
    counts as held); cordoned/NotReady nodes and the pods on them count for nothing;
    the graph's own pods are not subtracted (they are part of what it holds)."""
    r = ClusterReadings(
        nodes=(
            NodeReading("a", 8),
            NodeReading("b", 8),
            NodeReading("cordoned", 8, schedulable=False),
        ),
        pods=(
            PodGpus("other-1", 2, "a"),
            PodGpus("other-pending", 3, None),
            PodGpus("on-cordoned", 4, "cordoned"),
            PodGpus("mine", 4, "b", own=True),
            PodGpus("mine-pending", 1, None, own=True),
        ),
    )
    cap = cluster_capacity(r)
    assert cap.gpus == 16 - 2 - 3
    assert cap.binding is not None and cap.binding.source == "nodes"
    detail = cap.binding.detail
    assert "16 allocatable on 2 schedulable nodes" in detail
    assert "2 held by other pods, 3 wanted by Pending pods" in detail


def test_mig_resource_is_counted_under_its_own_name() -> None:
    """With a MIG resource the readings carry MIG slices; the description names it."""
    r = ClusterReadings(resource=MIG, nodes=(NodeReading("a", 7),), pods=())
    cap = cluster_capacity(r)
    assert cap.gpus == 7 and cap.resource == MIG
    assert cap.describe().startswith(f"cluster capacity 7 {MIG} (nodes:")


def test_quota_binds_with_the_graph_own_pods_added_back() -> None:
    """A ResourceQuota limits the graph to hard - used + its own pods' GPUs (they are
    in used), and binds when below the nodes' limit."""
    r = ClusterReadings(
        nodes=(NodeReading("a", 64),),
        quotas=(QuotaReading("gpu-quota", "requests.nvidia.com/gpu", 10, 6),),
        pods=(PodGpus("mine", 4, "a", own=True), PodGpus("other", 2, "a")),
    )
    cap = cluster_capacity(r)
    assert cap.gpus == 10 - 6 + 4
    assert cap.binding is not None and cap.binding.source == "quota"
    assert "gpu-quota requests.nvidia.com/gpu hard 10 - used 6" in cap.binding.detail


def test_full_quota_gives_zero_not_negative() -> None:
    """A quota already over its hard limit caps at 0, never a negative number."""
    r = ClusterReadings(quotas=(QuotaReading("q", "limits.nvidia.com/gpu", 2, 5),), pods=())
    assert cluster_capacity(r).gpus == 0


def test_nodepool_limits_replace_their_nodes() -> None:
    """Nodes Karpenter manages count as their NodePool's GPU limit (the pool can grow
    to it), static nodes as their allocatable; other pods are subtracted from both."""
    r = ClusterReadings(
        nodes=(NodeReading("static", 4), NodeReading("k1", 8, nodepool="gpu")),
        nodepools=(NodePoolReading("gpu", 24),),
        pods=(PodGpus("other", 8, "k1"),),
    )
    cap = cluster_capacity(r)
    assert cap.gpus == 4 + 24 - 8
    assert cap.binding is not None and "24 by NodePool limits (gpu)" in cap.binding.detail


def test_a_nodepool_without_gpu_limit_leaves_nodes_unbounded() -> None:
    """A pool with no GPU limit can launch GPU nodes without end: no node limit (a quota
    still binds)."""
    r = ClusterReadings(
        nodes=(NodeReading("k1", 8, nodepool="open"),),
        nodepools=(NodePoolReading("open", None),),
        quotas=(QuotaReading("q", "requests.nvidia.com/gpu", 12, 0),),
        pods=(),
    )
    cap = cluster_capacity(r)
    assert [lim.source for lim in cap.limits] == ["quota"] and cap.gpus == 12


def test_unread_pods_are_said_and_not_subtracted() -> None:
    """Pods not read: the node limit is the allocatable ceiling, the detail says so,
    and what was not read is listed in the description."""
    r = ClusterReadings(nodes=(NodeReading("a", 8),), unread=("pods: forbidden",))
    cap = cluster_capacity(r)
    assert cap.gpus == 8
    assert cap.binding is not None and "pods not read" in cap.binding.detail
    assert cap.describe().endswith("; not read: pods: forbidden")


def test_effective_budget_takes_the_least_and_says_which_binds() -> None:
    """The tick's budget: the setting when nothing is read or when it is the lesser
    (a tie goes to the setting); the cluster's cap when below; the cap never below the
    GPUs ready workers already hold."""
    unread = effective_budget(configured_gpus=16, cluster_gpus=None, ready_gpus=4)
    assert (unread.gpus, unread.cluster_binds) == (16, False)
    tie = effective_budget(configured_gpus=16, cluster_gpus=16, ready_gpus=4)
    assert (tie.gpus, tie.cluster_binds) == (16, False)
    below = effective_budget(configured_gpus=16, cluster_gpus=6, ready_gpus=4)
    assert (below.gpus, below.cluster_binds) == (6, True)
    unset = effective_budget(configured_gpus=None, cluster_gpus=6, ready_gpus=4)
    assert (unset.gpus, unset.cluster_binds) == (6, True)
    serving = effective_budget(configured_gpus=16, cluster_gpus=2, ready_gpus=4)
    assert (serving.gpus, serving.cluster_binds, serving.cluster_gpus) == (4, True, 2)


def test_dra_binds_when_the_gpus_come_only_by_dra() -> None:
    """Nodes that offer no device-plugin GPUs leave the nodes limit out; the dra limit
    is the devices published on schedulable nodes minus those other claims hold, and
    a cordoned node's devices (and claims on them) count for nothing."""
    r = ClusterReadings(
        nodes=(NodeReading("a", 0), NodeReading("cordoned", 0, schedulable=False)),
        pods=(),
        dra_devices=_devices("a", 8) + _devices("cordoned", 8),
        dra_claims=(_claim("batch/t", "a", ids=range(2)), _claim("x/y", "cordoned", ids=range(4))),
    )
    cap = cluster_capacity(r)
    assert [lim.source for lim in cap.limits] == ["dra"] and cap.gpus == 6
    assert cap.binding is not None
    assert (
        cap.binding.detail == "8 devices published by gpu.nvidia.com, 2 allocated to 1 other claims"
    )


def test_dra_own_claims_are_not_subtracted() -> None:
    """Claims reserved for the graph's own pods are part of what it holds: only other
    claims' devices are subtracted (as the nodes limit treats the graph's own pods)."""
    r = ClusterReadings(
        nodes=(NodeReading("a", 0),),
        pods=(),
        dra_devices=_devices("a", 8),
        dra_claims=(
            _claim("ns1/w", "a", ids=range(4), own=True),
            _claim("b/t", "a", ids=range(4, 5)),
        ),
    )
    assert cluster_capacity(r).gpus == 7


def test_dra_and_device_plugin_gpus_both_limit_the_least_binds() -> None:
    """A cluster that offers GPUs both ways keeps the nodes limit unchanged and adds the
    dra limit; the lesser binds. Claims not read: nothing is subtracted, and it says so."""
    r = ClusterReadings(
        nodes=(NodeReading("plugin", 4), NodeReading("a", 0)),
        pods=(),
        dra_devices=_devices("a", 8),
    )
    cap = cluster_capacity(r)
    assert {lim.source: lim.gpus for lim in cap.limits} == {"nodes": 4, "dra": 8}
    assert cap.gpus == 4 and cap.binding is not None and cap.binding.source == "nodes"
    dra = next(lim for lim in cap.limits if lim.source == "dra")
    assert "resourceclaims not read" in dra.detail


def test_no_dra_devices_leaves_the_limits_unchanged() -> None:
    """DRA not served (None) or served with no GPU device: no dra limit, and a nodes
    limit of 0 still binds as before (the nodes offer no GPU)."""
    for devices in (None, ()):
        r = ClusterReadings(nodes=(NodeReading("a", 0),), pods=(), dra_devices=devices)
        cap = cluster_capacity(r)
        assert [lim.source for lim in cap.limits] == ["nodes"] and cap.gpus == 0


def test_dra_mig_partitions_are_not_gpus_and_one_allocated_holds_its_gpu() -> None:
    """Two whole GPUs and three MIG partitions of gpu-0 published: the dra limit counts
    2, not 5; another tenant's claim on one partition holds all of gpu-0 (1 left); the
    graph's own claim on a partition holds nothing; the detail names the partitions."""
    parts = tuple(DraDevice(DRV, "a", f"gpu-0-mig-{i}", "a", parent="gpu-0") for i in range(3))
    base = ClusterReadings(
        nodes=(NodeReading("a", 0),), pods=(), dra_devices=_devices("a", 2) + parts, dra_claims=()
    )
    cap = cluster_capacity(base)
    assert cap.gpus == 2
    assert cap.binding is not None and "3 partitions (MIG) not counted" in cap.binding.detail
    other = DraClaim("b/t", ((DRV, "a", "gpu-0-mig-1"),))
    own = DraClaim("ns1/w", ((DRV, "a", "gpu-0-mig-2"),), own=True)
    assert cluster_capacity(replace(base, dra_claims=(other,))).gpus == 1
    assert cluster_capacity(replace(base, dra_claims=(own,))).gpus == 2
