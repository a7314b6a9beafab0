"""What perfect foresight costs: the bound the real start-up puts on the oracle's fleets,
the fleet each interval of an oracle run needed, and the hindsight baseline told those
needs (planner/sim/controllers.py has the controller itself)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from planner.core.types import Component
from planner.perf.model import PerfModel
from planner.sim.controllers import HindsightController
from planner.sim.runner import SimRun


def startup_bound(
    oracle_run: SimRun,
    initial: Mapping[Component, int],
    *,
    gpus_per_worker: Mapping[Component, int],
    interval_s: float,
    startup_s: float,
) -> float:
    """GPU-hours that even perfect foresight must pay with the real start-up: a worker
    the oracle uses in interval k must have been asked for start-up seconds before, and
    releasing it in a lull shorter than the start-up saves nothing, so the fleet billed
    in interval k is at least the oracle's largest fleet (in GPUs) over intervals
    k .. k + ceil(startup / interval)."""
    gpus = [sum(n * gpus_per_worker[c] for c, n in initial.items())]
    gpus += [
        sum(n * gpus_per_worker[c] for c, n in r.targets.items())
        for r in oracle_run.records
        if r.targets
    ]
    ahead = math.ceil(startup_s / interval_s - 1e-9)
    total = sum(max(gpus[k : k + ahead + 1]) for k in range(len(gpus)))
    return total * interval_s / 3600.0


def oracle_needs(
    oracle_run: SimRun, initial: Mapping[Component, int]
) -> tuple[dict[Component, int], ...]:
    """The fleet that served each interval of an oracle run: ``initial`` for the first,
    then each decision's targets (decided at an interval's end for the next)."""
    return (dict(initial), *(dict(r.targets) for r in oracle_run.records if r.targets))


def hindsight_controller(
    needs: tuple[dict[Component, int], ...],
    *,
    margin: float,
    hold: int,
    truth_perf: PerfModel,
    prefill_gpus: int,
) -> HindsightController:
    """The hindsight baseline told ``needs``, draining backlogs at the true profile's
    prefill rate (``prefill_gpus`` per worker)."""
    prefill = truth_perf.prefill
    return HindsightController(
        needs=needs,
        margin=margin,
        hold=hold,
        prefill_tokens_per_s=lambda isl: prefill.thpt_per_gpu(isl).value * prefill_gpus,
    )
