"""The tick loop: observe -> forecast -> plan -> apply on drift-free absolute deadlines.

A failed tick is logged, counted and throttled (the next tick moves to a later grid
point, doubling up to ``service.max_backoff_s``); it never stops the loop. A decision
that could not be applied is kept and re-applied first thing on the next tick, so the
graph never sits on a half-written decision. Missing metrics are not a failure: the
policy holds replicas (``held_no_data``) and the tick counts as missing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable

from connectors.protocols import ApplyReason, ApplyResult, Connector, GraphState, MetricsSource
from planner.clock import ServiceClock
from planner.core.types import Decision
from planner.errors import ConnectorError
from planner.planner import Planner
from planner.service.grid import GridLoop
from planner.service.telemetry import Telemetry
from planner.service.tick import TickRecord, tick_dict, tick_line
from planner.settings import PlannerSettings

log = logging.getLogger("sla_planner.tick")
#: apply outcomes that are the connector declining on purpose, not failing
_DEFERRALS = frozenset({ApplyReason.UNSETTLED, ApplyReason.NOT_LEADER})


class PlannerService(GridLoop):
    """Runs ticks; holds the one not-yet-applied decision, if any."""

    def __init__(
        self,
        *,
        settings: PlannerSettings,
        planner: Planner,
        source: MetricsSource,
        connector: Connector,
        telemetry: Telemetry,
        clock: ServiceClock,
        on_tick: Callable[[TickRecord], None] | None = None,
    ) -> None:
        self.settings = settings
        self.planner = planner
        self.source = source
        self.connector = connector
        self.telemetry = telemetry
        self.clock = clock
        self.advisory = settings.service.advisory
        self.on_tick = on_tick
        self.pending: Decision | None = None
        self.observed_once = False
        self.consecutive_failures = 0
        self._index = 0
        #: decision warnings already logged (each is logged once, when first seen)
        self.warned: set[str] = set()

    async def _apply(self, decision: Decision, *, decision_id: str) -> bool:
        targets = decision.targets
        self.pending = decision
        # one call: the connector retries its own requests (connectors/retry.py), and a
        # decision that still failed is re-applied whole at the next tick
        result: ApplyResult = await self.connector.apply(targets, decision_id=decision_id)
        if result.applied:
            self.pending = None
            return True
        if result.reason in _DEFERRALS:
            # by design, not a fault: the next tick decides again from fresh state
            self.pending = None
            log.info("apply of %s deferred (%s): %s", decision_id, result.reason, result.message)
            return False
        raise ConnectorError(f"apply of {decision_id} failed ({result.reason}): {result.message}")

    # -- one tick -----------------------------------------------------------------------

    async def probe(self) -> None:
        """One observation at start-up so /readyz can turn ready before the first tick."""
        obs = await self.source.observe(window_s=self.settings.interval_s)
        self.observed_once = self.observed_once or not obs.is_missing

    async def tick(self) -> TickRecord:
        """One observe -> forecast -> plan -> apply; never raises (except cancellation)."""
        self._index += 1
        now = self.clock.now_s()
        started = time.perf_counter()
        obs = None
        decision = None
        applied: bool | None = None
        kind: str | None = None
        detail = ""
        try:
            if self.pending is not None and not self.advisory:
                await self._apply(self.pending, decision_id=f"tick-{self._index}-reapply")
            graph: GraphState = await self.connector.read()
            self.telemetry.replicas(current=graph.desired, ready=graph.ready)
            self.telemetry.cluster_capacity(graph.capacity)
            self.telemetry.hold_gpus(now_s=now, gpus=self._gpus(graph))
            raw = await self.source.observe(window_s=self.settings.interval_s)
            obs = dataclasses.replace(
                raw,
                current_replicas=graph.desired,
                ready_replicas=graph.ready,
                gpus_per_worker=graph.gpus_per_worker,
                cluster_gpus=graph.capacity.gpus if graph.capacity is not None else None,
            )
            self.observed_once = self.observed_once or not obs.is_missing
            # off the loop: a forecaster may refit here and /metrics must stay responsive
            decision = await asyncio.to_thread(self.planner.step, obs, now=now)
            for warning in decision.warnings:
                if warning not in self.warned:
                    self.warned.add(warning)
                    log.warning("%s", warning)
            if not self.advisory and decision.targets != graph.desired:
                applied = await self._apply(decision, decision_id=f"tick-{self._index}")
        except asyncio.CancelledError:
            raise
        except ConnectorError as exc:
            kind, detail = "connector", str(exc)
            applied = False if self.pending is not None else None
        except Exception as exc:
            kind, detail = "internal", f"{type(exc).__name__}: {exc}"
            log.exception("tick %d failed", self._index)
        rec = TickRecord(
            index=self._index,
            time_s=now,
            duration_s=time.perf_counter() - started,
            observation=obs,
            decision=decision,
            applied=applied,
            advisory=self.advisory,
            error_kind=kind,
            error=detail,
        )
        self.consecutive_failures = self.consecutive_failures + 1 if kind else 0
        self.telemetry.record(rec)
        if self.settings.service.log_format == "json":
            # the fields ride on the record; the JSON formatter adds time and level
            log.info("tick %d", rec.index, extra=tick_dict(rec))
        else:
            log.info(tick_line(rec))
        if self.on_tick is not None:
            self.on_tick(rec)
        return rec

    def _gpus(self, graph: GraphState) -> float:
        """GPUs the graph holds, counted as the budget counts them."""
        config = self.planner.config
        return float(
            sum(
                st.desired * config.gpus_per_worker(c, reading=st.gpus_per_worker).gpus
                for c, st in graph.components.items()
            )
        )
