"""The cluster's GPU capacity for one graph: raw readings in, the most GPUs the graph can
hold in all (its own workers included) out, with the limit that binds and why.

Pure arithmetic, no I/O: the Kubernetes connector reads Nodes, Karpenter NodePools,
ResourceQuotas and Pods (connectors/kubernetes/capacity.py) and hands the readings here.
GPUs are counted by resource name (``nvidia.com/gpu``, a MIG profile such as
``nvidia.com/mig-3g.40gb``: whatever the graph's workers request), one unit each.

- nodes: allocatable GPUs on schedulable nodes (Ready, not cordoned), plus, for nodes
  Karpenter manages, each NodePool's ``spec.limits`` instead of its nodes' sum (the pool
  can grow to its limit; a pool without a GPU limit leaves the node ceiling unbounded),
  minus the GPUs other pods hold on those nodes or wait for (Pending pods count as held);
- quota: for each ResourceQuota key on the GPU resource, hard - used + what the graph's
  own pods hold (they are in ``used`` and would be replaced, not added);
- dra: when a GPU driver publishes devices in ResourceSlices (dynamic resource
  allocation), the whole devices on schedulable nodes (and those not bound to a node)
  minus the ones allocated to claims other than the graph's own (a claim is the graph's
  own when it is reserved for one of the graph's pods); a partition of a GPU (a MIG
  device) is not a GPU a worker can take, and one allocated holds its whole GPU. The
  nodes limit then counts only device-plugin GPUs, and is left out when no node offers
  any: the GPUs are DRA's.

The graph's cap is the least of the limits read; ``None`` when nothing was read.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NodeReading:
    name: str
    allocatable_gpus: int
    #: Ready and not cordoned (spec.unschedulable); others add nothing
    schedulable: bool = True
    #: the ``karpenter.sh/nodepool`` label, when Karpenter manages the node
    nodepool: str | None = None


@dataclass(frozen=True, slots=True)
class NodePoolReading:
    name: str
    #: ``spec.limits`` on the GPU resource; None: the pool sets no GPU limit
    limit_gpus: int | None


@dataclass(frozen=True, slots=True)
class QuotaReading:
    name: str
    #: e.g. ``requests.nvidia.com/gpu``
    key: str
    hard_gpus: int
    used_gpus: int


@dataclass(frozen=True, slots=True)
class PodGpus:
    """A pod that requests GPUs: bound to ``node``, or Pending (``node`` None)."""

    name: str
    gpus: int
    node: str | None
    #: one of the graph's own workers
    own: bool = False


@dataclass(frozen=True, slots=True)
class DraDevice:
    """One device a DRA driver publishes in a ResourceSlice."""

    driver: str
    pool: str
    name: str
    #: ``spec.nodeName`` of its slice; None: not bound to one node
    node: str | None
    #: for a partition of a GPU (a MIG device), the name of the whole GPU it is carved
    #: from, in the same pool; "" when that GPU is not published; None: a whole device
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class DraClaim:
    """An allocated ResourceClaim: the devices (driver, pool, device) it holds."""

    name: str
    devices: tuple[tuple[str, str, str], ...]
    #: reserved for one of the graph's own pods
    own: bool = False


@dataclass(frozen=True, slots=True)
class ClusterReadings:
    """What the connector could read; ``None`` for a kind it did not read, and why in
    ``unread`` (e.g. RBAC forbids it)."""

    resource: str = "nvidia.com/gpu"
    nodes: tuple[NodeReading, ...] | None = None
    nodepools: tuple[NodePoolReading, ...] | None = None
    quotas: tuple[QuotaReading, ...] | None = None
    pods: tuple[PodGpus, ...] | None = None
    #: devices of the GPU drivers in ResourceSlices; None: DRA not read or not served
    dra_devices: tuple[DraDevice, ...] | None = None
    #: allocated ResourceClaims using those drivers; None: not read
    dra_claims: tuple[DraClaim, ...] | None = None
    unread: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CapacityLimit:
    """One limit on the graph's GPUs: where it comes from and the numbers behind it."""

    source: str
    gpus: int
    detail: str


@dataclass(frozen=True, slots=True)
class ClusterCapacity:
    """The graph's cap (``gpus``; None: unlimited as far as the readings go), every
    limit that was read, and what could not be read."""

    resource: str
    gpus: int | None
    limits: tuple[CapacityLimit, ...] = ()
    unread: tuple[str, ...] = ()

    @property
    def binding(self) -> CapacityLimit | None:
        """The least limit (the first such, in reading order)."""
        return min(self.limits, key=lambda lim: lim.gpus, default=None)

    def describe(self) -> str:
        lim = self.binding
        head = "unlimited" if lim is None else f"{lim.gpus} {self.resource} ({lim.source}: "
        head += "" if lim is None else f"{lim.detail})"
        tail = f"; not read: {'; '.join(self.unread)}" if self.unread else ""
        return f"cluster capacity {head}{tail}"


