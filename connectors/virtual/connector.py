"""The planner side of the virtual target: publishes whole targets under a decision id and
reads back the environment's acknowledgements, over a file or an HTTP transport."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Protocol

from connectors.errors import ConnectorFault
from connectors.protocols import ApplyReason, ApplyResult, GraphState
from connectors.settle import check_targets, deferral
from connectors.virtual.protocol import AckMessage, TargetMessage, graph_state
from planner.core.types import Component


class PlannerTransport(Protocol):
    """Moves targets out and acknowledgements in; the file and HTTP variants implement it."""

    async def publish(self, target: TargetMessage) -> None: ...

    async def latest_target(self) -> TargetMessage | None: ...

    async def latest_ack(self) -> AckMessage | None: ...

    async def close(self) -> None: ...


class VirtualConnector:
    """A Connector for environments without Kubernetes (simulator, emulator, launcher).

    ``apply`` writes the whole target (every component, one document) in one atomic
    step, so the environment never sees half a decision. It never waits for the
    environment: settling is reported by ``read`` and bounded by ``not_coming_after_s``.
    """

    def __init__(
        self,
        transport: PlannerTransport,
        *,
        not_coming_after_s: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.transport = transport
        self._not_coming_after_s = not_coming_after_s
        self._clock = clock

    async def read(self) -> GraphState:
        target = await self.transport.latest_target()
        ack = await self.transport.latest_ack()
        return graph_state(
            target=target,
            ack=ack,
            now_s=self._clock(),
            not_coming_after_s=self._not_coming_after_s,
        )

    async def apply(self, targets: Mapping[Component, int], *, decision_id: str) -> ApplyResult:
        wanted = dict(targets)
        try:
            state = await self.read()
            check_targets(wanted, list(state.components) if state.components else None)
        except ConnectorFault as exc:
            return ApplyResult(decision_id, False, wanted, str(exc), exc.kind, {})
        current = state.desired
        previous = await self.transport.latest_target()
        if previous is not None and all(current.get(c) == n for c, n in wanted.items()):
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
        merged = {**current, **wanted}
        message = TargetMessage(
            decision_id=decision_id,
            seq=(previous.seq + 1) if previous else 1,
            targets=merged,
            written_at_s=self._clock(),
        )
        try:
            await self.transport.publish(message)
        except ConnectorFault as exc:
            return ApplyResult(decision_id, False, wanted, str(exc), exc.kind, current)
        return ApplyResult(decision_id, True, wanted, "published", ApplyReason.APPLIED, merged)

    async def close(self) -> None:
        await self.transport.close()
