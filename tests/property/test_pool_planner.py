"""The pool's guarantees over the whole path (each graph's ``plan()``, then the
arbitration, then the grant written back), property-tested with hypothesis: two or three
graphs, random priorities, floors, minimum replicas, GPUs per worker read from the
cluster (1, 2 or 4 per component), loads and pool sizes, over two ticks."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from planner.core.types import Component, Reason
from planner.errors import ConfigError
from planner.pool.planner import PoolPlanner
from planner.settings import PlannerSettings
from planner.settings.graphs import graph_configs
from tests.core_cases import PERF, window

pytestmark = pytest.mark.slow
P, D = Component.PREFILL, Component.DECODE


@st.composite
def pools(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, dict[Component, int]], int]:
    n = draw(st.integers(2, 3))
    graphs = []
    gpus = {}
    for name in ("alpha", "bravo", "chat")[:n]:
        graphs.append(
            {
                "name": name,
                "priority": draw(st.integers(0, 2)),
                "weight": draw(st.sampled_from((1.0, 2.0))),
                "floor_gpus": draw(st.integers(0, 6)),
                "prefill": {"min_replicas": draw(st.integers(0, 2))},
                "decode": {"min_replicas": draw(st.integers(0, 2))},
            }
        )
        gpus[name] = {P: draw(st.sampled_from((1, 2, 4))), D: draw(st.sampled_from((1, 2)))}
    tree = {"predictor": {"name": "constant"}, "pool": {"gpus": 1}, "graphs": graphs}
    return tree, gpus, draw(st.integers(1, 48))


# rates are idle or >= 0.05 rps: a subnormal rate after a loaded window overflows the
# one-graph sizing (planner/core/queueing.py tail_workers), a core bug outside the pool
RATE = st.one_of(st.just(0.0), st.floats(0.05, 40.0))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(case=pools(), rates=st.lists(RATE, min_size=6, max_size=6))
def test_pool_path_keeps_its_guarantees(
    case: tuple[dict[str, Any], dict[str, dict[Component, int]], int], rates: list[float]
) -> None:
    """60 pools x 2 ticks: the targets written, counted at the GPUs per worker the
    cluster reports, never exceed the pool when the minimums fit; no graph ends above
    its own plan; every cut component carries pool_clamped, preempted or
    budget_infeasible; a preempted graph names a higher-priority one."""
    tree, gpus, pool_gpus = case
    tree["pool"]["gpus"] = pool_gpus
    configs = graph_configs(PlannerSettings.model_validate(tree))
    try:
        pool = PoolPlanner(configs, pool_gpus=pool_gpus, perfs={g.name: PERF for g in configs})
    except ConfigError:
        assume(False)
        return
    prio = {g["name"]: g["priority"] for g in tree["graphs"]}
    it = iter(rates)
    for tick in (1, 2):
        obs = {n: window(next(it), isl=1000.0, osl=200.0, gpus_per_worker=gpus[n]) for n in prio}
        own = {n: p.step(obs[n], now=60.0 * tick) for n, p in pool.planners.items()}
        out = pool.arbitrate(own, now=60.0 * tick)
        used = sum(d.targets[c] * gpus[n][c] for n, d in out.decisions.items() for c in d.targets)
        if not out.result.infeasible:
            assert used <= pool_gpus
        for n, d in out.decisions.items():
            for c, cd in d.components.items():
                assert cd.target <= own[n].components[c].target
                assert cd.gpus_per_worker == gpus[n][c]
                if cd.target < own[n].components[c].target:
                    assert {Reason.POOL_CLAMPED, Reason.PREEMPTED, Reason.BUDGET_INFEASIBLE} & set(
                        cd.reasons
                    )
            by = out.result.grants[n].preempted_by
            if by is not None:
                assert prio[by] > prio[n]
