"""The Kubernetes Connector: reads replicas and readiness of the configured objects and
writes a decision whole (shrinks first, rolled back if a later write fails), as leader."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable, Mapping
from typing import Any

from connectors.errors import ConnectorFault
from connectors.kubernetes.capacity import CapacityReader
from connectors.kubernetes.lease import LeaderElector
from connectors.kubernetes.rbac import Rule, required_cluster_rbac, required_rbac
from connectors.kubernetes.readiness import assess, list_pods
from connectors.kubernetes.workload import Workloads
from connectors.protocols import ApplyReason, ApplyResult, ComponentState, GraphState
from connectors.retry import RetryPolicy, retrying
from connectors.settings import KubernetesConnectorSettings
from connectors.settle import (
    Change,
    check_targets,
    deferral,
    graph_settled,
    ordered_changes,
    unsettled_message,
)
from planner.core.types import Component


class KubernetesConnector:
    """Connector for a DynamoGraphDeployment (or its scaling adapters) or plain
    Deployments/StatefulSets. ``api_client`` and ``namespace`` default to
    ``connectors.kubernetes.client.connect(settings)`` on first use."""

    def __init__(
        self,
        settings: KubernetesConnectorSettings,
        *,
        api_client: Any = None,
        namespace: str | None = None,
        identity: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._api_client = api_client
        self._owns_client = api_client is None
        self.namespace = namespace or settings.namespace
        self._identity = identity or settings.leader_election.identity
        self._clock = clock
        self._retry_policy = RetryPolicy.of(settings.retry)
        self._workloads: Workloads | None = None
        self._capacity: CapacityReader | None = None
        self.elector: LeaderElector | None = None
        self._started = asyncio.Lock()
        #: component -> (desired, since when) as last seen, to time pods never created
        self._seen: dict[Component, tuple[int, float]] = {}

    @property
    def required_rbac(self) -> frozenset[Rule]:
        """Every rule the connector calls: the Role's and the ClusterRole's."""
        s = self.settings
        return required_rbac(
            target=s.target,
            scaling_adapters=s.scaling_adapters,
            leader_election=s.leader_election.enabled,
            cluster_capacity=s.cluster_capacity,
        ) | required_cluster_rbac(cluster_capacity=s.cluster_capacity)

    @property
    def is_leader(self) -> bool:
        return self.elector.is_leader if self.elector is not None else True

    async def _start(self) -> Workloads:
        async with self._started:
            if self._workloads is not None:
                return self._workloads
            from connectors.kubernetes.client import connect, default_identity

            s = self.settings
            if self._api_client is None:
                self._api_client, ns = await connect(s)
                self.namespace = self.namespace or ns
            namespace = self.namespace or "default"
            self.namespace = namespace
            workloads: Workloads
            if s.target == "dgd":
                from connectors.kubernetes.dgd import GraphWorkloads

                assert s.graph_name is not None  # settings validate this
                workloads = GraphWorkloads(
                    self._api_client,
                    namespace=namespace,
                    graph_name=s.graph_name,
                    services={str(k): v for k, v in s.services.items()},
                    scaling_adapters=s.scaling_adapters,
                    timeout_s=s.request_timeout_s,
                )
            else:
                from connectors.kubernetes.deployment import AppsWorkloads

                workloads = AppsWorkloads(
                    self._api_client,
                    namespace=namespace,
                    kind=s.target,
                    names={str(k): v for k, v in s.services.items()},
                    timeout_s=s.request_timeout_s,
                )
            le = s.leader_election
            if le.enabled:
                self.elector = LeaderElector(
                    self._api_client,
                    namespace=namespace,
                    name=le.lease_name,
                    identity=self._identity or default_identity(),
                    lease_duration_s=le.lease_duration_s,
                    renew_every_s=le.renew_every_s,
                    renew_deadline_s=le.renew_deadline_s,
                    timeout_s=s.request_timeout_s,
                )
                # one round before the first decision, so a lone replica writes at once
                with contextlib.suppress(ConnectorFault):
                    await self.elector.try_acquire_or_renew()
                self.elector.start()
            if s.cluster_capacity:
                self._capacity = CapacityReader(
                    self._api_client,
                    namespace=namespace,
                    resource=s.gpu_resource,
                    dra_drivers=s.dra_drivers,
                    timeout_s=s.request_timeout_s,
                    retry=self._retry,
                )
            self._workloads = workloads
            return workloads

    async def _retry(self, op: Callable[[], Any]) -> Any:
        """Each API call retried on its own (transient faults only); never the whole read
        or apply, so a conflict re-reads one object, not the graph."""
        return await retrying(op, policy=self._retry_policy, what="Kubernetes API call")

    async def read(self) -> GraphState:
        """Replicas and readiness of every component, and the cluster's capacity when
        ``cluster_capacity`` is on; raises ConnectorFault on failure (never for the
        capacity: what cannot be read is named in it)."""
        return await self._read_graph(capacity=True)

    async def _read_graph(self, *, capacity: bool) -> GraphState:
        workloads = await self._start()
        snapshot = await self._retry(workloads.snapshot)
        now = self._clock()
        components: dict[Component, ComponentState] = {}
        notes: list[str] = []
        for comp, wl in snapshot.items():
            seen = self._seen.get(comp)
            if seen is None or seen[0] != wl.desired:
                self._seen[comp] = seen = (wl.desired, now)
            pods = await self._retry(
                functools.partial(
                    list_pods,
                    self._api_client,
                    namespace=self.namespace or "default",
                    selector=wl.selector,
                    timeout_s=self.settings.request_timeout_s,
                )
            )
            state, note = assess(
                wl,
                pods,
                changed_at_s=seen[1],
                now_s=now,
                not_coming_after_s=self.settings.not_coming_after_s,
            )
            components[comp] = state
            if note:
                notes.append(note)
        settled = graph_settled(components)
        if not settled:
            notes.insert(0, unsettled_message(components))
        cap = None
        if capacity and self._capacity is not None:
            selectors = [wl.selector for wl in snapshot.values()]
            cap = await self._capacity.read(own_selectors=selectors)
        return GraphState(
            components=components, settled=settled, message="; ".join(notes), capacity=cap
        )

    async def apply(self, targets: Mapping[Component, int], *, decision_id: str) -> ApplyResult:
        """Write the decision whole or not at all; never raises for connector faults."""
        wanted = dict(targets)
        try:
            workloads = await self._start()
            if self.elector is not None and not self.is_leader:
                # the renew loop may lag (e.g. just after an outage): one round now
                with contextlib.suppress(ConnectorFault):
                    await self.elector.try_acquire_or_renew()
            if not self.is_leader:
                holder = self.elector.name if self.elector else ""
                return ApplyResult(
                    decision_id,
                    False,
                    wanted,
                    f"not the leader (lease {self.namespace}/{holder}); another replica writes",
                    ApplyReason.NOT_LEADER,
                )
            state = await self._read_graph(capacity=False)
            check_targets(wanted, list(state.components))
        except ConnectorFault as exc:
            return ApplyResult(decision_id, False, wanted, str(exc), exc.kind)
        current = state.desired
        changes = ordered_changes(current, wanted)
        if not changes:
            return ApplyResult(
                decision_id,
                True,
                wanted,
                "targets already in place",
                ApplyReason.UNCHANGED,
                current,
            )
        why_not = deferral(state, wanted)
        if why_not is not None:
            return ApplyResult(decision_id, False, wanted, why_not, ApplyReason.UNSETTLED, current)
        done: list[Change] = []
        for change in changes:
            try:
                await self._retry(functools.partial(workloads.write, change.component, change.new))
            except ConnectorFault as exc:
                return await self._roll_back(decision_id, wanted, current, done, change, exc)
            done.append(change)
            self._seen[change.component] = (change.new, self._clock())
        in_effect = {**current, **wanted}
        summary = ", ".join(f"{c.component.value} {c.old}->{c.new}" for c in changes)
        return ApplyResult(decision_id, True, wanted, summary, ApplyReason.APPLIED, in_effect)

    async def _roll_back(
        self,
        decision_id: str,
        wanted: dict[Component, int],
        current: Mapping[Component, int],
        done: list[Change],
        failed: Change,
        exc: ConnectorFault,
    ) -> ApplyResult:
        """Undo the writes of this decision that succeeded, newest first."""
        in_effect = dict(current)
        stuck: list[str] = []
        for ch in reversed(done):
            try:
                await self._retry(functools.partial(self._write, ch.component, ch.old))
                self._seen[ch.component] = (ch.old, self._clock())
            except ConnectorFault as rollback_exc:
                in_effect[ch.component] = ch.new
                stuck.append(f"{ch.component.value} stays at {ch.new} ({rollback_exc})")
        head = f"writing {failed.component.value} {failed.old}->{failed.new} failed: {exc}"
        if stuck:
            return ApplyResult(
                decision_id,
                False,
                wanted,
                f"{head}; rollback failed: {'; '.join(stuck)}",
                ApplyReason.PARTIAL,
                in_effect,
            )
        undone = ", ".join(f"{c.component.value} back to {c.old}" for c in done)
        tail = f"; rolled back {undone}" if undone else ""
        return ApplyResult(decision_id, False, wanted, head + tail, exc.kind, in_effect)

    async def _write(self, component: Component, replicas: int) -> None:
        assert self._workloads is not None
        await self._workloads.write(component, replicas)

    async def close(self) -> None:
        """Release the lease (a standby takes over at once) and close the client."""
        if self.elector is not None:
            await self.elector.release()
        if self._owns_client and self._api_client is not None:
            await self._api_client.close()
            self._api_client = None
        self._workloads = None
        self._capacity = None
