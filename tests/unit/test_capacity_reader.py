"""How the capacity reader turns kubernetes_asyncio objects into readings
(connectors/kubernetes/capacity.py): quantities, a pod's GPUs (init containers,
requests or limits), Ready and cordoned nodes, the NodePool label, and the label
selectors that pick out the graph's own pods."""

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