def _node_limit(r: ClusterReadings) -> CapacityLimit | None:
    if r.nodes is None:
        return None
    if r.dra_devices and not r.nodepools and not any(n.allocatable_gpus for n in r.nodes):
        return None  # no node offers the resource by device plugin: the GPUs are DRA's
    pools = {p.name: p for p in r.nodepools or ()}
    unbounded = sorted(p.name for p in pools.values() if p.limit_gpus is None)
    if unbounded:
        return None  # Karpenter may launch GPU nodes without end through these pools
    static = [n for n in r.nodes if n.nodepool not in pools]
    counted = {n.name for n in static if n.schedulable} | {
        n.name for n in r.nodes if n.nodepool in pools
    }
    static_gpus = sum(n.allocatable_gpus for n in static if n.schedulable)
    pool_gpus = sum(p.limit_gpus or 0 for p in pools.values())
    ceiling = static_gpus + pool_gpus
    held = [p for p in r.pods or () if not p.own and (p.node is None or p.node in counted)]
    bound = sum(p.gpus for p in held if p.node is not None)
    pending = sum(p.gpus for p in held if p.node is None)
    ready = sum(1 for n in static if n.schedulable)
    parts = [f"{static_gpus} allocatable on {ready} schedulable nodes"]
    if pools:
        parts.append(f"{pool_gpus} by NodePool limits ({', '.join(sorted(pools))})")
    if r.pods is None:
        parts.append("pods not read: other pods' GPUs not subtracted")
    else:
        parts.append(f"{bound} held by other pods, {pending} wanted by Pending pods")
    return CapacityLimit("nodes", max(0, ceiling - bound - pending), ", ".join(parts))


def _quota_limits(r: ClusterReadings) -> list[CapacityLimit]:
    own = sum(p.gpus for p in r.pods or () if p.own)
    out: list[CapacityLimit] = []
    for q in r.quotas or ():
        gpus = max(0, q.hard_gpus - q.used_gpus + own)
        detail = f"{q.name} {q.key} hard {q.hard_gpus} - used {q.used_gpus} + graph's own {own}"
        out.append(CapacityLimit("quota", gpus, detail))
    return out


def _dra_limit(r: ClusterReadings) -> CapacityLimit | None:
    if not r.dra_devices:
        return None  # DRA not served, not read, or no GPU driver publishes devices
    schedulable = None if r.nodes is None else {n.name for n in r.nodes if n.schedulable}
    placeable = [
        d for d in r.dra_devices if d.node is None or schedulable is None or d.node in schedulable
    ]
    # a worker takes whole GPUs: partitions are not counted, and a GPU with a partition
    # allocated is held as a whole
    counted = {(d.driver, d.pool, d.name) for d in placeable if d.parent is None}
    whole_of = {
        (d.driver, d.pool, d.name): (d.driver, d.pool, d.parent)
        for d in placeable
        if d.parent is not None
    }
    held: set[tuple[str, str, str]] = set()
    others = 0
    for c in r.dra_claims or ():
        taken = {whole_of.get(dev, dev) for dev in c.devices} & counted
        if not c.own and taken:
            held |= taken
            others += 1
    drivers = ", ".join(sorted({d.driver for d in r.dra_devices}))
    parts = [f"{len(counted)} devices published by {drivers}"]
    partitions = sum(1 for d in placeable if d.parent is not None)
    if partitions:
        parts.append(f"{partitions} partitions (MIG) not counted as GPUs")
    if schedulable is None:
        parts.append("nodes not read: every node counted")
    if r.dra_claims is None:
        parts.append("resourceclaims not read: allocated devices not subtracted")
    else:
        parts.append(f"{len(held)} allocated to {others} other claims")
    if r.pods is None:
        parts.append("pods not read: the graph's own claims counted as others'")
    return CapacityLimit("dra", max(0, len(counted) - len(held)), ", ".join(parts))


def cluster_capacity(readings: ClusterReadings) -> ClusterCapacity:
    """The graph's GPU cap from what was read (see the module docstring)."""
    limits = [lim for lim in (_node_limit(readings), _dra_limit(readings)) if lim is not None]
    limits += _quota_limits(readings)
    gpus = min((lim.gpus for lim in limits), default=None)
    return ClusterCapacity(readings.resource, gpus, tuple(limits), readings.unread)


@dataclass(frozen=True, slots=True)
class EffectiveBudget:
    """The budget one tick plans in: the least of ``budget.max_gpus`` and the cluster's
    cap, the cap never below the GPUs the graph's ready workers already hold (capacity
    stops growth; it never removes serving workers on a reading)."""

    gpus: int | None
    configured_gpus: int | None
    cluster_gpus: int | None
    #: the cluster's cap is what binds (strictly below the configured budget)
    cluster_binds: bool


def effective_budget(
    *, configured_gpus: int | None, cluster_gpus: int | None, ready_gpus: int
) -> EffectiveBudget:
    if cluster_gpus is None:
        return EffectiveBudget(configured_gpus, configured_gpus, None, False)
    cap = max(cluster_gpus, ready_gpus)
    if configured_gpus is not None and configured_gpus <= cap:
        return EffectiveBudget(configured_gpus, configured_gpus, cluster_gpus, False)
    return EffectiveBudget(cap, configured_gpus, cluster_gpus, True)
