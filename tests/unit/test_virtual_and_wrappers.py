"""The virtual protocol's edges (bad acks, a silent environment, atomic files, raw HTTP as
curl would send it), the instrumented wrapper's counters and series, and the factory."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from connectors import make_connector
from connectors.errors import EnvironmentIOError
from connectors.instrumented import InstrumentedConnector
from connectors.kubernetes.readiness import PodView, assess
from connectors.kubernetes.workload import WorkloadState
from connectors.protocols import ApplyReason
from connectors.reconcile import ReapplyingConnector
from connectors.virtual import AckMessage, VirtualConnector
from connectors.virtual.file_transport import FilePlannerTransport
from connectors.virtual.http_transport import HttpPlannerTransport
from planner.core.types import Component
from planner.errors import ConfigError
from planner.settings import load_settings
from tests.fakes.clock import ManualClock

P, D = Component.PREFILL, Component.DECODE


async def test_silent_environment_never_blocks_the_planner(tmp_path: Path) -> None:
    """With no acknowledgement, the graph is unsettled until not_coming_after_s, then
    reported (message names the decision) and counted as not coming; apply never waits."""
    clock = ManualClock()
    conn = VirtualConnector(FilePlannerTransport(tmp_path), not_coming_after_s=60, clock=clock)
    assert (await conn.apply({P: 2, D: 1}, decision_id="d-7")).applied
    state = await conn.read()
    assert not state.settled and "d-7" in state.message
    assert (await conn.apply({P: 3}, decision_id="d-8")).reason == ApplyReason.UNSETTLED
    clock.advance(61)
    state = await conn.read()
    assert state.settled and "has not acknowledged decision d-7" in state.message
    assert state.components[P].not_coming == 2
    assert (await conn.apply({P: 3}, decision_id="d-9")).applied
    await conn.close()


async def test_file_writes_are_atomic_and_leave_no_temp_files(tmp_path: Path) -> None:
    """target.json is always a whole document and no temporary files remain (lowering
    targets, which are never deferred, so every decision is written)."""
    conn = VirtualConnector(FilePlannerTransport(tmp_path))
    for i in range(5):
        assert (await conn.apply({P: 5 - i}, decision_id=f"d-{i}")).applied
    assert sorted(await asyncio.to_thread(os.listdir, tmp_path)) == ["target.json"]
    doc = json.loads((tmp_path / "target.json").read_text())
    assert doc == {
        "version": 1,
        "decision_id": "d-4",
        "seq": 5,
        "written_at": doc["written_at"],
        "targets": {"prefill": 1},
    }


async def test_corrupt_ack_file_is_reported_with_the_field(tmp_path: Path) -> None:
    """An ack with a negative replica count is read as no acknowledgement; the graph
    state's message names the field and the value."""
    (tmp_path / "ack.json").write_text(
        json.dumps({"decision_id": None, "components": {"decode": {"replicas": -1}}})
    )
    conn = VirtualConnector(FilePlannerTransport(tmp_path))
    state = await conn.read()
    assert state.components == {}
    assert re.search(r"acknowledgement ignored: .*components\.decode\.replicas.*-1", state.message)


async def test_http_protocol_as_curl_uses_it() -> None:
    """A launcher needs only HTTP+JSON: 404 before any target, the target as JSON after,
    400 naming the bad field, and an accepted ack shows up in read()."""
    transport = HttpPlannerTransport(port=0)
    conn = VirtualConnector(transport)
    await transport.start()
    base = transport.url
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/v1/target") as r:
                assert r.status == 404
            await conn.apply({P: 2, D: 3}, decision_id="d-1")
            async with http.get(f"{base}/v1/target") as r:
                body = await r.json()
            assert body["decision_id"] == "d-1" and body["targets"] == {"prefill": 2, "decode": 3}
            bad = {"decision_id": "d-1", "components": {"gpu": {"replicas": 1}}}
            async with http.post(f"{base}/v1/ack", json=bad) as r:
                assert r.status == 400
                assert "component" in (await r.json())["error"]
            ack = AckMessage.from_json(
                {
                    "decision_id": "d-1",
                    "components": {
                        "prefill": {"replicas": 2},
                        "decode": {"replicas": 3, "ready": 3},
                    },
                }
            )
            async with http.post(f"{base}/v1/ack", json=ack.to_json()) as r:
                assert r.status == 200
        state = await conn.read()
        assert state.settled and state.ready == {P: 2, D: 3}
    finally:
        await conn.close()


async def test_instrumented_counts_calls_errors_and_exports_series(tmp_path: Path) -> None:
    """Calls are timed and errors counted by kind, as attributes and as Prometheus series."""
    registry = CollectorRegistry()
    target_dir = tmp_path / "t"
    target_dir.write_text("a file where the folder should be")  # reads and writes fail: io
    conn = InstrumentedConnector(
        VirtualConnector(FilePlannerTransport(target_dir)), registry=registry
    )
    with pytest.raises(EnvironmentIOError):
        await conn.read()
    result = await conn.apply({P: 1}, decision_id="d-1")
    assert result.reason == ApplyReason.IO
    assert conn.calls == {"read": 1, "apply": 1} and conn.errors == {"io": 2}
    assert registry.get_sample_value("sla_planner_connector_errors_total", {"kind": "io"}) == 2
    assert (
        registry.get_sample_value(
            "sla_planner_connector_call_duration_seconds_count", {"op": "read"}
        )
        == 1
    )
    assert registry.get_sample_value("sla_planner_leader") == 1


async def test_reapply_keeps_only_the_latest_transient_failure(tmp_path: Path) -> None:
    """A failed decision is retried before the next read; a newer decision replaces it."""
    target_dir = tmp_path / "t"
    target_dir.write_text("a file where the folder should be")  # writes fail: io
    conn = ReapplyingConnector(VirtualConnector(FilePlannerTransport(target_dir)))
    assert (await conn.apply({P: 2}, decision_id="d-1")).reason == ApplyReason.IO
    assert (await conn.apply({P: 3}, decision_id="d-2")).reason == ApplyReason.IO
    assert conn.pending == ({P: 3}, "d-2")
    target_dir.unlink()
    await conn.read()
    assert conn.pending is None and conn.last_reapply is not None
    assert conn.last_reapply.decision_id == "d-2" and conn.last_reapply.applied


def test_make_connector_builds_from_settings(tmp_path: Path) -> None:
    """The factory wraps the configured connector; kubernetes needs its section."""
    settings = load_settings(overrides={"connector.virtual.directory": str(tmp_path)})
    conn = make_connector(settings.connector)
    assert isinstance(conn, InstrumentedConnector)
    assert isinstance(conn.inner, ReapplyingConnector)
    assert isinstance(conn.inner.inner, VirtualConnector)
    with pytest.raises(ConfigError, match="graph_name is required"):
        load_settings(
            overrides={"connector.kind": "kubernetes", "connector.kubernetes.target": "dgd"}
        )


def test_pods_never_created_count_as_not_coming_after_deadline() -> None:
    """Pods that were never created (quota) count as not coming once the change is older
    than the deadline, not before."""
    wl = WorkloadState(D, "deployments/x", 4, 1, "app=x")
    pods = [PodView(f"p{i}", "Running", True, 0.0, False) for i in range(2)]
    early, _ = assess(wl, pods, changed_at_s=1000, now_s=1100, not_coming_after_s=300)
    late, note = assess(wl, pods, changed_at_s=1000, now_s=1300, not_coming_after_s=300)
    assert early.not_coming == 0 and late.not_coming == 2
    assert "2 never created" in note
