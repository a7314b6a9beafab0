"""How the capacity reader turns kubernetes_asyncio objects into readings
(connectors/kubernetes/capacity.py): quantities, a pod's GPUs (init containers,
requests or limits), Ready and cordoned nodes, the NodePool label, the label
selectors that pick out the graph's own pods, and DRA ResourceSlice / ResourceClaim
bodies (connectors/kubernetes/dra.py)."""

from __future__ import annotations

from kubernetes_asyncio.client import (
    V1Container,
    V1Node,
    V1NodeCondition,
    V1NodeSpec,
    V1NodeStatus,
    V1ObjectMeta,
    V1Pod,
    V1PodSpec,
    V1ResourceRequirements,
)

from connectors.kubernetes.capacity import count, node_reading, pod_gpus, selector_matches
from connectors.kubernetes.dra import allocated_claims, slice_devices
from tests.fakes.k8s_dra import claim_object, slice_object

GPU = "nvidia.com/gpu"
MIG = "nvidia.com/mig-1g.10gb"


def _node(*, gpus: str, ready: str = "True", cordoned: bool = False, pool: str = "") -> V1Node:
    return V1Node(
        metadata=V1ObjectMeta(name="n", labels={"karpenter.sh/nodepool": pool} if pool else {}),
        spec=V1NodeSpec(unschedulable=cordoned or None),
        status=V1NodeStatus(
            allocatable={GPU: gpus, MIG: "7"},
            conditions=[V1NodeCondition(type="Ready", status=ready)],
        ),
    )


def _container(name: str, **res: dict[str, str]) -> V1Container:
    return V1Container(name=name, resources=V1ResourceRequirements(**res))


def test_quantities_are_whole_counts_and_junk_is_zero() -> None:
    """ "4", "4.0" and 4 read as 4; an unreadable quantity reads as 0, never raises."""
    assert count("4") == count("4.0") == count(4) == 4
    assert count("lots") == 0


def test_nodes_count_only_when_ready_and_uncordoned_by_resource_name() -> None:
    """A Ready node is schedulable, a NotReady or cordoned one is not; the allocatable
    is read under the configured name only (MIG slices apart from whole GPUs); the
    Karpenter NodePool label is kept."""
    ok = node_reading(_node(gpus="8", pool="gpu"), GPU)
    assert (ok.allocatable_gpus, ok.schedulable, ok.nodepool) == (8, True, "gpu")
    assert node_reading(_node(gpus="8"), MIG).allocatable_gpus == 7
    assert not node_reading(_node(gpus="8", ready="False"), GPU).schedulable
    assert not node_reading(_node(gpus="8", cordoned=True), GPU).schedulable


def test_a_pod_holds_its_containers_sum_or_its_largest_init_container() -> None:
    """Containers add up (requests or limits, whichever is set and larger); an init
    container that asks for more than all of them sets the pod's GPUs."""
    pod = V1Pod(
        metadata=V1ObjectMeta(name="p", namespace="ns1"),
        spec=V1PodSpec(
            containers=[
                _container("a", limits={GPU: "2"}),
                _container("b", requests={GPU: "1"}, limits={GPU: "1"}),
                _container("c"),
            ]
        ),
    )
    assert pod_gpus(pod, GPU) == 3
    assert pod_gpus(pod, MIG) == 0
    pod.spec.init_containers = [_container("init", limits={GPU: "4"})]
    assert pod_gpus(pod, GPU) == 4


def test_selectors_match_equality_terms_only() -> None:
    """'a=b,c==d' matches pods with both labels; a missing or different label, an empty
    selector or a set-based term does not match."""
    labels = {"a": "b", "c": "d"}
    assert selector_matches(labels, "a=b,c==d")
    assert not selector_matches(labels, "a=b,c=x")
    assert not selector_matches(labels, "a=b,e=f")
    assert not selector_matches(labels, "")
    assert not selector_matches(labels, "a in (b)")


def test_slices_count_each_device_of_the_gpu_drivers_newest_generation_only() -> None:
    """Devices of the configured drivers are read with their node and pool; another
    driver's slice is ignored, and a pool's older generation (stale) is dropped."""
    items = [
        slice_object("a-old", node="a", driver="gpu.nvidia.com", devices=8, generation=1),
        slice_object("a-new", node="a", driver="gpu.nvidia.com", devices=4, generation=2),
        slice_object("a-nic", node="a", driver="nic.example.com", devices=2),
        slice_object("b", node="b", driver="gpu.nvidia.com", devices=2),
    ]
    devices = slice_devices(items, {"gpu.nvidia.com"})
    assert len(devices) == 6
    assert {(d.node, d.pool) for d in devices} == {("a", "a"), ("b", "b")}
    assert not slice_devices(items, {"other.example.com"})


def test_claims_are_the_graphs_own_when_reserved_for_its_pods() -> None:
    """An allocated claim keeps its (driver, pool, device) results of the GPU drivers;
    reservedFor naming one of the graph's pods (namespace, name) makes it own; a claim
    of another driver only is left out."""
    mine = claim_object("ns1", "w", driver="gpu.nvidia.com", node="a", devices=["gpu-0"], pod="w-0")
    other = claim_object("b", "t", driver="gpu.nvidia.com", node="a", devices=["gpu-1"], pod="w-0")
    nic = claim_object("b", "n", driver="nic.example.com", node="a", devices=["nic-0"], pod=None)
    claims = allocated_claims([mine, other, nic], {"gpu.nvidia.com"}, own_pods={("ns1", "w-0")})
    assert [(c.name, c.own) for c in claims] == [("ns1/w", True), ("b/t", False)]
    assert claims[0].devices == (("gpu.nvidia.com", "a", "gpu-0"),)


def test_mig_partitions_are_read_as_partitions_of_their_gpu() -> None:
    """A slice with two whole GPUs (type gpu, a uuid) and two MIG devices of the first
    (type mig, parentUUID), in the v1beta1 shape and with a domain-qualified attribute
    in the v1 shape: the GPUs are whole devices, each MIG device names its GPU, and a
    partition whose GPU is not published names none."""

    def dev(name: str, **attrs: str) -> dict[str, object]:
        return {"name": name, "basic": {"attributes": {k: {"string": v} for k, v in attrs.items()}}}

    item = slice_object("a", node="a", driver="gpu.nvidia.com", devices=0)
    item["spec"]["devices"] = [
        dev("gpu-0", type="gpu", uuid="GPU-0"),
        dev("gpu-1", type="gpu", uuid="GPU-1"),
        dev("gpu-0-mig-1", type="mig", parentUUID="GPU-0"),
        {"name": "gpu-0-mig-2", "attributes": {"gpu.nvidia.com/parentUUID": {"string": "GPU-0"}}},
        dev("orphan-mig", type="mig", parentUUID="GPU-9"),
    ]
    parents = {d.name: d.parent for d in slice_devices([item], {"gpu.nvidia.com"})}
    assert parents == {
        "gpu-0": None,
        "gpu-1": None,
        "gpu-0-mig-1": "gpu-0",
        "gpu-0-mig-2": "gpu-0",
        "orphan-mig": "",
    }
