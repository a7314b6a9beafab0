"""Compare policies on one trace: sla, dynamo, static (smallest fleet reaching 99%),
threshold and oracle, from the same initial fleet, on the same simulated hardware.

Initial fleet: every adaptive policy starts warm with the fewest replicas (searched on
the true cluster, as the oracle searches) under which the requests arriving before the
first decision's capacity can be ready (the first interval + start-up) meet the goal, so
no policy is judged on a cold start that no policy could avoid with a 180 s start-up.
``static``
runs its own fixed fleet for the whole span; ``static99`` is found by search: the
smallest prefill count (decode generous) then the smallest decode count reaching the
attainment goal, bumped until the pair itself reaches it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.core.config import PolicyConfig
from planner.core.types import Component
from planner.errors import ConfigError
from planner.perf.model import PerfModel
from planner.settings import PlannerSettings
from planner.sim.cluster import ClusterConfig
from planner.sim.controllers import (
    Controller,
    PlannerController,
    StaticController,
    ThresholdController,
    exact_forecast,
    size_for_load,
)
from planner.sim.engine import EngineLimits, engine_limits
from planner.sim.foresight import startup_bound
from planner.sim.metrics import Targets, summarize
from planner.sim.oracle import SearchOracle
from planner.sim.runner import MissBudget, SimRun, simulate
from planner.sim.static_search import Fleet, StaticResult, StaticSearch
from planner.sim.truth import TruePerf
from planner.sim.workload_check import WorkloadCheck, check_workload
from planner.workload.trace import RequestTrace

POLICIES = ("sla", "dynamo", "static", "threshold", "oracle")
Progress = Callable[[str, float], None]


def lead_intervals(*, interval_s: float, startup_s: float) -> int:
    """Intervals between a decision and the first interval its capacity fully serves."""
    return max(1, math.ceil((interval_s + startup_s) / interval_s - 1e-9))


@dataclass
class Experiment:
    trace: RequestTrace
    settings: PlannerSettings
    planner_perf: PerfModel
    truth_perf: PerfModel
    decode_step_s: float = 0.2
    attainment_goal: float = 0.99
    progress: Progress | None = None
    #: the simulated workers' engine limits (None: from the settings, else the true
    #: profile's metadata; planner/sim/engine.py)
    engine: EngineLimits | None = None

    def __post_init__(self) -> None:
        self.truth = TruePerf(self.truth_perf)
        if self.engine is None:
            self.engine = engine_limits(self.settings, self.truth_perf.profile.meta)
        self.limits: EngineLimits = self.engine
        s = self.settings
        self.components = (
            (Component.AGG,) if s.mode == "agg" else (Component.PREFILL, Component.DECODE)
        )
        deployed = PolicyConfig(settings=s, perf=self.planner_perf).deployed_gpus()
        self.gpus = {c: deployed[c] for c in self.components}
        self.targets = Targets(ttft_ms=s.ttft_ms, itl_ms=s.itl_ms, max_gpus=s.budget.max_gpus)
        self._initial: dict[Component, int] | None = None

    # ------------------------------------------------------------------ pieces
    def cluster_config(self, *, startup_s: float | None = None) -> ClusterConfig:
        s = self.settings
        return ClusterConfig(
            mode=s.mode,
            startup_s=s.startup_s if startup_s is None else startup_s,
            gpus_per_worker=self.gpus,
            decode_step_s=self.decode_step_s,
            max_batch_tokens=float(self.limits.batch_tokens),
            max_num_seqs=self.limits.max_num_seqs,
        )

    def _load(self, start_s: float, end_s: float) -> tuple[float, float, float]:
        a = self.trace.arrival_s
        lo, hi = np.searchsorted(a, [start_s, end_s])
        if hi <= lo:
            return 0.0, 1.0, 1.0
        return (
            (hi - lo) / (end_s - start_s),
            float(self.trace.isl_tokens[lo:hi].mean()),
            float(self.trace.osl_tokens[lo:hi].mean()),
        )

    def initial_fleet(self) -> dict[Component, int]:
        """The fewest replicas (searched, as the oracle does) that meet the goal for the
        requests arriving before the first decision's capacity can be ready (the first
        interval + start-up), held from t = 0: what any policy must start with."""
        if self._initial is None:
            s = self.settings
            floor = {c: 1 for c in self.components}
            probe = SearchOracle(
                self.trace,
                truth=self.truth,
                cluster_config=self.cluster_config(startup_s=0.0),
                initial=floor,
                interval_s=s.interval_s,
                ttft_ms=s.ttft_ms,
                itl_ms=s.itl_ms,
                goal=self.attainment_goal,
            )
            probe.choice = dict(self.sized_initial_fleet())
            self._initial = probe.search(0.0, window_s=s.interval_s + s.startup_s)
        return dict(self._initial)

    def sized_initial_fleet(self) -> dict[Component, int]:
        """The sla sizing (planner's profile) for the busiest interval's mean load among
        those before the first decision's capacity can be ready (the search's start)."""
        s = self.settings
        n = lead_intervals(interval_s=s.interval_s, startup_s=s.startup_s)
        loads = [self._load(k * s.interval_s, (k + 1) * s.interval_s) for k in range(n)]
        rate, isl, osl = max(loads, key=lambda x: x[0] * x[1])
        sla = s.model_copy(update={"policy": "sla"})
        config = PolicyConfig(settings=sla, perf=self.planner_perf)
        return size_for_load(config, exact_forecast(rate, isl, osl, horizon_s=s.interval_s))

    def peak_fleet(self) -> dict[Component, int]:
        """The sla sizing for the trace's busiest interval (a start for the static search)."""
        s = self.settings
        n = max(1, math.ceil(self.trace.duration_s / s.interval_s))
        best = (0.0, 1.0, 1.0)
        for k in range(n):
            load = self._load(k * s.interval_s, (k + 1) * s.interval_s)
            if load[0] * load[1] > best[0] * best[1]:
                best = load
        config = PolicyConfig(settings=s.model_copy(update={"policy": "sla"}), perf=self.truth_perf)
        return size_for_load(config, exact_forecast(*best, horizon_s=s.interval_s))

    def run(
        self,
        controller: Controller,
        *,
        initial: Mapping[Component, int],
        startup_s: float | None = None,
        budget: MissBudget | None = None,
    ) -> SimRun:
        name = controller.name
        cb = self.progress
        return simulate(
            self.trace,
            controller,
            truth=self.truth,
            interval_s=self.settings.interval_s,
            cluster_config=self.cluster_config(startup_s=startup_s),
            initial=initial,
            gpus_per_worker=self.gpus,
            progress=(lambda f: cb(name, f)) if cb is not None else None,
            budget=budget,
        )

    def controller(
        self, policy: str, *, initial: Mapping[Component, int] | None = None
    ) -> Controller:
        """The controller for ``policy``; the oracle mirrors a run from ``initial``
        (default: ``initial_fleet()``) on a cluster with instant start."""
        s = self.settings
        if policy in ("sla", "dynamo"):
            chosen = s.model_copy(update={"policy": policy})
            return PlannerController(chosen, perf=self.planner_perf)
        if policy == "threshold":
            return ThresholdController(components=self.components, gpus_per_worker=self.gpus)
        if policy == "oracle":
            return SearchOracle(
                self.trace,
                truth=self.truth,
                cluster_config=self.cluster_config(startup_s=0.0),
                initial=self.initial_fleet() if initial is None else initial,
                interval_s=s.interval_s,
                ttft_ms=s.ttft_ms,
                itl_ms=s.itl_ms,
                goal=self.attainment_goal,
            )
        raise ConfigError("policy", policy, f"one of {', '.join(POLICIES)}")

    # ------------------------------------------------------------------ static search
    def _static(self, fleet: Mapping[Component, int]) -> tuple[float, SimRun]:
        """One full run of a fixed ``fleet`` and its SLA attainment."""
        run = self.run(StaticController(dict(fleet), name="static"), initial=fleet)
        return summarize(run, self.targets)["attainment"]["both"], run

    def static99(self) -> StaticResult:
        """Smallest static fleet reaching the attainment goal (planner/sim/static_search.py)."""

        def run_fleet(fleet: Fleet, budget: MissBudget | None) -> SimRun:
            return self.run(StaticController(fleet, name="static"), initial=fleet, budget=budget)

        search = StaticSearch(
            run_fleet=run_fleet,
            score=lambda r: float(summarize(r, self.targets)["attainment"]["both"]),
            components=self.components,
            goal=self.attainment_goal,
            ttft_ms=self.settings.ttft_ms,
            itl_ms=self.settings.itl_ms,
            requests=len(self.trace),
        )
        return search.search(self.peak_fleet())

    # ------------------------------------------------------------------ all
    def __getstate__(self) -> dict[str, Any]:
        """Picklable for a process pool: the progress callback stays behind."""
        return self.__dict__ | {"progress": None}

    def workload_check(self) -> WorkloadCheck:
        """Infeasible and out-of-range requests of this trace on the true profile."""
        prefill = Component.AGG if self.settings.mode == "agg" else Component.PREFILL
        return check_workload(
            self.trace,
            self.truth,
            ttft_ms=self.settings.ttft_ms,
            itl_ms=self.settings.itl_ms,
            prefill_gpus=self.gpus[prefill],
        )

    def compare(
        self,
        policies: Sequence[str] = POLICIES,
        *,
        static_fleet: Mapping[Component, int] | None = None,
        jobs: int = 1,
    ) -> tuple[list[dict[str, Any]], dict[str, SimRun]]:
        """Each policy's summary and run, from the same initial fleet; with ``jobs`` > 1
        the policies run in a pool of processes (planner/sim/parallel.py)."""
        for p in policies:
            if p not in POLICIES:
                raise ConfigError("policy", p, f"one of {', '.join(POLICIES)}")
        initial = self.initial_fleet()
        if jobs > 1 and len(policies) > 1:
            from planner.sim.parallel import Task, run_tasks

            cb = self.progress
            done = run_tasks(
                [Task(p, self, p, static_fleet) for p in sorted(policies, key=_cost_rank)],
                jobs=jobs,
                on_done=(lambda key: cb(key, 1.0)) if cb is not None else None,
            )
            return [done[p][0] for p in policies], {p: done[p][1] for p in policies}
        summaries: list[dict[str, Any]] = []
        runs: dict[str, SimRun] = {}
        for p in policies:
            if p == "static":
                if static_fleet is not None:
                    fleet = dict(static_fleet)
                    run = self.run(StaticController(fleet), initial=fleet)
                else:
                    found = self.static99()
                    fleet, run = found.fleet, found.run
                    run.extra["static_search"] = list(found.tried)
                    run.extra["static_reached_goal"] = found.reached_goal
                run.extra["static_fleet"] = {c.value: n for c, n in fleet.items()}
            elif p == "oracle":
                ctl = self.controller(p, initial=initial)
                run = self.run(ctl, initial=initial, startup_s=0.0)
                if isinstance(ctl, SearchOracle):
                    run.extra["oracle_evaluations"] = ctl.evaluations
                    run.extra["startup_bound_gpu_hours"] = startup_bound(
                        run,
                        initial,
                        gpus_per_worker=self.gpus,
                        interval_s=self.settings.interval_s,
                        startup_s=self.settings.startup_s,
                    )
            else:
                run = self.run(self.controller(p), initial=initial)
            run.extra["initial_fleet"] = {c.value: n for c, n in initial.items()}
            runs[p] = run
            summaries.append(summarize(run, self.targets))
        return summaries, runs


def _cost_rank(policy: str) -> int:
    """Start the slowest simulations first (the static search runs several, the oracle
    many short ones) so a pool's last task is a short one."""
    return {"static": 0, "oracle": 1}.get(policy, 2)
