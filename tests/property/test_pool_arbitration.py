"""The pool arbitration's guarantees (planner/core/arbitration.py), property-tested with
hypothesis over random pools of one to five graphs: disaggregated and aggregated,
GPUs per worker 1-8 per component, minimums, floors, priorities 0-3, weights, pools from
empty to larger than every ask. Example counts are stated on each property."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.core.arbitration import ComponentAsk, GraphAsk, PoolResult, arbitrate
from planner.core.invariants import pool_violations
from planner.core.types import Component, Reason

pytestmark = pytest.mark.slow
P, D, A = Component.PREFILL, Component.DECODE, Component.AGG
NAMES = ("alpha", "bravo", "chat", "code", "echo")


@st.composite
def component(draw: st.DrawFn, *, one_gpu: bool) -> ComponentAsk:
    gpw = 1 if one_gpu else draw(st.sampled_from((1, 1, 2, 4, 8)))
    requested = draw(st.integers(0, 12))
    return ComponentAsk(requested=requested, minimum=draw(st.integers(0, 2)), gpus_per_worker=gpw)


@st.composite
def graphs(draw: st.DrawFn, *, one_gpu: bool = False) -> list[GraphAsk]:
    n = draw(st.integers(1, 5))
    out = []
    for name in NAMES[:n]:
        comps = (A,) if draw(st.booleans()) and draw(st.booleans()) else (P, D)
        out.append(
            GraphAsk(
                name=name,
                components={c: draw(component(one_gpu=one_gpu)) for c in comps},
                priority=draw(st.integers(0, 3)),
                weight=draw(st.sampled_from((0.5, 1.0, 2.0, 3.0))),
                floor_gpus=draw(st.integers(0, 16)),
            )
        )
    return out


def _pool(draw: st.DrawFn, asks: list[GraphAsk]) -> int:
    total = sum(g.asked_gpus for g in asks)
    return draw(st.integers(0, total + 4))


def _floors_fit(asks: list[GraphAsk], pool: int) -> bool:
    return sum(g.floor_target_gpus for g in asks) <= pool


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_pool_never_exceeded_and_no_graph_raised(data: st.DataObject) -> None:
    """400 pools: the GPUs granted, counted at each worker's real GPUs, never exceed the
    pool unless the minimums alone do (then the result says infeasible); no component
    ends above its ask; every minimum is kept when the minimums fit."""
    asks = data.draw(graphs())
    pool = _pool(data.draw, asks)
    result = arbitrate(asks, pool_gpus=pool)
    assert pool_violations(result, asks) == []
    assert result.infeasible == (sum(g.minimum_gpus for g in asks) > pool)
    if not result.infeasible:
        assert result.used_gpus <= pool


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_every_graph_gets_its_floor_when_floors_fit(data: st.DataObject) -> None:
    """400 pools where the floors fit: every graph holds its floor (up to its ask), to
    within one worker: no worker of a component it was cut on would still fit under its
    floor. With one GPU per worker that is the floor exactly."""
    asks = data.draw(graphs())
    pool = _pool(data.draw, asks)
    if not _floors_fit(asks, pool):
        pool = sum(g.floor_target_gpus for g in asks) + data.draw(st.integers(0, 4))
    result = arbitrate(asks, pool_gpus=pool)
    for g in asks:
        grant = result.grants[g.name]
        short = g.floor_target_gpus - grant.granted_gpus
        if short > 0:
            gpws = [g.components[c].gpus_per_worker for c in grant.cut]
            assert gpws and min(gpws) > short, (g, grant)


@settings(max_examples=400, deadline=None)
@given(asks=graphs(one_gpu=True), data=st.data())
def test_higher_priority_is_not_cut_while_lower_holds_above_floor_one_gpu(
    asks: list[GraphAsk], data: st.DataObject
) -> None:
    """400 pools of one-GPU workers: a graph that was cut never has a lower-priority
    graph holding more than its floor, and it says preempted only by a higher one."""
    pool = _pool(data.draw, asks)
    result = arbitrate(asks, pool_gpus=pool)
    _check_priority(asks, result, one_gpu=True)


@settings(max_examples=400, deadline=None)
@given(asks=graphs(), data=st.data())
def test_higher_priority_is_not_cut_while_lower_holds_above_floor(
    asks: list[GraphAsk], data: st.DataObject
) -> None:
    """400 pools with 1-8 GPUs per worker: when a graph is cut, the GPUs every
    lower-priority graph holds above its floor plus the free ones could not buy one
    more worker of any component it was cut on."""
    pool = _pool(data.draw, asks)
    result = arbitrate(asks, pool_gpus=pool)
    _check_priority(asks, result, one_gpu=False)


def _check_priority(asks: list[GraphAsk], result: PoolResult, *, one_gpu: bool) -> None:
    if result.infeasible:
        return
    free = result.pool_gpus - result.used_gpus
    for h in asks:
        grant = result.grants[h.name]
        if not grant.cut:
            assert grant.reason is None
            continue
        assert grant.reason in (Reason.POOL_CLAMPED, Reason.PREEMPTED)
        lower_extra = sum(
            result.grants[g.name].granted_gpus - result.grants[g.name].floor_gpus
            for g in asks
            if g.priority < h.priority
        )
        smallest = min(h.components[c].gpus_per_worker for c in grant.cut)
        if one_gpu:
            assert lower_extra == 0
        assert lower_extra + free < smallest, (h.name, lower_extra, free, smallest)
        if grant.reason is Reason.PREEMPTED:
            by = next(g for g in asks if g.name == grant.preempted_by)
            assert by.priority > h.priority
            assert grant.preempted_by is not None and grant.preempted_by in grant.message


@settings(max_examples=300, deadline=None)
@given(asks=graphs(), data=st.data(), seed=st.integers(0, 2**16))
def test_result_is_independent_of_listing_order(
    asks: list[GraphAsk], data: st.DataObject, seed: int
) -> None:
    """300 pools: the same graphs listed in a shuffled order get the same grants."""
    pool = _pool(data.draw, asks)
    shuffled = list(asks)
    random.Random(seed).shuffle(shuffled)
    assert arbitrate(shuffled, pool_gpus=pool).grants == arbitrate(asks, pool_gpus=pool).grants


@settings(max_examples=200, deadline=None)
@given(asks=graphs(one_gpu=True), data=st.data())
def test_a_cut_graph_keeps_its_asked_split(asks: list[GraphAsk], data: st.DataObject) -> None:
    """200 pools of one-GPU workers: in a graph cut above its minimums, each of prefill
    and decode ends within one worker of its share of the graph's own asked P:D ratio."""
    pool = _pool(data.draw, asks)
    result = arbitrate(asks, pool_gpus=pool)
    for g in asks:
        grant = result.grants[g.name]
        if P not in g.components or not grant.cut:
            continue
        ask_p, ask_d = g.components[P].requested, g.components[D].requested
        got_p, got_d = grant.targets[P], grant.targets[D]
        mins = (min(g.components[P].minimum, ask_p), min(g.components[D].minimum, ask_d))
        if got_p <= mins[0] or got_d <= mins[1] or ask_p + ask_d == 0:
            continue
        share_p = ask_p / (ask_p + ask_d) * (got_p + got_d)
        assert abs(got_p - share_p) <= 1.0 + 1e-9, (ask_p, ask_d, got_p, got_d)
