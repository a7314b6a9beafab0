"""Every Kubernetes permission the connector uses, in one place: each API call names its
rule from here, a 403 is explained with it, and deploy/'s Role is checked against it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DYNAMO_GROUP = "nvidia.com"
DYNAMO_VERSION = "v1alpha1"
DGD_PLURAL = "dynamographdeployments"
ADAPTER_PLURAL = "dynamographdeploymentscalingadapters"


@dataclass(frozen=True, slots=True, order=True)
class Rule:
    """One RBAC permission: an API group ("" is the core group), a resource (with its
    subresource after a slash, as RBAC spells it) and a verb."""

    group: str
    resource: str
    verb: str
    #: granted cluster-wide (a ClusterRole): cluster-scoped resources, or every namespace
    cluster_wide: bool = False

    def describe(self, namespace: str) -> str:
        group = self.group or '"" (core)'
        where = (
            "cluster-wide (a ClusterRole)" if self.cluster_wide else f"in namespace {namespace!r}"
        )
        return f"verb {self.verb!r} on resource {self.resource!r} in API group {group} {where}"

    def role_snippet(self) -> str:
        return (
            f'- apiGroups: ["{self.group}"]\n'
            f'  resources: ["{self.resource}"]\n'
            f'  verbs: ["{self.verb}"]'
        )


DGD_GET = Rule(DYNAMO_GROUP, DGD_PLURAL, "get")
DGD_PATCH = Rule(DYNAMO_GROUP, DGD_PLURAL, "patch")
ADAPTER_SCALE_GET = Rule(DYNAMO_GROUP, f"{ADAPTER_PLURAL}/scale", "get")
ADAPTER_SCALE_UPDATE = Rule(DYNAMO_GROUP, f"{ADAPTER_PLURAL}/scale", "update")
DEPLOYMENT_GET = Rule("apps", "deployments", "get")
DEPLOYMENT_SCALE_GET = Rule("apps", "deployments/scale", "get")
DEPLOYMENT_SCALE_UPDATE = Rule("apps", "deployments/scale", "update")
STATEFULSET_GET = Rule("apps", "statefulsets", "get")
STATEFULSET_SCALE_GET = Rule("apps", "statefulsets/scale", "get")
STATEFULSET_SCALE_UPDATE = Rule("apps", "statefulsets/scale", "update")
PODS_LIST = Rule("", "pods", "list")
LEASE_GET = Rule("coordination.k8s.io", "leases", "get")
LEASE_CREATE = Rule("coordination.k8s.io", "leases", "create")
LEASE_UPDATE = Rule("coordination.k8s.io", "leases", "update")

LEASE_RULES = frozenset({LEASE_GET, LEASE_CREATE, LEASE_UPDATE})
#: the cluster's GPU capacity (connector.kubernetes.cluster_capacity): the namespace's
#: quotas in the Role; nodes, Karpenter NodePools, every namespace's pods and DRA
#: ResourceSlices / ResourceClaims in a ClusterRole (deploy/base/clusterrole.yaml)
QUOTAS_LIST = Rule("", "resourcequotas", "list")
NODES_LIST = Rule("", "nodes", "list", cluster_wide=True)
NODEPOOLS_LIST = Rule("karpenter.sh", "nodepools", "list", cluster_wide=True)
ALL_PODS_LIST = Rule("", "pods", "list", cluster_wide=True)
DRA_GROUP = "resource.k8s.io"
RESOURCESLICES_LIST = Rule(DRA_GROUP, "resourceslices", "list", cluster_wide=True)
RESOURCECLAIMS_LIST = Rule(DRA_GROUP, "resourceclaims", "list", cluster_wide=True)
CLUSTER_CAPACITY_RULES = frozenset(
    {NODES_LIST, NODEPOOLS_LIST, ALL_PODS_LIST, RESOURCESLICES_LIST, RESOURCECLAIMS_LIST}
)

Target = Literal["dgd", "deployment", "statefulset"]
AdapterMode = Literal["auto", "always", "never"]


#: verbs that only read: all an advisory planner (service.advisory) calls
READ_VERBS = frozenset({"get", "list"})


def required_rbac(
    *,
    target: Target,
    scaling_adapters: AdapterMode = "auto",
    leader_election: bool = True,
    writes: bool = True,
    cluster_capacity: bool = False,
) -> frozenset[Rule]:
    """The exact set of namespaced rules (the Role) the connector calls for this
    configuration. ``writes`` False (an advisory planner: it reads the graph and never
    applies) keeps the reading rules only; the lease rules follow ``leader_election``
    either way; ``cluster_capacity`` adds listing the namespace's ResourceQuotas."""
    rules: set[Rule] = {PODS_LIST}
    if cluster_capacity:
        rules.add(QUOTAS_LIST)
    if target == "dgd":
        rules.add(DGD_GET)
        if scaling_adapters != "never":
            rules |= {ADAPTER_SCALE_GET, ADAPTER_SCALE_UPDATE}
        if scaling_adapters != "always":
            rules.add(DGD_PATCH)
    elif target == "deployment":
        rules |= {DEPLOYMENT_GET, DEPLOYMENT_SCALE_GET, DEPLOYMENT_SCALE_UPDATE}
    else:
        rules |= {STATEFULSET_GET, STATEFULSET_SCALE_GET, STATEFULSET_SCALE_UPDATE}
    if not writes:
        rules = {r for r in rules if r.verb in READ_VERBS}
    if leader_election:
        rules |= LEASE_RULES
    return frozenset(rules)


def required_cluster_rbac(*, cluster_capacity: bool) -> frozenset[Rule]:
    """The cluster-wide rules (the ClusterRole): only reads, only for the capacity."""
    return CLUSTER_CAPACITY_RULES if cluster_capacity else frozenset()


#: every rule any configuration may need (the union over targets), for reference
REQUIRED_RBAC: dict[str, frozenset[Rule]] = {
    "dgd": required_rbac(target="dgd"),
    "deployment": required_rbac(target="deployment"),
    "statefulset": required_rbac(target="statefulset"),
}
