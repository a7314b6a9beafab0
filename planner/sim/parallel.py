"""Independent simulations in a pool of processes: one task = one policy on one
experiment (the static99 search is one task, the oracle another), so a comparison, or an
evaluation of many scenarios, keeps several cores busy.

Each task ships its experiment to a fresh process (the ``spawn`` start method: no state
forked from a parent that may hold threads) and gets back the policy's summary and run.
The results are those of running the same tasks one by one in this process: every run
is deterministic and none reads another's state. ``jobs <= 1`` runs them here, in
order, with the experiment's progress callback.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from planner.core.types import Component
from planner.sim.runner import SimRun

if TYPE_CHECKING:
    from planner.sim.experiment import Experiment

Result = tuple[dict[str, Any], SimRun]


@dataclass(frozen=True)
class Task:
    """One policy on one experiment; ``key`` names it in the results."""

    key: str
    experiment: Experiment
    policy: str
    static_fleet: Mapping[Component, int] | None = None


def default_jobs() -> int:
    """The CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _run(task: Task) -> Result:
    t0 = time.perf_counter()
    summaries, runs = task.experiment.compare([task.policy], static_fleet=task.static_fleet)
    run = runs[task.policy]
    # the task's own time (in its process), for reports; not part of the summary
    run.extra_timing = {"task_wall_s": round(time.perf_counter() - t0, 2)}
    return summaries[0], run


def run_tasks(
    tasks: Sequence[Task], *, jobs: int, on_done: Callable[[str], None] | None = None
) -> dict[str, Result]:
    """Every task's (summary, run), by key; ``on_done(key)`` as each one finishes.
    Tasks start in the given order (put the longest first)."""
    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError(f"task keys must be unique: {keys}")
    results: dict[str, Result] = {}
    if jobs <= 1 or len(tasks) <= 1:
        for task in tasks:
            results[task.key] = _run(task)
            if on_done is not None:
                on_done(task.key)
        return results
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=ctx) as pool:
        pending: dict[Future[Result], str] = {pool.submit(_run, t): t.key for t in tasks}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                key = pending.pop(fut)
                results[key] = fut.result()
                if on_done is not None:
                    on_done(key)
    return {k: results[k] for k in keys}
