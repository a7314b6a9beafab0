"""The planner side of the virtual target: publishes whole targets under a decision id and
reads back the environment's acknowledgements, over a file or an HTTP transport."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from connectors.errors import ConnectorFault, EnvironmentIOError
from connectors.protocols import ApplyReason, ApplyResult, GraphState
from connectors.settle import check_targets, deferral
from connectors.virtual.protocol import AckMessage, TargetMessage, graph_state
from planner.core.types import Component

log = logging.getLogger(__name__)


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
        #: highest seq seen or written: a lost or replaced target never lowers it
        self._seq = 0
        self._published: TargetMessage | None = None
        #: targets written again because the environment's copy was lost or changed
        self.restored = 0

    async def _target(self) -> TargetMessage | None:
        """The target in effect. The planner owns it: a copy that went missing, could
        not be parsed or was changed by someone else is written again, under a new
        ``seq`` so that the environment sees it as new and acknowledges it again."""
        found = await self.transport.latest_target()
        if found is not None:
            self._seq = max(self._seq, found.seq)
        mine = self._published
        if mine is None or found == mine:
            return found
        restored = dataclasses.replace(mine, seq=self._seq + 1, written_at_s=self._clock())
        await self.transport.publish(restored)
        self._published, self._seq = restored, restored.seq
        self.restored += 1
        was = "missing" if found is None else f"decision {found.decision_id} seq {found.seq}"
        log.warning(
            "virtual target was %s; wrote decision %s again as seq %d",
            was,
            mine.decision_id,
            restored.seq,
        )
        return restored

    async def _ack(self) -> tuple[AckMessage | None, str]:
        """The environment's last acknowledgement; one that cannot be read or parsed is
        treated as no acknowledgement (the environment owns that file; we never fail a
        tick on it) and the reason is returned."""
        try:
            return await self.transport.latest_ack(), ""
        except EnvironmentIOError as exc:
            log.warning("virtual target: acknowledgement ignored: %s", exc)
            return None, f"acknowledgement ignored: {exc}"

    async def read(self) -> GraphState:
        target = await self._target()
        ack, ack_problem = await self._ack()
        state = graph_state(
            target=target,
            ack=ack,
            now_s=self._clock(),
            not_coming_after_s=self._not_coming_after_s,
        )
        if not ack_problem:
            return state
        message = f"{state.message}; {ack_problem}" if state.message else ack_problem
        return dataclasses.replace(state, message=message)

    async def apply(self, targets: Mapping[Component, int], *, decision_id: str) -> ApplyResult:
        wanted = dict(targets)
        try:
            state = await self.read()
            check_targets(wanted, list(state.components) if state.components else None)
        except ConnectorFault as exc:
            return ApplyResult(decision_id, False, wanted, str(exc), exc.kind, {})
        current = state.desired
        previous = await self._target()
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
            seq=self._seq + 1,
            targets=merged,
            written_at_s=self._clock(),
        )
        try:
            await self.transport.publish(message)
        except ConnectorFault as exc:
            return ApplyResult(decision_id, False, wanted, str(exc), exc.kind, current)
        self._published, self._seq = message, message.seq
        return ApplyResult(decision_id, True, wanted, "published", ApplyReason.APPLIED, merged)

    async def close(self) -> None:
        await self.transport.close()
