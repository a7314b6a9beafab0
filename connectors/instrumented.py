"""Times every connector call and counts errors by kind, as plain counters and, when a
prometheus_client registry is given, as the service's /metrics series."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from connectors.errors import ConnectorFault
from connectors.protocols import ApplyReason, ApplyResult, Connector, GraphState
from planner.core.types import Component
from planner.errors import ConnectorError

#: outcomes of apply that are decisions of the connector, not failures
NOT_ERRORS = frozenset(
    {ApplyReason.APPLIED, ApplyReason.UNCHANGED, ApplyReason.UNSETTLED, ApplyReason.NOT_LEADER}
)


class InstrumentedConnector:
    """Wraps any Connector.

    Plain attributes (always): ``calls[op]``, ``errors[kind]``, ``last_duration_s[op]``.
    Prometheus series (with ``registry``): ``sla_planner_connector_calls_total{op}``,
    ``sla_planner_connector_errors_total{kind}``,
    ``sla_planner_connector_call_duration_seconds{op}`` (histogram) and
    ``sla_planner_leader`` (1 while this replica may write).
    """

    def __init__(self, inner: Connector, *, registry: Any = None) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.last_duration_s: dict[str, float] = {}
        self._prom: dict[str, Any] = {}
        if registry is not None:
            from prometheus_client import Counter as PCounter
            from prometheus_client import Gauge, Histogram

            self._prom = {
                "calls": PCounter(
                    "sla_planner_connector_calls",
                    "Connector calls by operation.",
                    ["op"],
                    registry=registry,
                ),
                "errors": PCounter(
                    "sla_planner_connector_errors",
                    "Connector failures by kind (conflict, forbidden, not_found, "
                    "unavailable, timeout, io, invalid, partial).",
                    ["kind"],
                    registry=registry,
                ),
                "duration": Histogram(
                    "sla_planner_connector_call_duration_seconds",
                    "Connector call duration by operation.",
                    ["op"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
                    registry=registry,
                ),
                "leader": Gauge(
                    "sla_planner_leader",
                    "1 while this planner replica holds the leader lease (may write).",
                    registry=registry,
                ),
            }

    @property
    def is_leader(self) -> bool:
        return bool(getattr(self.inner, "is_leader", True))

    def _record(self, op: str, started: float, error_kind: str | None) -> None:
        elapsed = time.perf_counter() - started
        self.calls[op] += 1
        self.last_duration_s[op] = elapsed
        if error_kind is not None:
            self.errors[error_kind] += 1
        if self._prom:
            self._prom["calls"].labels(op=op).inc()
            self._prom["duration"].labels(op=op).observe(elapsed)
            if error_kind is not None:
                self._prom["errors"].labels(kind=error_kind).inc()
            self._prom["leader"].set(1 if self.is_leader else 0)

    @staticmethod
    def _kind(exc: ConnectorError) -> str:
        return str(exc.kind) if isinstance(exc, ConnectorFault) else "error"

    async def read(self) -> GraphState:
        started = time.perf_counter()
        try:
            state = await self.inner.read()
        except ConnectorError as exc:
            self._record("read", started, self._kind(exc))
            raise
        self._record("read", started, None)
        return state

    async def apply(self, targets: Mapping[Component, int], *, decision_id: str) -> ApplyResult:
        started = time.perf_counter()
        try:
            result = await self.inner.apply(targets, decision_id=decision_id)
        except ConnectorError as exc:
            self._record("apply", started, self._kind(exc))
            raise
        kind = None if result.reason in NOT_ERRORS else str(result.reason)
        self._record("apply", started, kind)
        return result

    async def close(self) -> None:
        started = time.perf_counter()
        try:
            await self.inner.close()
        finally:
            self._record("close", started, None)
