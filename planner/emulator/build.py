"""Assemble an EmulatedGraph from settings: trace (bundled default), profile, and
planner.sim's cluster model playing the workers (the profile's performance as truth)."""

from __future__ import annotations

from pathlib import Path

from connectors.virtual.environment import VirtualTarget
from planner.clock import ServiceClock
from planner.core.config import PolicyConfig
from planner.core.types import Component
from planner.emulator.graph import EmulatedGraph
from planner.perf.model import PerfModel
from planner.perf.profile import load_profile
from planner.settings import PlannerSettings
from planner.sim.cluster import Cluster, ClusterConfig
from planner.sim.truth import TruePerf
from planner.workload.readers import read_request_trace
from planner.workload.trace import RequestTrace

#: the Azure LLM 2023 conversation trace, shipped with the package (see its SOURCE.md)
BUNDLED_TRACE = (
    Path(__file__).resolve().parent.parent / "data" / "traces" / "azure_llm_2023_conv.csv"
)


def load_emulator_trace(settings: PlannerSettings) -> RequestTrace:
    e = settings.emulator
    trace = read_request_trace(e.trace or BUNDLED_TRACE, rate_scale=e.rate_scale, seed=e.seed)
    if e.duration_s is not None:
        trace = trace.window(start_s=0.0, end_s=e.duration_s)
    return trace


def build_graph(
    settings: PlannerSettings,
    *,
    clock: ServiceClock,
    target: VirtualTarget,
    perf: PerfModel | None = None,
    trace: RequestTrace | None = None,
) -> EmulatedGraph:
    """The emulated graph for ``settings`` (mode, GPUs per worker, start-up, targets)."""
    e = settings.emulator
    perf = perf or PerfModel(
        load_profile(
            settings.profile,
            row=settings.profile_row,
            non_monotonic=settings.profile_non_monotonic,
        )
    )
    if settings.mode == "agg":
        initial = {Component.AGG: e.initial_agg}
    else:
        initial = {Component.PREFILL: e.initial_prefill, Component.DECODE: e.initial_decode}
    gpus = PolicyConfig(settings=settings, perf=perf).deployed_gpus()
    target.gpus_per_worker = {c: gpus[c] for c in initial}
    config = ClusterConfig(
        mode=settings.mode,
        startup_s=settings.startup_s if e.startup_s is None else e.startup_s,
        gpus_per_worker=gpus,
    )
    cluster = Cluster(TruePerf(perf), config, initial=initial)
    return EmulatedGraph(
        trace=trace or load_emulator_trace(settings),
        cluster=cluster,
        clock=clock,
        target=target,
        ttft_ms=settings.ttft_ms,
        itl_ms=settings.itl_ms,
        keep_s=max(900.0, 3 * settings.interval_s),
        model=e.model,
        flavor=e.metrics_flavor or settings.metrics.preset,
    )
