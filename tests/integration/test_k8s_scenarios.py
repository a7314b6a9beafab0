"""Failure scenarios for the Kubernetes connector against the fake API server: conflict
storms, missing permissions, stuck pods, an API server outage, half-applied decisions and
two planner replicas."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from connectors.errors import Forbidden, Unavailable
from connectors.instrumented import InstrumentedConnector
from connectors.kubernetes import KubernetesConnector
from connectors.kubernetes.lease import LeaderElector
from connectors.protocols import ApplyReason
from connectors.reconcile import ReapplyingConnector
from planner.core.types import Component
from tests.fakes.clock import ManualClock
from tests.fakes.connector_harness import harness, k8s_settings, seed_cluster
from tests.fakes.k8s_api import FakeKubeApi, Fault
from tests.fakes.k8s_cluster import Cluster

P, D = Component.PREFILL, Component.DECODE
SCALE = "dynamographdeploymentscalingadapters/scale"


async def test_conflict_storm_converges(tmp_path: Path) -> None:
    """Every first write of each object meets a concurrent change (a real 409 from a
    stale resourceVersion); each is retried on a fresh read and all decisions land."""
    async with harness("k8s-adapter", tmp_path) as h:
        assert h.fake is not None
        h.fake.conflict_storm = True
        plan = [{P: 2, D: 3}, {P: 3, D: 1}, {P: 1, D: 4}, {P: 2, D: 2}, {P: 4, D: 1}]
        for i, targets in enumerate(plan):
            result = await h.connector.apply(targets, decision_id=f"d-{i}")
            assert result.applied, result.message
            assert h.cluster_replicas() == targets
        puts = [c for c in h.fake.calls if c.method == "PUT" and c.resource == SCALE]
        conflicts = [c for c in puts if c.status == 409]
        assert len(puts) <= 20
        assert len(conflicts) == len(puts) - len(conflicts) == 10


async def test_forbidden_names_the_missing_rule(tmp_path: Path) -> None:
    """A 403 on the adapter's /scale update is reported (not applied, reason forbidden)
    with the verb, API group, resource and namespace to add to the Role."""
    async with harness("k8s-adapter", tmp_path) as h:
        assert h.fake is not None
        h.fake.denied.add(("nvidia.com", SCALE, "update"))
        result = await h.connector.apply({P: 2}, decision_id="d-1")
        assert not result.applied and result.reason == ApplyReason.FORBIDDEN
        for needle in ("'update'", f"'{SCALE}'", "nvidia.com", "'ns1'", 'verbs: ["update"]'):
            assert needle in result.message, needle
        assert h.cluster_replicas()[P] == 1


async def test_forbidden_read_raises_with_rule(tmp_path: Path) -> None:
    """Without permission to list pods, read() raises Forbidden naming pods/list."""
    async with harness("k8s-deployment", tmp_path) as h:
        assert h.fake is not None
        h.fake.denied.add(("", "pods", "list"))
        with pytest.raises(Forbidden, match=r"verb 'list' on resource 'pods'.*core"):
            await h.connector.read()


async def test_stuck_pending_pods_do_not_block_past_deadline(tmp_path: Path) -> None:
    """Unschedulable pods defer growth only until not_coming_after_s; then the planner
    is told (not_coming, message with the scheduler's reason) and can lower the target."""
    async with harness("k8s-dgd", tmp_path) as h:
        h.set_capacity(D, 2)
        assert (await h.connector.apply({D: 5}, decision_id="d-1")).applied
        deferred = await h.connector.apply({D: 6}, decision_id="d-2")
        assert deferred.reason == ApplyReason.UNSETTLED
        h.clock.advance(301)
        state = await h.connector.read()
        assert state.components[D].not_coming == 3 and state.settled
        assert "Unschedulable" in state.message
        lowered = await h.connector.apply({D: 2}, decision_id="d-3")
        assert lowered.applied and h.cluster_replicas()[D] == 2
        state = await h.connector.read()
        assert state.components[D].not_coming == 0 and state.settled


async def test_api_down_for_ticks_loses_no_decision(tmp_path: Path) -> None:
    """With the API server down for three ticks the planner neither crashes nor hangs
    (each call fails fast as unavailable); when it returns the latest decision is
    re-applied before the next read."""
    async with harness("k8s-dgd", tmp_path, request_timeout_s=0.5) as h:
        assert h.fake is not None
        conn = InstrumentedConnector(ReapplyingConnector(h.connector))
        assert (await conn.read()).settled  # the planner was running before the outage
        await h.fake.stop()
        for tick in range(3):
            result = await conn.apply({P: 2 + tick, D: 1}, decision_id=f"d-{tick}")
            assert not result.applied and result.reason == ApplyReason.UNAVAILABLE
            with pytest.raises(Unavailable):
                await conn.read()
        assert conn.errors["unavailable"] == 6
        await h.fake.start()
        state = await conn.read()
        assert state.desired == {P: 4, D: 1}
        assert h.cluster_replicas() == {P: 4, D: 1}


async def test_5xx_and_slow_responses_are_retried(tmp_path: Path) -> None:
    """Two 500s, then a response slower than the request timeout, are retried with
    backoff; the write lands within the bounded attempts."""
    async with harness("k8s-deployment", tmp_path, request_timeout_s=0.3) as h:
        assert h.fake is not None
        h.fake.faults += [
            Fault(status=500, times=1, method="PUT"),
            Fault(status=0, delay_s=0.6, times=1, method="PUT"),
        ]
        result = await h.connector.apply({P: 3}, decision_id="d-1")
        assert result.applied, result.message
        assert h.cluster_replicas()[P] == 3


async def test_failed_grow_rolls_back_the_shrink(tmp_path: Path) -> None:
    """Shrinks are written first; when the grow then fails, the shrink is undone and the
    result says so (not applied, in_effect = the old targets)."""
    async with harness("k8s-adapter", tmp_path) as h:
        assert h.fake is not None
        h.fake.faults.append(Fault(status=500, times=99, method="PUT", name="g-vllmprefillworker"))
        result = await h.connector.apply({P: 3, D: 1}, decision_id="d-1")
        assert not result.applied and result.reason == ApplyReason.UNAVAILABLE
        assert "rolled back decode back to 2" in result.message
        assert dict(result.in_effect) == {P: 1, D: 2}
        assert h.cluster_replicas() == {P: 1, D: 2}
        order = [
            c.name
            for c in h.fake.calls
            if c.method == "PUT" and c.status == 200 and c.resource == SCALE
        ]
        assert order == ["g-vllmdecodeworker", "g-vllmdecodeworker"]


async def test_failed_rollback_is_reported_precisely(tmp_path: Path) -> None:
    """If the rollback fails too, the result is PARTIAL and in_effect names the mix."""
    async with harness("k8s-adapter", tmp_path) as h:
        assert h.fake is not None
        h.fake.faults += [
            Fault(status=500, times=99, method="PUT", name="g-vllmprefillworker"),
            Fault(status=500, times=99, method="PUT", name="g-vllmdecodeworker", after=1),
        ]
        result = await h.connector.apply({P: 3, D: 1}, decision_id="d-1")
        assert not result.applied and result.reason == ApplyReason.PARTIAL
        assert dict(result.in_effect) == {P: 1, D: 1} == h.cluster_replicas()
        assert "decode stays at 1" in result.message


async def test_two_replicas_exactly_one_writes(tmp_path: Path) -> None:
    """Two planner replicas on one Lease: only the holder writes; when it closes (and
    releases the lease) the standby takes over and writes."""
    clock = ManualClock()
    fake = FakeKubeApi(cluster=Cluster(clock=clock))
    seed_cluster(fake.cluster, "k8s-dgd")
    await fake.start()
    kubeconfig = fake.write_kubeconfig(tmp_path / "kc", namespace="ns1")
    settings = k8s_settings("k8s-dgd", kubeconfig)
    a = KubernetesConnector(settings, identity="planner-a", clock=clock)
    b = KubernetesConnector(settings, identity="planner-b", clock=clock)
    try:
        ra = await a.apply({P: 2}, decision_id="a-1")
        rb = await b.apply({P: 5}, decision_id="b-1")
        assert ra.applied and a.is_leader
        assert rb.reason == ApplyReason.NOT_LEADER and not b.is_leader
        patches = [c for c in fake.calls if c.verb == "patch"]
        assert len(patches) == 1
        await a.close()
        for _ in range(50):  # b's renew loop runs every 0.2 s
            if b.is_leader:
                break
            await asyncio.sleep(0.05)
        rb = await b.apply({P: 5}, decision_id="b-2")
        assert (
            rb.applied
            and fake.cluster.get(("nvidia.com", "dynamographdeployments", "ns1"), "g")["spec"][
                "services"
            ]["VllmPrefillWorker"]["replicas"]
            == 5
        )  # type: ignore[index]
    finally:
        await a.close()
        await b.close()
        await fake.close()


async def test_lease_expires_when_holder_stops_renewing(tmp_path: Path) -> None:
    """A holder that stops renewing (crashed) loses the lease once it has not moved for
    lease_duration_s in the standby's view; the old holder then sees it lost."""
    from kubernetes_asyncio import client, config

    clock = ManualClock()
    fake = FakeKubeApi()
    await fake.start()
    cfg = client.Configuration()
    await config.load_kube_config(
        str(fake.write_kubeconfig(tmp_path / "kc")), client_configuration=cfg, persist_config=False
    )
    api = client.ApiClient(cfg)
    kw = dict(namespace="default", name="l", lease_duration_s=10, renew_every_s=1, timeout_s=2)
    a = LeaderElector(api, identity="a", clock=clock, **kw)  # type: ignore[arg-type]
    b = LeaderElector(api, identity="b", clock=clock, **kw)  # type: ignore[arg-type]
    try:
        assert await a.try_acquire_or_renew()
        assert not await b.try_acquire_or_renew()
        clock.advance(5)
        assert not await b.try_acquire_or_renew() and a.is_leader
        clock.advance(6)  # 11 s since b first saw a's record unchanged
        assert not a.is_leader
        assert await b.try_acquire_or_renew() and b.is_leader
        assert not await a.try_acquire_or_renew() and not a.is_leader
        lease = fake.cluster.get(("coordination.k8s.io", "leases", "default"), "l")
        assert lease is not None and lease["spec"]["holderIdentity"] == "b"
        assert lease["spec"]["leaseTransitions"] == 1
    finally:
        await api.close()
        await fake.close()


async def test_an_outage_costs_one_retry_policy_per_call_not_stacked_attempts(
    tmp_path: Path,
) -> None:
    """With every read of the graph answered 503, one service tick makes exactly
    retry.attempts (3 here) requests for it, the connector's one policy, and then fails
    as a connector error; the service adds no attempts of its own around the connector
    (it used to: 3 service attempts x 4 connector attempts)."""
    from planner.clock import ServiceClock
    from planner.service.loop import PlannerService
    from planner.service.telemetry import Telemetry
    from tests.integration.service_helpers import fast_settings

    async with harness("k8s-dgd", tmp_path) as h:
        assert h.fake is not None
        assert (await h.connector.read()).settled
        before = len(h.fake.calls)
        h.fake.faults.append(Fault(status=503, times=10_000, resource="dynamographdeployments"))
        service = PlannerService(
            settings=fast_settings(),
            planner=None,  # type: ignore[arg-type]  # never reached: the read fails first
            source=None,  # type: ignore[arg-type]
            connector=InstrumentedConnector(ReapplyingConnector(h.connector)),
            telemetry=Telemetry(),
            clock=ServiceClock(compression=1.0, origin_s=0.0, loop_origin=0.0),
        )
        rec = await service.tick()
        graph_reads = [c for c in h.fake.calls[before:] if c.resource == "dynamographdeployments"]
        assert rec.error_kind == "connector" and "503" in rec.error
        assert [c.status for c in graph_reads] == [503, 503, 503]


async def test_holder_steps_down_at_the_renew_deadline_before_the_lease_is_free(
    tmp_path: Path,
) -> None:
    """A holder that cannot renew stops counting itself leader renew_deadline_s (6 s)
    after its last renewal, while the standby may take the lease only after
    lease_duration_s (10 s): for those 4 s nobody writes, so a write the old holder
    began just before stepping down lands before anyone else can write."""
    from kubernetes_asyncio import client, config

    clock = ManualClock()
    fake = FakeKubeApi()
    await fake.start()
    cfg = client.Configuration()
    await config.load_kube_config(
        str(fake.write_kubeconfig(tmp_path / "kc")), client_configuration=cfg, persist_config=False
    )
    api = client.ApiClient(cfg)
    kw = dict(namespace="default", name="l", lease_duration_s=10, renew_every_s=1, timeout_s=2)
    a = LeaderElector(api, identity="a", clock=clock, renew_deadline_s=6, **kw)  # type: ignore[arg-type]
    b = LeaderElector(api, identity="b", clock=clock, **kw)  # type: ignore[arg-type]
    try:
        assert await a.try_acquire_or_renew()
        assert not await b.try_acquire_or_renew()
        clock.advance(5.9)
        assert a.is_leader
        clock.advance(0.2)  # 6.1 s since a's last renewal
        assert not a.is_leader
        assert not await b.try_acquire_or_renew() and not b.is_leader
        clock.advance(4.0)  # 10.1 s: the lease is free in b's view
        assert await b.try_acquire_or_renew() and b.is_leader
    finally:
        await api.close()
        await fake.close()
