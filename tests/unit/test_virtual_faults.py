"""The file-based virtual target under damage: a corrupt or hand-edited target.json is
repaired by the planner, seq never goes back when files are lost, an unreadable ack.json
reads as 'no acknowledgement', and none of it fails a read or an apply."""

from __future__ import annotations

import json
from pathlib import Path

from connectors.protocols import ApplyReason
from connectors.virtual import VirtualConnector, VirtualTarget
from connectors.virtual.file_transport import FilePlannerTransport
from planner.core.types import Component
from tests.fakes.clock import ManualClock

P, D = Component.PREFILL, Component.DECODE


async def _planner_and_env(
    tmp_path: Path, clock: ManualClock
) -> tuple[VirtualConnector, VirtualTarget]:
    conn = VirtualConnector(FilePlannerTransport(tmp_path), not_coming_after_s=60, clock=clock)
    env = VirtualTarget.from_directory(tmp_path)
    await env.report(decision_id=None, replicas={P: 1, D: 1})
    return conn, env


async def _act(env: VirtualTarget) -> str:
    """What a launcher does: take the new target, report it done, return its id."""
    target = await env.poll()
    assert target is not None, "the environment saw no new target"
    await env.report(decision_id=target.decision_id, replicas=dict(target.targets))
    return target.decision_id


def _target_doc(tmp_path: Path) -> dict[str, object]:
    return json.loads((tmp_path / "target.json").read_text())


async def test_corrupt_target_file_is_repaired_and_kept_aside(tmp_path: Path) -> None:
    """Garbage in target.json: the next read succeeds, the last decision is written
    again under the next seq, the garbage is kept as target.json.corrupt, and the
    environment sees the rewritten target as new."""
    clock = ManualClock()
    conn, env = await _planner_and_env(tmp_path, clock)
    assert (await conn.apply({P: 2, D: 1}, decision_id="d-1")).applied
    assert await _act(env) == "d-1"
    (tmp_path / "target.json").write_text('{"version": 1, "seq": ')
    state = await conn.read()
    assert state.settled and state.desired == {P: 2, D: 1}
    doc = _target_doc(tmp_path)
    assert doc["decision_id"] == "d-1" and doc["seq"] == 2
    assert doc["targets"] == {"prefill": 2, "decode": 1}
    assert (tmp_path / "target.json.corrupt").read_text() == '{"version": 1, "seq": '
    assert await _act(env) == "d-1" and conn.restored == 1
    await conn.close()


async def test_hand_edited_target_is_restored(tmp_path: Path) -> None:
    """A valid target.json that someone else rewrote is replaced by the planner's own
    decision (the planner owns the file)."""
    clock = ManualClock()
    conn, _ = await _planner_and_env(tmp_path, clock)
    assert (await conn.apply({P: 3, D: 2}, decision_id="d-1")).applied
    doc = _target_doc(tmp_path)
    doc["targets"] = {"prefill": 9, "decode": 9}
    (tmp_path / "target.json").write_text(json.dumps(doc))
    await conn.read()
    assert _target_doc(tmp_path)["targets"] == {"prefill": 3, "decode": 2}
    assert _target_doc(tmp_path)["seq"] == 2
    await conn.close()


async def test_seq_stays_monotonic_when_both_files_are_deleted(tmp_path: Path) -> None:
    """Both files deleted after seq 1 was acted on: the planner writes its decision
    again as seq 2 (not 1, which the environment had already seen); the environment
    acts on it and acknowledges; the next decision is seq 3."""
    clock = ManualClock()
    conn, env = await _planner_and_env(tmp_path, clock)
    assert (await conn.apply({P: 2, D: 1}, decision_id="d-1")).applied
    assert _target_doc(tmp_path)["seq"] == 1
    assert await _act(env) == "d-1"
    (tmp_path / "target.json").unlink()
    (tmp_path / "ack.json").unlink()
    state = await conn.read()
    assert not state.settled and "waiting for the environment" in state.message
    assert _target_doc(tmp_path)["seq"] == 2
    assert await _act(env) == "d-1"
    assert (await conn.read()).settled
    result = await conn.apply({P: 1, D: 1}, decision_id="d-2")
    assert result.reason == ApplyReason.APPLIED
    assert _target_doc(tmp_path)["seq"] == 3
    await conn.close()


async def test_restarted_planner_without_files_is_seen_as_new(tmp_path: Path) -> None:
    """A planner restarted with an empty folder starts again at seq 1; an environment
    that had acted on a seq 1 before still takes the new target (it compares seq and
    written_at, not only seq)."""
    clock = ManualClock()
    conn, env = await _planner_and_env(tmp_path, clock)
    assert (await conn.apply({P: 2, D: 1}, decision_id="tick-1")).applied
    await _act(env)
    for name in ("target.json", "ack.json"):
        (tmp_path / name).unlink()
    clock.advance(30)
    fresh = VirtualConnector(FilePlannerTransport(tmp_path), not_coming_after_s=60, clock=clock)
    assert (await fresh.apply({P: 4, D: 1}, decision_id="tick-1")).applied
    assert _target_doc(tmp_path)["seq"] == 1
    target = await env.poll()
    assert target is not None and target.targets == {P: 4, D: 1}
    await fresh.close()
    await conn.close()


async def test_unreadable_ack_is_no_ack_and_never_fails_a_tick(tmp_path: Path) -> None:
    """A torn or invalid ack.json: read() and apply() do not raise; the state says the
    acknowledgement was ignored and why (file and field), the decision waits for an ack
    until not_coming_after_s, then counts as not acknowledged and planning goes on."""
    clock = ManualClock()
    conn, _ = await _planner_and_env(tmp_path, clock)
    assert (await conn.apply({P: 2, D: 1}, decision_id="d-1")).applied
    (tmp_path / "ack.json").write_text('{"decision_id": "d-1", "components": {"decode": {"rep')
    state = await conn.read()
    assert not state.settled
    assert "acknowledgement ignored" in state.message and "not valid JSON" in state.message
    bad = {"decision_id": "d-1", "components": {"decode": {"replicas": -1}}}
    (tmp_path / "ack.json").write_text(json.dumps(bad))
    state = await conn.read()
    assert "components.decode.replicas" in state.message and "-1" in state.message
    assert (await conn.apply({P: 3, D: 1}, decision_id="d-2")).reason == ApplyReason.UNSETTLED
    clock.advance(61)
    state = await conn.read()
    assert state.settled and "has not acknowledged decision d-1" in state.message
    assert (await conn.apply({P: 3, D: 1}, decision_id="d-3")).applied
    await conn.close()
