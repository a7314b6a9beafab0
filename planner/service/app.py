"""Wires the service together (the one place that picks concrete connectors): metrics
source, connector, optional embedded emulated graph, HTTP endpoint, signals, and the
tick loop, under one AsyncExitStack and one TaskGroup."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from connectors.instrumented import InstrumentedConnector
from connectors.protocols import Connector, MetricsSource
from connectors.reconcile import ReapplyingConnector
from planner.clock import ServiceClock
from planner.errors import ConfigError, PlannerError
from planner.planner import Planner
from planner.service.http import ServiceHttp
from planner.service.loop import PlannerService
from planner.service.telemetry import Telemetry
from planner.settings import PlannerSettings

log = logging.getLogger("sla_planner.service")

#: compression the embedded default uses when service.time_compression is left at 1
EMBEDDED_COMPRESSION = 30.0


@dataclass(frozen=True, slots=True)
class RunResult:
    ticks: int
    tick_errors: int
    summary: Any | None  # EmulationSummary when an emulated graph ran
    signalled: bool


def _refuse_unwritten_connector(settings: PlannerSettings, *, emulate: bool | None) -> None:
    """The emulated graph takes the decisions through an in-memory target, so with the
    emulated source a configured Kubernetes connector would never be written: a deployed
    planner that forgot ``metrics.source`` must stop, not run on a made-up graph. Only an
    explicit ``emulate=True`` (``--emulate``) asks for that on purpose."""
    kind = settings.connector.kind
    if settings.metrics.source != "emulated" or kind == "virtual":
        return
    if emulate:
        log.warning("connector.kind=%s is not used: the emulated graph takes the targets", kind)
        return
    raise ConfigError(
        "metrics.source",
        "emulated",
        f"prometheus (with metrics.url) when connector.kind is {kind}: the emulated source "
        f"runs a built-in emulated graph and nothing would be written to {kind}; pass "
        "--emulate to run against the emulated graph on purpose",
    )


class ServiceApp:
    """One run of the service. Attributes (service, graph, http) are set once started,
    for tests and the CLI; ``started`` is set when the endpoint listens."""

    def __init__(
        self,
        settings: PlannerSettings,
        *,
        emulate: bool | None = None,
        wrap_connector: Callable[[Connector], Connector] | None = None,
    ) -> None:
        self.settings = settings
        _refuse_unwritten_connector(settings, emulate=emulate)
        self.emulate = settings.metrics.source == "emulated" if emulate is None else emulate
        self.wrap_connector = wrap_connector
        self.started = asyncio.Event()
        self.service: PlannerService | None = None
        self.graph: Any | None = None
        self.http: ServiceHttp | None = None
        self.emulator_port: int | None = None
        self.signalled = 0
        self.profile_loaded = False
        self.warm_points = 0

    @property
    def compression(self) -> float:
        c = self.settings.service.time_compression
        if self.emulate and self.settings.metrics.source == "emulated" and c == 1.0:
            return EMBEDDED_COMPRESSION
        return c

    def _ready(self) -> tuple[bool, str]:
        if not self.profile_loaded:
            return False, "profile not loaded"
        if self.service is None or not self.service.observed_once:
            return False, "no successful observation yet"
        return True, "ready"

    def _summary(self) -> dict[str, Any]:
        s = self.settings
        # what the source says about itself (Prometheus: which demand counter it reads)
        source_status = getattr(self.service.source, "status", None) if self.service else None
        return {
            **(source_status() if callable(source_status) else {}),
            "mode": s.mode,
            "policy": s.policy,
            "interval_s": s.interval_s,
            "ttft_ms": s.ttft_ms,
            "itl_ms": s.itl_ms,
            "predictor": s.predictor.name,
            "advisory": s.service.advisory,
            "metrics_source": s.metrics.source,
            "connector": "emulated (virtual, in-memory)" if self.emulate else s.connector.kind,
            "time_compression": self.compression,
            "budget_gpus": s.budget.max_gpus,
            "profile": str(s.profile),
            "capacity": self._capacity(),
        }

    def _capacity(self) -> dict[str, Any] | None:
        """The cluster's capacity as last read (None: not read; the budget is the
        setting's), and the budget the last decision planned in."""
        if self.service is None:
            return None
        status = self.service.telemetry.capacity_status()
        if status is None:
            return None
        last = next((r for r in reversed(self.service.telemetry.recent) if r.decision), None)
        status["effective_budget_gpus"] = (
            last.decision.budget_gpus if last and last.decision else None
        )
        return status

    def _signal(self, main: asyncio.Task[Any], stop: asyncio.Event, signum: int) -> None:
        self.signalled += 1
        if self.signalled == 1:
            log.warning("signal %d: finishing the current tick, then exiting", signum)
            stop.set()
        else:
            log.warning("signal %d again: exiting now", signum)
            main.cancel()

    async def run(self, stop: asyncio.Event | None = None, *, signals: bool = True) -> RunResult:
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        s = self.settings
        async with AsyncExitStack() as stack:
            if signals:
                main = asyncio.current_task()
                assert main is not None
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(sig, self._signal, main, stop, sig)
                    stack.callback(loop.remove_signal_handler, sig)
            planner = await asyncio.to_thread(Planner, s)  # loads and checks the profile
            self.profile_loaded = True
            origin = 0.0 if self.emulate else time.time()
            clock = ServiceClock.start(compression=self.compression, origin_s=origin)
            telemetry = Telemetry(
                keep_decisions=s.service.keep_decisions,
                ttft_target_ms=s.ttft_ms,
                attainment_objective=s.objective,
            )
            telemetry.advisory.set(1 if s.service.advisory else 0)
            source, connector = await self._wire(stack, clock, planner, telemetry.registry)
            self.service = PlannerService(
                settings=s,
                planner=planner,
                source=source,
                connector=connector,
                telemetry=telemetry,
                clock=clock,
            )
            for warning in planner.warnings:  # the profile disagrees with the settings
                log.warning("%s", warning)
                self.service.warned.add(warning)
            self.http = ServiceHttp(telemetry=telemetry, ready=self._ready, summary=self._summary)
            await self.http.start(host=s.service.host, port=s.service.port)
            stack.push_async_callback(self.http.stop)
            log.info(
                "listening on http://%s:%d (compression %g, interval %gs = %.2fs wall)",
                s.service.host,
                self.http.port,
                clock.compression,
                s.interval_s,
                clock.wall_s(s.interval_s),
            )
            self.started.set()
            await self._warm_start(source, planner)
            await self.service.probe()
            async with asyncio.TaskGroup() as tg:
                if self.graph is not None:
                    tg.create_task(self.graph.run(stop))
                    tg.create_task(self._stop_when_done(stop))
                await self.service.run(stop)
                stop.set()
            summary = self.graph.summary() if self.graph is not None else None
            return RunResult(
                ticks=telemetry.tick_count,
                tick_errors=telemetry.error_count,
                summary=summary,
                signalled=self.signalled > 0,
            )

    async def _warm_start(self, source: MetricsSource, planner: Planner) -> int:
        """Feed the forecaster ``metrics.warm_start_s`` of history (one point per interval);
        a failure is logged and the service starts cold. Returns the points fed."""
        s = self.settings
        if s.metrics.warm_start_s <= 0 or self.emulate or self.compression != 1.0:
            return 0
        end = time.time()
        try:
            points = await source.history(
                start_s=end - s.metrics.warm_start_s, end_s=end, step_s=s.interval_s
            )
        except PlannerError as exc:
            log.warning("warm start skipped: %s", exc)
            return 0
        from planner.forecast.warm_start import warm_start

        # one fit at the end instead of every scheduled refit; in a thread (it may fit)
        await asyncio.to_thread(warm_start, planner.forecaster, points)
        log.info("warm start: %d points of history fed to the forecaster", len(points))
        self.warm_points = len(points)
        return len(points)

    async def _stop_when_done(self, stop: asyncio.Event) -> None:
        assert self.graph is not None
        done = asyncio.create_task(self.graph.done.wait())
        halt = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({done, halt}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (done, halt):
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await t
        stop.set()

    async def _wire(
        self, stack: AsyncExitStack, clock: ServiceClock, planner: Planner, registry: Any
    ) -> tuple[MetricsSource, Connector]:
        s = self.settings
        source: MetricsSource
        connector: Connector
        if self.emulate:
            from connectors.virtual.connector import VirtualConnector
            from connectors.virtual.environment import VirtualTarget
            from planner.emulator.build import build_graph
            from planner.emulator.memory_transport import MemoryChannel

            channel = MemoryChannel()
            target = VirtualTarget(channel)
            self.graph = graph = await asyncio.to_thread(
                build_graph, s, clock=clock, target=target, perf=planner.perf
            )
            await graph.sync()  # first report: the environment's components and replicas
            raw: Connector = VirtualConnector(
                channel,
                not_coming_after_s=s.connector.virtual.not_coming_after_s,
                clock=clock.now_s,
            )
            if self.wrap_connector is not None:  # tests inject faults below the wrappers
                raw = self.wrap_connector(raw)
            connector = InstrumentedConnector(ReapplyingConnector(raw), registry=registry)
            if s.metrics.source == "emulated":
                from planner.emulator.source import EmulatedSource

                source = EmulatedSource(graph)
            else:
                from planner.emulator.server import serve_metrics

                runner, self.emulator_port = await serve_metrics(
                    graph, host=s.emulator.host, port=s.emulator.port
                )
                stack.push_async_callback(runner.cleanup)
        else:
            if s.metrics.source == "emulated":
                raise ConfigError(
                    "metrics.source", "emulated", "prometheus unless the graph is emulated"
                )
            from connectors.factory import make_connector

            connector = make_connector(s.connector, registry=registry, clock=clock.now_s)
        if s.metrics.source == "prometheus":
            from connectors.prometheus import PrometheusSource

            source = PrometheusSource(s.metrics, time_compression=clock.compression)
        stack.push_async_callback(source.close)
        stack.push_async_callback(connector.close)
        return source, connector
