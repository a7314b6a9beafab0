"""One contract, every replica target: the virtual connector (file and HTTP) and the
Kubernetes connector (DGD patch, scaling adapters, Deployments) against a fake API server
driven by the real kubernetes_asyncio client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectors.kubernetes import KubernetesConnector
from connectors.protocols import ApplyReason, Connector
from planner.core.types import Component
from tests.fakes.connector_harness import (
    GPUS,
    INITIAL,
    NOT_COMING_AFTER_S,
    VARIANTS,
    Harness,
    harness,
)

P, D = Component.PREFILL, Component.DECODE


@pytest.fixture(params=VARIANTS)
async def h(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(request.param, tmp_path) as hh:
        yield hh
        if hh.fake is not None:
            # every request the connector made is covered by the RBAC rules it declares
            assert isinstance(hh.connector, KubernetesConnector)
            declared = {(r.group, r.resource, r.verb) for r in hh.connector.required_rbac}
            assert hh.fake.rules_used() <= declared, hh.fake.rules_used() - declared


async def test_is_a_connector(h: Harness) -> None:
    """Every variant satisfies the runtime-checkable Connector protocol."""
    assert isinstance(h.connector, Connector)


async def test_read_reports_replicas_readiness_and_gpus(h: Harness) -> None:
    """read() returns desired and ready replicas and GPUs per worker for each component;
    no cluster capacity (virtual: never; Kubernetes: cluster_capacity is off by default)."""
    state = await h.connector.read()
    assert state.capacity is None
    assert state.desired == INITIAL
    assert state.ready == INITIAL
    assert {c: s.gpus_per_worker for c, s in state.components.items()} == GPUS
    assert state.settled


async def test_apply_writes_whole_target_and_settles(h: Harness) -> None:
    """apply() writes both components under the decision id; read() then shows them, and
    the graph is settled once the environment has the workers ready."""
    h.hold_ready(True)
    result = await h.connector.apply({P: 2, D: 3}, decision_id="d-1")
    assert result.applied and result.reason == ApplyReason.APPLIED
    assert result.decision_id == "d-1"
    assert dict(result.in_effect) == {P: 2, D: 3}
    await h.environment_acts()
    assert h.cluster_replicas() == {P: 2, D: 3}
    state = await h.connector.read()
    assert state.desired == {P: 2, D: 3}
    assert not state.settled
    await h.mark_ready()
    state = await h.connector.read()
    assert state.ready == {P: 2, D: 3}
    assert state.settled


async def test_unchanged_target_is_not_written(h: Harness) -> None:
    """Applying the targets already in place succeeds without writing anything."""
    await h.connector.apply({P: 2}, decision_id="d-1")
    await h.environment_acts()
    writes_before = len(h.fake.writes()) if h.fake else None
    result = await h.connector.apply({P: 2, D: 2}, decision_id="d-2")
    assert result.applied and result.reason == ApplyReason.UNCHANGED
    if h.fake is not None:
        assert len(h.fake.writes()) == writes_before


async def test_growth_is_not_stacked_on_an_unsettled_change(h: Harness) -> None:
    """While workers are still starting, a further increase is deferred (not applied,
    reason unsettled) but lowering the target is applied at once."""
    h.hold_ready(True)
    assert (await h.connector.apply({P: 3}, decision_id="d-1")).applied
    await h.environment_acts()
    deferred = await h.connector.apply({P: 4}, decision_id="d-2")
    assert not deferred.applied and deferred.reason == ApplyReason.UNSETTLED
    assert "not settled" in deferred.message
    assert h.cluster_replicas()[P] == 3
    lowered = await h.connector.apply({P: 2}, decision_id="d-3")
    assert lowered.applied
    await h.environment_acts()
    assert h.cluster_replicas()[P] == 2


async def test_workers_stuck_past_deadline_count_as_not_coming(h: Harness) -> None:
    """Workers that cannot start are reported not coming after not_coming_after_s, the
    graph counts as settled, and the planner may change the target again."""
    h.set_capacity(P, 1)
    assert (await h.connector.apply({P: 3}, decision_id="d-1")).applied
    await h.environment_acts()
    state = await h.connector.read()
    assert not state.settled and state.components[P].not_coming == 0
    h.clock.advance(NOT_COMING_AFTER_S + 1)
    state = await h.connector.read()
    assert state.components[P].ready == 1
    assert state.components[P].not_coming == 2
    assert state.settled
    result = await h.connector.apply({P: 4}, decision_id="d-2")
    assert result.applied


@pytest.mark.parametrize(("targets", "needle"), [({Component.AGG: 1}, "agg"), ({P: -1}, "-1")])
async def test_invalid_target_is_rejected_and_nothing_written(
    h: Harness, targets: dict[Component, int], needle: str
) -> None:
    """An unknown component or a negative count is not applied (reason invalid, message
    names it) and the environment is untouched."""
    result = await h.connector.apply(targets, decision_id="bad")
    assert not result.applied and result.reason == ApplyReason.INVALID
    assert needle in result.message
    await h.environment_acts()
    assert h.cluster_replicas() == INITIAL
