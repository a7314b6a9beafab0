"""The virtual target's messages (target and acknowledgement) and the pure rule that turns
them into a GraphState. The JSON is documented in docs/virtual-connector.md."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.errors import EnvironmentIOError
from connectors.protocols import ComponentState, GraphState
from connectors.settle import graph_settled, unsettled_message
from planner.core.types import Component

PROTOCOL_VERSION = 1


def _field_error(source: str, name: str, value: object, expected: str) -> EnvironmentIOError:
    return EnvironmentIOError(f"{source}: field {name!r} is {value!r}: expected {expected}")


def _component(source: str, name: str) -> Component:
    try:
        return Component(name)
    except ValueError:
        raise _field_error(
            source, "component", name, f"one of {[c.value for c in Component]}"
        ) from None


def _count(source: str, name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _field_error(source, name, value, "an integer >= 0")
    return value


def _mapping(source: str, name: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _field_error(source, name, value, "a JSON object")
    return value


def _check_version(source: str, obj: Mapping[str, Any]) -> None:
    version = obj.get("version", PROTOCOL_VERSION)
    if version != PROTOCOL_VERSION:
        raise _field_error(source, "version", version, f"{PROTOCOL_VERSION}")


@dataclass(frozen=True, slots=True)
class TargetMessage:
    """What the planner asks for: replicas per component, under a decision id."""

    decision_id: str
    #: increases by one with every target written; lets a poller spot a new one cheaply
    seq: int
    targets: Mapping[Component, int]
    #: seconds since the Unix epoch (the planner's clock) when the target was written
    written_at_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "version": PROTOCOL_VERSION,
            "decision_id": self.decision_id,
            "seq": self.seq,
            "written_at": self.written_at_s,
            "targets": {c.value: n for c, n in self.targets.items()},
        }

    @classmethod
    def from_json(cls, obj: object, *, source: str = "target") -> TargetMessage:
        body = _mapping(source, "<document>", obj)
        _check_version(source, body)
        decision_id = body.get("decision_id")
        if not isinstance(decision_id, str) or not decision_id:
            raise _field_error(source, "decision_id", decision_id, "a non-empty string")
        written = body.get("written_at")
        if not isinstance(written, int | float) or not math.isfinite(written):
            raise _field_error(source, "written_at", written, "seconds since the epoch")
        targets = {
            _component(source, k): _count(source, f"targets.{k}", v)
            for k, v in _mapping(source, "targets", body.get("targets")).items()
        }
        return cls(
            decision_id=decision_id,
            seq=_count(source, "seq", body.get("seq")),
            targets=targets,
            written_at_s=float(written),
        )


@dataclass(frozen=True, slots=True)
class WorkerCounts:
    """What the environment actually has for one component."""

    replicas: int
    ready: int
    gpus_per_worker: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"replicas": self.replicas, "ready": self.ready}
        if self.gpus_per_worker is not None:
            out["gpus_per_worker"] = self.gpus_per_worker
        return out


@dataclass(frozen=True, slots=True)
class AckMessage:
    """The environment's answer: which decision it acted on and what it has now.

    ``decision_id`` None is the environment's first report, before any target.
    """

    decision_id: str | None
    components: Mapping[Component, WorkerCounts]
    message: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": PROTOCOL_VERSION,
            "decision_id": self.decision_id,
            "components": {c.value: w.to_json() for c, w in self.components.items()},
            "message": self.message,
        }

    @classmethod
    def from_json(cls, obj: object, *, source: str = "ack") -> AckMessage:
        body = _mapping(source, "<document>", obj)
        _check_version(source, body)
        decision_id = body.get("decision_id")
        if decision_id is not None and not isinstance(decision_id, str):
            raise _field_error(source, "decision_id", decision_id, "a string or null")
        components: dict[Component, WorkerCounts] = {}
        for name, raw in _mapping(source, "components", body.get("components")).items():
            item = _mapping(source, f"components.{name}", raw)
            replicas = _count(source, f"components.{name}.replicas", item.get("replicas"))
            # an environment that does not track readiness reports its replicas as ready
            ready = _count(source, f"components.{name}.ready", item.get("ready", replicas))
            gpus = item.get("gpus_per_worker")
            if gpus is not None:
                gpus = _count(source, f"components.{name}.gpus_per_worker", gpus)
            components[_component(source, name)] = WorkerCounts(replicas, ready, gpus)
        message = body.get("message", "")
        return cls(decision_id=decision_id, components=components, message=str(message))


def graph_state(
    *,
    target: TargetMessage | None,
    ack: AckMessage | None,
    now_s: float,
    not_coming_after_s: float,
) -> GraphState:
    """The planner's view of the environment from the last target and the last ack.

    Workers not ready ``not_coming_after_s`` after the target was written count as not
    coming; an environment that has not acknowledged by then is reported and no longer
    waited for, so a crashed launcher never blocks the planner.
    """
    if target is None and ack is None:
        return GraphState(components={}, settled=True, message="environment has not reported")
    names = set(target.targets if target else ()) | set(ack.components if ack else ())
    timed_out = target is not None and now_s - target.written_at_s >= not_coming_after_s
    acked = ack is not None and (target is None or ack.decision_id == target.decision_id)
    components: dict[Component, ComponentState] = {}
    for c in sorted(names, key=lambda x: x.value):
        counts = ack.components.get(c) if ack else None
        if target is not None and c in target.targets:
            desired = target.targets[c]
        else:
            desired = counts.replicas if counts else 0
        ready = counts.ready if counts else 0
        not_coming = max(0, desired - ready) if timed_out else 0
        gpus = counts.gpus_per_worker if counts else None
        components[c] = ComponentState(c, desired, ready, gpus, not_coming)
    if acked:
        settled = graph_settled(components)
        message = "" if settled else unsettled_message(components)
    elif timed_out:
        assert target is not None
        settled = True
        message = (
            f"environment has not acknowledged decision {target.decision_id} within "
            f"{not_coming_after_s:g} s; unready workers count as not coming"
        )
    else:
        assert target is not None
        settled = False
        message = f"waiting for the environment to acknowledge decision {target.decision_id}"
    if ack is not None and ack.message:
        message = f"{message}; environment says: {ack.message}" if message else ack.message
    return GraphState(components=components, settled=settled, message=message)
