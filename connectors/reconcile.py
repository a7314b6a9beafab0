"""Keeps the latest decision that failed for a transient reason and re-applies it before
the next read, so an API server outage loses no decision once it comes back."""

from __future__ import annotations

from collections.abc import Mapping

from connectors.protocols import ApplyReason, ApplyResult, Connector, GraphState
from planner.core.types import Component

#: reasons after which the same targets may succeed later without a new decision
RETRYABLE = frozenset(
    {
        ApplyReason.UNAVAILABLE,
        ApplyReason.TIMEOUT,
        ApplyReason.CONFLICT,
        ApplyReason.IO,
        ApplyReason.PARTIAL,
    }
)


class ReapplyingConnector:
    """Wraps any Connector. A newer ``apply`` always replaces the pending one; a
    non-retryable outcome (applied, unsettled, not leader, forbidden, ...) clears it."""

    def __init__(self, inner: Connector) -> None:
        self.inner = inner
        self.pending: tuple[dict[Component, int], str] | None = None
        #: outcome of the last re-apply attempt, for the service's log
        self.last_reapply: ApplyResult | None = None

    @property
    def is_leader(self) -> bool:
        return bool(getattr(self.inner, "is_leader", True))

    def _remember(self, result: ApplyResult, targets: Mapping[Component, int]) -> None:
        if not result.applied and result.reason in RETRYABLE:
            self.pending = (dict(targets), result.decision_id)
        else:
            self.pending = None

    async def reapply(self) -> ApplyResult | None:
        """Try the pending decision again (None when nothing is pending)."""
        if self.pending is None:
            return None
        targets, decision_id = self.pending
        result = await self.inner.apply(targets, decision_id=decision_id)
        self._remember(result, targets)
        self.last_reapply = result
        return result

    async def read(self) -> GraphState:
        await self.reapply()
        return await self.inner.read()

    async def apply(self, targets: Mapping[Component, int], *, decision_id: str) -> ApplyResult:
        result = await self.inner.apply(targets, decision_id=decision_id)
        self._remember(result, targets)
        return result

    async def close(self) -> None:
        await self.inner.close()
