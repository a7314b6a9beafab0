"""The RBAC the cluster-capacity reading needs (connectors/kubernetes/rbac.py): only list
verbs, the quota rule in the Role, the rest cluster-wide, and a 403 that names the
ClusterRole to extend."""

from __future__ import annotations

from connectors.kubernetes.rbac import (
    ALL_PODS_LIST,
    NODEPOOLS_LIST,
    NODES_LIST,
    PODS_LIST,
    QUOTAS_LIST,
    RESOURCECLAIMS_LIST,
    RESOURCESLICES_LIST,
    required_cluster_rbac,
    required_rbac,
)


def test_capacity_adds_only_list_rules() -> None:
    """Turning cluster_capacity on adds resourcequotas list to the Role and nodes, pods
    (every namespace), Karpenter NodePools and DRA ResourceSlices / ResourceClaims list
    to the ClusterRole, nothing else; off, the ClusterRole is empty."""
    for target in ("dgd", "deployment", "statefulset"):
        added = required_rbac(target=target, cluster_capacity=True) - required_rbac(target=target)
        assert added == {QUOTAS_LIST}
    cluster = required_cluster_rbac(cluster_capacity=True)
    assert cluster == {
        NODES_LIST,
        ALL_PODS_LIST,
        NODEPOOLS_LIST,
        RESOURCESLICES_LIST,
        RESOURCECLAIMS_LIST,
    }
    assert {r.group for r in {RESOURCESLICES_LIST, RESOURCECLAIMS_LIST}} == {"resource.k8s.io"}
    assert {r.verb for r in cluster} == {"list"} and all(r.cluster_wide for r in cluster)
    assert required_cluster_rbac(cluster_capacity=False) == frozenset()


def test_cluster_wide_rules_are_described_as_a_cluster_role() -> None:
    """A cluster-wide rule's description says ClusterRole, a namespaced one names its
    namespace; the namespaced and the cluster-wide pods list are different permissions."""
    assert NODES_LIST.describe("ns1").endswith("cluster-wide (a ClusterRole)")
    assert PODS_LIST.describe("ns1").endswith("in namespace 'ns1'")
    assert PODS_LIST != ALL_PODS_LIST
